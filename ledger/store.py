"""Where the Merkle tree lives in PostgreSQL: perfect subtrees under one dense key.

The sealer persists every subtree that appended leaves complete; any proof for any tree size
reads O(log n) of them in one query. The key is Go's sumdb/tlog `StoredHashIndex(level, n)`,
so node keys grow in the order the sealer writes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import asyncpg

from ledger.merkle import GetNode, NodeId


def stored_hash_index(level: int, n: int) -> int:
    """Level `level`'s n'th hash is stored right after level `level + 1`'s (2n + 1)'th.

    Go's loop form (n = 2n + 1 per level, then the sum of n >> k) in closed form: the
    sum of n >> k over k >= 0 is 2n minus the number of ones in n."""
    n = ((n + 1) << level) - 1
    return 2 * n - n.bit_count() + level


async def fetch_nodes(conn: asyncpg.Connection, wanted: Iterable[NodeId]) -> dict[NodeId, bytes]:
    by_key = {stored_hash_index(*node): NodeId(*node) for node in wanted}
    if not by_key:
        return {}
    rows = await conn.fetch(
        "SELECT id, hash FROM ledger_node WHERE id = ANY($1::bigint[])", list(by_key)
    )
    return {by_key[row["id"]]: row["hash"] for row in rows}


def reader(nodes: dict[NodeId, bytes]) -> GetNode:
    """A `get_node` over fetched nodes; a missing one is a broken store, said plainly."""

    def get_node(level: int, n: int) -> bytes:
        try:
            return nodes[NodeId(level, n)]
        except KeyError:
            raise LookupError(f"ledger node (level {level}, index {n}) is not stored") from None

    return get_node


async def compute_with_nodes(
    conn: asyncpg.Connection, wanted: Iterable[NodeId], compute: Callable[[GetNode], object]
):
    """Fetch exactly the nodes a computation reads, in one query, then run it."""
    return compute(reader(await fetch_nodes(conn, wanted)))
