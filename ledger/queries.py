"""Reads of the ledger: checkpoints, raw leaves, a record's entries, and proof nodes.

The journal and the tree positions are joined one key lookup per row (a scalar or LATERAL
subquery that cannot be turned into a hash join): right after a bulk load, before
PostgreSQL has statistics, a join could otherwise scan a million-row table per request."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from db import connection
from ledger.merkle import (
    consistency_proof,
    consistency_proof_nodes,
    inclusion_proof,
    inclusion_proof_nodes,
)
from ledger.store import compute_with_nodes

CHECKPOINT_COLUMNS = "tree_size, root_hash, note, created_at"


async def get_checkpoint(tree_size: int | None) -> dict[str, Any] | None:
    """The latest checkpoint, or the one for exactly `tree_size` leaves."""
    async with connection() as conn:
        if tree_size is None:
            row = await conn.fetchrow(
                f"SELECT {CHECKPOINT_COLUMNS} FROM ledger_checkpoint "
                "ORDER BY tree_size DESC LIMIT 1"
            )
        else:
            row = await conn.fetchrow(
                f"SELECT {CHECKPOINT_COLUMNS} FROM ledger_checkpoint WHERE tree_size = $1",
                tree_size,
            )
    return None if row is None else dict(row)


async def list_entries(start: int, end: int) -> list[dict[str, Any]]:
    """Sealed leaves with start <= leaf_index < end, in index order."""
    async with connection() as conn:
        rows = await conn.fetch(
            "SELECT leaf_index, seq, leaf FROM ledger_leaf l, LATERAL "
            "(SELECT leaf FROM journal_entry j WHERE j.seq = l.seq OFFSET 0) AS entry "
            "WHERE leaf_index >= $1 AND leaf_index < $2 ORDER BY leaf_index",
            start,
            end,
        )
    return [dict(row) for row in rows]


async def audit_entries(audit_id: UUID) -> list[dict[str, Any]]:
    """Every journal entry of one record (deleted ones too), oldest first."""
    async with connection() as conn:
        rows = await conn.fetch(
            "SELECT seq, change, leaf, "
            "(SELECT leaf_index FROM ledger_leaf l WHERE l.seq = j.seq) AS leaf_index, created_at "
            "FROM journal_entry j WHERE audit_id = $1 ORDER BY seq",
            audit_id,
        )
    return [dict(row) for row in rows]


async def inclusion_proofs(indexes: list[int], tree_size: int) -> dict[int, list[bytes]]:
    """RFC 9162 inclusion proofs for several leaves of one tree, from one read of nodes."""
    wanted = {node for index in indexes for node in inclusion_proof_nodes(index, tree_size)}
    async with connection() as conn:
        return await compute_with_nodes(
            conn,
            wanted,
            lambda get: {index: inclusion_proof(index, tree_size, get) for index in indexes},
        )


async def consistency(first: int, second: int) -> list[bytes]:
    async with connection() as conn:
        return await compute_with_nodes(
            conn,
            consistency_proof_nodes(first, second),
            lambda get: consistency_proof(first, second, get),
        )
