"""RFC 9162 §2.1 Merkle tree hashing, proofs and their verification, with no storage of its own.

Storage addressing: the node at (level L, index i) is MTH of the leaves [i*2^L, (i+1)*2^L).
Only complete (perfect) subtrees are ever stored: once full they never change, so a sealer
writes each one exactly once. Level 0 holds the leaf hashes. The hash of any other range the
RFC asks for is folded from O(log n) stored nodes by `range_hash`.

Every generator reads nodes through a `get_node(level, index) -> bytes` callable. A database
store first asks which nodes a computation needs (`*_nodes` functions), fetches them in one
query, then runs the computation over a dict: O(log n) rows per proof.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from typing import NamedTuple

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) = HASH() (RFC 9162 §2.1.1)


class NodeId(NamedTuple):
    level: int
    index: int


GetNode = Callable[[int, int], bytes]


class InvalidProof(ValueError):
    """A proof does not show what it claims; the message says which check failed."""


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """k, the largest power of two smaller than n (n > 1): the RFC's split point."""
    return 1 << ((n - 1).bit_length() - 1)


class StreamingRoot:
    """MTH over leaf hashes fed one at a time, in O(log n) memory: for recomputing a big log."""

    def __init__(self) -> None:
        self.size = 0
        self._peaks: list[bytes] = []  # roots of the perfect subtrees, largest first

    def append(self, leaf_hash_: bytes) -> None:
        node = leaf_hash_
        size = self.size
        while size & 1:  # merge with every complete left sibling
            node = node_hash(self._peaks.pop(), node)
            size >>= 1
        self._peaks.append(node)
        self.size += 1

    def root(self) -> bytes:
        if not self._peaks:
            return EMPTY_ROOT
        root = self._peaks[-1]
        for peak in reversed(self._peaks[:-1]):
            root = node_hash(peak, root)
        return root


def root_of(leaf_hashes: Iterable[bytes]) -> bytes:
    """MTH(D[n]) from the leaf hashes."""
    stream = StreamingRoot()
    for h in leaf_hashes:
        stream.append(h)
    return stream.root()


def perfect_subtrees(start: int, end: int) -> list[NodeId]:
    """The maximal aligned perfect subtrees that tile [start, end), left to right."""
    nodes = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start:
            level = min(level, (start & -start).bit_length() - 1)
        nodes.append(NodeId(level, start >> level))
        start += 1 << level
    return nodes


def range_hash(start: int, end: int, get_node: GetNode) -> bytes:
    """MTH(D[start:end]) by the RFC's split, reading stored nodes for perfect aligned parts."""
    width = end - start
    if width <= 0:
        raise ValueError(f"empty or reversed range [{start}, {end})")
    if width & (width - 1) == 0 and start % width == 0:
        level = width.bit_length() - 1
        return get_node(level, start >> level)
    k = largest_power_of_two_below(width)
    return node_hash(range_hash(start, start + k, get_node), range_hash(start + k, end, get_node))


def root_at(size: int, get_node: GetNode) -> bytes:
    return EMPTY_ROOT if size == 0 else range_hash(0, size, get_node)


def inclusion_proof(index: int, size: int, get_node: GetNode) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 §2.1.3.1, the leaf's sibling first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    siblings = []
    start, end = 0, size
    while end - start > 1:
        k = largest_power_of_two_below(end - start)
        if index < start + k:
            siblings.append((start + k, end))
            end = start + k
        else:
            siblings.append((start, start + k))
            start += k
    return [range_hash(a, b, get_node) for a, b in reversed(siblings)]


def consistency_proof(first: int, second: int, get_node: GetNode) -> list[bytes]:
    """PROOF(first, D[second]) of RFC 9162 §2.1.4.1; empty when first is 0 or equals second."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    if first in (0, second):
        return []
    ranges = []
    m, start, end, known = first, 0, second, True  # SUBPROOF(m, D[start:end], known)
    while m != end - start:
        k = largest_power_of_two_below(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            m, start, known = m - k, start + k, False
    if not known:
        ranges.append((start, end))
    return [range_hash(a, b, get_node) for a, b in reversed(ranges)]


def _nodes_read_by(compute: Callable[[GetNode], object]) -> list[NodeId]:
    seen: dict[NodeId, None] = {}

    def record(level: int, index: int) -> bytes:
        seen[NodeId(level, index)] = None
        return EMPTY_ROOT  # any 32 bytes: only the addresses matter here

    compute(record)
    return list(seen)


def inclusion_proof_nodes(index: int, size: int) -> list[NodeId]:
    """The stored nodes `inclusion_proof(index, size, …)` reads: fetch these, then call it."""
    return _nodes_read_by(lambda get: inclusion_proof(index, size, get))


def consistency_proof_nodes(first: int, second: int) -> list[NodeId]:
    return _nodes_read_by(lambda get: consistency_proof(first, second, get))


def root_nodes(size: int) -> list[NodeId]:
    return perfect_subtrees(0, size)


def frontier_nodes(size: int) -> list[NodeId]:
    """The stored nodes `append_leaves` may read to grow a tree of this size (its left peaks)."""
    return [
        NodeId(level, (size >> level) - 1)
        for level in range(size.bit_length())
        if size >> level & 1
    ]


def append_leaves(
    get_node: GetNode, existing_size: int, new_leaf_hashes: Sequence[bytes]
) -> list[tuple[int, int, bytes]]:
    """Every perfect node that appending these leaves completes, as (level, index, hash) rows,
    level 0 (the leaves) included. Reads at most `frontier_nodes(existing_size)`.

    Plain tuples, because building a named tuple per node cut the throughput by two thirds;
    they go straight to a bulk insert.
    """
    nodes: list[tuple[int, int, bytes]] = []
    row, first, level = list(new_leaf_hashes), existing_size, 0
    while row:
        nodes.extend(zip(repeat(level), range(first, first + len(row)), row, strict=False))
        if (first + len(row)) // 2 <= first // 2:
            break
        if first & 1:  # the first new node's left sibling was stored earlier
            row = [get_node(level, first - 1), *row]
        row = [node_hash(left, right) for left, right in zip(row[0::2], row[1::2], strict=False)]
        first, level = first // 2, level + 1
    return nodes


class MemoryStore:
    """Perfect nodes in a dict: the reference store for tests and offline verification."""

    def __init__(self) -> None:
        self.size = 0
        self.nodes: dict[tuple[int, int], bytes] = {}  # NodeId keys compare equal to these

    @classmethod
    def from_leaves(cls, leaves: Iterable[bytes]) -> MemoryStore:
        store = cls()
        store.append([leaf_hash(leaf) for leaf in leaves])
        return store

    def get_node(self, level: int, index: int) -> bytes:
        try:
            return self.nodes[level, index]
        except KeyError:
            raise LookupError(f"no stored node at level {level} index {index}") from None

    def append(self, leaf_hashes: Sequence[bytes]) -> list[tuple[int, int, bytes]]:
        new = append_leaves(self.get_node, self.size, leaf_hashes)
        self.nodes.update(((level, index), h) for level, index, h in new)
        self.size += len(leaf_hashes)
        return new

    def root(self, size: int | None = None) -> bytes:
        return root_at(self.size if size is None else self._within(size), self.get_node)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(
            index, self.size if size is None else self._within(size), self.get_node
        )

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        second = self.size if second is None else self._within(second)
        return consistency_proof(first, second, self.get_node)

    def _within(self, size: int) -> int:
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is beyond the stored {self.size}")
        return size


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise InvalidProof(f"{what} is not a {HASH_SIZE}-byte hash")


def check_inclusion(
    leaf_hash_: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2, step by step; raises InvalidProof naming the failed check."""
    _check_hash(leaf_hash_, "the leaf hash")
    _check_hash(root, "the root hash")
    for i, p in enumerate(proof):
        _check_hash(p, f"inclusion proof element {i}")
    if not 0 <= index < size:
        raise InvalidProof(f"leaf index {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf_hash_
    for p in proof:
        if sn == 0:
            raise InvalidProof("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise InvalidProof("the inclusion proof is shorter than the tree is deep")
    if not hmac.compare_digest(r, root):
        raise InvalidProof(f"leaf {index} is not in the tree of size {size} with that root")


def check_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2, plus: size 0 precedes every tree, equal sizes need equal roots."""
    _check_hash(first_root, "the first root hash")
    _check_hash(second_root, "the second root hash")
    for i, c in enumerate(proof):
        _check_hash(c, f"consistency proof element {i}")
    if not 0 <= first <= second:
        raise InvalidProof(f"tree size {second} is smaller than the earlier size {first}")
    if first == 0 or first == second:
        if proof:
            raise InvalidProof(f"a proof from size {first} to {second} must be empty")
        if first == second and not hmac.compare_digest(first_root, second_root):
            raise InvalidProof(f"two different roots for the same tree size {first}")
        return
    if not proof:
        raise InvalidProof("the consistency proof is empty")
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise InvalidProof("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise InvalidProof("the consistency proof is shorter than the tree is deep")
    if not hmac.compare_digest(fr, first_root):
        raise InvalidProof(f"the proof does not lead to the root of the tree of size {first}")
    if not hmac.compare_digest(sr, second_root):
        raise InvalidProof(f"the proof does not lead to the root of the tree of size {second}")


def verify_inclusion(
    leaf_hash_: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    try:
        check_inclusion(leaf_hash_, index, size, proof, root)
    except InvalidProof:
        return False
    return True


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    try:
        check_consistency(first, second, first_root, second_root, proof)
    except InvalidProof:
        return False
    return True
