"""How much latency our AI layer adds per call, against the loopback OpenAI-compatible server.

Starts the fake OpenAI server (harness/fake_openai.py) and the service with the Procfile
command (DATABASE_URL must point at a migrated database), then times N sequential chat calls
made directly to the fake server and N made through /api/v1/ai/chat. Run:

    DATABASE_URL=postgresql://… .venv/bin/python -m bench.ai_overhead [N]
"""

from __future__ import annotations

import statistics
import sys
import time

import httpx

from harness.fake_openai import FakeOpenAI
from harness.server_process import ServerProcess

BODY = {"messages": [{"role": "user", "content": "ping"}], "max_tokens": 5}


def timed(client: httpx.Client, url: str, body: dict, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.post(url, json=body)
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return samples


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100)[int(q) - 1]


def main(n: int) -> None:
    fake = FakeOpenAI().start()
    env = {"OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": fake.base_url, "LOG_LEVEL": "WARNING"}
    with ServerProcess(**env) as server, httpx.Client(timeout=10) as client:
        direct_url = f"{fake.base_url}/chat/completions"
        direct_body = {**BODY, "model": "gpt-4o-mini"}
        timed(client, direct_url, direct_body, 20)  # warm-up
        timed(client, f"{server.base_url}/api/v1/ai/chat", BODY, 20)
        direct = timed(client, direct_url, direct_body, n)
        through = timed(client, f"{server.base_url}/api/v1/ai/chat", BODY, n)
    fake.stop()
    print(f"{n} sequential calls each way")
    print("| path | p50 ms | p95 ms |")
    print("|---|---|---|")
    for name, samples in (("direct to the loopback server", direct), ("through the API", through)):
        print(f"| {name} | {percentile(samples, 50):.2f} | {percentile(samples, 95):.2f} |")
    added50 = percentile(through, 50) - percentile(direct, 50)
    added95 = percentile(through, 95) - percentile(direct, 95)
    print(f"| added by our layer | {added50:.2f} | {added95:.2f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
