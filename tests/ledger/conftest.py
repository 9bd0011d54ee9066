"""Ledger fixtures: wait for the sealer, read a record's proof, check it like a client."""

from __future__ import annotations

import asyncio
import json
import os
from base64 import b64decode

import asyncpg
import pytest

from ledger.note import parse_verifier


@pytest.fixture(scope="session")
def verifier():
    return parse_verifier(os.environ["LEDGER_VERIFIER_KEY"])


async def wait_until_sealed(conn: asyncpg.Connection, timeout_s: float = 15) -> int:
    """Wait until every journal entry visible now is in a checkpoint; the tree size."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        waiting = await conn.fetchval("SELECT count(*) FROM journal_unsealed")
        if waiting == 0:
            return await conn.fetchval("SELECT coalesce(max(tree_size), 0) FROM ledger_checkpoint")
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{waiting} journal entries still unsealed after {timeout_s}s")
        await asyncio.sleep(0.05)


def leaf_json(entry: dict) -> dict:
    return json.loads(b64decode(entry["leaf"]))
