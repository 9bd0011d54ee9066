"""Operator commands: `piccolo ledger new_key` and `piccolo ledger verify`."""

from __future__ import annotations

import sys
from pathlib import Path

import asyncpg

from ledger.check import describe, print_progress, verify_ledger
from ledger.note import (
    Checkpoint,
    NoteError,
    generate_key,
    open_checkpoint,
    parse_signer,
    parse_verifier,
)

DEFAULT_KEY_NAME = "looped-needle.local/audit"


def new_key(name: str = DEFAULT_KEY_NAME) -> None:
    """Print a new checkpoint signing key as two dotenv lines (the name is the log's origin:
    a URL-like name without scheme, spaces or '+', unique to this deployment)."""
    try:
        signer, verifier = generate_key(name)
    except NoteError as error:
        sys.exit(f"cannot make a key: {error}")
    print(f"LEDGER_SIGNING_KEY={signer}")
    print(f"LEDGER_VERIFIER_KEY={verifier}")


async def verify(trusted_checkpoint: str = "") -> None:
    """Recompute the tree from the stored leaves; check every node, checkpoint and record.
    Exit 1 naming the first broken leaf index and audit id.

    :param trusted_checkpoint: a file holding a signed checkpoint saved earlier (outside the
        database's reach): the log must still extend it.
    """
    from settings import get_settings

    settings = get_settings()
    if settings.database_url is None:
        sys.exit("DATABASE_URL is not set")
    try:
        if settings.ledger_verifier_key:
            verifier = parse_verifier(settings.ledger_verifier_key)
        elif settings.ledger_signing_key is not None:
            verifier = parse_signer(settings.ledger_signing_key.get_secret_value()).verifier
        else:
            sys.exit("set LEDGER_VERIFIER_KEY (or LEDGER_SIGNING_KEY) to check signatures")
    except NoteError as error:
        sys.exit(f"the ledger key is unusable: {error}")
    trusted = _load_trusted(trusted_checkpoint, verifier) if trusted_checkpoint else None
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        problem = await verify_ledger(conn, verifier, print_progress, trusted)
    finally:
        await conn.close()
    print(file=sys.stderr)
    print(describe(problem))
    if problem is not None:
        sys.exit(1)


def _load_trusted(path: str, verifier) -> Checkpoint:
    try:
        return open_checkpoint(Path(path).read_text(), verifier)
    except (OSError, NoteError) as error:
        sys.exit(f"the trusted checkpoint is unusable: {error}")
