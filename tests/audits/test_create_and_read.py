import json
import uuid
from datetime import datetime

import pytest

from tests.helpers import AUDITS, assert_error, audit_body, create_audit


async def test_create_answers_201_with_the_record_and_its_location(client, entity_id):
    body = audit_body(entity_id)
    response = await client.post(AUDITS, json=body)

    assert response.status_code == 201
    record = response.json()
    assert response.headers["location"] == f"{AUDITS}/{record['id']}"
    uuid.UUID(record["id"])
    for field, value in body.items():
        assert record[field] == value
    assert datetime.fromisoformat(record["created_at"]).utcoffset() is not None
    assert record["updated_at"] is None


async def test_create_defaults_status_to_success_and_allows_a_system_actor(client, entity_id):
    body = audit_body(entity_id, user_id=None)
    del body["status"], body["details"], body["ip_address"], body["user_agent"]

    record = (await client.post(AUDITS, json=body)).json()

    assert record["status"] == "success"
    assert record["user_id"] is None
    assert record["details"] is None


async def test_a_created_record_is_exactly_what_a_later_get_returns(client, entity_id, db):
    details = {
        "note": "Zoë paid €120 — 支付 ✓ 🧾",
        "nested": {"list": [1, 2.5, None, True, {"deep": ["x", {"y": "z"}]}], "empty": {}},
        "big": 12345678901234567,
    }
    created = await create_audit(client, entity_id, details=details, ip_address="2001:db8::1")

    fetched = (await client.get(f"{AUDITS}/{created['id']}")).json()

    assert fetched == created
    assert fetched["details"] == details
    stored = await db.fetchval("SELECT details::text FROM audit WHERE id = $1", created["id"])
    assert "支付" in stored


async def test_get_of_an_unknown_id_is_404_audit_not_found(client):
    response = await client.get(f"{AUDITS}/{uuid.uuid4()}")
    assert_error(response, 404, "audit_not_found")


async def test_a_bad_uuid_in_the_path_is_a_422(client):
    response = await client.get(f"{AUDITS}/not-a-uuid")
    body = assert_error(response, 422, "validation_error")
    assert body["validation_errors"][0]["field"] == "path.audit_id"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"action_type": "destroy"}, "body.action_type"),
        ({"entity_type": ""}, "body.entity_type"),
        ({"entity_type": "   "}, "body.entity_type"),
        ({"entity_type": "x" * 101}, "body.entity_type"),
        ({"entity_id": "nope"}, "body.entity_id"),
        ({"user_id": 42}, "body.user_id"),
        ({"status": "done"}, "body.status"),
        ({"ip_address": "999.1.1.1"}, "body.ip_address"),
        ({"ip_address": "not an ip"}, "body.ip_address"),
        ({"user_agent": "u" * 501}, "body.user_agent"),
        ({"details": ["not", "an", "object"]}, "body.details"),
        ({"colour": "blue"}, "body.colour"),
    ],
)
async def test_create_refuses_invalid_fields_naming_each_one(client, entity_id, overrides, field):
    response = await client.post(AUDITS, json=audit_body(entity_id, **overrides))

    body = assert_error(response, 422, "validation_error")
    assert [problem["field"] for problem in body["validation_errors"]] == [field]


async def test_create_reports_every_problem_at_once(client):
    response = await client.post(AUDITS, json={"action_type": "nope", "entity_type": ""})

    body = assert_error(response, 422, "validation_error")
    fields = {problem["field"] for problem in body["validation_errors"]}
    assert fields == {"body.action_type", "body.entity_type", "body.entity_id"}


async def test_create_refuses_a_missing_entity_id(client, entity_id):
    body = audit_body(entity_id)
    del body["entity_id"]
    response = await client.post(AUDITS, json=body)
    problems = assert_error(response, 422, "validation_error")["validation_errors"]
    assert problems[0]["field"] == "body.entity_id"


async def test_malformed_json_is_a_422_about_the_body(client):
    response = await client.post(
        AUDITS, content=b'{"action_type": ', headers={"content-type": "application/json"}
    )
    body = assert_error(response, 422, "validation_error")
    assert body["validation_errors"][0]["field"] == "body"


async def test_details_over_the_size_cap_are_refused(client, entity_id):
    details = {"blob": "x" * (64 * 1024)}
    response = await client.post(AUDITS, json=audit_body(entity_id, details=details))
    body = assert_error(response, 422, "validation_error")
    assert body["validation_errors"][0]["field"] == "body.details"


async def test_a_refused_create_stores_nothing(client, entity_id, db):
    response = await client.post(AUDITS, json=audit_body(entity_id, status="bogus"))
    problems = assert_error(response, 422, "validation_error")["validation_errors"]
    assert [problem["field"] for problem in problems] == ["body.status"]
    assert await db.fetchval("SELECT count(*) FROM audit WHERE entity_id = $1", entity_id) == 0


def details_of_size(size: int) -> dict:
    """`details` whose JSON, as stored, is `size` bytes: 'é' is two bytes in UTF-8."""
    head = len(json.dumps({"blob": ""}).encode())
    return {"blob": "é" * ((size - head) // 2) + "x" * ((size - head) % 2)}


async def test_details_of_exactly_the_size_cap_are_stored_in_utf8_bytes(client, entity_id, db):
    details = details_of_size(64 * 1024)

    response = await client.post(AUDITS, json=audit_body(entity_id, details=details))

    assert response.status_code == 201, response.text
    stored = await db.fetchval("SELECT details FROM audit WHERE entity_id = $1", entity_id)
    assert json.loads(stored) == details


async def test_details_one_byte_over_the_size_cap_say_the_cap(client, entity_id):
    response = await client.post(
        AUDITS, json=audit_body(entity_id, details=details_of_size(64 * 1024 + 1))
    )

    problems = assert_error(response, 422, "validation_error")["validation_errors"]
    assert problems == [
        {
            "field": "body.details",
            "message": "Value error, details is larger than 65536 bytes when serialized",
        }
    ]
