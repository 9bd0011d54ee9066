"""A database of one's own on a PostgreSQL server, migrated with Piccolo's own CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
BIN_DIR = Path(sys.executable).parent


def database_url_for(server_url: str, database: str) -> str:
    """The same server and credentials as `server_url`, pointing at another database."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def _admin(server_url: str, statement: str) -> None:
    conn = await asyncpg.connect(database_url_for(server_url, "postgres"), timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def create_migrated_database(server_url: str, name: str) -> str:
    """Create database `name` afresh and run every migration on it with the piccolo CLI."""
    drop_database(server_url, name)
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    url = database_url_for(server_url, name)
    run_piccolo(url, "migrations", "forwards", "all")
    return url


def drop_database(server_url: str, name: str) -> None:
    asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def run_piccolo(database_url: str, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(BIN_DIR / "piccolo"), *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (
        f"piccolo {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    )
    return result
