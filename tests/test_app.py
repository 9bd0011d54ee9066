import json
import logging
import re
import uuid
from datetime import datetime

import httpx
import pytest

from tests.helpers import AUDITS, assert_error, audit_body


async def test_index_names_the_service_and_links_the_docs(client):
    body = (await client.get("/")).json()
    assert body["name"] == "Looped Needle API"
    assert body["version"]
    assert body["links"] == {"docs": "/docs", "redoc": "/redoc", "openapi": "/openapi.json"}
    assert body["routes"] == ["/health", "/health/db", "/api/v1/audits", "/api/v1/ai"]


async def test_every_route_the_index_lists_is_in_the_openapi_document(client):
    documented = (await client.get("/openapi.json")).json()["paths"]
    for listed in (await client.get("/")).json()["routes"]:
        assert any(path.startswith(listed) for path in documented), listed


async def test_health_is_healthy_with_a_utc_timestamp(client):
    response = await client.get("/health")
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"status", "timestamp", "version"}
    assert body["status"] == "healthy"
    assert datetime.fromisoformat(body["timestamp"]).utcoffset().total_seconds() == 0


# What both probes write: UTC, microseconds always present, the offset spelled out.
HEALTH_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$")


async def test_health_and_health_db_write_timestamps_in_one_format(client):
    stamps = [(await client.get(path)).json()["timestamp"] for path in ("/health", "/health/db")]
    for stamp in stamps:
        assert HEALTH_TIMESTAMP.match(stamp), stamp
    assert stamps[0] <= stamps[1]  # one format, so they also sort as text


async def test_health_db_reports_the_database_check_with_latency(client):
    response = await client.get("/health/db")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "healthy"
    assert body["checks"]["database"]["status"] == "healthy"
    assert body["checks"]["database"]["latency_ms"] >= 0
    assert set(body["checks"]["database"]) == {"status", "latency_ms"}  # no empty message


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_interactive_docs_are_served(client, path):
    response = await client.get(path)
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]


async def test_openapi_document_is_3_1(client):
    body = (await client.get("/openapi.json")).json()
    assert body["openapi"].startswith("3.1")
    assert "/api/v1/audits/{audit_id}" in body["paths"]


async def test_unknown_route_is_404_not_found(client):
    assert_error(await client.get("/api/v1/nothing-here"), 404, "not_found")


async def test_wrong_method_is_405_method_not_allowed(client):
    assert_error(await client.patch(f"{AUDITS}/{uuid.uuid4()}"), 405, "method_not_allowed")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", AUDITS, "GET, POST"),
        ("PATCH", AUDITS, "GET, POST"),
        ("PATCH", f"{AUDITS}/{uuid.UUID(int=7)}", "GET, PUT, DELETE"),
        ("POST", "/health", "GET"),
        ("DELETE", "/docs-assets/swagger-ui.css", "GET, HEAD"),
    ],
)
async def test_405_allow_lists_every_method_of_the_path(client, method, path, allow):
    response = await client.request(method, path)
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == allow
    assert allow in response.json()["message"]


async def test_request_id_is_echoed_when_given(client):
    response = await client.get("/health", headers={"X-Request-ID": "trace-abc.123"})
    assert response.headers["x-request-id"] == "trace-abc.123"


async def test_request_id_is_generated_when_missing_or_unsafe(client):
    plain = await client.get("/health")
    again = await client.get("/health")
    unsafe = await client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    too_long = await client.get("/health", headers={"X-Request-ID": "a" * 129})
    generated = [r.headers["x-request-id"] for r in (plain, again, unsafe, too_long)]
    for request_id in generated:
        assert re.fullmatch(r"[0-9a-f]{32}", request_id), request_id
    assert len(set(generated)) == 4  # fresh each time, never a constant or the unsafe input


async def test_cors_allows_every_origin(client):
    response = await client.options(
        AUDITS,
        headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] in ("*", "https://example.org")


async def test_answers_vary_by_origin_whether_or_not_the_request_has_one(client):
    # A shared cache must not hand an answer made for a server (no CORS headers) to a browser.
    from_a_server = await client.get("/health")
    from_a_browser = await client.get("/health", headers={"Origin": "https://example.org"})

    assert "access-control-allow-origin" not in from_a_server.headers
    assert from_a_server.headers.get_list("vary") == ["Origin"]
    assert from_a_browser.headers["access-control-allow-origin"] == "*"
    assert "Origin" in from_a_browser.headers["vary"]


async def test_a_refusal_before_the_app_is_readable_by_a_browser_and_varies_by_origin(client):
    # The body checks answer before FastAPI runs; CORS sits outside them, so a page's script
    # can still read why its upload was refused.
    sent = {"content": b"x", "headers": {"Content-Type": "text/plain"}}
    from_a_server = await client.post(AUDITS, **sent)
    from_a_browser = await client.post(
        AUDITS, content=b"x", headers={**sent["headers"], "Origin": "https://example.org"}
    )

    assert from_a_server.status_code == from_a_browser.status_code == 415
    assert from_a_server.headers.get_list("vary") == ["Origin"]
    assert from_a_browser.headers["access-control-allow-origin"] == "*"
    assert "Origin" in from_a_browser.headers["vary"]
    assert from_a_browser.headers["x-request-id"]


def valid_but_oversized(entity_id) -> bytes:
    """A create that would be stored (201) but for its size: JSON whitespace pads it past the
    1 MiB cap while `details` stays under its own 64 KiB limit."""
    return json.dumps(audit_body(entity_id)).encode() + b" " * (1024 * 1024 + 1)


async def test_body_over_the_limit_is_413_by_content_length(client, entity_id, db):
    response = await client.post(
        AUDITS, content=valid_but_oversized(entity_id), headers={"content-type": "application/json"}
    )
    assert_error(response, 413, "payload_too_large")
    assert await db.fetchval("SELECT count(*) FROM audit WHERE entity_id = $1", entity_id) == 0


async def test_body_over_the_limit_is_413_without_content_length(client, entity_id, db):
    body = valid_but_oversized(entity_id)

    async def chunks():
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    response = await client.post(
        AUDITS, content=chunks(), headers={"content-type": "application/json"}
    )

    assert_error(response, 413, "payload_too_large")
    assert await db.fetchval("SELECT count(*) FROM audit WHERE entity_id = $1", entity_id) == 0


async def test_a_body_just_under_the_limit_is_stored(client, entity_id, db):
    """The two tests above would pass for any refusal: this one shows the same body, minus
    the padding that crosses the cap, is a 201."""
    body = valid_but_oversized(entity_id)[: 1024 * 1024 - 1]
    response = await client.post(AUDITS, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 201
    assert await db.fetchval("SELECT count(*) FROM audit WHERE entity_id = $1", entity_id) == 1


@pytest.fixture(scope="module")
async def failing_client():
    """A separate app instance with one route that fails the way a bug would."""
    from app import create_app

    broken = create_app()

    @broken.get("/boom")
    async def boom():
        raise RuntimeError("secret detail: password=hunter2 SELECT * FROM audit")

    transport = httpx.ASGITransport(app=broken, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_unexpected_errors_are_500_with_request_id_and_nothing_internal(
    failing_client, caplog
):
    with caplog.at_level(logging.ERROR):
        response = await failing_client.get("/boom", headers={"X-Request-ID": "req-500"})

    body = assert_error(response, 500, "internal_error")
    assert body["details"] == {"request_id": "req-500"}
    text = response.text
    for leak in ("hunter2", "SELECT", "Traceback", "RuntimeError", "boom"):
        assert leak not in text
    # The traceback goes to the log, findable by the request id.
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == "req-500"]
    assert any(r.exc_info for r in logged)


async def test_every_request_writes_one_json_access_line(capsys):
    from app import create_app

    instance = create_app()
    transport = httpx.ASGITransport(app=instance)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        capsys.readouterr()
        await client.get("/health", headers={"X-Request-ID": "access-1"})

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    access = [line for line in lines if line.get("logger") == "looped_needle.access"]
    assert len(access) == 1
    entry = access[0]
    assert entry["request_id"] == "access-1"
    assert entry["method"] == "GET" and entry["path"] == "/health" and entry["status"] == 200
    assert entry["duration_ms"] >= 0 and "client" in entry
    # ISO 8601 in UTC with milliseconds, the same on every line.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"]), entry["time"]
    assert (entry["level"], entry["message"]) == ("INFO", "request")


async def test_a_query_parameter_given_twice_is_refused_by_name(client):
    # Found by schemathesis's random seed: `?entity_type=a&entity_type=b` used to list by b.
    answer = await client.get(
        "/api/v1/audits", params=[("status", "success"), ("status", "failure")]
    )
    body = assert_error(answer, 422, "validation_error")
    assert body["validation_errors"][0]["field"] == "query.status"


async def test_start_up_takes_what_it_built_out_of_the_garbage_collectors_scans(app):
    # A full collection re-scanned ~130,000 start-up objects, a 40-150 ms pause of the event
    # loop under load (BENCHMARKS.md); frozen, they are never scanned again.
    import gc

    assert gc.get_freeze_count() > 50_000
