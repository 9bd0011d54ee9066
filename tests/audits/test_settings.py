"""The settings handed to create_app decide what its routes do, not the environment."""

import httpx
import pytest

from app import create_app
from settings import Settings
from tests.helpers import AUDITS, assert_error, audit_body, create_audit


@pytest.fixture
async def client_with():
    """A client for an app built with the given settings, its lifespan running."""
    clients = []

    async def build(**overrides) -> httpx.AsyncClient:
        app = create_app(Settings(**overrides))
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        clients.append((client, lifespan))
        return client

    yield build
    for client, lifespan in clients:
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


async def test_list_exact_total_up_to_comes_from_the_app_settings(client, client_with, entity_id):
    for _ in range(3):
        await create_audit(client, entity_id)
    params = {"entity_id": str(entity_id)}

    default = (await client.get(AUDITS, params=params)).json()
    capped = (await (await client_with(list_exact_total_up_to=1)).get(AUDITS, params=params)).json()

    assert (default["total"], default["total_is_estimate"]) == (3, False)
    assert capped["total_is_estimate"] is True and capped["total"] >= 2
    assert capped["items"] == default["items"]


async def test_max_details_bytes_comes_from_the_app_settings(client, client_with, entity_id):
    details = {"note": "x" * 2000}
    small = await client_with(max_details_bytes=1024)

    refused = await small.post(AUDITS, json=audit_body(entity_id, details=details))
    accepted = await client.post(AUDITS, json=audit_body(entity_id, details=details))
    created = await create_audit(small, entity_id, details={"note": "short"})
    refused_put = await small.put(f"{AUDITS}/{created['id']}", json={"details": details})

    problems = assert_error(refused, 422, "validation_error")["validation_errors"]
    assert problems == [
        {
            "field": "body.details",
            "message": "Value error, details is larger than 1024 bytes when serialized",
        }
    ]
    assert accepted.status_code == 201
    assert_error(refused_put, 422, "validation_error")
