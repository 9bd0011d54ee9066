"""The Piccolo path (soft delete) meets an outage exactly as the raw SQL paths do.

Piccolo's own `run()` would take a pool connection with no bounded wait and no outage
mapping, and with no pool at all open a fresh connection; db.run puts it behind the guard.
"""

import asyncio
import os
import time
import uuid

import httpx
import pytest

from harness.server_process import ServerProcess
from tests.helpers import AUDITS, assert_error, audit_body
from tests.pg_proxy import PostgresProxy


@pytest.fixture
async def proxy():
    proxy = PostgresProxy(os.environ["DATABASE_URL"])
    await proxy.start()
    yield proxy
    await proxy.cut()


async def started(**env) -> ServerProcess:
    server = ServerProcess(**env)
    await asyncio.to_thread(server.start)
    return server


def assert_database_unavailable(response: httpx.Response) -> None:
    assert_error(response, 503, "database_unavailable")
    assert response.headers["retry-after"] == "5"


async def test_a_delete_during_an_outage_is_503_then_works_once_the_database_is_back(proxy):
    server = await started(
        DATABASE_URL=proxy.url, DB_CONNECT_TIMEOUT_S="2", DB_ACQUIRE_TIMEOUT_S="2"
    )
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
            created = await http.post(AUDITS, json=audit_body(uuid.uuid4()))
            location = created.headers["location"]

            await proxy.cut()
            started_at = time.monotonic()
            for _ in range(2):  # the first may meet a dead pooled connection, the second a refusal
                assert_database_unavailable(await http.delete(location))
            assert time.monotonic() - started_at < 10

            await proxy.start()
            deadline = time.monotonic() + 10
            while (deleted := await http.delete(location)).status_code == 503:
                assert time.monotonic() < deadline, "the app did not recover on its own"
                await asyncio.sleep(0.2)
            assert deleted.status_code == 204
            assert_error(await http.get(location), 404, "audit_not_found")
    finally:
        await asyncio.to_thread(server.stop)


async def test_a_delete_starts_the_pool_that_start_up_could_not_open(proxy):
    await proxy.cut()
    server = await started(DATABASE_URL=proxy.url, DB_CONNECT_TIMEOUT_S="1")
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
            assert_database_unavailable(await http.delete(f"{AUDITS}/{uuid.uuid4()}"))
            await proxy.start()
            assert_error(await http.delete(f"{AUDITS}/{uuid.uuid4()}"), 404, "audit_not_found")
        assert "Traceback" not in server.output()
    finally:
        await asyncio.to_thread(server.stop)


async def test_a_delete_waits_a_bounded_time_for_a_pooled_connection(db):
    server = await started(DB_POOL_MIN="1", DB_POOL_MAX="1", DB_ACQUIRE_TIMEOUT_S="1")
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
            assert (await http.get(AUDITS)).status_code == 200  # the pool's one connection
            async with db.transaction():
                await db.execute("LOCK TABLE audit IN ACCESS EXCLUSIVE MODE")
                holder = asyncio.create_task(http.get(AUDITS))  # holds it, waiting on the lock
                await asyncio.sleep(0.3)
                waited = time.monotonic()
                response = await http.delete(f"{AUDITS}/{uuid.uuid4()}")
                waited = time.monotonic() - waited
            held = await holder
    finally:
        await asyncio.to_thread(server.stop)

    assert_database_unavailable(response)
    assert 0.8 < waited < 5
    assert held.status_code == 200
