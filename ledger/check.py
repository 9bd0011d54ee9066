"""`piccolo ledger verify`: the operator's full check of the ledger against the database.

It recomputes the tree from the stored leaf bytes, compares every stored tree node with the
recomputation, checks every checkpoint's root and signature, and checks that every record's
current row equals the state in its last journal entry (and that no journaled record has
vanished). The first problem found is reported with its leaf index and audit id.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from ledger.merkle import NodeId, StreamingRoot, append_leaves, leaf_hash
from ledger.note import Checkpoint, NoteError, Verifier, open_checkpoint
from ledger.store import stored_hash_index

FETCH_ROWS = 10_000


@dataclass
class Problem:
    message: str
    leaf_index: int | None = None
    audit_id: str | None = None

    def __str__(self) -> str:
        where = []
        if self.leaf_index is not None:
            where.append(f"leaf index {self.leaf_index}")
        if self.audit_id is not None:
            where.append(f"audit {self.audit_id}")
        return f"{self.message} ({', '.join(where)})" if where else self.message


# A record's row and its last entry's `record` compared as JSON values, with times rendered
# in UTC as the journal trigger renders them. A row newer than its receipt, a receipt that
# points nowhere or at another record, a journaled record whose row is gone, and an entry
# neither in the tree nor waiting in the seal queue all count.
RECORD_MISMATCH_SQL = """
WITH ledger_entry AS NOT MATERIALIZED (
    SELECT * FROM journal_entry LEFT JOIN ledger_leaf USING (seq))
SELECT audit_id::text, leaf_index, why FROM (
    SELECT a.id AS audit_id, j.leaf_index,
           CASE WHEN j.seq IS NULL THEN 'its ledger_seq points at no journal entry'
                WHEN j.audit_id <> a.id THEN 'its ledger_seq points at another record'
                WHEN EXISTS (SELECT 1 FROM journal_entry later
                             WHERE later.audit_id = a.id AND later.seq > j.seq)
                    THEN 'a later journal entry exists than its ledger_seq'
                WHEN convert_from(j.leaf, 'UTF8')::jsonb -> 'record' <> to_jsonb(a)
                    THEN 'its row differs from its last journal entry'
           END AS why
    FROM audit a LEFT JOIN ledger_entry j ON j.seq = a.ledger_seq
    UNION ALL
    SELECT j.audit_id, j.leaf_index, 'the record was removed from the audit table'
    FROM ledger_entry j WHERE NOT EXISTS (SELECT 1 FROM audit a WHERE a.id = j.audit_id)
    UNION ALL
    SELECT j.audit_id, NULL, 'its journal entry was taken off the seal queue unsealed'
    FROM ledger_entry j WHERE j.leaf_index IS NULL
        AND NOT EXISTS (SELECT 1 FROM journal_unsealed q WHERE q.seq = j.seq)
) AS found
WHERE why IS NOT NULL
ORDER BY leaf_index NULLS LAST
LIMIT 1
"""


async def verify_ledger(
    conn: asyncpg.Connection,
    verifier: Verifier,
    progress: Callable[[int, int], None],
    trusted: Checkpoint | None = None,
) -> Problem | None:
    """The first problem found, or None. With a `trusted` checkpoint saved earlier (and kept
    where the database's admins cannot reach it), the log must still extend it."""
    await conn.execute("SET timezone = 'UTC'")
    checkpoints = await conn.fetch(
        "SELECT tree_size, root_hash, note FROM ledger_checkpoint ORDER BY tree_size"
    )
    total = checkpoints[-1]["tree_size"] if checkpoints else 0
    if trusted is not None:
        checkpoints = [
            *checkpoints,
            {"tree_size": trusted.size, "root_hash": trusted.root_hash, "note": None},
        ]
        checkpoints.sort(key=lambda row: row["tree_size"])
    problem = await _check_tree(conn, verifier, checkpoints, total, progress)
    if problem is not None:
        return problem
    row = await conn.fetchrow(RECORD_MISMATCH_SQL)
    if row is not None:
        return Problem(row["why"], row["leaf_index"], row["audit_id"])
    return None


async def _check_tree(conn, verifier, checkpoints, total, progress) -> Problem | None:
    roots = StreamingRoot()
    pending_checkpoints = list(checkpoints)
    frontier: dict[NodeId, bytes] = {}
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        leaves = conn.cursor(
            "SELECT leaf_index, audit_id::text, leaf "
            "FROM ledger_leaf JOIN journal_entry USING (seq) ORDER BY leaf_index",
            prefetch=FETCH_ROWS,
        )
        stored_nodes = conn.cursor(
            "SELECT id, hash FROM ledger_node ORDER BY id", prefetch=FETCH_ROWS
        )
        stored = stored_nodes.__aiter__()
        async for index, audit_id, leaf in leaves:
            if index != roots.size:
                return Problem(f"leaf index {roots.size} is missing", roots.size, None)
            hashed = leaf_hash(leaf)
            roots.append(hashed)
            completed = append_leaves(_getter(frontier), index, [hashed])
            for level, n, node in completed:
                frontier[NodeId(level, n)] = node
                key, stored_hash = await anext(stored, (None, None))
                if key != stored_hash_index(level, n) or stored_hash != node:
                    return Problem(
                        "the stored tree does not match the leaves (a leaf or node was changed)",
                        index,
                        audit_id,
                    )
            _forget_covered(frontier, completed)
            while pending_checkpoints and pending_checkpoints[0]["tree_size"] == roots.size:
                problem = _check_checkpoint(pending_checkpoints.pop(0), roots.root(), verifier)
                if problem is not None:
                    return Problem(problem.message, index, audit_id)
            if roots.size % 50_000 == 0:
                progress(roots.size, total)
    progress(roots.size, total)
    if pending_checkpoints:
        size = pending_checkpoints[0]["tree_size"]
        return Problem(f"a checkpoint covers {size} leaves but only {roots.size} are sealed")
    if roots.size != total:
        return Problem(f"{roots.size} leaves are sealed but the latest checkpoint says {total}")
    return None


def _getter(nodes: dict[NodeId, bytes]):
    return lambda level, n: nodes[NodeId(level, n)]


def _forget_covered(frontier: dict[NodeId, bytes], completed) -> None:
    """Keep memory O(log n): a node is needed only until its parent exists."""
    for level, n, _ in completed:
        if level > 0:
            frontier.pop(NodeId(level - 1, 2 * n), None)
            frontier.pop(NodeId(level - 1, 2 * n + 1), None)


def _check_checkpoint(row, root: bytes, verifier: Verifier) -> Problem | None:
    size = row["tree_size"]
    if row["note"] is None and row["root_hash"] != root:
        return Problem(
            f"the first {size} leaves no longer have the trusted checkpoint's root: "
            "entries were removed or rewritten and the tree rebuilt"
        )
    if row["note"] is None:
        return None
    if row["root_hash"] != root:
        return Problem(f"the stored root of checkpoint {size} is not the leaves' root")
    try:
        checkpoint = open_checkpoint(row["note"], verifier)
    except NoteError as error:
        return Problem(f"checkpoint {size} is not signed by {verifier.name}: {error}")
    if checkpoint.size != size or checkpoint.root_hash != root:
        return Problem(f"the signed checkpoint {size} names another tree")
    return None


def print_progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // total if total else width
    print(
        f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} leaves",
        end="",
        file=sys.stderr,
        flush=True,
    )


def describe(problem: Problem | None) -> str:
    return "ledger verified" if problem is None else f"LEDGER BROKEN: {problem}"
