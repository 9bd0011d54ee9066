"""How much latency API-key checking adds: the same requests to a server with auth on and
one with auth off, both started with the Procfile command against the same database.

Mints a key with `piccolo access create_key` (DATABASE_URL must point at a migrated
database), then times N sequential requests per server for GET by id and for create,
alternating between the servers in blocks so that drift on a shared machine hits both.
Over TCP the difference drowns in noise on a busy machine, so it also times the guard alone,
in-process: one route with the guard (auth on, key cached), with the guard and auth off,
and with no guard at all, called through ASGI with no network and no database. Run:

    DATABASE_URL=postgresql://… .venv/bin/python -m bench.auth_overhead [N]
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
import uuid

import httpx
from fastapi import FastAPI

import db
from access import queries
from access.auth import GuardedRoute, require
from access.keys import mint_key as mint_in_process
from bench.layers import cpu_per_request
from harness.server_process import ServerProcess, procfile_env
from settings import Settings
from tests.helpers import AUDITS, audit_body

# Alternate the servers request by request: on a shared machine the load drifts within
# seconds, and paired neighbours see the same drift, so their difference cancels it.
BLOCK = 1


def mint_key() -> str:
    result = subprocess.run(
        ["piccolo", "access", "create_key", "--name=bench-auth-overhead", "--scopes=all"],
        env=procfile_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def timed(client: httpx.Client, method: str, url: str, n: int, **kwargs) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.request(method, url, **kwargs)
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return samples


def percentile(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1]


def main(n: int) -> None:
    key = mint_key()
    env = {"LOG_LEVEL": "WARNING"}
    body = audit_body(uuid.uuid4())
    with (
        ServerProcess(**env, AUTH_REQUIRED="false") as off,
        ServerProcess(**env, AUTH_REQUIRED="true") as on,
        httpx.Client(base_url=off.base_url, timeout=10) as off_client,
        httpx.Client(
            base_url=on.base_url, timeout=10, headers={"Authorization": f"Bearer {key}"}
        ) as on_client,
    ):
        clients = {"off": off_client, "on": on_client}
        record = off_client.post(AUDITS, json=body).json()
        operations = {
            "GET by id": ("GET", f"{AUDITS}/{record['id']}", {}),
            "create": ("POST", AUDITS, {"json": body}),
        }
        samples = {(op, auth): [] for op in operations for auth in clients}
        for op, (method, url, kwargs) in operations.items():
            for client in clients.values():
                timed(client, method, url, 100, **kwargs)  # warm-up: pools, caches
            for _ in range(0, n, BLOCK):
                for auth, client in clients.items():
                    samples[(op, auth)] += timed(client, method, url, BLOCK, **kwargs)

    print(f"{n} sequential requests per row, alternating servers request by request")
    print("| operation | auth | p50 ms | p95 ms | req/s (1/mean) |")
    print("|---|---|---|---|---|")
    for (op, auth), values in samples.items():
        rate = 1000 / statistics.fmean(values)
        p50, p95 = percentile(values, 50), percentile(values, 95)
        print(f"| {op} | {auth} | {p50:.3f} | {p95:.3f} | {rate:.0f} |")
    for op in operations:
        added = percentile(samples[(op, "on")], 50) - percentile(samples[(op, "off")], 50)
        paired = statistics.median(
            on - off for on, off in zip(samples[(op, "on")], samples[(op, "off")], strict=True)
        )
        print(
            f"added, {op}: p50 difference {added:.3f} ms; median paired difference {paired:.3f} ms"
        )


def guarded_app(settings: Settings | None, guard: bool) -> FastAPI:
    app = FastAPI()
    app.router.route_class = GuardedRoute  # as the service's API routes check the key
    app.state.settings = settings
    dependencies = [require("audits:read")] if guard else []

    @app.get("/probe", dependencies=dependencies)
    async def probe() -> None:
        return None

    return app


async def guard_alone(n: int) -> None:
    settings = Settings(auth_required=True, auth_cache_ttl_s=300)
    await db.open_pool(settings)
    minted = mint_in_process()
    await queries.create_key("bench-guard", minted.prefix, minted.secret_hash, ["audits:read"])
    headers = [(b"authorization", f"Bearer {minted.key}".encode())]
    apps = {
        "guard, auth on (key cached)": (guarded_app(settings, True), headers),
        "guard, auth off": (guarded_app(Settings(auth_required=False), True), []),
        "no guard": (guarded_app(None, False), []),
    }
    cpu = {
        name: await cpu_per_request(app, "GET", "/probe", b"", app_headers, n)
        for name, (app, app_headers) in apps.items()
    }
    await asyncio.sleep(0.5)  # let the one last_used_at update finish
    await db.close_pool()
    print(f"\nIn-process, {n} requests x 3 rounds per row, best round (CPU µs per request):")
    for name, micros in cpu.items():
        print(f"| {name} | {micros:.1f} |")


if __name__ == "__main__":
    asyncio.run(guard_alone(5000))
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
