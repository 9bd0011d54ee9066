"""Every /api/v1 route, times every kind of caller: the exact status and error code.

The routes come from the app itself, so a route added later without a scope fails here.
"""

from __future__ import annotations

import uuid

import pytest
from fastapi import APIRouter
from fastapi.routing import iter_route_contexts

from access.auth import acting, every_route_guarded, require
from access.keys import SCOPES, mint_key
from tests.access.conftest import auth_settings, bearer
from tests.helpers import assert_error

# The contract: the scopes each operation needs. A new route must be added here.
REQUIRED_SCOPES = {
    ("POST", "/api/v1/audits"): ["audits:write"],
    ("POST", "/api/v1/audits/batch"): ["audits:write"],
    ("GET", "/api/v1/audits"): ["audits:read"],
    ("GET", "/api/v1/audits/export"): ["audits:read"],
    ("GET", "/api/v1/audits/stats"): ["audits:read"],
    ("GET", "/api/v1/audits/{audit_id}"): ["audits:read"],
    ("PUT", "/api/v1/audits/{audit_id}"): ["audits:write"],
    ("DELETE", "/api/v1/audits/{audit_id}"): ["audits:delete"],
    ("POST", "/api/v1/ai/chat"): ["ai"],
    ("POST", "/api/v1/ai/audits/summary"): ["ai", "audits:read"],
    ("POST", "/api/v1/ai/audits/search"): ["ai", "audits:read"],
    ("GET", "/api/v1/ai/usage"): ["admin"],
    ("POST", "/api/v1/access/keys"): ["admin"],
    ("GET", "/api/v1/access/keys"): ["admin"],
    ("POST", "/api/v1/access/keys/{prefix}/revoke"): ["admin"],
    ("GET", "/api/v1/ledger/checkpoint"): ["audits:read"],
    ("GET", "/api/v1/ledger/public-key"): ["audits:read"],
    ("GET", "/api/v1/ledger/consistency"): ["audits:read"],
    ("GET", "/api/v1/ledger/entries"): ["audits:read"],
    ("GET", "/api/v1/audits/{audit_id}/proof"): ["audits:read"],
}
OPEN_PATHS = ["/", "/health", "/health/db", "/docs", "/redoc", "/openapi.json"]
# The trail viewer's page is open; the API calls it makes need a key like any other client.
OPEN_PATHS += ["/ui", "/ui/", "/ui/{view:path}"]
PATH_VALUES = {"audit_id": str(uuid.uuid4()), "prefix": "000000000000"}


def _app_routes() -> list[tuple[str, str]]:
    from app import create_app

    app = create_app(auth_settings())
    return sorted(
        (method, context.path)
        for context in iter_route_contexts(app.routes)
        for method in context.methods or ()
        if method != "HEAD"
    )


APP_ROUTES = _app_routes()
API_ROUTES = [route for route in APP_ROUTES if route[1].startswith("/api/")]


def _call(client, method: str, path: str, headers: dict[str, str] | None = None):
    url = path.format(**PATH_VALUES)
    body = {"json": {}} if method in {"POST", "PUT"} else {}
    return client.request(method, url, headers=headers or {}, **body)


def test_every_api_route_has_a_declared_scope_and_every_other_route_is_open():
    assert sorted(REQUIRED_SCOPES) == API_ROUTES
    assert sorted(path for _, path in APP_ROUTES if not path.startswith("/api/")) == sorted(
        OPEN_PATHS
    )


@pytest.mark.parametrize("path", OPEN_PATHS)
async def test_open_routes_need_no_key(auth_client, path):
    response = await auth_client.get(path)
    assert response.status_code == 200, response.text


ROUTE_IDS = [f"{method} {path}" for method, path in API_ROUTES]


@pytest.mark.parametrize(("method", "path"), API_ROUTES, ids=ROUTE_IDS)
async def test_no_key_is_401_authentication_required(auth_client, method, path):
    response = await _call(auth_client, method, path)
    assert_error(response, 401, "authentication_required")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "error=" not in response.headers["www-authenticate"]  # RFC 6750 §3.1


WRITES = [(method, path) for method, path in API_ROUTES if method in {"POST", "PUT"}]


@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
async def test_without_a_key_a_bad_body_is_401_not_a_validation_answer(auth_client, method, path):
    # The key is checked before the request is validated: a stranger learns nothing of
    # what a body should hold.
    url = path.format(**PATH_VALUES)
    response = await auth_client.request(method, url, json={"bogus": [1, {"x": None}]})
    assert_error(response, 401, "authentication_required")


MALFORMED = [
    "Bearer",
    "Bearer ",
    "Bearer not-a-key",
    "Basic dXNlcjpwYXNz",
    "lnk_0123456789ab_" + "A" * 43,  # no scheme
    "Bearer lnk_0123456789ab_" + "A" * 42,  # secret one character short
    "Bearer lnk_0123456789AB_" + "A" * 43,  # prefix not lower-case hex
    "Bearer sk_0123456789ab_" + "A" * 43,
]


@pytest.mark.parametrize(("method", "path"), API_ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize("header", MALFORMED)
async def test_malformed_header_is_401_invalid_api_key(auth_client, method, path, header):
    response = await _call(auth_client, method, path, {"Authorization": header})
    assert_error(response, 401, "invalid_api_key")
    assert response.headers["www-authenticate"] == 'Bearer realm="api", error="invalid_token"'


@pytest.mark.parametrize(("method", "path"), API_ROUTES, ids=ROUTE_IDS)
async def test_unknown_key_is_401_invalid_api_key(auth_client, method, path):
    response = await _call(auth_client, method, path, bearer(mint_key().key))
    assert_error(response, 401, "invalid_api_key")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


@pytest.mark.parametrize(("method", "path"), API_ROUTES, ids=ROUTE_IDS)
async def test_known_prefix_with_a_wrong_secret_is_401(auth_client, mint, method, path):
    key = await mint(*SCOPES)
    forged = key[:-43] + mint_key().key[-43:]
    response = await _call(auth_client, method, path, bearer(forged))
    assert_error(response, 401, "invalid_api_key")


@pytest.mark.parametrize(("method", "path"), API_ROUTES, ids=ROUTE_IDS)
async def test_revoked_key_is_401_invalid_api_key(auth_client, mint, method, path):
    key = await mint(*SCOPES, revoked=True)
    response = await _call(auth_client, method, path, bearer(key))
    assert_error(response, 401, "invalid_api_key")


@pytest.mark.parametrize(("method", "path"), API_ROUTES, ids=ROUTE_IDS)
async def test_key_without_a_needed_scope_is_403_naming_it(auth_client, mint, method, path):
    required = REQUIRED_SCOPES[(method, path)]
    for missing in required:
        key = await mint(*(scope for scope in SCOPES if scope != missing))
        response = await _call(auth_client, method, path, bearer(key))
        body = assert_error(response, 403, "insufficient_scope")
        assert body["details"] == {"required_scopes": required, "missing_scopes": [missing]}
        assert missing in body["message"]
        assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


@pytest.mark.parametrize(("method", "path"), API_ROUTES, ids=ROUTE_IDS)
async def test_key_with_exactly_the_scopes_gets_through(auth_client, mint, method, path):
    key = await mint(*REQUIRED_SCOPES[(method, path)])
    response = await _call(auth_client, method, path, bearer(key))
    # Past the guard: the route's own answer (a 404 or 422 for these placeholder inputs).
    assert response.status_code not in (401, 403), response.text


async def test_with_auth_off_no_key_is_needed_and_a_bad_one_is_ignored():
    import httpx

    from app import create_app

    app = create_app(auth_settings(auth_required=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/api/v1/audits")).status_code == 200
            response = await client.get("/api/v1/access/keys", headers={"Authorization": "x"})
            assert response.status_code == 200


async def test_openapi_declares_the_bearer_scheme_and_each_operations_scopes(auth_client):
    spec = (await auth_client.get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "lnk_<prefix>_<secret>",
        "description": "An API key `lnk_<prefix>_<secret>`, from `piccolo access create_key`.",
    }
    for (method, path), scopes in REQUIRED_SCOPES.items():
        operation = spec["paths"][path][method.lower()]
        assert operation["security"] == [{"ApiKey": scopes}], path
        assert operation["x-required-scopes"] == scopes
        assert all(f"`{scope}`" in operation["description"] for scope in scopes)
        assert {"401", "403"} <= set(operation["responses"])
    for path in ("/", "/health", "/health/db"):
        assert "security" not in spec["paths"][path]["get"]


# Module level: this module's annotations are strings, resolved in its globals.
ThingWriter = acting("audits:write")


def test_a_router_with_a_route_that_requires_no_scope_stops_start_up():
    router = APIRouter(prefix="/api/v1/things")

    @router.get("/read", dependencies=[require("audits:read")])
    async def read() -> None: ...

    @router.post("/write")
    async def write(writer: ThingWriter) -> None: ...

    assert every_route_guarded(router) is router

    @router.delete("/{thing_id}")
    async def forgot(thing_id: str) -> None: ...

    with pytest.raises(RuntimeError, match=r"DELETE /api/v1/things/\{thing_id\} requires no"):
        every_route_guarded(router)
