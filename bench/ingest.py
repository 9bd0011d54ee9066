"""Batch ingest against the database's own limit, and against one create per request.

    python -m bench.ingest [--events 100000] [--batch 1000] [--clients 4] [--rounds 4]

Over the real server (the Procfile command, one worker, auth on, access log and in-process
sealer as in production) on a fresh migrated database: `--clients` concurrent clients POST
pre-encoded batches of `--batch` records to /api/v1/audits/batch; then as many asyncpg
connections COPY the same rows (new ids) in the same batches into the same table, with the
same indexes and the journal trigger, the acting key set as the service sets it. The two
alternate in `--rounds` rounds so that both see the table at every size, and each timed
phase starts once the sealer has caught up. Last, wrk drives one create per request (auth
on) for the single-create rate. Prints a Markdown table.
Database: BENCH_DATABASE_URL (a fresh database is created on that server), else an
embedded PostgreSQL under .data/bench-pg.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from audits.queries import CREATE_FIELDS
from bench.run import CREATE_BODY, database_server
from harness.database import create_migrated_database
from harness.server_process import ServerProcess, procfile_env
from ledger.note import generate_key

ROOT = Path(__file__).resolve().parent.parent
BATCH_PATH = "/api/v1/audits/batch"
ACTIONS = ["create", "update", "view", "login", "export"]
COPY_COLUMNS = ["id", *(c._meta.db_column_name for c in CREATE_FIELDS), "recorded_by"]


def events(count: int, seed: int) -> list[dict]:
    """`count` realistic records (what a service would send), deterministic per seed."""
    return [
        {
            "action_type": ACTIONS[(seed + n) % len(ACTIONS)],
            "entity_type": f"bench_ingest_{n % 50}",
            "entity_id": str(uuid.UUID(int=(seed << 64) + n)),
            "user_id": str(uuid.UUID(int=(seed << 32) + n % 5000)),
            "details": {"seq": n, "field": "amount", "from": n % 1000, "to": n % 1000 + 20},
            "status": "success",
            "ip_address": f"10.0.{n % 256}.{(n // 256) % 256}",
            "user_agent": "bench-ingest/1.0",
        }
        for n in range(count)
    ]


def chunks(records: list[dict], size: int) -> list[list[dict]]:
    return [records[i : i + size] for i in range(0, len(records), size)]


async def post_batches(base_url: str, key: str, bodies: list[bytes], clients: int) -> float:
    """Seconds to POST every body with `clients` concurrent clients."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    async def client_loop() -> None:
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
            while not queue.empty():
                response = await client.post(BATCH_PATH, content=queue.get_nowait())
                if response.status_code != 201:
                    raise RuntimeError(f"batch answered {response.status_code}: {response.text}")

    started = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(clients)))
    return time.perf_counter() - started


async def copy_batches(url: str, label: str, batches: list[list[tuple]], clients: int) -> float:
    """Seconds for `clients` connections to COPY every batch, as the service's writer."""
    queue: asyncio.Queue[list[tuple]] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)
    connections = [await asyncpg.connect(url) for _ in range(clients)]
    for conn in connections:
        # The journal trigger names the acting key from this, as for the service's writes.
        await conn.execute("SELECT set_config('looped_needle.actor', $1, false)", label)

    async def copy_loop(conn: asyncpg.Connection) -> None:
        while not queue.empty():
            rows = queue.get_nowait()
            await conn.copy_records_to_table("audit", records=rows, columns=COPY_COLUMNS)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(copy_loop(conn) for conn in connections))
        return time.perf_counter() - started
    finally:
        for conn in connections:
            await conn.close()


def copy_rows(records: list[dict], label: str) -> list[tuple]:
    """The same records as COPY rows: a fresh id each, details as JSON text."""
    rows = []
    for record in records:
        values = [uuid.uuid4()]
        for column in CREATE_FIELDS:
            value = record[column._meta.name]
            if column._meta.name in {"entity_id", "user_id"}:
                value = uuid.UUID(value)
            elif column._meta.name == "details":
                value = json.dumps(value)
            values.append(value)
        rows.append((*values, label))
    return rows


async def sealed(url: str, timeout_s: float = 300) -> None:
    """Wait until the in-process sealer has sealed every journal entry, so each timed phase
    starts from the same state (a backlog left by the previous phase would be work the next
    one pays for: the sealer hashes on the service's event loop)."""
    conn = await asyncpg.connect(url)
    try:
        deadline = time.monotonic() + timeout_s
        while await conn.fetchval("SELECT count(*) FROM journal_unsealed"):
            if time.monotonic() > deadline:
                raise RuntimeError("the sealer did not catch up")
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


def single_creates(base_url: str, key: str, connections: int, duration_s: int) -> float:
    """Creates per second, one record per request, with wrk."""
    env = {**os.environ, "BENCH_BODY": CREATE_BODY, "BENCH_AUTHORIZATION": f"Bearer {key}"}
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--timeout", "10s"]
    command += ["-s", str(ROOT / "bench" / "ingest_single.lua"), f"{base_url}/api/v1/audits"]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH_JSON "))
    result = json.loads(line.removeprefix("BENCH_JSON "))
    if result["non_2xx"] or result["errors"]:
        raise RuntimeError(f"single creates failed: {result}")
    return result["requests"] / (result["duration_us"] / 1e6)


def mint_key(database_url: str) -> tuple[str, str]:
    """A key with audits:write, minted by the CLI; (key, the label records carry)."""
    result = subprocess.run(
        ["piccolo", "access", "create_key", "--name=bench-ingest", "--scopes=audits:write"],
        env=procfile_env(DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        check=True,
    )
    key = result.stdout.strip().splitlines()[-1]
    return key, f"bench-ingest ({key.split('_')[1]})"


def run(total: int, batch: int, clients: int, rounds: int, single_s: int) -> dict:
    server_url, embedded = database_server()
    database_url = create_migrated_database(server_url, "looped_needle_bench_ingest")
    key, label = mint_key(database_url)
    signer = os.environ.get("LEDGER_SIGNING_KEY") or generate_key("bench.ingest/audit")[0]
    service = ServerProcess(
        DATABASE_URL=database_url,
        AUTH_REQUIRED="true",
        LEDGER_SIGNING_KEY=signer,
        WEB_CONCURRENCY="1",
        LOG_LEVEL="INFO",
    ).start()
    per_round = total // rounds
    api_s = copy_s = 0.0
    try:
        for round_no in range(rounds):
            records = events(per_round, seed=round_no + 1)
            bodies = [json.dumps({"records": c}).encode() for c in chunks(records, batch)]
            copies = chunks(copy_rows(records, label), batch)
            asyncio.run(sealed(database_url))
            api_s += asyncio.run(post_batches(service.base_url, key, bodies, clients))
            asyncio.run(sealed(database_url))
            copy_s += asyncio.run(copy_batches(database_url, label, copies, clients))
            print(f"bench: round {round_no + 1}/{rounds}: api {api_s:.1f}s copy {copy_s:.1f}s")
        singles = {}
        for connections in (clients, 32):
            asyncio.run(sealed(database_url))
            singles[connections] = single_creates(service.base_url, key, connections, single_s)
        rows = asyncio.run(_count(database_url))
    finally:
        service.stop()
        if embedded is not None:
            embedded.cleanup()
    batch_rate, copy_rate = per_round * rounds / api_s, per_round * rounds / copy_s
    best_single = max(singles.values())
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "events_per_method": per_round * rounds,
        "batch": batch,
        "clients": clients,
        "batch_events_per_s": round(batch_rate),
        "copy_events_per_s": round(copy_rate),
        "single_events_per_s": {str(c): round(rate) for c, rate in singles.items()},
        "batch_vs_copy": round(batch_rate / copy_rate, 2),
        "batch_vs_single": round(batch_rate / best_single, 1),
        "rows_at_end": rows,
    }


async def _count(url: str) -> dict:
    conn = await asyncpg.connect(url)
    try:
        return {
            "audit": await conn.fetchval("SELECT count(*) FROM audit"),
            "journal_entry": await conn.fetchval("SELECT count(*) FROM journal_entry"),
        }
    finally:
        await conn.close()


def markdown(report: dict) -> str:
    singles = report["single_events_per_s"]
    single_text = ", ".join(f"{rate:,} at c={c}" for c, rate in singles.items())
    return "\n".join(
        [
            "| path | events/s | ratio |",
            "|---|---:|---:|",
            f"| POST /api/v1/audits/batch ({report['batch']}/batch, {report['clients']} clients)"
            f" | {report['batch_events_per_s']:,} | {report['batch_vs_copy']}x COPY |",
            f"| COPY, same rows, batches and connections | {report['copy_events_per_s']:,} | 1 |",
            f"| POST /api/v1/audits, one per request (wrk) | {single_text} | batch is "
            f"{report['batch_vs_single']}x the best |",
            "",
            f"{report['events_per_method']:,} events per method; rows at the end: "
            f"{report['rows_at_end']}.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--single-seconds", type=int, default=10)
    args = parser.parse_args()
    report = run(args.events, args.batch, args.clients, args.rounds, args.single_seconds)
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"ingest-{report['date'][:10]}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    print(f"\nbench: wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
