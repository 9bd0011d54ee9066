"""The connection pool behind Piccolo's engine, and the one place database outages are recognised.

Raw SQL takes a connection with `async with connection() as conn:`; a Piccolo query runs
with `await run(query)` on such a connection. Either way, any sign that PostgreSQL cannot be
reached (refused, reset, restarting, silent past the statement bound, pool exhausted past
its wait) becomes `DatabaseUnavailable`, which the app answers with 503 + Retry-After, and the
pool starts on first use if the database was down at start-up.

Every statement is bounded on the client (asyncpg's `command_timeout`,
`DB_STATEMENT_TIMEOUT_S`), so a database that accepts bytes and never answers (frozen, a
hung proxy) still gives 503 within `DB_ACQUIRE_TIMEOUT_S` + `DB_STATEMENT_TIMEOUT_S`. On
expiry asyncpg sends PostgreSQL a CancelRequest, so a live server stops the statement too;
the connection is then closed rather than returned to the pool in an unknown state. The
bound is not a server-side `statement_timeout` startup parameter, which PgBouncer refuses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from piccolo.query.base import Query
from piccolo.querystring import QueryString

from errors import DatabaseUnavailable
from piccolo_conf import DB
from settings import Settings

logger = logging.getLogger("looped_needle.db")

# Errors that mean "the database is not there right now", as opposed to a bug in a query.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
    # Raised by the pool while resetting a connection that broke mid-query (a restart).
    asyncpg.exceptions.InternalClientError,
)

# The database's clock, for a Piccolo query: every timestamp in the service is PostgreSQL's.
DATABASE_NOW = QueryString("now()")

_pool_lock = asyncio.Lock()
_settings: Settings | None = None
# Piccolo's engine, and so the pool, is one per process; count the apps using it so that
# one app instance shutting down (in tests) does not close it under another.
_users = 0


async def keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset hook. By default asyncpg spends a round trip per release on
    `RESET ALL; UNLISTEN *; CLOSE ALL; pg_advisory_unlock_all()`. Our queries leave no session
    state (no SET, LISTEN, cursors or advisory locks), and asyncpg itself still rolls back an
    open transaction before calling this, so there is nothing to undo."""


async def open_pool(settings: Settings) -> None:
    """Start the pool; if PostgreSQL is down, log it and let the first request try again."""
    global _settings, _users
    _settings = settings
    _users += 1
    try:
        await _ensure_pool()
    except DatabaseUnavailable:
        logger.warning("database unreachable at start-up; will retry on the next request")


async def close_pool() -> None:
    global _users
    _users -= 1
    if _users == 0 and DB.pool is not None:
        await DB.close_connection_pool()
        logger.info("database pool closed")


async def _ensure_pool() -> asyncpg.Pool:
    if DB.pool is not None:
        return DB.pool
    if _settings is None:
        raise RuntimeError("open_pool() was never called")
    async with _pool_lock:
        if DB.pool is None:
            try:
                DB.pool = await asyncpg.create_pool(
                    dsn=_settings.database_url.get_secret_value() if _settings.database_url else "",
                    min_size=_settings.db_pool_min,
                    max_size=_settings.db_pool_max,
                    timeout=_settings.db_connect_timeout_s,
                    command_timeout=_settings.db_statement_timeout_s,
                    statement_cache_size=_settings.db_statement_cache_size,
                    # PostgreSQL renders timestamps in JSON: always in UTC. No JIT: the API's
                    # statements are short, and a plan misjudged as big (fresh statistics
                    # after a bulk load) spent 35 ms compiling a 1 ms proof lookup.
                    server_settings={"timezone": "UTC", "jit": "off"},
                    reset=keep_session,
                )
            except OUTAGE_ERRORS as error:
                # The exception text can carry the DSN's host details; its class name cannot.
                logger.warning("could not open the database pool: %s", type(error).__name__)
                raise DatabaseUnavailable() from None
    return DB.pool


@asynccontextmanager
async def connection(
    timeout_s: float | None = None, *, statement_timeout_s: float | None = None
) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection, waiting at most the acquire timeout for one to free up.

    Its statements are bounded by `DB_STATEMENT_TIMEOUT_S`, or by `statement_timeout_s` for
    a job that knowingly runs longer (the sealer's batch; exports)."""
    assert _settings is not None, "open_pool() was never called"
    wait = timeout_s if timeout_s is not None else _settings.db_acquire_timeout_s
    try:
        pool = await _ensure_pool()
        # Bounded here, not with acquire(timeout=): on Python < 3.12 asyncpg bounds the wait
        # with its own wait_for, which runs the acquire as a task of its own, a tenth of a GET
        # by id's CPU. The release needs no timer of its own: a connection whose statement
        # failed as an outage is terminated first, and any other's reset (a ROLLBACK at most)
        # is bounded by the statement timeout, restored below before the release.
        async with asyncio.timeout(wait):
            conn = await pool.acquire()
        raw = conn._con  # asyncpg keeps the per-statement bound on the raw connection
        usual = raw._config
        if statement_timeout_s is not None:
            raw._config = usual._replace(command_timeout=statement_timeout_s)
        try:
            yield conn
        except OUTAGE_ERRORS:
            # Timed out or broke mid-statement: its protocol state is unknown, so close
            # it now instead of letting the pool wait on it or hand it to the next request.
            conn.terminate()
            raise
        finally:
            raw._config = usual
            await pool.release(conn)
    except OUTAGE_ERRORS as error:
        logger.warning("database unavailable: %s", type(error).__name__)
        raise DatabaseUnavailable() from None


class _GuardedConnection:
    """Stands where Piccolo's engine looks for the running transaction's connection
    (`current_transaction.connection`), so the query runs on one we acquired. No transaction
    is opened: a single statement commits by itself, as it does on the raw path."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.connection = conn


async def run(query: Query, *, actor: str | None = None) -> Any:
    """Run a Piccolo query behind the same guard as raw SQL; Piccolo's own `run()` takes a
    pool connection without a bounded wait, outage mapping or lazy pool start.

    With an `actor` (an API key's label), the query runs in a transaction that first tells
    the journal trigger who acts, as the raw statements do inside themselves."""
    async with connection() as conn:
        borrowed = DB.current_transaction.set(_GuardedConnection(conn))
        try:
            if actor is None:
                return await query.run()
            async with conn.transaction():
                await conn.execute("SELECT set_config('looped_needle.actor', $1, true)", actor)
                return await query.run()
        finally:
            DB.current_transaction.reset(borrowed)
