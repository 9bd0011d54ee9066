"""The auditor's checks, fed what the API will return (base64 strings and signed notes)."""

import base64
import re

import pytest

from ledger import client_checks, merkle, note
from ledger.client_checks import VerificationFailed
from ledger.merkle import MemoryStore
from ledger.note import Checkpoint

ORIGIN = "audit.example.com/log"
SKEY, VKEY = note.generate_key(ORIGIN)
SIGNER = note.parse_signer(SKEY)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def entries(n: int, tag: str = "entry") -> list[bytes]:
    return [f'{{"audit_id": {i}, "tag": "{tag}", "note": "é 😀"}}'.encode() for i in range(n)]


def signed_checkpoint(store: MemoryStore, size: int | None = None, signer=SIGNER) -> str:
    size = store.size if size is None else size
    return note.sign_checkpoint(Checkpoint(ORIGIN, size, store.root(size)), signer)


def test_a_signed_checkpoint_verifies_with_the_published_verifier_key():
    store = MemoryStore.from_leaves(entries(10))
    checkpoint = client_checks.verify_checkpoint(signed_checkpoint(store), VKEY)
    assert (checkpoint.origin, checkpoint.size, checkpoint.root_hash) == (ORIGIN, 10, store.root())


def test_a_checkpoint_signed_with_another_key_is_refused():
    store = MemoryStore.from_leaves(entries(10))
    other = note.parse_signer(note.generate_key(ORIGIN)[0])
    with pytest.raises(VerificationFailed, match=re.escape(f"not signed by {ORIGIN}")):
        client_checks.verify_checkpoint(signed_checkpoint(store, signer=other), VKEY)


def test_a_checkpoint_with_an_edited_root_is_refused():
    store = MemoryStore.from_leaves(entries(10))
    signed = signed_checkpoint(store)
    root_line = b64(store.root())
    forged = signed.replace(root_line, b64(MemoryStore.from_leaves(entries(11)).root()))
    with pytest.raises(VerificationFailed, match="does not verify"):
        client_checks.verify_checkpoint(forged, VKEY)


def test_an_unusable_verifier_key_is_reported_as_such():
    with pytest.raises(VerificationFailed, match="verifier key is unusable"):
        client_checks.verify_checkpoint("x\n", "not a key")


def test_each_leaf_is_proven_in_the_signed_tree_and_its_exact_bytes_returned():
    data = entries(37)
    store = MemoryStore.from_leaves(data)
    checkpoint = client_checks.verify_checkpoint(signed_checkpoint(store), VKEY)
    for index in (0, 17, 36):
        proof = [b64(h) for h in store.inclusion_proof(index)]
        leaf = client_checks.verify_leaf_inclusion(b64(data[index]), index, proof, checkpoint)
        assert leaf == data[index]


def test_a_changed_leaf_is_caught_and_named():
    data = entries(37)
    store = MemoryStore.from_leaves(data)
    checkpoint = client_checks.verify_checkpoint(signed_checkpoint(store), VKEY)
    proof = [b64(h) for h in store.inclusion_proof(17)]
    changed = data[17].replace(b"entry", b"edited")
    with pytest.raises(VerificationFailed, match="leaf 17 is not in the signed tree of size 37"):
        client_checks.verify_leaf_inclusion(b64(changed), 17, proof, checkpoint)


@pytest.mark.parametrize("bad", ["***", "AAAA", b64(bytes(31))])
def test_garbage_in_a_proof_is_a_verification_failure_not_a_crash(bad):
    store = MemoryStore.from_leaves(entries(4))
    checkpoint = Checkpoint(ORIGIN, 4, store.root())
    proof = [b64(h) for h in store.inclusion_proof(1)]
    proof[0] = bad
    with pytest.raises(VerificationFailed, match="proof hash 0"):
        client_checks.verify_leaf_inclusion(b64(entries(4)[1]), 1, proof, checkpoint)
    with pytest.raises(VerificationFailed, match="not base64"):
        client_checks.verify_leaf_inclusion("%%%", 1, proof, checkpoint)


def test_a_grown_log_is_consistent_with_the_trusted_checkpoint():
    store = MemoryStore.from_leaves(entries(100))
    trusted = client_checks.verify_checkpoint(signed_checkpoint(store, 60), VKEY)
    latest = client_checks.verify_checkpoint(signed_checkpoint(store), VKEY)
    proof = [b64(h) for h in store.consistency_proof(60)]
    client_checks.verify_checkpoint_consistency(trusted, latest, proof)
    client_checks.verify_checkpoint_consistency(latest, latest, [])


def test_a_shrunk_log_is_caught():
    store = MemoryStore.from_leaves(entries(100))
    trusted = Checkpoint(ORIGIN, 100, store.root())
    latest = Checkpoint(ORIGIN, 90, store.root(90))
    with pytest.raises(VerificationFailed, match="shrank from 100 to 90"):
        client_checks.verify_checkpoint_consistency(trusted, latest, [])


def test_a_truncated_and_regrown_log_is_caught_by_consistency():
    data = entries(100)
    trusted = Checkpoint(ORIGIN, 100, MemoryStore.from_leaves(data).root())
    regrown = MemoryStore.from_leaves([*data[:95], *entries(10, "rewritten")])
    latest = client_checks.verify_checkpoint(signed_checkpoint(regrown), VKEY)
    proof = [b64(h) for h in regrown.consistency_proof(100)]
    with pytest.raises(VerificationFailed, match="does not extend the trusted one of size 100"):
        client_checks.verify_checkpoint_consistency(trusted, latest, proof)


def test_a_rewritten_log_of_the_same_size_is_caught():
    trusted = Checkpoint(ORIGIN, 50, MemoryStore.from_leaves(entries(50)).root())
    latest = Checkpoint(ORIGIN, 50, MemoryStore.from_leaves(entries(50, "other")).root())
    with pytest.raises(VerificationFailed, match="does not extend"):
        client_checks.verify_checkpoint_consistency(trusted, latest, [])


def test_checkpoints_of_another_log_are_not_compared():
    root = merkle.EMPTY_ROOT
    with pytest.raises(VerificationFailed, match=re.escape(f"not {ORIGIN!r}")):
        client_checks.verify_checkpoint_consistency(
            Checkpoint(ORIGIN, 0, root), Checkpoint("other.example/log", 0, root), []
        )
