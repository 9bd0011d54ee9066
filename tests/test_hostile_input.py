"""Inputs that PostgreSQL and JSON treat specially: each is a 4xx in the contract's shape, and
the database is exactly as it was afterwards."""

import json
import uuid

import httpx
import pytest

from harness.server_process import ServerProcess
from tests.helpers import AUDITS, assert_error, audit_body, create_audit

JSON = {"content-type": "application/json"}


def raw_audit(entity_id: uuid.UUID, extra: str) -> bytes:
    """A create body as raw text, so it can say things json.dumps never would."""
    head = f'{{"action_type": "create", "entity_type": "invoice", "entity_id": "{entity_id}"'
    return (head + extra + "}").encode()


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


# Every audit row's whole content, and how many journal entries exist: any insert, update or
# delete of a record, or a journal entry written, changes one of them.
DATABASE_STATE = """
    SELECT (SELECT count(*) FROM audit) AS audits,
           (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM audit t)
               AS content,
           (SELECT count(*) FROM journal_entry) AS journal_entries
"""


@pytest.fixture
async def unchanged(db):
    """Asserts after the test that no row was added, changed or removed, and nothing journaled."""
    before = dict(await db.fetchrow(DATABASE_STATE))
    yield
    assert dict(await db.fetchrow(DATABASE_STATE)) == before


@pytest.fixture(scope="module")
def server():
    """The Procfile's web process: a 413 must reach a client over a real socket."""
    with ServerProcess() as running:
        yield running


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (', "details": {"note": "a\\u0000b"}', "body.details"),
        (', "details": {"a\\u0000": 1}', "body.details"),
        (', "user_agent": "curl\\u0000"', "body.user_agent"),
        (', "details": {"n": NaN}', "body.details"),
        (', "details": {"n": Infinity}', "body.details"),
        (', "details": {"n": -Infinity}', "body.details"),
        (', "details": {"n": 1e400}', "body.details"),
        (', "details": {"s": "\\ud800"}', "body.details"),
        (', "user_agent": "\\udfff"', "body.user_agent"),
        (', "details": {"deep": ' + nested(40) + "}", "body.details"),
        (', "details": {"deep": ' + nested(900) + "}", "body.details"),
        (', "details": {"deep": ' + nested(50_000) + "}", "body"),
        (', "details": {"big": [' + ",".join(["0"] * 100_000) + "]}", "body.details"),
    ],
    ids=[
        "nul-in-value",
        "nul-in-key",
        "nul-in-string-field",
        "nan",
        "infinity",
        "minus-infinity",
        "overflowing-float",
        "lone-surrogate-in-details",
        "lone-surrogate-in-field",
        "nesting-40",
        "nesting-900",
        "nesting-50000",
        "huge-array",
    ],
)
async def test_special_json_is_refused_with_a_422(client, entity_id, unchanged, extra, field):
    response = await client.post(AUDITS, content=raw_audit(entity_id, extra), headers=JSON)

    body = assert_error(response, 422, "validation_error")
    assert [problem["field"] for problem in body["validation_errors"]] == [field]


async def test_a_nul_in_the_entity_type_is_refused(client, entity_id, unchanged):
    response = await client.post(AUDITS, json=audit_body(entity_id, entity_type="in\x00voice"))
    assert_error(response, 422, "validation_error")


async def test_a_nul_in_a_filter_is_refused(client):
    response = await client.get(AUDITS, params={"entity_type": "in\x00voice"})
    assert_error(response, 422, "validation_error")


async def test_a_huge_top_level_array_is_refused(client, unchanged):
    body = b"[" + b"0," * 300_000 + b"0]"
    assert_error(await client.post(AUDITS, content=body, headers=JSON), 422, "validation_error")


async def test_invalid_utf8_is_refused(client, entity_id, unchanged):
    body = raw_audit(entity_id, "").replace(b'"invoice"', b'"inv\xff\xfeoice"')
    response = await client.post(AUDITS, content=body, headers=JSON)
    problems = assert_error(response, 422, "validation_error")["validation_errors"]
    assert problems == [{"field": "body", "message": "The body could not be parsed."}]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
async def test_a_body_that_is_not_json_is_a_415(client, entity_id, unchanged, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post(
        AUDITS, content=json.dumps(audit_body(entity_id)).encode(), headers=headers
    )
    assert_error(response, 415, "unsupported_media_type")


async def test_json_media_type_variants_are_accepted(client, entity_id):
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = await client.post(
            AUDITS,
            content=json.dumps(audit_body(entity_id)).encode(),
            headers={"content-type": content_type},
        )
        assert response.status_code == 201


async def in_chunks(body: bytes, chunk_size: int = 64 * 1024):
    for start in range(0, len(body), chunk_size):
        yield body[start : start + chunk_size]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@pytest.mark.parametrize("method", ["POST", "PUT"])
async def test_an_oversized_body_over_tcp_is_413_and_changes_nothing(
    client, server, entity_id, db, method, framing
):
    record = await create_audit(client, entity_id, status="pending")
    huge = json.dumps({**audit_body(entity_id), "details": {"pad": "x" * 2 * 1024 * 1024}})
    url = AUDITS if method == "POST" else f"{AUDITS}/{record['id']}"
    before = dict(await db.fetchrow(DATABASE_STATE))

    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        content = huge.encode() if framing == "content-length" else in_chunks(huge.encode())
        response = await http.request(method, url, content=content, headers=JSON)

    assert_error(response, 413, "payload_too_large")
    assert dict(await db.fetchrow(DATABASE_STATE)) == before
    row = await db.fetchrow("SELECT details, updated_at FROM audit WHERE id = $1", record["id"])
    assert row["updated_at"] is None and json.loads(row["details"]) == record["details"]


async def test_numbers_json_can_carry_are_kept_exactly(client, entity_id):
    details = {
        "huge": 123456789012345678901234567890,
        "negative": -(2**70),
        "precise": 0.1,
        "tiny": 5e-324,
        "nested_ok": json.loads("[" * 30 + "1" + "]" * 30),
    }
    created = await create_audit(client, entity_id, details=details)

    fetched = await client.get(f"{AUDITS}/{created['id']}")

    assert json.loads(fetched.content)["details"] == details
    assert b"123456789012345678901234567890" in fetched.content


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (', "details": {"note": "a\\u0000b"}', "details must not contain NUL (\\u0000) characters"),
        (', "details": {"n": NaN}', "details must not contain NaN or Infinity"),
        (', "details": {"s": "\\ud800"}', "details must be valid Unicode (no lone surrogates)"),
        (
            ', "details": {"deep": ' + nested(32) + "}",
            "details must not nest deeper than 32 levels",
        ),
        (
            ', "details": ' + '{"a": ' * 33 + "1" + "}" * 33,
            "details must not nest deeper than 32 levels",
        ),
        (', "ip_address": "1.2.3"', "ip_address must be a valid IPv4 or IPv6 address"),
    ],
    ids=["nul", "nan", "lone-surrogate", "nesting-33", "objects-33", "ip-address"],
)
async def test_each_refusal_says_what_is_wrong(client, entity_id, unchanged, extra, message):
    response = await client.post(AUDITS, content=raw_audit(entity_id, extra), headers=JSON)

    problems = assert_error(response, 422, "validation_error")["validation_errors"]
    assert [problem["message"] for problem in problems] == [f"Value error, {message}"]


async def test_details_nested_exactly_to_the_limit_are_stored(client, entity_id, db):
    # The `details` object is the first of the 32 levels it may have.
    response = await client.post(
        AUDITS,
        content=raw_audit(entity_id, ', "details": {"deep": ' + nested(31) + "}"),
        headers=JSON,
    )

    assert response.status_code == 201, response.text
    stored = await db.fetchval(
        "SELECT details FROM audit WHERE id = $1", uuid.UUID(response.json()["id"])
    )
    assert json.loads(stored) == {"deep": json.loads(nested(31))}
