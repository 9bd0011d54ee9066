"""Stats: counts per UTC bucket and group, one statement; they add up to the list's total."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from audits import stats
from tests.helpers import AUDITS, assert_error, create_audit

STATS = f"{AUDITS}/stats"
USER = uuid.uuid4()


@pytest.fixture
async def hand_made(db, entity_id):
    """Six records at known moments: two hours of one Monday, the next day, the next week."""
    rows = [
        ("2025-06-02T10:15:00+00:00", "create", "success", USER),
        ("2025-06-02T10:45:00+00:00", "update", "failure", USER),
        ("2025-06-02T11:05:00+00:00", "update", "success", None),
        # 23:30 at UTC-2 is 01:30 UTC the next day: buckets are UTC.
        ("2025-06-03T23:30:00-02:00", "update", "success", None),
        ("2025-06-09T00:00:00+00:00", "view", "pending", USER),
        ("2025-06-08T23:59:59+00:00", "view", "success", USER),
    ]
    for created_at, action, status, user in rows:
        await db.execute(
            """INSERT INTO audit (id, action_type, entity_type, entity_id, user_id, status,
                                  details, created_at)
               VALUES (gen_random_uuid(), $1, 'report', $2, $3, $4, '{"k": 1}', $5)""",
            action,
            entity_id,
            user,
            status,
            datetime.fromisoformat(created_at),
        )


async def get_stats(client, entity_id, **params):
    response = await client.get(STATS, params={"entity_id": str(entity_id), **params})
    assert response.status_code == 200, response.text
    return response.json()


async def test_hourly_buckets_per_status_in_utc(client, entity_id, hand_made):
    body = await get_stats(client, entity_id, group_by="status", interval="hour")

    assert body["group_by"] == "status" and body["interval"] == "hour" and body["total"] == 6
    assert [(b["start"], b["group"], b["count"]) for b in body["buckets"]] == [
        ("2025-06-02T10:00:00Z", "failure", 1),
        ("2025-06-02T10:00:00Z", "success", 1),
        ("2025-06-02T11:00:00Z", "success", 1),
        ("2025-06-04T01:00:00Z", "success", 1),
        ("2025-06-08T23:00:00Z", "success", 1),
        ("2025-06-09T00:00:00Z", "pending", 1),
    ]


async def test_daily_and_weekly_buckets_with_null_groups_last(client, entity_id, hand_made):
    daily = await get_stats(client, entity_id, group_by="user_id", interval="day")
    weekly = await get_stats(client, entity_id, group_by="action_type", interval="week")

    assert [(b["start"], b["group"], b["count"]) for b in daily["buckets"]] == [
        ("2025-06-02T00:00:00Z", str(USER), 2),
        ("2025-06-02T00:00:00Z", None, 1),
        ("2025-06-04T00:00:00Z", None, 1),
        ("2025-06-08T00:00:00Z", str(USER), 1),
        ("2025-06-09T00:00:00Z", str(USER), 1),
    ]
    # ISO weeks start on Monday: 2025-06-02 and 2025-06-09 are Mondays; the 8th is a Sunday.
    assert [(b["start"], b["group"], b["count"]) for b in weekly["buckets"]] == [
        ("2025-06-02T00:00:00Z", "create", 1),
        ("2025-06-02T00:00:00Z", "update", 3),
        ("2025-06-02T00:00:00Z", "view", 1),
        ("2025-06-09T00:00:00Z", "view", 1),
    ]


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"status": "success"},
        {"created_after": "2025-06-02T10:30:00Z", "created_before": "2025-06-09T00:00:00Z"},
        {"details": '{"k":1}'},
        {"details": '{"k":2}'},
        {"action_type": "update", "user_id": str(USER)},
    ],
)
@pytest.mark.parametrize("group_by", stats.GROUP_COLUMNS)
async def test_stats_sum_to_the_lists_total_for_the_same_filters(
    client, entity_id, hand_made, filters, group_by
):
    await create_audit(client, entity_id, entity_type="report")  # one written now, by the API
    deleted = await create_audit(client, entity_id, entity_type="report")  # counted by neither
    assert (await client.delete(f"{AUDITS}/{deleted['id']}")).status_code == 204
    body = await get_stats(client, entity_id, group_by=group_by, interval="day", **filters)
    listed = await client.get(AUDITS, params={"entity_id": str(entity_id), **filters})

    assert body["total"] == listed.json()["total"] == sum(b["count"] for b in body["buckets"])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"group_by": "ip_address"}, "query.group_by"),
        ({"interval": "month"}, "query.interval"),
        ({"details": "[1]"}, "query.details"),
        ({"limit": 5}, "query.limit"),
    ],
)
async def test_bad_stats_parameters_are_422(client, params, field):
    body = assert_error(await client.get(STATS, params=params), 422, "validation_error")
    assert [problem["field"] for problem in body["validation_errors"]] == [field]


async def test_too_many_buckets_is_422_not_a_huge_answer(client, entity_id, hand_made, monkeypatch):
    monkeypatch.setattr(stats, "MAX_BUCKETS", 3)
    response = await client.get(STATS, params={"entity_id": str(entity_id), "interval": "hour"})
    body = assert_error(response, 422, "validation_error")
    assert body["validation_errors"][0]["field"] == "query.interval"


def test_offsets_in_the_fixture_are_what_the_test_assumes():
    moment = datetime(2025, 6, 3, 23, 30, tzinfo=timezone(timedelta(hours=-2)))
    assert moment.astimezone(UTC) == datetime(2025, 6, 4, 1, 30, tzinfo=UTC)
