"""Cursor paging and the details filter on AI search (the model picks the filters)."""

from __future__ import annotations

import json

from audits.schemas import AuditFilters
from harness.fake_openai import ok
from tests.ai.conftest import ai_client, fake_openai, fresh_script  # noqa: F401 - fixtures
from tests.helpers import assert_error, create_audit

SEARCH = "/api/v1/ai/audits/search"


def filters(**chosen) -> str:
    return json.dumps({name: chosen.get(name) for name in AuditFilters.model_fields})


async def test_search_pages_by_cursor_with_the_models_details_filter(
    ai_client,  # noqa: F811
    fake_openai,  # noqa: F811
    entity_id,
):
    amounts = [
        (await create_audit(ai_client, entity_id, details={"field": "amount", "n": n}))["id"]
        for n in range(5)
    ]
    await create_audit(ai_client, entity_id, details={"field": "name"})
    chosen = filters(entity_id=str(entity_id), details='{"field": "amount"}')
    question = {"question": "amount changes on that entity", "limit": 2}

    seen, cursor = [], None
    for _ in range(3):
        fake_openai.script(ok(chosen))
        body = {**question, **({"cursor": cursor} if cursor else {})}
        response = await ai_client.post(SEARCH, json=body)
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
    assert seen == amounts[::-1] and cursor is None
    assert page["filters"]["details"] == '{"field":"amount"}' and page["total"] == 5

    # The model reads the question differently next time: the cursor no longer fits.
    fake_openai.script(ok(filters(entity_id=str(entity_id))))
    first = (await ai_client.post(SEARCH, json=question)).json()
    fake_openai.script(ok(chosen))
    response = await ai_client.post(SEARCH, json={**question, "cursor": first["next_cursor"]})
    body = assert_error(response, 422, "validation_error")
    assert [problem["field"] for problem in body["validation_errors"]] == ["body.cursor"]
