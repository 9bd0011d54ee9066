"""The error contract, error by error: each failure's status, code, message, details and
headers exactly as a client receives them.

The access, AI and ledger suites show when their errors are raised; here each error is
raised by a route of a fresh app and read back over HTTP, so the whole catalogue is held
in one fast place.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

import errors
from tests.helpers import AUDITS, assert_error, audit_body

AUDIT_ID = uuid.UUID("6f1c1f1e-3c1a-4a53-9d1e-2b9d1c0b7a11")

# (a maker of the error, status, code, message, details, headers it must carry). Made in
# the test, not at import: the error's constructor is part of what is tested.
CATALOGUE = [
    (
        lambda: errors.AuditNotFound(AUDIT_ID),
        404,
        "audit_not_found",
        f"No audit record with id {AUDIT_ID} exists.",
        {"id": str(AUDIT_ID)},
        {},
    ),
    (
        lambda: errors.InvalidStatusTransition("success", "failure"),
        409,
        "invalid_status_transition",
        "The status is already final ('success') and cannot become 'failure'. "
        "Only a 'pending' record may change status.",
        {"current_status": "success", "requested_status": "failure"},
        {},
    ),
    (
        lambda: errors.DatabaseUnavailable(),
        503,
        "database_unavailable",
        "The database is unavailable right now. Retry shortly.",
        None,
        {"retry-after": "5"},
    ),
    (
        lambda: errors.DatabaseUnavailable("The pool is exhausted."),
        503,
        "database_unavailable",
        "The pool is exhausted.",
        None,
        {"retry-after": "5"},
    ),
    (
        lambda: errors.PayloadTooLarge(2048),
        413,
        "payload_too_large",
        "The request body is larger than the limit of 2048 bytes.",
        {"limit_bytes": 2048},
        {"connection": "close"},
    ),
    (
        lambda: errors.UnsupportedMediaType(),
        415,
        "unsupported_media_type",
        "Send the body as JSON with 'Content-Type: application/json'.",
        None,
        {},
    ),
    (
        lambda: errors.UnexpectedError("req-9"),
        500,
        "internal_error",
        "An unexpected error occurred. Quote the request id when reporting it.",
        {"request_id": "req-9"},
        {},
    ),
    (
        lambda: errors.AINotConfigured(),
        503,
        "ai_not_configured",
        "AI features are not configured on this server (no OPENAI_API_KEY).",
        None,
        {},
    ),
    (
        lambda: errors.AIRateLimited("17"),
        429,
        "ai_rate_limited",
        "The AI service is rate-limiting this server. Retry later.",
        None,
        {"retry-after": "17"},
    ),
    (
        lambda: errors.AIRateLimited(None),
        429,
        "ai_rate_limited",
        "The AI service is rate-limiting this server. Retry later.",
        None,
        {},
    ),
    (
        lambda: errors.AIUnavailable(),
        503,
        "ai_unavailable",
        "The AI service is unreachable, timed out, or failing. Retry shortly.",
        None,
        {"retry-after": "5"},
    ),
    (
        lambda: errors.AIUnavailable("The AI service timed out.", retry_after="30"),
        503,
        "ai_unavailable",
        "The AI service timed out.",
        None,
        {"retry-after": "30"},
    ),
    (
        lambda: errors.AuthenticationRequired(),
        401,
        "authentication_required",
        "This route needs an API key: send 'Authorization: Bearer <key>'.",
        None,
        {"www-authenticate": 'Bearer realm="api"'},
    ),
    (
        lambda: errors.InvalidApiKey(),
        401,
        "invalid_api_key",
        "The API key is malformed, unknown or revoked.",
        None,
        {"www-authenticate": 'Bearer realm="api", error="invalid_token"'},
    ),
    (
        lambda: errors.InsufficientScope(["audits:read", "audits:write"], ["audits:write"]),
        403,
        "insufficient_scope",
        "This API key lacks the scope(s) this route needs: audits:write.",
        {"required_scopes": ["audits:read", "audits:write"], "missing_scopes": ["audits:write"]},
        {
            "www-authenticate": 'Bearer realm="api", error="insufficient_scope", '
            'scope="audits:read audits:write"'
        },
    ),
    (
        lambda: errors.InsufficientScope(["a", "b", "c"], ["b", "c"]),
        403,
        "insufficient_scope",
        "This API key lacks the scope(s) this route needs: b, c.",
        {"required_scopes": ["a", "b", "c"], "missing_scopes": ["b", "c"]},
        {"www-authenticate": 'Bearer realm="api", error="insufficient_scope", scope="a b c"'},
    ),
    (
        lambda: errors.ApiKeyNotFound("ln_abc"),
        404,
        "api_key_not_found",
        "No API key has the prefix 'ln_abc'.",
        {"prefix": "ln_abc"},
        {},
    ),
    (
        lambda: errors.CheckpointNotFound(None),
        404,
        "checkpoint_not_found",
        "The ledger has no checkpoint yet: nothing has been sealed.",
        {"tree_size": None},
        {},
    ),
    (
        lambda: errors.CheckpointNotFound(12),
        404,
        "checkpoint_not_found",
        "There is no checkpoint for tree size 12.",
        {"tree_size": 12},
        {},
    ),
    (
        lambda: errors.ProofNotFound(5, 9, 7),
        404,
        "proof_not_found",
        "There is no consistency proof from tree size 5 to 9: it needs "
        "first <= second <= the latest tree size, 7.",
        {"first": 5, "second": 9, "latest_tree_size": 7},
        {},
    ),
]


@pytest.fixture
async def raising_client():
    """A fresh app whose routes raise what a test names, as the real routes would; one per
    test, so that each also proves `create_app` installs the handlers it relies on."""
    from app import create_app

    app = create_app()
    raised = {}

    @app.get("/raise/{key}")
    async def raise_it(key: str):
        raise raised[key]

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        client.raised = raised
        yield client


async def answer_to(client, error: Exception) -> httpx.Response:
    key = uuid.uuid4().hex
    client.raised[key] = error
    return await client.get(f"/raise/{key}")


@pytest.mark.parametrize(
    ("error", "status", "code", "message", "details", "headers"),
    CATALOGUE,
    ids=[f"{entry[2]}-{n}" for n, entry in enumerate(CATALOGUE)],
)
async def test_each_error_answers_its_status_code_message_details_and_headers(
    raising_client, error, status, code, message, details, headers
):
    response = await answer_to(raising_client, error())

    body = assert_error(response, status, code)
    assert body == {"error": code, "message": message, "details": details}
    for name, value in headers.items():
        assert response.headers[name] == value
    for name in {"retry-after", "www-authenticate", "connection"} - set(headers):
        assert name not in response.headers


async def test_an_http_error_without_a_code_of_its_own_keeps_its_detail_and_headers(
    raising_client,
):
    teapot = HTTPException(418, "short and stout", {"X-Pot": "1"})
    response = await answer_to(raising_client, teapot)

    assert response.status_code == 418
    assert response.json() == {"error": "http_error", "message": "short and stout", "details": None}
    assert response.headers["x-pot"] == "1"


@pytest.mark.parametrize(("status", "code"), [(400, "bad_request"), (406, "not_acceptable")])
async def test_an_http_error_with_a_code_of_its_own_is_named_by_it(raising_client, status, code):
    response = await answer_to(raising_client, HTTPException(status, "as raised"))
    assert response.json() == {"error": code, "message": "as raised", "details": None}


async def test_an_unknown_route_says_where_the_routes_are(client):
    response = await client.get("/api/v1/nothing-here")
    assert response.json() == {
        "error": "not_found",
        "message": "There is no route /api/v1/nothing-here. See /docs for the routes.",
        "details": None,
    }


async def test_a_wrong_method_names_the_methods_to_use(client):
    response = await client.patch(AUDITS)
    assert response.json() == {
        "error": "method_not_allowed",
        "message": f"PATCH is not allowed on {AUDITS}; use GET, POST.",
        "details": None,
    }


async def test_a_wrong_method_names_each_method_once_when_the_route_names_several(client):
    """Starlette's own routes (the OpenAPI document) name all their methods in the 405 they
    raise; `Allow` lists each once."""
    response = await client.post("/openapi.json")
    assert response.headers["allow"] == "GET, HEAD"
    assert response.json()["message"] == "POST is not allowed on /openapi.json; use GET, HEAD."


async def test_malformed_json_names_the_reason_and_the_position(client):
    response = await client.post(
        AUDITS, content=b'{"action_type": }', headers={"content-type": "application/json"}
    )

    body = assert_error(response, 422, "validation_error")
    assert body["message"] == "The request has 1 invalid field(s); see validation_errors."
    assert body["validation_errors"] == [
        {"field": "body", "message": "Malformed JSON: Expecting value at position 16"}
    ]


async def test_an_unparseable_body_is_malformed_json(client):
    response = await client.post(
        AUDITS, content=b'{"a": "\xff"}', headers={"content-type": "application/json"}
    )
    assert response.json() == {
        "error": "validation_error",
        "message": "The request body is not valid JSON.",
        "details": None,
        "validation_errors": [{"field": "body", "message": "The body could not be parsed."}],
    }


async def test_every_invalid_field_is_named_by_its_path(client, entity_id):
    body = {"records": [audit_body(entity_id), audit_body(entity_id, entity_type="", bogus=1)]}

    response = await client.post(f"{AUDITS}/batch", json=body)

    answer = assert_error(response, 422, "validation_error")
    assert answer["message"] == "The request has 2 invalid field(s); see validation_errors."
    fields = [problem["field"] for problem in answer["validation_errors"]]
    assert fields == ["body.records[1].entity_type", "body.records[1].bogus"]
    assert all(problem["message"] for problem in answer["validation_errors"])


async def test_a_problem_with_no_location_is_about_the_request(raising_client):
    problem = {"type": "value_error", "loc": (), "msg": "Value error, nothing fits"}
    response = await answer_to(raising_client, RequestValidationError([problem]))

    assert response.json()["validation_errors"] == [
        {"field": "request", "message": "Value error, nothing fits"}
    ]


async def test_a_repeated_query_parameter_is_refused_with_its_name_and_why(client):
    response = await client.get(AUDITS, params=[("limit", "5"), ("status", "a"), ("status", "b")])

    body = assert_error(response, 422, "validation_error")
    assert body["validation_errors"] == [
        {
            "field": "query.status",
            "message": "Value error, given more than once: send each query parameter once",
        }
    ]


async def test_a_parameter_repeated_with_an_empty_value_is_refused_on_any_path(client):
    # Refused before routing, so on every path; an empty value is a value all the same.
    response = await client.get("/health?probe=&probe=1")

    body = assert_error(response, 422, "validation_error")
    assert [problem["field"] for problem in body["validation_errors"]] == ["query.probe"]


async def test_distinct_query_parameters_are_not_repeated_ones(client, entity_id):
    response = await client.get(
        AUDITS, params={"entity_id": str(entity_id), "status": "success", "limit": 5}
    )
    assert response.status_code == 200
