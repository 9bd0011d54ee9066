"""The admin routes for keys, the verified-key cache, and last_used_at bookkeeping."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from access import queries
from access.keys import SCOPES, split_key
from tests.access.conftest import KEY_SHAPE, auth_settings, bearer
from tests.helpers import assert_error

KEYS = "/api/v1/access/keys"


async def test_create_shows_the_key_once_and_it_works_at_once(auth_client, admin_key, db):
    response = await auth_client.post(
        KEYS, json={"name": "billing", "scopes": ["audits:read"]}, headers=bearer(admin_key)
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert KEY_SHAPE.match(created["key"])
    prefix, secret = split_key(created["key"])
    assert created["prefix"] == prefix
    assert created["scopes"] == ["audits:read"]
    assert created["revoked_at"] is None and created["last_used_at"] is None

    assert (
        await auth_client.get("/api/v1/audits", headers=bearer(created["key"]))
    ).status_code == 200
    listed = await auth_client.get(KEYS, headers=bearer(admin_key))
    assert secret not in listed.text and created["key"] not in listed.text
    (item,) = [item for item in listed.json()["items"] if item["prefix"] == prefix]
    assert "key" not in item and "secret_hash" not in item
    assert item["name"] == "billing"
    stored = await db.fetchval(
        "SELECT row_to_json(api_key)::text FROM api_key WHERE prefix = $1", prefix
    )
    assert secret not in stored


async def test_all_grants_every_scope(auth_client, admin_key):
    response = await auth_client.post(
        KEYS, json={"name": "everything", "scopes": ["all"]}, headers=bearer(admin_key)
    )
    assert response.json()["scopes"] == list(SCOPES)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": ["audits:admin"]},
        {"name": "x", "scopes": []},
        {"name": "   ", "scopes": ["ai"]},
        {"name": "a\u0000b", "scopes": ["ai"]},
        {"name": "x", "scopes": ["ai"], "key": "lnk_chosen"},
    ],
)
async def test_a_bad_create_is_a_422(auth_client, admin_key, body):
    response = await auth_client.post(KEYS, json=body, headers=bearer(admin_key))
    assert_error(response, 422, "validation_error")


async def test_revoke_applies_at_once_in_this_process_and_keeps_the_first_time(
    auth_client, admin_key, mint
):
    key = await mint("audits:read")
    prefix, _ = split_key(key)
    assert (await auth_client.get("/api/v1/audits", headers=bearer(key))).status_code == 200

    revoked = await auth_client.post(f"{KEYS}/{prefix}/revoke", headers=bearer(admin_key))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert_error(
        await auth_client.get("/api/v1/audits", headers=bearer(key)), 401, "invalid_api_key"
    )
    again = await auth_client.post(f"{KEYS}/{prefix}/revoke", headers=bearer(admin_key))
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]


async def test_revoking_an_unknown_prefix_is_a_404(auth_client, admin_key):
    response = await auth_client.post(f"{KEYS}/0123456789ab/revoke", headers=bearer(admin_key))
    body = assert_error(response, 404, "api_key_not_found")
    assert body["details"] == {"prefix": "0123456789ab"}


async def _client(settings):
    from app import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


TTL_S = 2.0


@pytest.fixture
async def short_ttl_client(auth_app):
    async for client in _client(auth_settings(auth_cache_ttl_s=TTL_S)):
        yield client


async def test_a_revocation_elsewhere_is_seen_within_the_cache_ttl(short_ttl_client, mint):
    key = await mint("audits:read")
    assert (await short_ttl_client.get("/api/v1/audits", headers=bearer(key))).status_code == 200
    await queries.revoke_key(split_key(key)[0])  # as another process (or the CLI) would
    revoked_at = time.monotonic()
    # Still trusted from the cache for a moment: that is the documented trade-off ...
    assert (await short_ttl_client.get("/api/v1/audits", headers=bearer(key))).status_code == 200
    # ... and refused once the cached entry is older than the TTL.
    statuses = []
    while time.monotonic() - revoked_at < TTL_S + 0.3:
        response = await short_ttl_client.get("/api/v1/audits", headers=bearer(key))
        statuses.append((round(time.monotonic() - revoked_at, 2), response.status_code))
        await asyncio.sleep(0.05)
    refused = [at for at, status in statuses if status == 401]
    assert refused and refused[0] <= TTL_S + 0.1, statuses
    assert all(status == 401 for at, status in statuses if at >= refused[0]), statuses


async def test_last_used_at_is_written_once_a_minute_not_per_request(auth_app, mint, db):
    key = await mint("audits:read")
    prefix, _ = split_key(key)
    async for client in _client(auth_settings(auth_cache_ttl_s=0)):  # every request looks up
        await client.get("/api/v1/audits", headers=bearer(key))
        first = None
        for _ in range(50):
            first = await db.fetchval("SELECT last_used_at FROM api_key WHERE prefix = $1", prefix)
            if first:
                break
            await asyncio.sleep(0.02)
        assert first is not None
        for _ in range(5):
            await client.get("/api/v1/audits", headers=bearer(key))
        await asyncio.sleep(0.2)
        assert (
            await db.fetchval("SELECT last_used_at FROM api_key WHERE prefix = $1", prefix) == first
        )
