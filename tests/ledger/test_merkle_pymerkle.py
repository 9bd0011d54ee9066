"""Roots and proofs checked against pymerkle, an independent RFC 9162 implementation.

pymerkle's default hashing ("security" on) is RFC 9162's: SHA-256 with 0x00 before a leaf and
0x01 before a node pair; test_pymerkle_is_configured_as_rfc9162 pins that down first.
Its inclusion path is [leaf hash, *RFC path]; its consistency path has another layout, so
there each side's proof is checked by the other side's roots.
"""

import hashlib
import random

import pytest
from pymerkle import InmemoryTree, verify_consistency, verify_inclusion
from pymerkle.proof import InclusionProof, InvalidProof

from ledger import merkle
from ledger.merkle import MemoryStore

SIZES = sorted(
    {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}
    | {(1 << k) + d for k in range(4, 11) for d in (-1, 0, 1)}
    | {100, 777, 1000}
)
MAX = max(SIZES)
ENTRIES = [f"entry {i}".encode() for i in range(MAX)]
THEIRS = InmemoryTree.init_from_entries(ENTRIES, algorithm="sha256")
OURS = MemoryStore.from_leaves(ENTRIES)


def indices_for(size: int) -> list[int]:
    picks = {0, 1, size // 2, size - 2, size - 1} | set(
        random.Random(size).sample(range(size), min(size, 4))
    )
    return sorted(i for i in picks if 0 <= i < size)


def first_sizes_for(size: int) -> list[int]:
    picks = {1, 2, 3, size // 2, size - 1, size} | set(
        random.Random(-size).sample(range(1, size + 1), min(size, 4))
    )
    return sorted(m for m in picks if 1 <= m <= size)


def test_pymerkle_is_configured_as_rfc9162():
    tree = InmemoryTree.init_from_entries([b"a", b"b"], algorithm="sha256")
    a = hashlib.sha256(b"\x00a").digest()
    b = hashlib.sha256(b"\x00b").digest()
    assert tree.get_root(1) == a
    assert tree.get_root(2) == hashlib.sha256(b"\x01" + a + b).digest()


@pytest.mark.parametrize("size", SIZES)
def test_roots_agree_with_pymerkle(size):
    assert OURS.root(size) == THEIRS.get_root(size)
    assert merkle.root_of(merkle.leaf_hash(e) for e in ENTRIES[:size]) == THEIRS.get_root(size)


@pytest.mark.parametrize("size", SIZES)
def test_inclusion_proofs_are_pymerkles_and_each_side_verifies_the_other(size):
    root = THEIRS.get_root(size)
    for index in indices_for(size):
        leaf = merkle.leaf_hash(ENTRIES[index])
        ours = OURS.inclusion_proof(index, size)
        theirs = THEIRS.prove_inclusion(index + 1, size)  # pymerkle counts leaves from one
        assert theirs.path[1:] == ours
        assert merkle.verify_inclusion(leaf, index, size, theirs.path[1:], root)
        ours_as_theirs = InclusionProof(
            theirs.algorithm, theirs.security, size, index + 1, theirs.rule, [leaf, *ours]
        )
        verify_inclusion(leaf, OURS.root(size), ours_as_theirs, index=index + 1, size=size)


@pytest.mark.parametrize("size", SIZES)
def test_consistency_proofs_hold_for_the_other_sides_roots(size):
    for first in first_sizes_for(size):
        ours = OURS.consistency_proof(first, size)
        assert merkle.verify_consistency(
            first, size, THEIRS.get_root(first), THEIRS.get_root(size), ours
        )
        theirs = THEIRS.prove_consistency(first, size)
        verify_consistency(
            OURS.root(first), OURS.root(size), theirs, prior_size=first, later_size=size
        )


def test_pymerkle_refuses_our_proof_for_a_changed_leaf():
    size, index = 513, 200
    leaf = merkle.leaf_hash(b"not what was logged")
    theirs = THEIRS.prove_inclusion(index + 1, size)
    forged = InclusionProof(
        theirs.algorithm,
        theirs.security,
        size,
        index + 1,
        theirs.rule,
        [leaf, *OURS.inclusion_proof(index, size)],
    )
    with pytest.raises(InvalidProof):
        verify_inclusion(leaf, OURS.root(size), forged)
