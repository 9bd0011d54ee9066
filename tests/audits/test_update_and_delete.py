import uuid

import pytest

from tests.helpers import AUDITS, assert_error, create_audit


@pytest.mark.parametrize("final", ["success", "failure"])
async def test_pending_may_become_final(client, entity_id, final):
    record = await create_audit(client, entity_id, status="pending")

    response = await client.put(f"{AUDITS}/{record['id']}", json={"status": final})

    assert response.status_code == 200
    assert response.json()["status"] == final
    assert response.json()["updated_at"] is not None


@pytest.mark.parametrize(("final", "other"), [("success", "failure"), ("failure", "pending")])
async def test_put_refuses_to_change_a_final_status(client, entity_id, db, final, other):
    record = await create_audit(client, entity_id, status=final)

    response = await client.put(f"{AUDITS}/{record['id']}", json={"status": other})

    body = assert_error(response, 409, "invalid_status_transition")
    assert body["details"] == {"current_status": final, "requested_status": other}
    assert await db.fetchval("SELECT status FROM audit WHERE id = $1", record["id"]) == final


async def test_resending_the_same_final_status_is_a_no_op_200(client, entity_id):
    record = await create_audit(client, entity_id, status="success")

    response = await client.put(f"{AUDITS}/{record['id']}", json={"status": "success"})

    assert response.status_code == 200
    assert response.json() == record  # nothing changed, not even updated_at


async def test_details_are_merged_never_wiped(client, entity_id):
    record = await create_audit(client, entity_id, details={"keep": 1, "replace": "old"})

    response = await client.put(
        f"{AUDITS}/{record['id']}", json={"details": {"replace": "new", "added": [1, 2]}}
    )

    assert response.status_code == 200
    assert response.json()["details"] == {"keep": 1, "replace": "new", "added": [1, 2]}
    fetched = (await client.get(f"{AUDITS}/{record['id']}")).json()
    assert fetched["details"] == {"keep": 1, "replace": "new", "added": [1, 2]}


async def test_details_merge_into_a_record_that_had_none(client, entity_id):
    record = await create_audit(client, entity_id, details=None)
    response = await client.put(f"{AUDITS}/{record['id']}", json={"details": {"a": 1}})
    assert response.json()["details"] == {"a": 1}


async def test_status_and_details_change_together(client, entity_id):
    record = await create_audit(client, entity_id, status="pending", details={"step": 1})

    response = await client.put(
        f"{AUDITS}/{record['id']}", json={"status": "failure", "details": {"reason": "timeout"}}
    )

    assert response.json()["status"] == "failure"
    assert response.json()["details"] == {"step": 1, "reason": "timeout"}


@pytest.mark.parametrize(
    "body",
    [
        {"entity_type": "other"},
        {"status": "success", "action_type": "delete"},
        {"created_at": "2020-01-01T00:00:00Z"},
        {"status": "finished"},
        {"details": "text"},
    ],
)
async def test_put_refuses_anything_but_status_and_details(client, entity_id, db, body):
    record = await create_audit(client, entity_id, status="pending")

    response = await client.put(f"{AUDITS}/{record['id']}", json=body)

    assert_error(response, 422, "validation_error")
    row = await db.fetchrow("SELECT status, updated_at FROM audit WHERE id = $1", record["id"])
    assert row["status"] == "pending" and row["updated_at"] is None


async def test_a_put_with_nothing_to_change_is_a_no_op(client, entity_id):
    record = await create_audit(client, entity_id, status="pending")
    for body in ({}, {"status": None, "details": None}):
        response = await client.put(f"{AUDITS}/{record['id']}", json=body)
        assert response.status_code == 200
        assert response.json() == record


async def test_put_of_an_unknown_id_is_404(client):
    response = await client.put(f"{AUDITS}/{uuid.uuid4()}", json={"status": "success"})
    assert_error(response, 404, "audit_not_found")


async def test_delete_is_soft_and_hides_the_record_everywhere(client, entity_id, db):
    record = await create_audit(client, entity_id)
    url = f"{AUDITS}/{record['id']}"

    response = await client.delete(url)

    assert response.status_code == 204 and response.content == b""
    assert_error(await client.get(url), 404, "audit_not_found")
    assert_error(await client.put(url, json={"status": "success"}), 404, "audit_not_found")
    assert_error(await client.delete(url), 404, "audit_not_found")
    listed = (await client.get(AUDITS, params={"entity_id": str(entity_id)})).json()
    assert listed["total"] == 0 and listed["items"] == []
    row = await db.fetchrow("SELECT entity_id, deleted_at FROM audit WHERE id = $1", record["id"])
    assert row["entity_id"] == entity_id and row["deleted_at"] is not None


async def test_delete_of_an_unknown_id_is_404(client):
    assert_error(await client.delete(f"{AUDITS}/{uuid.uuid4()}"), 404, "audit_not_found")
