"""The ledger routes serve what a client needs to check a record offline."""

import os
import uuid
from base64 import b64decode

from ledger import client_checks, merkle
from tests.helpers import AUDITS, assert_error, create_audit
from tests.ledger.conftest import leaf_json, wait_until_sealed

LEDGER = "/api/v1/ledger"


async def test_a_record_s_history_is_proven_in_the_signed_tree(client, db, entity_id):
    record = await create_audit(client, entity_id, status="pending")
    await client.put(f"{AUDITS}/{record['id']}", json={"status": "failure"})
    await wait_until_sealed(db)

    checkpoint_answer = (await client.get(f"{LEDGER}/checkpoint")).json()
    verifier_key = os.environ["LEDGER_VERIFIER_KEY"]
    checkpoint = client_checks.verify_checkpoint(checkpoint_answer["note"], verifier_key)
    assert checkpoint_answer["tree_size"] == checkpoint.size
    assert b64decode(checkpoint_answer["root_hash"]) == checkpoint.root_hash

    proof = (await client.get(f"{AUDITS}/{record['id']}/proof")).json()
    assert proof["tree_size"] == checkpoint.size
    assert [e["change"] for e in proof["entries"]] == ["create", "update"]
    for entry in proof["entries"]:
        client_checks.verify_leaf_inclusion(
            entry["leaf"], entry["leaf_index"], entry["inclusion_proof"], checkpoint
        )
    current = (await client.get(f"{AUDITS}/{record['id']}")).json()
    last = leaf_json(proof["entries"][-1])["record"]
    assert {k: last[k] for k in current} == current


async def test_an_unsealed_entry_is_listed_as_pending(client, db, entity_id):
    await wait_until_sealed(db)
    size = (await client.get(f"{LEDGER}/checkpoint")).json()["tree_size"]
    record = await create_audit(client, entity_id)
    proof = await client.get(f"{AUDITS}/{record['id']}/proof", params={"tree_size": size})
    (entry,) = proof.json()["entries"]
    assert entry["leaf_index"] is None and entry["inclusion_proof"] == []
    assert leaf_json(entry)["audit_id"] == record["id"]


async def test_consistency_between_two_checkpoints_verifies(client, db, entity_id):
    await create_audit(client, entity_id)
    first_size = await wait_until_sealed(db)
    first = (await client.get(f"{LEDGER}/checkpoint", params={"tree_size": first_size})).json()
    for _ in range(3):
        await create_audit(client, entity_id)
    second_size = await wait_until_sealed(db)
    second = (await client.get(f"{LEDGER}/checkpoint")).json()
    assert second["tree_size"] == second_size > first_size
    answer = await client.get(
        f"{LEDGER}/consistency", params={"first": first_size, "second": second_size}
    )
    key = os.environ["LEDGER_VERIFIER_KEY"]
    client_checks.verify_checkpoint_consistency(
        client_checks.verify_checkpoint(first["note"], key),
        client_checks.verify_checkpoint(second["note"], key),
        answer.json()["proof"],
    )


async def test_raw_leaves_rebuild_the_signed_root(client, db, entity_id):
    await create_audit(client, entity_id)
    size = await wait_until_sealed(db)
    leaves = []
    for start in range(0, size, 1000):
        page = await client.get(f"{LEDGER}/entries", params={"start": start, "end": start + 1000})
        leaves += [b64decode(e["leaf"]) for e in page.json()["entries"]]
    checkpoint = (await client.get(f"{LEDGER}/checkpoint", params={"tree_size": size})).json()
    assert len(leaves) == size
    assert merkle.root_of(merkle.leaf_hash(leaf) for leaf in leaves) == b64decode(
        checkpoint["root_hash"]
    )


async def test_the_public_key_is_the_verifier_key(client):
    answer = (await client.get(f"{LEDGER}/public-key")).json()
    assert answer["verifier_key"] == os.environ["LEDGER_VERIFIER_KEY"]
    assert answer["key_name"] == "looped-needle.test/audit"
    assert len(b64decode(answer["public_key"])) == 32


async def test_bad_ledger_requests_are_4xx_in_the_error_shape(client, db, entity_id):
    await create_audit(client, entity_id)
    size = await wait_until_sealed(db)
    too_big = {"tree_size": size + 10**6}
    assert_error(
        await client.get(f"{LEDGER}/checkpoint", params=too_big), 404, "checkpoint_not_found"
    )
    for first, second in ((5, 2), (1, size + 1)):
        answer = await client.get(
            f"{LEDGER}/consistency", params={"first": first, "second": second}
        )
        assert_error(answer, 404, "proof_not_found")
    for params in ({"start": -1, "end": 3}, {"first": 0, "second": 1}, {"tree_size": 2**63}):
        path = (
            "entries" if "start" in params else "consistency" if "first" in params else "checkpoint"
        )
        assert_error(await client.get(f"{LEDGER}/{path}", params=params), 422, "validation_error")
    unknown = await client.get(f"{LEDGER}/checkpoint", params={"tree_sise": 1})
    assert_error(unknown, 422, "validation_error")
    missing = "00000000-0000-4000-8000-000000000000"
    assert_error(await client.get(f"{AUDITS}/{missing}/proof"), 404, "audit_not_found")


async def test_a_long_range_of_leaves_is_answered_from_its_start_up_to_the_cap(client, db):
    for _ in range(3):
        await create_audit(client, uuid.uuid4())
    size = await wait_until_sealed(db)
    page = (await client.get(f"{LEDGER}/entries", params={"start": 0, "end": 10**6})).json()
    assert (page["start"], page["end"]) == (0, 1000)
    assert [e["leaf_index"] for e in page["entries"]] == list(range(min(size, 1000)))
    empty = (await client.get(f"{LEDGER}/entries", params={"start": 5, "end": 2})).json()
    assert empty["entries"] == [] and empty["end"] == empty["start"] == 5


async def test_a_proof_for_an_earlier_tree_proves_in_that_tree_and_marks_later_entries(
    client, db, entity_id
):
    # The record was created in the earlier tree and changed after it: asked for that tree,
    # the create must verify against that tree's signed checkpoint, and the change, sealed
    # only later, must be served as pending there, not with an index of a bigger tree.
    record = await create_audit(client, entity_id, status="pending")
    earlier = await wait_until_sealed(db)
    await client.put(f"{AUDITS}/{record['id']}", json={"status": "success"})
    assert await wait_until_sealed(db) > earlier

    answer = (
        await client.get(f"{AUDITS}/{record['id']}/proof", params={"tree_size": earlier})
    ).json()
    note = (await client.get(f"{LEDGER}/checkpoint", params={"tree_size": earlier})).json()
    checkpoint = client_checks.verify_checkpoint(note["note"], os.environ["LEDGER_VERIFIER_KEY"])
    assert answer["tree_size"] == checkpoint.size == earlier
    created, changed = answer["entries"]
    client_checks.verify_leaf_inclusion(
        created["leaf"], created["leaf_index"], created["inclusion_proof"], checkpoint
    )
    assert changed["leaf_index"] is None and changed["inclusion_proof"] == []
    assert leaf_json(changed)["change"] == "update"
