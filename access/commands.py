"""`piccolo access …` commands, for an operator or a PaaS one-off process.

    piccolo access create_key --name first-admin --scopes all
    piccolo access list_keys
    piccolo access revoke_key PREFIX
    piccolo access grant_runtime_role --name=looped_needle_app [--password=...]

They use the same query helpers (and so the same database guard) as the web process.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

import db
from access import queries
from access.keys import mint_key
from access.runtime_role import grant_statements
from access.schemas import ApiKeyCreate
from errors import DatabaseUnavailable
from settings import get_settings


def _space_separated(command: str, **given: Any) -> dict[str, Any]:
    """targ (Piccolo's CLI) reads options only as `--name=value`; `--name value` reaches
    us as a flag plus a positional value, matched to parameters by position. Re-read the
    command line then, so both spellings, in any order, mean the same."""
    tail = sys.argv[sys.argv.index(command) + 1 :] if command in sys.argv else []
    if not any(token in {f"--{option}" for option in given} for token in tail):
        return given
    parser = argparse.ArgumentParser(prog=f"piccolo access {command}")
    for option in given:
        parser.add_argument(f"--{option}", required=True)
    parsed, _ = parser.parse_known_args(tail)
    return vars(parsed)


async def _with_database(work: Callable[[], Awaitable[None]]) -> None:
    settings = get_settings().model_copy(update={"db_pool_min": 1, "db_pool_max": 1})
    await db.open_pool(settings)
    try:
        await work()
    except DatabaseUnavailable:
        sys.exit("the database cannot be reached; check DATABASE_URL")
    finally:
        await db.close_pool()


async def create_key(name: str, scopes: str) -> None:
    """Mint an API key; the key alone is printed on the last line (shown only once).

    :param name: Who or what will use the key, e.g. billing-service.
    :param scopes: Comma-separated: audits:read,audits:write,audits:delete,ai,admin or all.
    """
    options = _space_separated("create_key", name=name, scopes=scopes)
    try:
        request = ApiKeyCreate(name=options["name"], scopes=str(options["scopes"]).split(","))
    except ValidationError as error:
        problems = (
            f"{item['loc'][0]}: {item['msg']}" for item in error.errors(include_input=False)
        )
        sys.exit("cannot create the key: " + "; ".join(problems))
    minted = mint_key()

    async def store() -> None:
        await queries.create_key(request.name, minted.prefix, minted.secret_hash, request.scopes)

    await _with_database(store)
    print(f"Created API key {request.name!r}, prefix {minted.prefix}, scopes: ", end="")
    print(", ".join(request.scopes))
    print("Store the key now; it is never shown again:")
    print(minted.key)


async def list_keys() -> None:
    """List every API key (prefix, name, scopes, times). Secrets are never shown."""

    async def show() -> None:
        rows = await queries.list_keys()
        print("prefix        name                 scopes / created / last used / revoked")
        for row in rows:
            times = [row["created_at"], row["last_used_at"], row["revoked_at"]]
            when = " / ".join(f"{moment:%Y-%m-%dT%H:%M:%SZ}" if moment else "-" for moment in times)
            print(f"{row['prefix']:<13} {row['name']:<20} {','.join(row['scopes'])} / {when}")
        if not rows:
            print("(no keys yet: piccolo access create_key --name NAME --scopes all)")

    await _with_database(show)


async def revoke_key(prefix: str) -> None:
    """Revoke the API key with this prefix; it stops working within AUTH_CACHE_TTL_S.

    :param prefix: The key's public prefix (the 12 characters after `lnk_`).
    """

    async def revoke() -> None:
        row = await queries.revoke_key(prefix)
        if row is None:
            sys.exit(f"no API key has the prefix {prefix!r}")
        revoked_at = f"{row['revoked_at']:%Y-%m-%dT%H:%M:%SZ}"
        print(f"Revoked API key {row['name']!r} ({prefix}) at {revoked_at}")

    await _with_database(revoke)


async def grant_runtime_role(name: str, password: str = "") -> None:
    """Create (if missing) the least-privilege role the web process should connect as, and
    grant it exactly what the service needs. Run it as the migrating (owner) role; re-run it
    after migrations that add tables.

    :param name: The role's name, e.g. looped_needle_app.
    :param password: Its login password; empty keeps the current one (or none, for a new
        role authenticated otherwise, e.g. by a certificate or peer).
    """
    options = _space_separated("grant_runtime_role", name=name)
    role = str(options["name"])

    async def grant() -> None:
        async with db.connection() as conn, conn.transaction():
            existing = await conn.fetchrow(
                "SELECT rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb AS too_strong, "
                "rolname = current_user AS is_us FROM pg_roles WHERE rolname = $1",
                role,
            )
            if existing is not None and (existing["too_strong"] or existing["is_us"]):
                sys.exit(f"refusing: {role!r} is this role or may do more than a runtime role")
            if existing is None:
                await conn.execute(
                    await conn.fetchval("SELECT format('CREATE ROLE %I LOGIN', $1::text)", role)
                )
            if password:
                statement = "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)"
                await conn.execute(await conn.fetchval(statement, role, password))
            owned = await conn.fetchval(
                "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
                "WHERE r.rolname = $1",
                role,
            )
            if owned:
                sys.exit(f"refusing: {role!r} owns {owned} tables or other relations here")
            database = await conn.fetchval("SELECT current_database()")
            for statement in grant_statements(role, database):
                await conn.execute(statement)
        print(f"{'Updated' if existing else 'Created'} role {role!r}: it owns nothing and may")
        print("SELECT and INSERT what the service writes, UPDATE only the columns the API")
        print("changes; no DELETE, TRUNCATE or DDL. Re-run after migrations that add tables.")

    await _with_database(grant)
