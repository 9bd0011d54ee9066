"""RFC 9162 hashing and proofs against known answers published by other implementations.

Vectors: transparency-dev/merkle (formerly Trillian's) testonly/constants.go and
proof/verify_test.go, the reference tests for RFC 6962/9162 logs. Leaf indices there are
1-based in the inclusion table; here they are 0-based.
"""

import hashlib

import pytest

from ledger import merkle
from ledger.merkle import MemoryStore, check_consistency, check_inclusion

LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
NODES = {  # complete subtrees of the 8-leaf tree, (level, index) -> hash
    (0, 0): "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    (0, 1): "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    (0, 2): "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    (0, 3): "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    (0, 4): "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    (0, 5): "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    (0, 6): "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    (0, 7): "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    (1, 0): "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    (1, 1): "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    (1, 2): "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    (1, 3): "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    (2, 0): "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    (2, 1): "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    (3, 0): "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
INCLUSION = [  # (0-based leaf index, tree size, proof)
    (0, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (5, 8, ["bc1a0643", "ca854ea1", "d37ee418"]),
    (2, 3, ["fac54203"]),
    (1, 5, ["6e340b9c", "5f083f0a", "bc1a0643"]),
]
CONSISTENCY = [
    (1, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (6, 8, ["0ebc5d34", "ca854ea1", "d37ee418"]),
    (2, 5, ["5f083f0a", "bc1a0643"]),
    (6, 7, ["0ebc5d34", "b08693ec", "d37ee418"]),
]
STORE = MemoryStore.from_leaves(LEAVES)


def full(prefix: str) -> bytes:
    """The vector hash that starts with these hex digits (keeps the tables readable)."""
    (match,) = {h for h in NODES.values() if h.startswith(prefix)}
    return bytes.fromhex(match)


def test_empty_tree_hash_is_sha256_of_nothing():
    assert merkle.EMPTY_ROOT.hex() == ROOTS[0] == hashlib.sha256(b"").hexdigest()
    assert merkle.root_of([]).hex() == ROOTS[0]
    assert STORE.root(0).hex() == ROOTS[0]


@pytest.mark.parametrize("size", range(9))
def test_root_of_every_prefix_matches_the_vectors(size):
    assert merkle.root_of(merkle.leaf_hash(leaf) for leaf in LEAVES[:size]).hex() == ROOTS[size]
    assert STORE.root(size).hex() == ROOTS[size]


def test_stored_perfect_subtrees_match_the_vectors():
    assert {key: h.hex() for key, h in STORE.nodes.items()} == NODES


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_proofs_match_the_vectors_and_verify(index, size, proof):
    expected = [full(p) for p in proof]
    assert STORE.inclusion_proof(index, size) == expected
    check_inclusion(
        merkle.leaf_hash(LEAVES[index]), index, size, expected, bytes.fromhex(ROOTS[size])
    )


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY)
def test_consistency_proofs_match_the_vectors_and_verify(first, second, proof):
    expected = [full(p) for p in proof]
    assert STORE.consistency_proof(first, second) == expected
    check_consistency(
        first, second, bytes.fromhex(ROOTS[first]), bytes.fromhex(ROOTS[second]), expected
    )


def corrupted_inclusion(index, size, proof, root, leaf):
    """The probes of transparency-dev's corruptInclusionProof: each must fail."""
    some = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
    probes = [
        (index - 1, size, root, leaf, proof),
        (index + 1, size, root, leaf, proof),
        (index ^ 2, size, root, leaf, proof),
        (index, size * 2, root, leaf, proof),
        (index, size // 2, root, leaf, proof),
        (index, size, root, merkle.leaf_hash(b"WrongLeaf"), proof),
        (index, size, merkle.EMPTY_ROOT, leaf, proof),
        (index, size, some, leaf, proof),
        (index, size, root, leaf, [*proof, b""]),
        (index, size, root, leaf, [*proof, root]),
        (index, size, root, leaf, [b"", *proof]),
        (index, size, root, leaf, [root, *proof]),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        probes.append((index, size, root, leaf, flipped))
    if proof:
        probes.append((index, size, root, leaf, proof[:-1]))
    if len(proof) > 1:
        probes.append((index, size, root, leaf, [proof[0], some, *proof[1:]]))
    return probes


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_every_corruption_of_an_inclusion_proof_is_refused(index, size, proof):
    proof = [full(p) for p in proof]
    root, leaf = bytes.fromhex(ROOTS[size]), merkle.leaf_hash(LEAVES[index])
    for probe in corrupted_inclusion(index, size, proof, root, leaf):
        assert not merkle.verify_inclusion(probe[3], probe[0], probe[1], probe[4], probe[2]), probe


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY)
def test_every_corruption_of_a_consistency_proof_is_refused(first, second, proof):
    proof = [full(p) for p in proof]
    r1, r2 = bytes.fromhex(ROOTS[first]), bytes.fromhex(ROOTS[second])
    wrong = merkle.leaf_hash(b"WrongRoot")
    probes = [
        (first - 1, second, r1, r2, proof),
        (first + 1, second, r1, r2, proof),
        (first ^ 2, second, r1, r2, proof),
        (first, second * 2, r1, r2, proof),
        (first, second // 2, r1, r2, proof),
        (first, second, wrong, r2, proof),
        (first, second, r1, wrong, proof),
        (first, second, r2, r1, proof),
        (first, second, r1, r2, []),
        (first, second, r1, r2, [*proof, b""]),
        (first, second, r1, r2, [*proof, r1]),
        (first, second, r1, r2, [*proof, r2]),
        (first, second, r1, r2, [b"", *proof]),
        (first, second, r1, r2, [r1, *proof]),
        (first, second, r1, r2, [r2, *proof]),
        (first, second, r1, r2, [proof[0], *proof]),
        (first, second, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        probes.append((first, second, r1, r2, flipped))
    for probe in probes:
        assert not merkle.verify_consistency(*probe), probe


def test_trivial_consistency_cases_follow_the_reference_verifier():
    a, b = merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")
    assert merkle.verify_consistency(0, 0, a, a, [])
    assert merkle.verify_consistency(0, 1, a, b, [])
    assert merkle.verify_consistency(1, 1, b, b, [])
    assert not merkle.verify_consistency(0, 0, a, b, [])
    assert not merkle.verify_consistency(1, 1, a, b, [])
    assert not merkle.verify_consistency(1, 0, a, b, [])
    assert not merkle.verify_consistency(2, 1, a, b, [])
    assert not merkle.verify_consistency(1, 2, a, b, [])
    assert not merkle.verify_consistency(0, 1, a, a, [merkle.EMPTY_ROOT])
    assert not merkle.verify_consistency(1, 1, a, a, [merkle.EMPTY_ROOT])


def test_single_leaf_tree_root_is_the_leaf_hash_and_its_proof_is_empty():
    h = merkle.leaf_hash(b"data")
    assert merkle.verify_inclusion(h, 0, 1, [], h)
    assert not merkle.verify_inclusion(h, 0, 1, [], merkle.EMPTY_ROOT)
    for index, size in [(0, 0), (1, 0), (2, 1)]:
        assert not merkle.verify_inclusion(h, index, size, [], h)


def test_a_verification_failure_says_which_check_failed():
    proof = STORE.inclusion_proof(5, 8)
    with pytest.raises(merkle.InvalidProof, match="not in the tree of size 8"):
        check_inclusion(merkle.leaf_hash(b"x"), 5, 8, proof, STORE.root())
    with pytest.raises(merkle.InvalidProof, match="shorter"):
        check_inclusion(merkle.leaf_hash(LEAVES[5]), 5, 8, proof[:-1], STORE.root())
    with pytest.raises(merkle.InvalidProof, match="32-byte"):
        check_inclusion(b"short", 5, 8, proof, STORE.root())
