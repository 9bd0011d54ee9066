"""The `details` containment filter (`@>`) on the list, against hand-made records."""

from __future__ import annotations

import json

import pytest

from tests.helpers import AUDITS, assert_error, create_audit

RECORDS = {
    "amount": {"field": "amount", "from": 100, "to": 120},
    "amount_nested": {"field": "amount", "approval": {"by": "ops", "level": 2}},
    "name": {"field": "name", "from": "Ann", "to": "Anna"},
    "tags": {"tags": ["urgent", "billing"], "field": "tags"},
    "big": {"ref": 123456789012345678901234567890},
}


@pytest.fixture
async def made(client, entity_id) -> dict[str, str]:
    ids = {
        name: (await create_audit(client, entity_id, details=details))["id"]
        for name, details in RECORDS.items()
    }
    ids["none"] = (await create_audit(client, entity_id, details=None))["id"]
    return ids


async def matching(client, entity_id, contains) -> set[str]:
    params = {"entity_id": str(entity_id), "details": json.dumps(contains), "limit": 50}
    response = await client.get(AUDITS, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return {item["id"] for item in body["items"]}


@pytest.mark.parametrize(
    ("contains", "expected"),
    [
        ({"field": "amount"}, {"amount", "amount_nested"}),
        ({"field": "amount", "from": 100}, {"amount"}),
        ({"approval": {"level": 2}}, {"amount_nested"}),
        ({"approval": {"level": 3}}, set()),
        ({"tags": ["billing"]}, {"tags"}),
        ({"from": "100"}, set()),  # a string is not the number 100
        ({"ref": 123456789012345678901234567890}, {"big"}),
        ({}, {"amount", "amount_nested", "name", "tags", "big"}),  # every object, not null
    ],
)
async def test_details_filter_matches_records_whose_details_contain_it(
    client, entity_id, made, contains, expected
):
    assert await matching(client, entity_id, contains) == {made[name] for name in expected}


async def test_details_combines_with_the_other_filters(client, entity_id, made):
    params = {"entity_id": str(entity_id), "details": '{"field":"amount"}', "status": "failure"}
    assert (await client.get(AUDITS, params=params)).json()["total"] == 0


@pytest.mark.parametrize(
    "value", ["amount", "[1, 2]", '"field"', "42", "null", '{"a": NaN}', "{bad json", "x" * 3000]
)
async def test_a_details_filter_that_is_not_a_json_object_is_422_on_query_details(client, value):
    response = await client.get(AUDITS, params={"details": value})
    body = assert_error(response, 422, "validation_error")
    assert [problem["field"] for problem in body["validation_errors"]] == ["query.details"]


async def test_containment_is_served_by_the_gin_jsonb_path_ops_index(db):
    index = await db.fetchval(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'audit_details_path_ops_idx'"
    )
    assert "USING gin (details jsonb_path_ops)" in index
    async with db.transaction():
        await db.execute("SET LOCAL enable_seqscan = off")
        plan = await db.fetchval(
            "EXPLAIN (FORMAT JSON) SELECT id FROM audit WHERE details @> $1::jsonb",
            '{"field":"amount"}',
        )
    assert "audit_details_path_ops_idx" in plan
