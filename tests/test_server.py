"""The real server process, started with the Procfile command, over TCP."""

import asyncio
import os
import time
import uuid

import httpx
import pytest

from harness.server_process import ServerProcess, run_procfile_briefly
from tests.helpers import AUDITS, assert_error, audit_body
from tests.pg_proxy import PostgresProxy


def test_create_get_list_delete_over_tcp():
    entity_id = uuid.uuid4()
    with ServerProcess() as server, httpx.Client(base_url=server.base_url, timeout=10) as http:
        created = http.post(AUDITS, json=audit_body(entity_id))
        assert created.status_code == 201
        location = created.headers["location"]

        assert http.get(location).json() == created.json()
        listed = http.get(AUDITS, params={"entity_id": str(entity_id)}).json()
        assert [item["id"] for item in listed["items"]] == [created.json()["id"]]
        assert http.delete(location).status_code == 204
        assert_error(http.get(location), 404, "audit_not_found")


def test_the_web_process_refuses_to_start_without_database_url():
    result = run_procfile_briefly(DATABASE_URL=None)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["refusing to start: DATABASE_URL is not set (postgresql://user:pass@host/db)"]


def test_the_web_process_refuses_to_start_without_a_ledger_signing_key():
    result = run_procfile_briefly(LEDGER_SIGNING_KEY=None)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "refusing to start: LEDGER_SIGNING_KEY is not set (make one with "
        "`piccolo ledger new_key --name=<your log's name>`)"
    ]


@pytest.fixture
async def proxy():
    proxy = PostgresProxy(os.environ["DATABASE_URL"])
    await proxy.start()
    yield proxy
    await proxy.cut()


async def test_database_outage_is_503_then_the_app_recovers_by_itself(proxy):
    server = ServerProcess(
        DATABASE_URL=proxy.url, DB_CONNECT_TIMEOUT_S="2", DB_ACQUIRE_TIMEOUT_S="2"
    )
    await asyncio.to_thread(server.start)
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
            assert (await http.get("/health/db")).status_code == 200
            assert (await http.post(AUDITS, json=audit_body(uuid.uuid4()))).status_code == 201

            await proxy.cut()
            started = time.monotonic()
            assert (await http.get("/health")).status_code == 200
            down = await http.get("/health/db")
            assert down.status_code == 503
            assert down.json()["status"] == "unhealthy"
            assert down.json()["checks"]["database"]["status"] == "unhealthy"
            assert down.json()["checks"]["database"]["message"]
            assert "latency_ms" not in down.json()["checks"]["database"]
            for _ in range(2):  # the first may meet a dead pooled connection, the second a refusal
                listed = await http.get(AUDITS)
                body = assert_error(listed, 503, "database_unavailable")
                assert listed.headers["retry-after"]
                assert "127.0.0.1" not in str(body) and "postgres" not in listed.text.lower()
            assert time.monotonic() - started < 10

            await proxy.start()
            deadline = time.monotonic() + 10
            while (await http.get(AUDITS)).status_code != 200:
                assert time.monotonic() < deadline, "the app did not recover on its own"
                await asyncio.sleep(0.2)
            assert (await http.get("/health/db")).status_code == 200
    finally:
        await asyncio.to_thread(server.stop)


async def test_the_app_starts_while_the_database_is_down_and_serves_once_it_is_up(proxy):
    await proxy.cut()
    server = ServerProcess(DATABASE_URL=proxy.url, DB_CONNECT_TIMEOUT_S="1")
    await asyncio.to_thread(server.start)
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
            assert (await http.get("/health")).status_code == 200
            assert (await http.get("/health/db")).status_code == 503
            await proxy.start()
            assert (await http.get("/health/db")).status_code == 200
    finally:
        await asyncio.to_thread(server.stop)


async def test_a_frozen_database_is_503_within_the_documented_bound_then_recovers(proxy):
    """Acquire + statement bound: the promise in the README's "Never hangs" row."""
    acquire_s, statement_s = 1.0, 2.0
    server = ServerProcess(
        DATABASE_URL=proxy.url,
        DB_CONNECT_TIMEOUT_S="1",
        DB_ACQUIRE_TIMEOUT_S=str(acquire_s),
        DB_STATEMENT_TIMEOUT_S=str(statement_s),
    )
    await asyncio.to_thread(server.start)
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
            assert (await http.get(AUDITS)).status_code == 200

            proxy.freeze()  # connections stay open; nothing passes
            waits = []
            for request in (
                http.build_request("GET", AUDITS),
                http.build_request("POST", AUDITS, json=audit_body(uuid.uuid4())),
                http.build_request("GET", f"{AUDITS}/{uuid.uuid4()}"),
            ):
                started = time.monotonic()
                response = await http.send(request)
                waits.append(time.monotonic() - started)
                assert_error(response, 503, "database_unavailable")
                assert response.headers["retry-after"]
            assert max(waits) < acquire_s + statement_s + 1.0, waits
            assert (await http.get("/health")).status_code == 200

            proxy.thaw()
            deadline = time.monotonic() + 10
            while (await http.get(AUDITS)).status_code != 200:
                assert time.monotonic() < deadline, "the app did not recover after the thaw"
                await asyncio.sleep(0.2)
            assert (await http.post(AUDITS, json=audit_body(uuid.uuid4()))).status_code == 201
    finally:
        proxy.thaw()
        await asyncio.to_thread(server.stop)
