"""What each of our layers costs per request, in CPU time, with no network and no load tool.

    python -m bench.layers [--requests 3000]

wrk numbers on a shared two-core machine swing by ±20% from run to run; this counts the
process's own CPU time (`time.process_time`) over N sequential requests sent straight through
ASGI, so the database's work and other processes' do not count, and a layer's cost is the
difference between two lines. Each line runs in a fresh process (the app reads its settings
and configures logging at import), peeling one layer at a time off the service, and last the
bare FastAPI reference (`bench/reference_fastapi.py`). Best of three rounds per line.
Database: BENCH_DATABASE_URL's server (a fresh database, 10,000 seeded rows), else embedded.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from bench.run import CREATE_BODY, database_server, ledger_keys, mint_key
from bench.seed import seed_to
from harness.database import create_migrated_database, drop_database
from harness.server_process import procfile_env

VARIANTS = {
    "service (as shipped)": {},
    "without the access line": {"drop": "access_line"},
    "without our middleware (request id, refusals, CORS, access line)": {"drop": "middleware"},
    "... and without the key check (AUTH_REQUIRED=false)": {
        "drop": "middleware",
        "AUTH_REQUIRED": "false",
    },
    "bare FastAPI reference": {"module": "bench.reference_fastapi"},
}


async def _measure(module: str, drop: str, routes: list[list[str]], n: int) -> dict:
    app = importlib.import_module(module).app
    if drop == "access_line":
        logging.getLogger("looped_needle.access").disabled = True
    if drop == "middleware":
        app.user_middleware = []
    key = os.environ["BENCH_KEY"]
    headers = [(b"host", b"bench"), (b"authorization", f"Bearer {key}".encode())]
    async with app.router.lifespan_context(app):
        return {
            label: await cpu_per_request(app, method, target, body.encode(), headers, n)
            for label, method, target, body in routes
        }


async def cpu_per_request(
    app, method: str, target: str, body: bytes, headers: list[tuple[bytes, bytes]], n: int
) -> float:
    """Microseconds of this process's CPU per request sent straight through ASGI, best of
    three rounds of `n`; any answer but a 2xx stops the run."""
    path, _, query = target.partition("?")
    if body:
        headers = [*headers, (b"content-type", b"application/json")]

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start" and message["status"] >= 300:
            raise RuntimeError(f"{method} {target} answered {message['status']}")

    async def one() -> None:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": query.encode(), "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000), "state": {},
        }  # fmt: skip
        await app(scope, receive, send)

    rounds = []
    for _ in range(3):
        for _ in range(200):  # warm the caches: the key cache and the pool's connections
            await one()
        started = time.process_time()
        for _ in range(n):
            await one()
        rounds.append((time.process_time() - started) / n * 1e6)
    return round(min(rounds), 1)


async def _routes(database_url: str) -> list[list[str]]:
    """[label, method, target, body] for each route measured, with ids from the seeded rows."""
    conn = await asyncpg.connect(database_url)
    try:
        one_id = await conn.fetchval("SELECT id FROM audit ORDER BY created_at LIMIT 1 OFFSET 100")
        entity_id = await conn.fetchval(
            "SELECT entity_id FROM audit GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )
    finally:
        await conn.close()
    body = CREATE_BODY.replace("{uuid}", "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f")
    return [
        ["GET /health", "GET", "/health", ""],
        ["GET /api/v1/audits/{id}", "GET", f"/api/v1/audits/{one_id}", ""],
        ["list by entity_id", "GET", f"/api/v1/audits?entity_id={entity_id}", ""],
        ["POST /api/v1/audits", "POST", "/api/v1/audits", body],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        job = json.loads(args.child)
        result = asyncio.run(_measure(job["module"], job["drop"], job["routes"], args.requests))
        Path(job["result_path"]).write_text(json.dumps(result))
        return
    server_url, embedded = database_server()
    database = f"looped_needle_layers_{os.getpid()}"
    database_url = create_migrated_database(server_url, database)
    try:
        asyncio.run(seed_to(database_url, 10_000))
        routes = asyncio.run(_routes(database_url))
        env = {"BENCH_KEY": mint_key(database_url), **ledger_keys()}
        table = {}
        result_path = Path(tempfile.mkdtemp()) / "result.json"
        for name, variant in VARIANTS.items():
            job = {
                "module": variant.get("module", "app"),
                "drop": variant.get("drop", ""),
                "routes": routes,
                "result_path": str(result_path),
            }
            child_env = procfile_env(
                DATABASE_URL=database_url,
                AUTH_REQUIRED=variant.get("AUTH_REQUIRED", "true"),
                LOG_LEVEL="INFO",
                LEDGER_SEALER="false",
                **env,
            )
            command = [sys.executable, "-m", "bench.layers", "--requests", str(args.requests)]
            # The log goes to a file, as in bench/run.py's server: a pipe that a reader
            # drains would add a context switch per line to what is measured.
            with tempfile.TemporaryFile() as log:
                subprocess.run(
                    [*command, "--child", json.dumps(job)],
                    env=child_env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    check=True,
                )
            table[name] = json.loads(result_path.read_text())
            print(f"bench: {name}: {table[name]}", file=sys.stderr, flush=True)
    finally:
        drop_database(server_url, database)
        if embedded is not None:
            embedded.cleanup()
    heads = list(next(iter(table.values())))
    print("| CPU µs per request | " + " | ".join(heads) + " |")
    print("|---|" + "---:|" * len(heads))
    for name, row in table.items():
        print(f"| {name} | " + " | ".join(f"{row[h]:.0f}" for h in heads) + " |")


if __name__ == "__main__":
    main()
