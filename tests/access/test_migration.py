"""The access app's migration runs backwards and forwards again with Piccolo's own CLI."""

import asyncio
import uuid

import asyncpg

from tests.conftest import create_migrated_database, drop_database, run_piccolo

COLUMNS = """SELECT column_name || ' ' || data_type || ' ' || is_nullable
             FROM information_schema.columns WHERE table_name = 'api_key' ORDER BY 1"""


async def _columns(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [row[0] for row in await conn.fetch(COLUMNS)]
    finally:
        await conn.close()


def test_the_api_key_table_comes_and_goes_with_its_migration(server_url):
    name = f"looped_needle_access_{uuid.uuid4().hex[:8]}"
    url = create_migrated_database(server_url, name)
    try:
        before = asyncio.run(_columns(url))
        assert "secret_hash character varying NO" in before
        assert "scopes ARRAY NO" in before
        run_piccolo(url, "migrations", "backwards", "access", "--auto_agree")
        assert asyncio.run(_columns(url)) == []
        run_piccolo(url, "migrations", "forwards", "all")
        assert asyncio.run(_columns(url)) == before
    finally:
        drop_database(server_url, name)
