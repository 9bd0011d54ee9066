import time

import pytest

from harness.fake_openai import no_choices, ok, slow, status
from tests.ai.conftest import TEST_KEY, ledger
from tests.helpers import AUDITS, assert_error, audit_body

CHAT = "/api/v1/ai/chat"
HELLO = {"messages": [{"role": "user", "content": "hello"}]}


async def test_chat_answers_with_content_usage_and_latency(ai_client, fake_openai, request_id, db):
    fake_openai.script(ok("Hi there."))
    response = await ai_client.post(
        CHAT,
        json={
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "hello"},
            ],
            "temperature": 0.3,
            "max_tokens": 50,
        },
        headers={"X-Request-ID": request_id},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["content"] == "Hi there."
    assert body["model"] == "gpt-test"
    assert body["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    assert body["id"].startswith("chatcmpl-") and body["latency_ms"] > 0
    sent = fake_openai.requests[-1]
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["temperature"] == 0.3 and sent["max_tokens"] == 50
    assert fake_openai.authorizations[-1] == f"Bearer {TEST_KEY}"
    rows = await ledger(db, request_id)
    assert [(r["operation"], r["status"], r["prompt_tokens"]) for r in rows] == [
        ("chat", "success", 11)
    ]


async def test_chat_uses_the_model_the_consumer_names(ai_client, fake_openai):
    response = await ai_client.post(CHAT, json={**HELLO, "model": "gpt-other"})
    assert response.json()["model"] == "gpt-other"
    assert fake_openai.requests[-1]["model"] == "gpt-other"


@pytest.mark.parametrize(
    "body",
    [
        {"messages": []},
        {"messages": [{"role": "user", "content": "x"}] * 51},
        {"messages": [{"role": "user", "content": "x" * 20_000}] * 2},
        {"messages": [{"role": "wizard", "content": "x"}]},
        {"messages": [{"role": "user", "content": ""}]},
        {**HELLO, "temperature": 2.5},
        {**HELLO, "max_tokens": 0},
        {**HELLO, "model": "bad model name!"},
        {**HELLO, "stream": True},
    ],
)
async def test_chat_input_is_bounded(ai_client, fake_openai, body):
    assert_error(await ai_client.post(CHAT, json=body), 422, "validation_error")
    assert fake_openai.requests == []


async def test_rejected_credentials_are_502_and_never_echo_the_key(ai_client, fake_openai, caplog):
    for code in (401, 403):
        fake_openai.script(status(code))
        response = await ai_client.post(CHAT, json=HELLO)
        assert_error(response, 502, "ai_authentication_failed")
        assert TEST_KEY not in response.text
    assert TEST_KEY not in caplog.text


async def test_rate_limit_is_429_with_upstream_retry_after(ai_client, fake_openai, request_id, db):
    fake_openai.script(status(429, **{"Retry-After": "17"}))
    response = await ai_client.post(CHAT, json=HELLO, headers={"X-Request-ID": request_id})

    assert_error(response, 429, "ai_rate_limited")
    assert response.headers["retry-after"] == "17"
    assert len(fake_openai.requests) == 1  # not retried: the consumer decides when
    assert [r["error_code"] for r in await ledger(db, request_id)] == ["ai_rate_limited"]


async def test_rate_limit_without_retry_after_sends_none(ai_client, fake_openai):
    fake_openai.script(status(429))
    response = await ai_client.post(CHAT, json=HELLO)
    assert_error(response, 429, "ai_rate_limited")
    assert "retry-after" not in response.headers


async def test_server_errors_are_retried_and_each_attempt_is_in_the_ledger(
    ai_client, fake_openai, request_id, db
):
    fake_openai.script(status(500), status(502), ok("third time lucky"))
    response = await ai_client.post(CHAT, json=HELLO, headers={"X-Request-ID": request_id})

    assert response.status_code == 200
    assert response.json()["content"] == "third time lucky"
    rows = await ledger(db, request_id)
    assert [(r["attempt"], r["status"], r["error_code"]) for r in rows] == [
        (1, "failure", "ai_unavailable"),
        (2, "failure", "ai_unavailable"),
        (3, "success", None),
    ]


async def test_persistent_server_errors_are_503_with_retry_after(ai_client, fake_openai):
    fake_openai.script(status(500), status(500), status(503))
    response = await ai_client.post(CHAT, json=HELLO)

    assert_error(response, 503, "ai_unavailable")
    assert response.headers["retry-after"]
    assert len(fake_openai.requests) == 3


async def test_a_slow_upstream_times_out_as_503_within_a_bound(
    ai_client, fake_openai, request_id, db
):
    fake_openai.script(slow(3), slow(3), slow(3))
    started = time.monotonic()
    response = await ai_client.post(CHAT, json=HELLO, headers={"X-Request-ID": request_id})

    assert_error(response, 503, "ai_unavailable")
    assert "time" in response.json()["message"]
    # 3 attempts of a 1 s timeout plus backoff, far below the 9 s the upstream would take.
    assert time.monotonic() - started < 6
    assert [r["error_code"] for r in await ledger(db, request_id)] == ["ai_unavailable"] * 3


async def test_an_answer_without_choices_is_502_bad_response(ai_client, fake_openai):
    fake_openai.script(no_choices())
    assert_error(await ai_client.post(CHAT, json=HELLO), 502, "ai_bad_response")


async def test_an_upstream_refusal_of_the_request_is_502_request_rejected(ai_client, fake_openai):
    fake_openai.script(status(404))
    response = await ai_client.post(CHAT, json={**HELLO, "model": "no-such-model"})
    body = assert_error(response, 502, "ai_request_rejected")
    assert body["details"] == {"upstream_status": 404}


async def test_an_unreachable_upstream_is_503(unreachable_ai_client):
    response = await unreachable_ai_client.post(CHAT, json=HELLO)
    assert_error(response, 503, "ai_unavailable")
    assert response.headers["retry-after"]


async def test_without_a_key_ai_is_503_and_everything_else_works(client, entity_id):
    assert_error(await client.post(CHAT, json=HELLO), 503, "ai_not_configured")
    summary = await client.post("/api/v1/ai/audits/summary", json={})
    assert_error(summary, 503, "ai_not_configured")
    search = await client.post("/api/v1/ai/audits/search", json={"question": "anything"})
    assert_error(search, 503, "ai_not_configured")

    assert (await client.post(AUDITS, json=audit_body(entity_id))).status_code == 201
    assert (await client.get(AUDITS)).status_code == 200
    assert (await client.get("/health/db")).status_code == 200
    assert (await client.get("/api/v1/ai/usage")).status_code == 200
