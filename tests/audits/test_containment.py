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


def object_text_of(length: int) -> str:
    head = '{"field":"'
    return head + "a" * (length - len(head) - 2) + '"}'


async def test_a_details_filter_of_2000_characters_is_taken_and_one_more_is_refused(client):
    taken = await client.get(AUDITS, params={"details": object_text_of(2000)})
    refused = await client.get(AUDITS, params={"details": object_text_of(2001)})

    assert taken.status_code == 200, taken.text
    problems = assert_error(refused, 422, "validation_error")["validation_errors"]
    assert problems == [
        {
            "field": "query.details",
            "message": "Value error, details must be a JSON object of at most 2000 chars",
        }
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{bad json", "details must be valid JSON (a URL-encoded JSON object)"),
        ('{"a": NaN}', "details must be valid JSON (a URL-encoded JSON object)"),
        ("[1, 2]", 'details must be a JSON object, like {"field":"amount"}'),
        ('{"a": "\\u0000"}', "details must not contain NUL (\\u0000) characters"),
        ('{"d": ' + "[" * 32 + "]" * 32 + "}", "details must not nest deeper than 32 levels"),
    ],
    ids=["not-json", "nan", "not-an-object", "nul", "too-deep"],
)
async def test_a_refused_details_filter_says_why(client, value, message):
    response = await client.get(AUDITS, params={"details": value})

    problems = assert_error(response, 422, "validation_error")["validation_errors"]
    assert problems == [{"field": "query.details", "message": f"Value error, {message}"}]


async def test_a_details_filter_matches_whatever_its_spacing_and_non_ascii_text(client, entity_id):
    made = await create_audit(client, entity_id, details={"city": "Zürich", "n": 1})
    params = {"entity_id": str(entity_id), "details": '{ "city" :  "Zürich" }'}

    body = (await client.get(AUDITS, params=params)).json()

    assert [item["id"] for item in body["items"]] == [made["id"]]
