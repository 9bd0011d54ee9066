import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import AUDITS, assert_error, create_audit


async def _insert_at(db, entity_id, created_at, **columns):
    """Insert with a chosen created_at, which the API (rightly) never accepts."""
    values = {
        "action_type": "view",
        "entity_type": "report",
        "status": "success",
        "user_id": None,
        **columns,
    }
    return await db.fetchval(
        """INSERT INTO audit (id, action_type, entity_type, entity_id, user_id, status, created_at)
           VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6) RETURNING id::text""",
        values["action_type"],
        values["entity_type"],
        entity_id,
        values["user_id"],
        values["status"],
        created_at,
    )


async def test_list_pages_newest_first_with_total_limit_and_offset(client, entity_id):
    ids = [(await create_audit(client, entity_id))["id"] for _ in range(5)]

    first = (await client.get(AUDITS, params={"entity_id": str(entity_id), "limit": 2})).json()
    rest = (
        await client.get(AUDITS, params={"entity_id": str(entity_id), "limit": 50, "offset": 2})
    ).json()

    assert first["total"] == 5 and first["limit"] == 2 and first["offset"] == 0
    assert [item["id"] for item in first["items"] + rest["items"]] == ids[::-1]


async def test_equal_timestamps_are_ordered_by_id_so_pages_are_stable(client, db, entity_id):
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    ids = sorted([await _insert_at(db, entity_id, moment) for _ in range(6)], reverse=True)

    pages = []
    for offset in (0, 2, 4):
        params = {"entity_id": str(entity_id), "limit": 2, "offset": offset}
        pages += (await client.get(AUDITS, params=params)).json()["items"]

    assert [item["id"] for item in pages] == ids


async def test_default_limit_is_20(client, entity_id):
    for _ in range(21):
        await create_audit(client, entity_id)
    body = (await client.get(AUDITS, params={"entity_id": str(entity_id)})).json()
    assert body["limit"] == 20 and body["offset"] == 0
    assert len(body["items"]) == 20 and body["total"] == 21


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 51}, "query.limit"),
        ({"limit": 0}, "query.limit"),
        ({"offset": -1}, "query.offset"),
        ({"action_type": "destroy"}, "query.action_type"),
        ({"status": "done"}, "query.status"),
        ({"entity_id": "x"}, "query.entity_id"),
        ({"user_id": "x"}, "query.user_id"),
        ({"created_after": "yesterday"}, "query.created_after"),
        ({"created_before": "2025-01-01T00:00:00"}, "query.created_before"),
        ({"actoin_type": "create"}, "query.actoin_type"),
    ],
)
async def test_bad_list_parameters_are_refused_not_ignored(client, params, field):
    response = await client.get(AUDITS, params=params)
    body = assert_error(response, 422, "validation_error")
    assert [problem["field"] for problem in body["validation_errors"]] == [field]


async def test_filters_combine_with_and(client, entity_id):
    user = uuid.uuid4()
    target = await create_audit(
        client, entity_id, action_type="export", status="failure", user_id=str(user)
    )
    await create_audit(client, entity_id, action_type="export", status="success")
    await create_audit(client, entity_id, action_type="login", status="failure")
    await create_audit(client, entity_id, entity_type="payment", action_type="export")

    params = {
        "entity_id": str(entity_id),
        "entity_type": "invoice",
        "action_type": "export",
        "status": "failure",
        "user_id": str(user),
    }
    body = (await client.get(AUDITS, params=params)).json()

    assert body["total"] == 1
    assert [item["id"] for item in body["items"]] == [target["id"]]


async def test_each_filter_narrows_on_its_own(client, entity_id):
    user = uuid.uuid4()
    await create_audit(client, entity_id, action_type="import", status="pending", user_id=None)
    await create_audit(client, entity_id, action_type="logout", user_id=str(user))
    base = {"entity_id": str(entity_id)}

    async def total(**params):
        return (await client.get(AUDITS, params={**base, **params})).json()["total"]

    assert await total() == 2
    assert await total(action_type="import") == 1
    assert await total(status="pending") == 1
    assert await total(user_id=str(user)) == 1
    assert await total(entity_type="invoice") == 2
    assert await total(entity_type="nothing-like-this") == 0


async def test_created_after_is_inclusive_and_created_before_exclusive(client, db, entity_id):
    start = datetime(2024, 3, 1, tzinfo=UTC)
    on_start = await _insert_at(db, entity_id, start)
    inside = await _insert_at(db, entity_id, start + timedelta(days=3))
    await _insert_at(db, entity_id, start + timedelta(days=7))  # exactly at the end: excluded
    await _insert_at(db, entity_id, start - timedelta(microseconds=1))

    params = {
        "entity_id": str(entity_id),
        "created_after": start.isoformat(),
        "created_before": (start + timedelta(days=7)).isoformat(),
    }
    body = (await client.get(AUDITS, params=params)).json()

    assert [item["id"] for item in body["items"]] == [inside, on_start]


async def test_a_window_that_ends_before_it_starts_is_empty(client, db, entity_id):
    await _insert_at(db, entity_id, datetime(2025, 1, 15, tzinfo=UTC))
    params = {
        "entity_id": str(entity_id),
        "created_after": "2025-02-01T00:00:00Z",
        "created_before": "2025-01-01T00:00:00Z",
    }
    body = (await client.get(AUDITS, params=params)).json()
    assert body["total"] == 0 and body["items"] == []


@pytest.mark.parametrize("value", ["1700000000", "5.98e-83", "0"])
async def test_a_number_is_not_taken_for_a_timestamp(client, value):
    response = await client.get(AUDITS, params={"created_after": value})
    body = assert_error(response, 422, "validation_error")
    assert body["validation_errors"] == [
        {
            "field": "query.created_after",
            "message": "Value error, must be an RFC 3339 timestamp with a UTC offset",
        }
    ]


async def test_timestamps_with_other_offsets_mean_the_same_instant(client, db, entity_id):
    moment = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    audit_id = await _insert_at(db, entity_id, moment)

    params = {"entity_id": str(entity_id), "created_after": "2024-06-01T14:00:00+02:00"}
    body = (await client.get(AUDITS, params=params)).json()

    assert [item["id"] for item in body["items"]] == [audit_id]


async def test_the_list_body_is_compact_json_without_newlines(client, entity_id):
    for _ in range(3):
        await create_audit(client, entity_id)

    response = await client.get(AUDITS, params={"entity_id": str(entity_id)})

    assert len(response.json()["items"]) == 3
    assert b"\n" not in response.content
    assert b"}, {" not in response.content and b"},{" in response.content
