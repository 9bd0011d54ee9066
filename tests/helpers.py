"""Small builders shared by the tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

AUDITS = "/api/v1/audits"


def audit_body(entity_id: uuid.UUID, /, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "action_type": "update",
        "entity_type": "invoice",
        "entity_id": str(entity_id),
        "user_id": str(uuid.uuid4()),
        "details": {"field": "amount", "from": 100, "to": 120},
        "status": "success",
        "ip_address": "203.0.113.7",
        "user_agent": "billing-ui/2.4",
    }
    body.update(overrides)
    return body


async def create_audit(
    client: httpx.AsyncClient, entity_id: uuid.UUID, /, **overrides: Any
) -> dict:
    response = await client.post(AUDITS, json=audit_body(entity_id, **overrides))
    assert response.status_code == 201, response.text
    return response.json()


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    """The contract's error shape: status, code, a message, and the request id header."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert "details" in body
    assert response.headers.get("x-request-id")
    return body
