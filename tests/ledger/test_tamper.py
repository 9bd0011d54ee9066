"""Tampering that gets past the database's own guards is caught by both verifiers.

Each case runs its own database and server: a tampered ledger would fail every later test.
"""

import asyncio
import os
import subprocess
import sys
import uuid
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from harness.server_process import ServerProcess
from ledger.check import verify_ledger
from ledger.note import generate_key, open_checkpoint, parse_signer, sign_checkpoint
from ledger.verify import main as client_main
from tests.conftest import ROOT, database_url_for, run_piccolo
from tests.helpers import AUDITS, audit_body
from tests.ledger.conftest import wait_until_sealed


class Ledger:
    """A fresh database with a served, sealed trail of a few records, and both verifiers."""

    def __init__(self, url: str, server: ServerProcess, tmp_path) -> None:
        self.url, self.server = url, server
        self.trusted = tmp_path / "trusted-checkpoint.txt"
        self.ids: list[str] = []

    async def write_trail(self, count: int = 4) -> None:
        async with httpx.AsyncClient(base_url=self.server.base_url) as http:
            for _ in range(count):
                body = audit_body(uuid.uuid4(), status="pending", details={"amount": 100})
                record = (await http.post(AUDITS, json=body)).json()
                await http.put(f"{AUDITS}/{record['id']}", json={"status": "success"})
                self.ids.append(record["id"])
        await self.sql(wait_until_sealed)

    async def sql(self, action, *args):
        """A value from one query, or (given a function) what it does with a connection."""
        conn = await asyncpg.connect(self.url)
        try:
            if callable(action):
                return await action(conn)
            return await conn.fetchval(action, *args)
        finally:
            await conn.close()

    async def tamper(self, script: str) -> None:
        """What a superuser can do: several statements, one transaction."""
        await self.sql(lambda conn: conn.execute(script))

    def server_verify(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [os.path.join(os.path.dirname(sys.executable), "piccolo"), "ledger", "verify", *args],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": self.url},
            capture_output=True,
            text=True,
            timeout=120,
        )

    def client_verify(self, *audit_ids: str) -> subprocess.CompletedProcess:
        args = [
            "--base-url",
            self.server.base_url,
            "--verifier-key",
            os.environ["LEDGER_VERIFIER_KEY"],
        ]
        args += ["--trusted-checkpoint", str(self.trusted)]
        for audit_id in audit_ids:
            args += ["--audit-id", audit_id]
        return subprocess.run(
            [sys.executable, "-m", "ledger.verify", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture
async def ledger(fresh_database, tmp_path, verifier):
    url = fresh_database
    server = ServerProcess(DATABASE_URL=url)
    await asyncio.to_thread(server.start)
    try:
        trail = Ledger(url, server, tmp_path)
        await trail.write_trail()
        # Both verifiers pass on the untouched trail (in-process: the same code the commands
        # run), and the client saves its checkpoint as an auditor's first run would.
        assert await trail.sql(lambda conn: verify_ledger(conn, verifier, lambda *_: None)) is None
        args = ["--base-url", server.base_url, "--verifier-key", os.environ["LEDGER_VERIFIER_KEY"]]
        args += ["--trusted-checkpoint", str(trail.trusted)]
        assert await asyncio.to_thread(client_main, args) == 0
        yield trail
    finally:
        server.stop()


def assert_caught(result: subprocess.CompletedProcess, *names: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    for name in names:
        assert name in result.stdout, result.stdout


async def test_a_superuser_changing_details_with_triggers_off_is_caught(ledger):
    victim = ledger.ids[1]
    await ledger.tamper(
        "ALTER TABLE audit DISABLE TRIGGER USER;"
        "UPDATE audit SET details = '{\"amount\": 1}' WHERE id = '" + victim + "';"
        "ALTER TABLE audit ENABLE TRIGGER USER"
    )
    assert_caught(ledger.server_verify(), victim, "row differs")
    assert_caught(ledger.client_verify(victim), victim, "details")


async def test_changed_entry_bytes_are_caught(ledger):
    victim = ledger.ids[2]
    index = await ledger.sql(
        "SELECT leaf_index FROM journal_entry JOIN ledger_leaf USING (seq) "
        "WHERE audit_id = $1 ORDER BY seq LIMIT 1",
        uuid.UUID(victim),
    )
    await ledger.tamper(
        "ALTER TABLE journal_entry DISABLE TRIGGER USER;"
        "UPDATE journal_entry SET leaf = convert_to(replace(convert_from(leaf, 'UTF8'), "
        f"'\"amount\": 100', '\"amount\": 999'), 'UTF8') "
        f"WHERE seq = (SELECT seq FROM ledger_leaf WHERE leaf_index = {index});"
        "ALTER TABLE journal_entry ENABLE TRIGGER USER"
    )
    assert_caught(ledger.server_verify(), victim, f"leaf index {index}")
    assert_caught(ledger.client_verify(victim), victim, f"leaf {index}")


async def test_deleting_the_newest_entries_and_rebuilding_the_tree_is_caught(ledger):
    # The attacker has the database and the signing key: drops the newest entries (the last
    # record's update), puts its row back, and lets the sealer rebuild a consistent tree
    # that then grows past the size the auditor saw.
    victim = ledger.ids[-1]
    await ledger.tamper(
        "ALTER TABLE journal_entry DISABLE TRIGGER USER;"
        "ALTER TABLE ledger_node DISABLE TRIGGER USER;"
        "ALTER TABLE ledger_checkpoint DISABLE TRIGGER USER;"
        "ALTER TABLE ledger_leaf DISABLE TRIGGER USER;"
        "ALTER TABLE audit DISABLE TRIGGER USER;"
        "DELETE FROM journal_entry WHERE seq = (SELECT max(seq) FROM journal_entry);"
        "UPDATE audit SET status = 'pending', updated_at = NULL, ledger_seq = "
        f"(SELECT max(seq) FROM journal_entry WHERE audit_id = '{victim}') "
        f"WHERE id = '{victim}';"
        "DELETE FROM ledger_node; DELETE FROM ledger_checkpoint;"
        "INSERT INTO journal_unsealed SELECT seq FROM ledger_leaf WHERE seq IN "
        "(SELECT seq FROM journal_entry) ON CONFLICT DO NOTHING;"
        "DELETE FROM ledger_leaf;"
        "ALTER TABLE journal_entry ENABLE TRIGGER USER;"
        "ALTER TABLE ledger_leaf ENABLE TRIGGER USER;"
        "ALTER TABLE ledger_node ENABLE TRIGGER USER;"
        "ALTER TABLE ledger_checkpoint ENABLE TRIGGER USER;"
        "ALTER TABLE audit ENABLE TRIGGER USER"
    )
    await ledger.write_trail(count=2)
    assert ledger.server_verify().returncode == 0  # consistent with itself: that's the point
    assert_caught(ledger.server_verify("--trusted_checkpoint", str(ledger.trusted)), "trusted")
    assert_caught(ledger.client_verify(victim), "does not extend the trusted one")


async def test_a_checkpoint_signed_with_another_key_is_caught(ledger):
    size = await ledger.sql("SELECT max(tree_size) FROM ledger_checkpoint")
    note = await ledger.sql("SELECT note FROM ledger_checkpoint WHERE tree_size = $1", size)
    real = open_checkpoint(note, parse_signer(os.environ["LEDGER_SIGNING_KEY"]).verifier)
    other, _ = generate_key("looped-needle.test/audit")
    forged = sign_checkpoint(real, parse_signer(other))
    await ledger.tamper(
        "ALTER TABLE ledger_checkpoint DISABLE TRIGGER USER;"
        f"UPDATE ledger_checkpoint SET note = $${forged}$$ WHERE tree_size = {size};"
        "ALTER TABLE ledger_checkpoint ENABLE TRIGGER USER"
    )
    assert_caught(ledger.server_verify(), f"checkpoint {size} is not signed")
    assert_caught(ledger.client_verify(), "not signed by")


async def test_an_entry_dropped_from_the_seal_queue_with_the_apps_own_role_is_caught(ledger):
    # The runtime role may delete queue rows (its sealer does), so someone holding the app's
    # credentials could change a record and drop the entry before a seal: it would never
    # enter the tree. The operator's verifier names it; a client would see it pending.
    victim = ledger.ids[0]
    runtime = urlsplit(os.environ["RUNTIME_DATABASE_URL"])
    await asyncio.to_thread(
        run_piccolo, ledger.url, "access", "grant_runtime_role", f"--name={runtime.username}"
    )
    app = await asyncpg.connect(database_url_for(runtime.geturl(), urlsplit(ledger.url).path[1:]))
    try:
        async with app.transaction():
            seq = await app.fetchval(
                'UPDATE audit SET details = details || \'{"note": "hidden"}\' '
                "WHERE id = $1 RETURNING ledger_seq",
                uuid.UUID(victim),
            )
            assert await app.execute("DELETE FROM journal_unsealed WHERE seq = $1", seq) == (
                "DELETE 1"
            )
    finally:
        await app.close()
    assert_caught(ledger.server_verify(), victim, "taken off the seal queue")
