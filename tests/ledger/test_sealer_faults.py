"""A sealer killed mid-batch, with its web process, loses and repeats nothing."""

import asyncio
import signal
import subprocess

import asyncpg

from harness.server_process import ServerProcess, procfile_command, procfile_env
from ledger.sealer import SEALER_LOCK
from tests.conftest import ROOT
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


async def test_the_procfile_worker_seals_when_the_web_processes_do_not(fresh_database, verifier):
    db = await asyncpg.connect(fresh_database)
    web = ServerProcess(DATABASE_URL=fresh_database, LEDGER_SEALER="false")
    await asyncio.to_thread(web.start)
    worker = None
    try:
        await db.execute(
            "INSERT INTO audit (id, action_type, entity_type, entity_id, status) "
            "VALUES (gen_random_uuid(), 'create', 'invoice', gen_random_uuid(), 'success')"
        )
        await asyncio.sleep(0.5)
        assert await db.fetchval("SELECT count(*) FROM ledger_checkpoint") == 0
        worker = await asyncio.to_thread(
            subprocess.Popen,
            procfile_command("worker"),
            shell=True,
            cwd=ROOT,
            env=procfile_env(DATABASE_URL=fresh_database),
            start_new_session=True,
        )
        assert await assert_tree_is_whole(db, verifier) == 1
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(worker.wait, 20) == 0  # a clean stop on SIGTERM
        web.stop()
        await db.close()
