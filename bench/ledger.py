"""The ledger's benchmark: what journaling costs a create, how fast the sealer integrates,
how long an entry waits for its checkpoint, and what a proof costs in a big log.

    python3 dev.py bench ledger [--entries 1000000] [--create-seconds 16] [--connections 10]

Database: BENCH_DATABASE_URL's server, else an embedded PostgreSQL under .data/bench-pg.

Each part runs in a fresh database on that server (dropped afterwards), over the real web
process (the Procfile command) where HTTP is involved, with API keys off so that only the
ledger's cost is measured:

1. create at N connections, for the same time, with the journal trigger disabled (the
   service as it was before the ledger) and enabled, alternating: p50/p95 and the ratio;
   during the enabled runs the in-process sealer seals every second, and each entry's seal
   lag (its checkpoint's signing time minus its commit time) gives p50/p99;
2. the sealer alone: `--entries` rows written by SQL with no sealer running, then sealed in
   batches of LEDGER_SEAL_BATCH_MAX; entries per second;
3. proof lookups in that log: GET /api/v1/audits/{id}/proof for random records at N
   connections; p50/p95.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid

import asyncpg
import httpx

from bench.run import database_server
from harness.database import create_migrated_database, drop_database
from harness.server_process import ServerProcess
from ledger.note import generate_key, parse_signer
from ledger.sealer import seal_once

SIGNER, _ = generate_key("looped-needle.bench/audit")
SEAL_BATCH = 100_000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def drive(base_url: str, seconds: float, connections: int, request) -> list[float]:
    """Closed loop: `connections` clients send back to back for `seconds`; latencies in ms."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client():
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await request(http)
                assert response.status_code < 300, response.text
                latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(client() for _ in range(connections)))
    return latencies


async def create(http: httpx.AsyncClient) -> httpx.Response:
    body = {
        "action_type": "update",
        "entity_type": "bench_ledger",
        "entity_id": str(uuid.uuid4()),
        "status": "success",
        "details": {"field": "amount", "from": 100, "to": 120},
    }
    return await http.post("/api/v1/audits", json=body)


async def create_cost(url: str, seconds: float, connections: int) -> dict:
    db = await asyncpg.connect(url)
    server = ServerProcess(
        DATABASE_URL=url,
        AUTH_REQUIRED="false",
        LEDGER_SIGNING_KEY=SIGNER,
        LEDGER_SEAL_INTERVAL_S="1",
    )
    await asyncio.to_thread(server.start)
    runs: dict[str, list[float]] = {"without journal": [], "with journal": []}
    try:
        await drive(server.base_url, 2, connections, create)  # warm up
        for _ in range(2):
            for label, mode in (("without journal", "DISABLE"), ("with journal", "ENABLE ALWAYS")):
                await db.execute(f"ALTER TABLE audit {mode} TRIGGER audit_journal_rows")
                runs[label] += await drive(server.base_url, seconds / 2, connections, create)
        await asyncio.sleep(3)  # let the last entries be sealed
        lags = await db.fetch(
            """SELECT extract(epoch FROM c.created_at - j.created_at) * 1000 AS lag_ms
               FROM journal_entry j JOIN ledger_leaf l USING (seq)
               JOIN LATERAL (SELECT created_at FROM ledger_checkpoint
                             WHERE tree_size > l.leaf_index ORDER BY tree_size LIMIT 1) c ON true"""
        )
    finally:
        server.stop()
        await db.close()
    lag = [float(row["lag_ms"]) for row in lags]
    result = {
        label: {
            "requests": len(values),
            "p50_ms": percentile(values, 0.5),
            "p95_ms": percentile(values, 0.95),
        }
        for label, values in runs.items()
    }
    result["p95_ratio"] = result["with journal"]["p95_ms"] / result["without journal"]["p95_ms"]
    result["seal_lag_ms"] = {
        "entries": len(lag),
        "p50": percentile(lag, 0.5),
        "p99": percentile(lag, 0.99),
        "max": max(lag, default=0),
    }
    return result


async def sealer_and_proofs(url: str, entries: int, connections: int, seconds: float) -> dict:
    db = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        for done in range(0, entries, 100_000):
            await db.execute(
                "INSERT INTO audit (id, action_type, entity_type, entity_id, status, details) "
                "SELECT gen_random_uuid(), 'create', 'bench_ledger', gen_random_uuid(), 'success',"
                " jsonb_build_object('n', n) FROM generate_series($1::int, $2::int) AS n",
                done,
                min(done + 100_000, entries) - 1,
            )
        write_s = time.perf_counter() - started
        signer = parse_signer(SIGNER)
        started, sealed = time.perf_counter(), 0
        while sealed < entries:
            sealed += await seal_once(db, signer=signer, batch_limit=SEAL_BATCH) or 0
        seal_s = time.perf_counter() - started
        # What autovacuum does within a minute or so of a bulk load: proofs are measured on a
        # log in its steady state, not in the gap before PostgreSQL has statistics.
        await db.execute("ANALYZE")
        ids = [
            row["id"]
            for row in await db.fetch("SELECT id FROM audit TABLESAMPLE SYSTEM (1) LIMIT 5000")
        ]
    finally:
        await db.close()

    server = ServerProcess(DATABASE_URL=url, AUTH_REQUIRED="false", LEDGER_SIGNING_KEY=SIGNER)
    await asyncio.to_thread(server.start)
    try:

        async def proof(http: httpx.AsyncClient) -> httpx.Response:
            return await http.get(f"/api/v1/audits/{random.choice(ids)}/proof")

        await drive(server.base_url, 2, connections, proof)
        latencies = await drive(server.base_url, seconds, connections, proof)
        # One client alone: the server's own time per proof, without queueing behind others.
        alone = await drive(server.base_url, seconds, 1, proof)
    finally:
        server.stop()
    return {
        "entries": entries,
        "write_with_journal_s": round(write_s, 1),
        "sealer_entries_per_s": round(entries / seal_s),
        "proof": {
            "requests": len(latencies),
            "p50_ms": percentile(latencies, 0.5),
            "p95_ms": percentile(latencies, 0.95),
            "mean_ms": statistics.fmean(latencies),
        },
        "proof_one_client": {
            "requests": len(alone),
            "p50_ms": percentile(alone, 0.5),
            "p95_ms": percentile(alone, 0.95),
        },
    }


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ledger")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--create-seconds", type=float, default=16)
    parser.add_argument("--proof-seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=10)
    args = parser.parse_args()
    server_url, embedded = database_server()
    try:
        await run_parts(server_url, args)
    finally:
        if embedded is not None:
            embedded.cleanup()


async def run_parts(server_url: str, args: argparse.Namespace) -> None:
    for part in ("create", "seal"):
        name = f"looped_needle_bench_ledger_{part}_{uuid.uuid4().hex[:6]}"
        url = await asyncio.to_thread(create_migrated_database, server_url, name)
        try:
            if part == "create":
                result = await create_cost(url, args.create_seconds, args.connections)
            else:
                result = await sealer_and_proofs(
                    url, args.entries, args.connections, args.proof_seconds
                )
            print(part, result, flush=True)
        finally:
            await asyncio.to_thread(drop_database, server_url, name)


if __name__ == "__main__":
    asyncio.run(main())
