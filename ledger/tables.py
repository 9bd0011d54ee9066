"""The ledger's tables: the journal of every record change, the Merkle tree, the checkpoints.

The journal, the tree's leaves and nodes, and the checkpoints only grow. The journal is
written by a trigger on `audit` (see the migrations), so no code path can change a record
without an entry; the same trigger queues the entry for sealing. The sealer is the only
writer of the tree and the checkpoints, and the only one that takes entries off the queue.
"""

from piccolo.columns import UUID, BigInt, BigSerial, Bytea, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class JournalEntry(Table, tablename="journal_entry"):
    # The receipt a client keeps (`ledger_seq` on every record): assigned at write time.
    seq = BigSerial(primary_key=True)
    audit_id = UUID(null=False, default=None, index=True)
    change = Varchar(length=10, null=False, default=None)
    # The exact UTF-8 JSON bytes that are hashed: never re-serialised, never rewritten.
    leaf = Bytea(null=False, default=None)
    created_at = Timestamptz(null=False, default=TimestamptzNow())


class UnsealedEntry(Table, tablename="journal_unsealed"):
    """The sealer's queue: one narrow row per journal entry not in the tree yet. Taking a row
    off it and adding a `LedgerLeaf` costs a fraction of rewriting the wide journal row."""

    seq = BigInt(primary_key=True)


class LedgerLeaf(Table, tablename="ledger_leaf"):
    """A journal entry's position in the Merkle tree, given once by the sealer in
    commit-visible order."""

    leaf_index = BigInt(primary_key=True)
    seq = BigInt(null=False, default=None, unique=True)


class LedgerNode(Table, tablename="ledger_node"):
    """Complete subtrees only (they never change): node (level, n) covers leaves
    [n * 2**level, (n + 1) * 2**level); level 0 holds the leaf hashes. `id` is Go's
    sumdb/tlog StoredHashIndex(level, n): one dense key, written in append order."""

    id = BigInt(primary_key=True)
    hash = Bytea(null=False, default=None)


class LedgerCheckpoint(Table, tablename="ledger_checkpoint"):
    tree_size = BigInt(null=False, default=None, unique=True)
    root_hash = Bytea(null=False, default=None)
    # The signed note exactly as served: C2SP tlog-checkpoint body + signed-note signature.
    note = Text(null=False, default=None)
    created_at = Timestamptz(null=False, default=TimestamptzNow())
