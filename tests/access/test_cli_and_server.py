"""The `piccolo access` commands end to end, with the key used over the real server process.

create_key -> use the key over TCP -> list_keys shows it without the secret -> revoke_key ->
refused within AUTH_CACHE_TTL_S. Then: the secret is in no log line, error body, listing or
database row; and a server with no key says, in one line, how to mint the first one.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid

import asyncpg
import httpx
import pytest

from harness.database import BIN_DIR
from harness.server_process import ServerProcess
from tests.access.conftest import KEY_SHAPE
from tests.access.test_keys import sha256sum
from tests.conftest import ROOT, create_migrated_database, drop_database
from tests.helpers import AUDITS, assert_error, audit_body

TTL_S = 1.0
FIRST_KEY_HINT = "piccolo access create_key --name first-admin --scopes all"


def piccolo(*args: str, database_url: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN_DIR / "piccolo"), "access", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url or os.environ["DATABASE_URL"]},
        capture_output=True,
        text=True,
        timeout=60,
    )


async def _rows_as_text(query: str) -> list[str]:
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        return [row[0] for row in await conn.fetch(query)]
    finally:
        await conn.close()


def test_create_use_list_revoke_refused_over_the_real_server():
    name = f"cli-{uuid.uuid4().hex[:8]}"
    created = piccolo("create_key", "--name", name, "--scopes", "audits:read,audits:write")
    assert created.returncode == 0, created.stdout + created.stderr
    key = created.stdout.rstrip("\n").splitlines()[-1]
    assert KEY_SHAPE.match(key), created.stdout
    prefix, secret = key.split("_")[1], key.split("_", 2)[2]
    auth = {"Authorization": f"Bearer {key}"}

    server = ServerProcess(AUTH_REQUIRED="true", AUTH_CACHE_TTL_S=str(TTL_S)).start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            record = http.post(AUDITS, json=audit_body(uuid.uuid4()), headers=auth)
            assert record.status_code == 201, record.text
            location = record.headers["location"]
            assert http.get(location, headers=auth).status_code == 200
            refused = http.delete(location, headers=auth)
            assert_error(refused, 403, "insufficient_scope")
            assert_error(http.get(location), 401, "authentication_required")
            wrong_secret = f"Bearer lnk_{prefix}_{'A' * 43}"
            forged = http.get(location, headers={"Authorization": wrong_secret})
            assert_error(forged, 401, "invalid_api_key")
            bodies = refused.text + forged.text

            listed = piccolo("list_keys")
            assert listed.returncode == 0, listed.stderr
            (line,) = [line for line in listed.stdout.splitlines() if prefix in line]
            assert name in line and "audits:read,audits:write" in line
            assert secret not in listed.stdout + listed.stderr

            revoked = piccolo("revoke_key", prefix)
            assert revoked.returncode == 0, revoked.stdout + revoked.stderr
            revoked_at = time.monotonic()
            while http.get(location, headers=auth).status_code == 200:
                assert time.monotonic() - revoked_at < TTL_S + 0.5, "still accepted past the TTL"
                time.sleep(0.05)
            assert_error(http.get(location, headers=auth), 401, "invalid_api_key")
    finally:
        server.stop()

    log = server.output()
    assert secret not in log and secret not in bodies
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    used = [
        line
        for line in lines
        if line.get("message") == "request"
        and line["path"].startswith("/api/")
        and line["status"] in (200, 201, 403)
    ]
    assert used and all(line["api_key"] == prefix for line in used), log[-2000:]
    rows = asyncio.run(_rows_as_text("SELECT row_to_json(api_key)::text FROM api_key"))
    assert not [row for row in rows if secret in row]
    stored = asyncio.run(
        _rows_as_text(f"SELECT secret_hash FROM api_key WHERE prefix = '{prefix}'")
    )
    assert stored == [sha256sum(secret)]


def test_create_key_takes_name_equals_form_in_any_order_and_all():
    created = piccolo("create_key", "--scopes=all", "--name=ops")
    assert created.returncode == 0, created.stdout + created.stderr
    assert "'ops'" in created.stdout
    assert "scopes: audits:read, audits:write, audits:delete, ai, admin\n" in created.stdout
    swapped = piccolo("create_key", "--scopes", "audits:read", "--name", "reader")
    assert swapped.returncode == 0, swapped.stdout + swapped.stderr
    assert "'reader'" in swapped.stdout and "scopes: audits:read\n" in swapped.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create_key", "--name=x", "--scopes=audits:admin"), "cannot create the key"),
        (("revoke_key", "ffffffffffff"), "no API key has the prefix 'ffffffffffff'"),
    ],
)
def test_cli_mistakes_exit_non_zero_with_one_line(args, message):
    result = piccolo(*args)
    assert result.returncode != 0
    assert message in result.stderr
    assert not KEY_SHAPE.match((result.stdout.strip().splitlines() or [""])[-1])


def test_with_no_key_the_server_starts_and_says_how_to_mint_the_first(server_url):
    database = f"looped_needle_nokey_{uuid.uuid4().hex[:8]}"
    url = create_migrated_database(server_url, database)
    try:
        with ServerProcess(DATABASE_URL=url, AUTH_REQUIRED="true") as server:
            assert httpx.get(f"{server.base_url}/docs").status_code == 200
            assert httpx.get(f"{server.base_url}/api/v1/audits").status_code == 401
        hints = [line for line in server.output().splitlines() if FIRST_KEY_HINT in line]
        assert len(hints) == 1, server.output()

        assert (
            piccolo("create_key", "--name=first", "--scopes=all", database_url=url).returncode == 0
        )
        with ServerProcess(DATABASE_URL=url, AUTH_REQUIRED="true") as server:
            pass
        assert FIRST_KEY_HINT not in server.output()
    finally:
        drop_database(server_url, database)
