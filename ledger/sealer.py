"""The sealer: integrates journal entries into the Merkle tree and signs a checkpoint.

One seal is one transaction: it takes a transaction-level advisory lock (so exactly one
sealer works at a time across processes and dynos, and it works through PgBouncer in
transaction mode), takes the committed entries off the queue (`journal_unsealed`) in `seq`
order, gives them the next indices (`ledger_leaf`), stores the subtrees they complete, and
writes a signed checkpoint. A sealer killed mid-batch rolls back whole (its entries go back
on the queue); the next one starts where the last commit ended, so an entry is never lost,
skipped or sealed twice. An entry whose transaction commits late is simply picked up by a
later seal, with a later index.

Runs inside the web process by default (LEDGER_SEALER=true), or alone:
`python -m ledger.sealer` (the Procfile's `worker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time

import asyncpg

import db
from errors import DatabaseUnavailable
from ledger.merkle import append_leaves, frontier_nodes, root_at
from ledger.note import Checkpoint, Signer, parse_signer, sign_checkpoint
from ledger.store import fetch_nodes, reader, stored_hash_index
from settings import Settings

logger = logging.getLogger("looped_needle.ledger")

# pg_try_advisory_xact_lock key: any fixed 64-bit number no other feature uses.
SEALER_LOCK = 0x4C4E_4C45_4447_4552  # "LNLEDGER"

TAKE_QUEUED = """
WITH taken AS (
    DELETE FROM journal_unsealed
    WHERE seq <= coalesce(
        (SELECT seq FROM journal_unsealed ORDER BY seq OFFSET $1 - 1 LIMIT 1),
        9223372036854775807)
    RETURNING seq)
SELECT seq,
       (SELECT sha256('\\x00'::bytea || leaf) FROM journal_entry j WHERE j.seq = taken.seq)
           AS leaf_hash
FROM taken ORDER BY seq
"""


async def seal_once(conn: asyncpg.Connection, *, signer: Signer, batch_limit: int) -> int | None:
    """Seal what is waiting, up to `batch_limit` entries. The number sealed, or None when
    another sealer holds the lock."""
    async with conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", SEALER_LOCK):
            return None
        size = await conn.fetchval("SELECT coalesce(max(tree_size), 0) FROM ledger_checkpoint")
        # One statement, one snapshot: the queue's first `batch_limit` committed entries are
        # taken off it (an entry that commits later stays queued for a later seal, with a
        # later index), and their RFC 9162 leaf hashes are computed where the bytes are, so
        # 32 bytes a leaf cross the wire. Each entry is looked up by its key, whatever the
        # planner's statistics say right after a bulk load: a seal never scans the journal.
        taken = await conn.fetch(TAKE_QUEUED, batch_limit)
        if not taken:
            return 0
        waiting = [row["seq"] for row in taken]
        missing = [row["seq"] for row in taken if row["leaf_hash"] is None]
        if missing:
            raise LookupError(f"queued journal entries are missing: seq {missing[:10]}")
        nodes = await fetch_nodes(conn, frontier_nodes(size))
        completed = append_leaves(reader(nodes), size, [row["leaf_hash"] for row in taken])
        nodes.update(((level, n), node) for level, n, node in completed)
        new_size = size + len(waiting)
        root = root_at(new_size, reader(nodes))
        await conn.copy_records_to_table(
            "ledger_leaf",
            records=zip(range(size, new_size), waiting, strict=True),
            columns=["leaf_index", "seq"],
        )
        await conn.copy_records_to_table(
            "ledger_node",
            records=[(stored_hash_index(level, n), node) for level, n, node in completed],
            columns=["id", "hash"],
        )
        # C2SP: a log's origin line is the name its checkpoints are signed under.
        note = sign_checkpoint(Checkpoint(signer.name, new_size, root), signer)
        await conn.execute(
            "INSERT INTO ledger_checkpoint (tree_size, root_hash, note, created_at) "
            "VALUES ($1, $2, $3, now())",
            new_size,
            root,
            note,
        )
    return len(waiting)


async def run(settings: Settings, stop: asyncio.Event) -> None:
    """Seal every LEDGER_SEAL_INTERVAL_S until `stop` is set; outages are waited out."""
    signer = parse_signer(settings.ledger_signing_key.get_secret_value())
    interval = settings.ledger_seal_interval_s
    while not stop.is_set():
        started = time.monotonic()
        try:
            # A big backlog's batch may outlast an API statement's bound.
            async with db.connection(statement_timeout_s=settings.db_command_timeout_s) as conn:
                sealed = await seal_once(
                    conn,
                    signer=signer,
                    batch_limit=settings.ledger_seal_batch_max,
                )
            if sealed:
                logger.info("sealed", extra={"entries": sealed})
        except (DatabaseUnavailable, *db.OUTAGE_ERRORS) as error:
            logger.warning("sealer waiting for the database: %s", type(error).__name__)
        except Exception:
            logger.exception("seal failed; retrying after the interval")
        remaining = interval - (time.monotonic() - started)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max(remaining, 0.01))


async def _main() -> None:
    from logs import configure_logging
    from settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level)
    if settings.database_url is None or settings.ledger_signing_key is None:
        raise SystemExit("refusing to start: DATABASE_URL and LEDGER_SIGNING_KEY must be set")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await db.open_pool(settings)
    try:
        await run(settings, stop)
    finally:
        await db.close_pool()


if __name__ == "__main__":
    asyncio.run(_main())
