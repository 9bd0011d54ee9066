"""A sealer killed mid-batch, with its web process, loses and repeats nothing."""

import asyncio
import signal

import asyncpg

from harness.server_process import ServerProcess
from ledger.sealer import SEALER_LOCK
from tests.ledger.test_sealer import assert_tree_is_whole

BACKLOG = 20_000
HOLDING_THE_SEALER_LOCK = """
SELECT count(*) FROM pg_locks
WHERE locktype = 'advisory' AND ((classid::bigint << 32) | objid::bigint) = $1
"""


async def test_sigkill_mid_seal_then_restart_seals_every_entry_once(fresh_database, verifier):
    url = fresh_database
    db = await asyncpg.connect(url)
    try:
        await db.execute(
            "INSERT INTO audit (id, action_type, entity_type, entity_id, status) "
            "SELECT gen_random_uuid(), 'create', 'invoice', gen_random_uuid(), 'success' "
            f"FROM generate_series(1, {BACKLOG})"
        )
        server = ServerProcess(DATABASE_URL=url, LEDGER_SEAL_BATCH_MAX=str(BACKLOG))
        await asyncio.to_thread(server.start)
        try:
            for _ in range(400):  # the server's sealer takes the lock for its one big batch
                if await db.fetchval(HOLDING_THE_SEALER_LOCK, SEALER_LOCK & 0xFFFF_FFFF_FFFF_FFFF):
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the sealer never started sealing")
            server.signal(signal.SIGKILL)
            await asyncio.to_thread(server.process.wait)
        finally:
            server.stop()
        # Killed mid-batch: nothing of the batch is there.
        assert await db.fetchval("SELECT count(*) FROM ledger_checkpoint") == 0
        assert await db.fetchval("SELECT count(*) FROM ledger_node") == 0

        with ServerProcess(DATABASE_URL=url):
            assert await assert_tree_is_whole(db, verifier) == BACKLOG
    finally:
        await db.close()
