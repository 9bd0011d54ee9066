"""The storage addressing the sealer relies on: batches, reads per proof, tampering."""

import random

import pytest

from ledger import merkle
from ledger.merkle import MemoryStore, NodeId
from ledger.store import stored_hash_index


def leaves(n: int, tag: str = "leaf") -> list[bytes]:
    return [f"{tag} {i}".encode() for i in range(n)]


def recording(store: MemoryStore):
    reads: list[NodeId] = []

    def get_node(level: int, index: int) -> bytes:
        reads.append(NodeId(level, index))
        return store.get_node(level, index)

    return get_node, reads


def naive_mth(hashes: list[bytes]) -> bytes:
    """MTH written straight from RFC 9162 §2.1.1's recursion."""
    if not hashes:
        return merkle.EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = merkle.largest_power_of_two_below(len(hashes))
    return merkle.node_hash(naive_mth(hashes[:k]), naive_mth(hashes[k:]))


@pytest.mark.parametrize("seed", range(5))
def test_appending_in_any_batches_stores_exactly_the_perfect_subtrees(seed):
    rng = random.Random(seed)
    data = leaves(rng.randint(1, 700))
    batched = MemoryStore()
    appended = 0
    while appended < len(data):
        batch = data[appended : appended + rng.choice([1, 2, 3, 7, 64, 200])]
        get_node, reads = recording(batched)
        existing = batched.size
        new = merkle.append_leaves(get_node, existing, [merkle.leaf_hash(x) for x in batch])
        assert set(reads) <= set(merkle.frontier_nodes(existing))
        batched.nodes.update(((level, index), h) for level, index, h in new)
        batched.size += len(batch)
        appended += len(batch)
        hashes = [merkle.leaf_hash(x) for x in data[:appended]]
        assert batched.root() == naive_mth(hashes)
    n = len(data)
    assert batched.nodes == MemoryStore.from_leaves(data).nodes
    assert len(batched.nodes) == 2 * n - bin(n).count("1")
    assert all((index + 1) << level <= n for level, index in batched.nodes)


def test_a_proof_reads_a_logarithmic_number_of_stored_nodes():
    store = MemoryStore.from_leaves(leaves(1025))
    for size in (1024, 1025, 1000, 777):
        bound = 2 * size.bit_length()
        for index in (0, 1, size // 3, size - 1):
            get_node, reads = recording(store)
            proof = merkle.inclusion_proof(index, size, get_node)
            assert len(set(reads)) <= bound
            assert set(reads) == set(merkle.inclusion_proof_nodes(index, size))
            leaf = merkle.leaf_hash(f"leaf {index}".encode())
            assert merkle.verify_inclusion(leaf, index, size, proof, store.root(size))
        for first in (1, 3, size // 2, size - 1):
            get_node, reads = recording(store)
            merkle.consistency_proof(first, size, get_node)
            assert len(set(reads)) <= bound
            assert set(reads) == set(merkle.consistency_proof_nodes(first, size))
        get_node, reads = recording(store)
        merkle.root_at(size, get_node)
        assert reads == merkle.root_nodes(size)


def test_proofs_from_prefetched_nodes_equal_proofs_from_the_store():
    store = MemoryStore.from_leaves(leaves(300))
    needed = merkle.inclusion_proof_nodes(123, 290)
    fetched = {node: store.nodes[node] for node in needed}
    proof = merkle.inclusion_proof(123, 290, lambda level, i: fetched[(level, i)])
    assert proof == store.inclusion_proof(123, 290)
    assert merkle.verify_inclusion(merkle.leaf_hash(b"leaf 123"), 123, 290, proof, store.root(290))


def test_range_hash_of_any_range_is_the_rfc_mth_of_that_sublist():
    data = [merkle.leaf_hash(x) for x in leaves(70)]
    store = MemoryStore()
    store.append(data)
    for a in range(0, 70, 3):
        for b in range(a + 1, 71, 5):
            assert merkle.range_hash(a, b, store.get_node) == naive_mth(data[a:b])


def test_perfect_subtrees_tile_a_range_with_aligned_blocks():
    tiles = merkle.perfect_subtrees(5, 23)
    assert tiles == [
        NodeId(0, 5),
        NodeId(1, 3),
        NodeId(3, 1),
        NodeId(2, 4),
        NodeId(1, 10),
        NodeId(0, 22),
    ]


def test_asking_for_proofs_outside_the_tree_is_an_error():
    store = MemoryStore.from_leaves(leaves(10))
    with pytest.raises(ValueError, match="not in a tree of size 10"):
        store.inclusion_proof(10)
    with pytest.raises(ValueError, match="beyond the stored 10"):
        store.consistency_proof(3, 11)
    with pytest.raises(ValueError, match="from size 5 to size 4"):
        store.consistency_proof(5, 4)
    with pytest.raises(LookupError, match="level 4 index 0"):
        store.get_node(4, 0)


def test_a_changed_leaf_breaks_its_inclusion_proof():
    data = leaves(100)
    honest = MemoryStore.from_leaves(data)
    root, proof = honest.root(), honest.inclusion_proof(42)
    assert merkle.verify_inclusion(merkle.leaf_hash(data[42]), 42, 100, proof, root)
    assert not merkle.verify_inclusion(merkle.leaf_hash(b"leaf 42 edited"), 42, 100, proof, root)
    tampered = MemoryStore.from_leaves([*data[:42], b"leaf 42 edited", *data[43:]])
    forged = tampered.inclusion_proof(42)
    assert not merkle.verify_inclusion(merkle.leaf_hash(b"leaf 42 edited"), 42, 100, forged, root)
    # The rewritten tree is no extension of what was signed before the edit.
    signed_before = honest.root(50)
    assert not merkle.verify_consistency(
        50, 100, signed_before, tampered.root(), tampered.consistency_proof(50)
    )


def test_a_truncated_and_regrown_log_fails_consistency_with_the_saved_root():
    data = leaves(100)
    saved_size, saved_root = 100, MemoryStore.from_leaves(data).root()
    regrown = MemoryStore.from_leaves([*data[:90], *leaves(15, "replacement")])
    proof = regrown.consistency_proof(saved_size)
    assert regrown.size == 105
    with pytest.raises(merkle.InvalidProof, match="size 100"):
        merkle.check_consistency(saved_size, 105, saved_root, regrown.root(), proof)
    honest = MemoryStore.from_leaves([*data, *leaves(5, "new")])
    merkle.check_consistency(
        saved_size, 105, saved_root, honest.root(), honest.consistency_proof(100)
    )


def test_node_keys_count_up_in_the_order_a_log_stores_its_nodes():
    # Go's sumdb/tlog defines StoredHashIndex so that a log appending leaf after leaf writes
    # its hashes at keys 0, 1, 2, …: the leaf hash, then each subtree it completes. The
    # sealer's dense `ledger_node.id` relies on exactly that.
    written: list[NodeId] = []
    for size in range(3000):
        written.append(NodeId(0, size))
        level, index = 0, size
        while index & 1:
            level, index = level + 1, index >> 1
            written.append(NodeId(level, index))
    assert [stored_hash_index(*node) for node in written] == list(range(len(written)))
    # And Go's own loop, written out, agrees at high levels and indices too.
    for level, index in [(0, 2**40 + 5), (17, 12345), (40, 3), (62, 0)]:
        n = index
        for _ in range(level):
            n = 2 * n + 1
        go = 0
        while n > 0:
            go, n = go + n, n >> 1
        assert stored_hash_index(level, index) == go + level
