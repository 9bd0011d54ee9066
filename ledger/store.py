"""Where the Merkle tree lives in PostgreSQL: complete subtrees under one dense key.

The sealer appends leaves and persists every subtree they complete; a proof for any tree
size reads O(log n) of those nodes in one query. The key is Go's sumdb/tlog
`StoredHashIndex(level, n)`, so nodes are written in increasing key order as the log grows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ledger.merkle import leaf_hash, node_hash

EMPTY_TREE_ROOT_HEX = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def stored_hash_index(level: int, n: int) -> int:
    """Level `level`'s n'th hash is stored right after level `level + 1`'s (2n + 1)'th."""
    for _ in range(level):
        n = 2 * n + 1
    index = 0
    while n > 0:
        index += n
        n >>= 1
    return index + level


def frontier(size: int) -> list[tuple[int, int]]:
    """The complete subtrees that make up a tree of `size` leaves, largest (leftmost) first."""
    nodes, start = [], 0
    for level in reversed(range(size.bit_length())):
        if size >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def append_leaves(
    size: int, frontier_hashes: list[bytes], leaves: Iterable[bytes]
) -> tuple[list[tuple[int, int, bytes]], bytes]:
    """Append leaf bytes to a tree of `size` leaves whose frontier hashes are given (in
    `frontier(size)` order). Returns every newly completed subtree as (level, n, hash) and
    the new root."""
    stack = [(level, n, h) for (level, n), h in zip(frontier(size), frontier_hashes, strict=True)]
    completed: list[tuple[int, int, bytes]] = []
    for index, leaf in enumerate(leaves, start=size):
        node = (0, index, leaf_hash(leaf))
        completed.append(node)
        while stack and stack[-1][0] == node[0]:
            level, n, left = stack.pop()
            node = (level + 1, n // 2, node_hash(left, node[2]))
            completed.append(node)
        stack.append(node)
    return completed, root_of_frontier([h for _, _, h in stack])


def root_of_frontier(hashes: list[bytes]) -> bytes:
    if not hashes:
        return bytes.fromhex(EMPTY_TREE_ROOT_HEX)
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = node_hash(left, root)
    return root


def nodes_needed(build: Callable[[Callable[[int, int], bytes]], object]) -> set[tuple[int, int]]:
    """Which stored nodes a proof computation asks for: run it once against a store that
    only records, so the real run can be served by a single query."""
    wanted: set[tuple[int, int]] = set()

    def record(level: int, n: int) -> bytes:
        wanted.add((level, n))
        return bytes(32)

    build(record)
    return wanted
