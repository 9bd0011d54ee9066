import asyncio
import json
import uuid

import pytest

from audits.schemas import AuditFilters
from harness.fake_openai import not_json, ok
from tests.ai.conftest import ai_settings, client_for, ledger
from tests.helpers import assert_error, create_audit

SUMMARY = "/api/v1/ai/audits/summary"
SEARCH = "/api/v1/ai/audits/search"


def filters(**chosen) -> str:
    """What the model answers: every list filter, null unless chosen."""
    return json.dumps({name: chosen.get(name) for name in AuditFilters.model_fields})


async def test_summary_sends_records_without_personal_data_and_cites_only_inputs(
    ai_client, fake_openai, entity_id, request_id, db
):
    records = [
        await create_audit(
            ai_client,
            entity_id,
            ip_address="198.51.100.23",
            user_agent="SecretBrowser/9.9",
            status=s,
        )
        for s in ("success", "failure", "pending")
    ]
    invented = str(uuid.uuid4())
    fake_openai.script(
        ok(json.dumps({"summary": "Three changes.", "cited_ids": [records[1]["id"], invented]}))
    )

    response = await ai_client.post(
        SUMMARY, json={"entity_id": str(entity_id)}, headers={"X-Request-ID": request_id}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["summary"] == "Three changes."
    assert body["record_count"] == 3
    assert body["cited_ids"] == [records[1]["id"]]
    assert body["model"] == "gpt-test" and body["usage"]["total_tokens"] == 18
    sent = fake_openai.requests[-1]
    prompt = json.dumps(sent["messages"])
    for record in records:
        assert record["id"] in prompt
    assert "198.51.100.23" not in prompt and "SecretBrowser" not in prompt
    assert "ip_address" not in prompt and "user_agent" not in prompt
    assert sent["response_format"]["type"] == "json_schema"
    assert [r["operation"] for r in await ledger(db, request_id)] == ["audit_summary"]


async def test_summary_takes_the_newest_max_records(ai_client, fake_openai, entity_id):
    created = [await create_audit(ai_client, entity_id) for _ in range(4)]
    fake_openai.script(ok(json.dumps({"summary": "s", "cited_ids": []})))

    body = (
        await ai_client.post(SUMMARY, json={"entity_id": str(entity_id), "max_records": 2})
    ).json()

    assert body["record_count"] == 2
    prompt = fake_openai.requests[-1]["messages"][-1]["content"]
    assert created[3]["id"] in prompt and created[2]["id"] in prompt
    assert created[0]["id"] not in prompt


async def test_summary_of_nothing_says_so_without_calling_the_model(ai_client, fake_openai):
    response = await ai_client.post(SUMMARY, json={"entity_id": str(uuid.uuid4())})

    body = response.json()
    assert response.status_code == 200
    assert body["record_count"] == 0 and body["cited_ids"] == [] and body["model"] is None
    assert "No audit records" in body["summary"]
    assert fake_openai.requests == []


@pytest.mark.parametrize(
    "body", [{"max_records": 201}, {"max_records": 0}, {"status": "x"}, {"ip_address": "1.2.3.4"}]
)
async def test_summary_input_is_validated(ai_client, body):
    assert_error(await ai_client.post(SUMMARY, json=body), 422, "validation_error")


async def test_summary_that_is_not_json_is_502(ai_client, fake_openai, entity_id, request_id, db):
    await create_audit(ai_client, entity_id)
    fake_openai.script(not_json())

    response = await ai_client.post(
        SUMMARY, json={"entity_id": str(entity_id)}, headers={"X-Request-ID": request_id}
    )

    assert_error(response, 502, "ai_bad_response")
    assert [(r["status"], r["error_code"]) for r in await ledger(db, request_id)] == [
        ("failure", "ai_bad_response")
    ]


async def test_search_runs_the_filters_the_model_chose(ai_client, fake_openai, entity_id):
    wanted = await create_audit(ai_client, entity_id, action_type="login", status="failure")
    await create_audit(ai_client, entity_id, action_type="login", status="success")
    fake_openai.script(ok(filters(entity_id=str(entity_id), action_type="login", status="failure")))

    response = await ai_client.post(SEARCH, json={"question": "failed logins on that entity"})

    assert response.status_code == 200
    body = response.json()
    assert body["filters"]["status"] == "failure" and body["filters"]["action_type"] == "login"
    assert [item["id"] for item in body["items"]] == [wanted["id"]]
    assert body["total"] == 1 and body["limit"] == 20 and body["offset"] == 0
    sent = fake_openai.requests[-1]
    assert sent["messages"][-1]["content"] == "failed logins on that entity"
    assert sent["response_format"]["json_schema"]["name"] == "audit_filters"


@pytest.mark.parametrize(
    "proposal",
    [
        filters(status="exploded"),
        filters(action_type="drop table"),
        filters(entity_id="'; DROP TABLE audit; --"),
        filters(created_after="last tuesday"),
        filters(created_after="2025-01-01T00:00:00"),  # no offset
        json.dumps({"sql": "SELECT * FROM audit"}),
        json.dumps(["not", "an", "object"]),
    ],
)
async def test_search_never_runs_filters_that_fail_validation(ai_client, fake_openai, db, proposal):
    fake_openai.script(ok(proposal))
    async with db.transaction():
        # Any query on `audit` would now wait for this lock (and time out as a 503): a prompt
        # 502 shows the refused filters never reached the database.
        await db.execute("LOCK TABLE audit IN ACCESS EXCLUSIVE MODE")
        response = await asyncio.wait_for(
            ai_client.post(SEARCH, json={"question": "anything"}), timeout=3
        )

    body = assert_error(response, 502, "ai_bad_response")
    assert "items" not in body
    assert await db.fetchval("SELECT to_regclass('audit') IS NOT NULL")


async def test_search_passes_odd_text_only_as_a_parameter(ai_client, fake_openai, entity_id):
    odd = f"{uuid.uuid4().hex}' OR '1'='1"
    others = [await create_audit(ai_client, entity_id) for _ in range(2)]  # injection would match
    exact = await create_audit(ai_client, entity_id, entity_type=odd)
    fake_openai.script(ok(filters(entity_type=odd)))

    response = await ai_client.post(SEARCH, json={"question": "tricky"})

    assert response.status_code == 200
    body = response.json()
    assert [item["id"] for item in body["items"]] == [exact["id"]]
    assert body["total"] == 1 and others


async def test_usage_totals_calls_failures_tokens_and_latency(ai_client, fake_openai, client):
    from datetime import UTC, datetime

    since = datetime.now(UTC).isoformat()
    fake_openai.script(ok("a"), ok("b"))
    await ai_client.post("/api/v1/ai/chat", json={"messages": [{"role": "user", "content": "1"}]})
    await ai_client.post("/api/v1/ai/chat", json={"messages": [{"role": "user", "content": "2"}]})
    fake_openai.script(ok("not json"))
    await ai_client.post(SEARCH, json={"question": "q"})

    # Read it through the app without a key: usage needs no OpenAI access.
    report = (await client.get("/api/v1/ai/usage", params={"since": since})).json()

    by_operation = {row["operation"]: row for row in report["operations"]}
    chat = by_operation["chat"]
    assert (chat["calls"], chat["failures"], chat["total_tokens"]) == (2, 0, 36)
    assert 0 < chat["latency_ms"]["p50"] <= chat["latency_ms"]["p95"]
    search = by_operation["audit_search"]
    assert (search["calls"], search["failures"]) == (1, 1)
    empty = await client.get("/api/v1/ai/usage", params={"until": "2000-01-01T00:00:00Z"})
    assert empty.json()["operations"] == []
    assert_error(
        await client.get("/api/v1/ai/usage", params={"since": "x"}), 422, "validation_error"
    )


async def test_search_asks_the_model_for_exactly_the_list_filters(ai_client, fake_openai):
    fake_openai.script(ok(filters()))

    await ai_client.post(SEARCH, json={"question": "anything"})

    schema = fake_openai.requests[-1]["response_format"]["json_schema"]["schema"]
    assert schema["required"] == list(AuditFilters.model_fields)
    assert list(schema["properties"]) == list(AuditFilters.model_fields)


async def test_search_totals_follow_the_settings_the_app_was_built_with(
    ai_client, fake_openai, entity_id
):
    for _ in range(3):
        await create_audit(ai_client, entity_id)
    question = {"question": "everything on that entity"}

    fake_openai.script(ok(filters(entity_id=str(entity_id))))
    default = (await ai_client.post(SEARCH, json=question)).json()
    async for capped_client in client_for(
        ai_settings(fake_openai.base_url, list_exact_total_up_to=1)
    ):
        fake_openai.script(ok(filters(entity_id=str(entity_id))))
        capped = (await capped_client.post(SEARCH, json=question)).json()

    assert (default["total"], default["total_is_estimate"]) == (3, False)
    assert capped["total_is_estimate"] is True and capped["items"] == default["items"]


async def test_a_boolean_is_not_a_number_in_an_ai_body(ai_client):
    # Found by schemathesis's random seed: `"limit": true` used to be read as 1.
    answer = await ai_client.post(
        "/api/v1/ai/audits/search", json={"question": "anything", "limit": True}
    )
    assert answer.status_code == 422
    assert answer.json()["validation_errors"][0]["field"] == "body.limit"
