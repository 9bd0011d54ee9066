"""An open-loop load generator: requests go out on a fixed schedule, whatever the server does.

A closed-loop tool (wrk, hey -c) sends the next request only when the last answer came back,
so a stalled server is asked less and its stall is counted once ("coordinated omission").
Here request i is due at `start + i / rate`; a few keep-alive connections take turns
(request i on connection i mod N), and each latency runs from the request's *scheduled* time
to the end of its answer, so waiting behind a slow answer counts as latency, as a user
would feel it. Raw HTTP/1.1 over asyncio streams keeps the generator's own cost small.

    python -m bench.openloop URL RATE SECONDS [--post BODY_TEMPLATE] [--header 'K: V']
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from urllib.parse import urlsplit


def _request(method: str, host: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    if method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":", 1)[1]))
    return status


async def run(
    url: str,
    rate: float,
    seconds: float,
    *,
    connections: int = 4,
    headers: dict[str, str] | None = None,
    post_template: str | None = None,
) -> dict:
    """Drive `url` at `rate` requests/s for `seconds`; latencies in ms from schedule."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    method = "POST" if post_template else "GET"
    total = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter() + 0.2

    async def connection(lane: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            for i in range(lane, total, connections):
                due = start + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                body = (post_template or "").replace("{uuid}", str(uuid.uuid4())).encode()
                writer.write(_request(method, parts.netloc, path, headers or {}, body))
                status = await _read_response(reader)
                latencies.append((time.perf_counter() - due) * 1000)
                errors += not 200 <= status < 300
        finally:
            writer.close()

    await asyncio.gather(*(connection(lane) for lane in range(connections)))
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2)

    return {
        "rate": rate,
        "sent": len(latencies),
        "achieved_rps": round(len(latencies) / elapsed, 1),
        "errors": errors,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": round(latencies[-1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("rate", type=float)
    parser.add_argument("seconds", type=float)
    parser.add_argument("--post", default=None)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    headers = dict(h.split(": ", 1) for h in args.header)
    result = asyncio.run(
        run(
            args.url,
            args.rate,
            args.seconds,
            connections=args.connections,
            headers=headers,
            post_template=args.post,
        )
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
