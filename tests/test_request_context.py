"""RequestContextMiddleware at the ASGI level, as a server drives it: what it reads of a
body, what it answers, and the access line it writes.

Over real TCP (tests/test_body_limits_over_tcp.py) the drain decides whether a client can
read its 413 at all; here the same decisions are counted message by message, in-process,
so each bound is held exactly and quickly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import httpx
import pytest

import middleware as middleware_module
from middleware import DISCARD_LIMIT_FACTOR, RequestContextMiddleware

LIMIT = 1024
BIG_PATH = "/big"
BIG_LIMIT = 4 * LIMIT
CHUNK = 256


async def echo_size(scope, receive, send):
    """The app behind the middleware: answers 200 with how many body bytes it was given."""
    if scope["type"] != "http":
        return
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = json.dumps({"received": size}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def middleware(app=echo_size) -> RequestContextMiddleware:
    return RequestContextMiddleware(app, max_body_bytes=LIMIT, body_limits={BIG_PATH: BIG_LIMIT})


class Client:
    """An ASGI server's side of one request: it counts what the middleware reads."""

    def __init__(self, messages, headers=(), method="POST", path="/"):
        self.messages = list(messages)
        self.read = 0  # receive() calls answered with body
        self.read_bytes = 0
        self.after_disconnect = 0  # receive() calls after http.disconnect was delivered
        self.disconnected = False
        self.sent = []
        self.scope = {
            "type": "http",
            "method": method,
            "path": path,
            "headers": [(name.encode(), value.encode()) for name, value in headers],
            "client": ("192.0.2.10", 50000),
        }

    async def receive(self):
        if self.disconnected:
            self.after_disconnect += 1
            return {"type": "http.disconnect"}
        message = self.messages.pop(0) if self.messages else {"type": "http.disconnect"}
        if message["type"] == "http.disconnect":
            self.disconnected = True
        else:
            self.read += 1
            self.read_bytes += len(message.get("body", b""))
        return message

    async def send(self, message):
        self.sent.append(message)

    async def run(self, app) -> tuple[int, dict, dict]:
        await app(self.scope, self.receive, self.send)
        start = next(m for m in self.sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")
        headers = {name.decode().lower(): value.decode() for name, value in start["headers"]}
        return start["status"], headers, json.loads(body)


def chunks(total: int, size: int = CHUNK, *, last: bool = True):
    """`total` bytes in messages of `size`. Unless `last` is False, the last message ends the
    body as ASGI's default does: it leaves `more_body` out."""
    messages = [
        {"type": "http.request", "body": b"x" * size, "more_body": True}
        for _ in range(total // size)
    ]
    if last:
        del messages[-1]["more_body"]
    return messages


def endless(size: int = CHUNK):
    """A client that never stops sending."""
    while True:
        yield {"type": "http.request", "body": b"x" * size, "more_body": True}


class EndlessClient(Client):
    def __init__(self, headers=()):
        super().__init__([], headers=headers)
        self.stream = endless()

    async def receive(self):
        message = next(self.stream)
        self.read += 1
        self.read_bytes += len(message["body"])
        return message


JSON_TYPE = ("content-type", "application/json")


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_a_body_of_exactly_the_limit_is_passed_on_whole(framing):
    declared = [("content-length", str(LIMIT))] if framing == "content-length" else []
    headers = [JSON_TYPE, *declared]
    client = Client(chunks(LIMIT), headers=headers)

    status, _, body = await client.run(middleware())

    assert (status, body) == (200, {"received": LIMIT})
    assert not client.disconnected  # nothing was asked for past the body's end


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_one_byte_over_the_limit_is_a_413_naming_the_limit(framing):
    messages = [*chunks(LIMIT, last=False), {"type": "http.request", "body": b"x"}]
    headers = [JSON_TYPE] + (
        [("content-length", str(LIMIT + 1))] if framing == "content-length" else []
    )
    client = Client(messages, headers=headers)

    status, headers, body = await client.run(middleware())

    assert status == 413
    assert body["error"] == "payload_too_large"
    assert body["details"] == {"limit_bytes": LIMIT}
    assert headers["connection"] == "close" and headers["x-request-id"]


async def test_a_path_with_its_own_limit_takes_bodies_up_to_it():
    headers = [JSON_TYPE, ("content-length", str(BIG_LIMIT))]
    taken = Client(chunks(BIG_LIMIT), headers=headers, path=BIG_PATH)
    elsewhere = Client(chunks(BIG_LIMIT), headers=headers, path="/other")

    assert (await taken.run(middleware()))[0] == 200
    status, _, body = await elsewhere.run(middleware())
    assert status == 413 and body["details"] == {"limit_bytes": LIMIT}


async def test_a_refused_body_is_read_to_its_end_so_the_client_can_read_the_413():
    declared = 3 * LIMIT
    client = Client(chunks(declared), headers=[JSON_TYPE, ("content-length", str(declared))])

    status, _, _ = await client.run(middleware())

    assert status == 413
    assert client.read_bytes == declared
    assert not client.disconnected  # nothing was asked for past the body's end


async def test_a_body_declared_at_the_drain_allowance_is_drained_and_one_past_it_is_not():
    allowance = DISCARD_LIMIT_FACTOR * LIMIT
    drained = Client(chunks(allowance), headers=[JSON_TYPE, ("content-length", str(allowance))])
    past = Client(chunks(allowance), headers=[JSON_TYPE, ("content-length", str(allowance + 1))])

    assert (await drained.run(middleware()))[0] == 413
    assert (await past.run(middleware()))[0] == 413

    assert drained.read_bytes == allowance
    assert past.read == 0  # answered at once: nothing of it is worth reading


async def test_an_endless_body_is_drained_only_up_to_the_allowance():
    client = EndlessClient(headers=[JSON_TYPE])

    status, _, _ = await client.run(middleware())

    assert status == 413
    allowance = DISCARD_LIMIT_FACTOR * LIMIT
    assert allowance <= client.read_bytes <= allowance + CHUNK


class StallingClient(Client):
    """Sends past the cap, then nothing more, and never hangs up."""

    async def receive(self):
        if self.messages:
            return await super().receive()
        await asyncio.Event().wait()


@pytest.mark.timeout(10)
async def test_a_client_that_stalls_while_draining_gets_its_413_after_the_time_bound(
    monkeypatch,
):
    monkeypatch.setattr(middleware_module, "DISCARD_LIMIT_S", 0.3)
    client = StallingClient(chunks(2 * LIMIT, last=False), headers=[JSON_TYPE])

    started = time.monotonic()
    status, _, body = await client.run(middleware())

    assert (status, body["error"]) == (413, "payload_too_large")
    assert 0.3 <= time.monotonic() - started < 3


@pytest.mark.parametrize("expect", ["100-continue", "100-Continue"])
async def test_a_client_waiting_for_100_continue_is_refused_without_reading(expect):
    declared = 2 * LIMIT
    client = Client(
        chunks(declared),
        headers=[JSON_TYPE, ("content-length", str(declared)), ("expect", expect)],
    )

    assert (await client.run(middleware()))[0] == 413
    assert client.read == 0


async def test_a_client_that_hangs_up_while_draining_is_not_read_again():
    messages = [*chunks(2 * LIMIT, last=False)[:6], {"type": "http.disconnect"}]
    client = Client(messages, headers=[JSON_TYPE, ("content-length", str(2 * LIMIT))])

    assert (await client.run(middleware()))[0] == 413
    assert client.after_disconnect == 0


async def test_a_client_that_hangs_up_mid_body_gets_what_it_sent_passed_on():
    messages = [*chunks(LIMIT // 2, last=False), {"type": "http.disconnect"}]
    client = Client(messages, headers=[JSON_TYPE])

    status, _, body = await client.run(middleware())

    assert (status, body) == (200, {"received": LIMIT // 2})


async def test_after_its_body_the_app_hears_what_the_server_says_next():
    # Starlette listens for a disconnect once the body is read; were the buffered body
    # delivered again, it would spin on it instead of hearing the client leave.
    heard = []

    async def reads_then_listens(scope, receive, send):
        heard.append(await receive())
        heard.append(await receive())
        await send({"type": "http.response.start", "status": 204, "headers": []})

    client = Client(chunks(CHUNK), headers=[JSON_TYPE])
    await middleware(reads_then_listens)(client.scope, client.receive, client.send)

    assert heard[0] == {"type": "http.request", "body": b"x" * CHUNK, "more_body": False}
    assert heard[1] == {"type": "http.disconnect"}


@pytest.mark.parametrize(
    "content_type",
    [
        "Application/JSON",
        "application/json ; charset=utf-8",
        "application/json; charset=utf-8; profile=audit",
        "text/x+json",
    ],
)
async def test_json_media_types_are_recognised_in_any_case_and_spacing(content_type):
    client = Client(chunks(CHUNK), headers=[("content-type", content_type)])
    assert (await client.run(middleware()))[0] == 200


async def test_a_request_message_may_leave_its_body_out():
    # ASGI: `body` defaults to b"" when a server leaves it out.
    client = Client([{"type": "http.request"}], headers=[JSON_TYPE])
    assert (await client.run(middleware()))[2] == {"received": 0}


async def test_an_empty_body_needs_no_content_type():
    client = Client([{"type": "http.request", "body": b""}], method="POST")
    assert (await client.run(middleware()))[0] == 200


async def test_a_get_body_is_not_checked():
    client = Client(chunks(2 * LIMIT), method="GET", headers=[("content-type", "text/plain")])
    status, _, body = await client.run(middleware())
    assert (status, body) == (200, {"received": 2 * LIMIT})


async def test_an_app_chosen_request_id_header_is_replaced_by_the_one_request_id():
    async def sets_its_own(scope, receive, send):
        await send(
            {"type": "http.response.start", "status": 204, "headers": [(b"X-Request-ID", b"app")]}
        )
        await send({"type": "http.response.body", "body": b""})

    client = Client([], method="GET", headers=[("x-request-id", "client-1")])
    await middleware(sets_its_own)(client.scope, client.receive, client.send)

    start = client.sent[0]
    assert [v for k, v in start["headers"] if k.lower() == b"x-request-id"] == [b"client-1"]


def access_line(caplog) -> logging.LogRecord:
    lines = [r for r in caplog.records if r.name == "looped_needle.access"]
    assert len(lines) == 1
    return lines[0]


@pytest.mark.parametrize(
    ("messages", "headers", "status"),
    [
        (chunks(CHUNK), [JSON_TYPE], 200),
        (chunks(2 * LIMIT), [JSON_TYPE], 413),
        (chunks(CHUNK), [("content-type", "text/plain")], 415),
    ],
    ids=["served", "too-large", "not-json"],
)
async def test_the_access_line_names_the_request_and_its_answer(caplog, messages, headers, status):
    client = Client(messages, headers=[*headers, ("x-request-id", "line-1")], path="/p")
    with caplog.at_level(logging.INFO, logger="looped_needle.access"):
        await client.run(middleware())

    line = access_line(caplog)
    assert line.getMessage() == "request"
    assert (line.request_id, line.method, line.path) == ("line-1", "POST", "/p")
    assert line.status == status
    assert line.client == "192.0.2.10"
    assert line.api_key is None
    assert 0 <= line.duration_ms < 5000


async def test_the_access_line_measures_how_long_the_answer_took(caplog):
    async def slow(scope, receive, send):
        await asyncio.sleep(0.05)
        await echo_size(scope, receive, send)

    with caplog.at_level(logging.INFO, logger="looped_needle.access"):
        await Client([], method="GET").run(middleware(slow))

    assert 50 <= access_line(caplog).duration_ms < 5000


async def test_the_access_line_names_the_api_key_and_has_no_client_when_none_is_known(caplog):
    async def authenticated(scope, receive, send):
        scope["state"]["api_key_prefix"] = "ln_abc123"
        await echo_size(scope, receive, send)

    client = Client([], method="GET")
    del client.scope["client"]
    with caplog.at_level(logging.INFO, logger="looped_needle.access"):
        await client.run(middleware(authenticated))

    line = access_line(caplog)
    assert (line.api_key, line.client, line.status) == ("ln_abc123", None, 200)


async def test_the_request_id_is_in_the_request_state_for_the_app():
    seen = {}

    async def reads_state(scope, receive, send):
        seen["request_id"] = scope["state"]["request_id"]
        await echo_size(scope, receive, send)

    client = Client([], method="GET", headers=[("x-request-id", "state-1")])
    await client.run(middleware(reads_state))
    assert seen == {"request_id": "state-1"}


async def test_a_failure_after_the_answer_started_is_logged_and_not_answered_twice(caplog):
    async def fails_mid_stream(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("broke mid-stream")

    client = Client([], method="GET", headers=[("x-request-id", "mid-1")], path="/stream")
    with caplog.at_level(logging.INFO):
        await middleware(fails_mid_stream)(client.scope, client.receive, client.send)

    assert [m["type"] for m in client.sent] == ["http.response.start", "http.response.body"]
    errors = [r for r in caplog.records if r.name == "looped_needle.errors"]
    assert len(errors) == 1 and errors[0].exc_info
    assert (errors[0].request_id, errors[0].path) == ("mid-1", "/stream")
    assert access_line(caplog).status == 200


async def test_a_failure_before_the_answer_is_a_500_logged_as_500(caplog):
    async def fails(scope, receive, send):
        raise RuntimeError("broke")

    client = Client([], method="GET", headers=[("x-request-id", "early-1")], path="/early")
    with caplog.at_level(logging.INFO):
        status, headers, body = await client.run(middleware(fails))

    assert status == 500 and headers["x-request-id"] == "early-1"
    assert body["details"] == {"request_id": "early-1"}
    assert access_line(caplog).status == 500
    [error] = [r for r in caplog.records if r.name == "looped_needle.errors"]
    assert (error.getMessage(), error.request_id, error.path) == (
        "unhandled error",
        "early-1",
        "/early",
    )


async def test_lifespan_messages_pass_through_untouched():
    # The app's start-up is told complete through the server's own send: lost, the server
    # would wait for a start-up that never ends.
    received, sent = [], []

    async def starts(scope, receive, send):
        received.append(await receive())
        await send({"type": "lifespan.startup.complete"})

    async def server_receive():
        return {"type": "lifespan.startup"}

    async def server_send(message):
        sent.append(message)

    await middleware(starts)({"type": "lifespan"}, server_receive, server_send)
    assert received == [{"type": "lifespan.startup"}]
    assert sent == [{"type": "lifespan.startup.complete"}]


async def test_a_repeated_query_parameter_is_refused_and_logged_as_the_422_it_is(caplog):
    client = Client([], method="GET", path="/p")
    client.scope["query_string"] = b"status=a&status=b"
    with caplog.at_level(logging.INFO, logger="looped_needle.access"):
        status, headers, body = await client.run(middleware())

    assert status == 422 and body["error"] == "validation_error"
    assert headers["x-request-id"]
    assert access_line(caplog).status == 422


async def test_the_app_answers_a_body_of_exactly_the_limit_with_201(client, entity_id, db):
    """The real app, not the bare middleware: its configured limit is inclusive."""
    from settings import MIB
    from tests.helpers import AUDITS, audit_body

    text = json.dumps(audit_body(entity_id)).encode()
    body = text + b" " * (MIB - len(text))
    response = await client.post(AUDITS, content=body, headers={"content-type": "application/json"})

    assert response.status_code == 201
    assert await db.fetchval("SELECT count(*) FROM audit WHERE entity_id = $1", entity_id) == 1


async def test_the_asgi_transport_client_is_logged(caplog, client):
    with caplog.at_level(logging.INFO, logger="looped_needle.access"):
        await client.get("/health")
    assert access_line(caplog).client == httpx.ASGITransport(app=None).client[0]


async def fails_early(scope, receive, send):
    raise RuntimeError("broke")


@pytest.mark.parametrize(
    ("app", "method", "query", "messages", "headers", "status"),
    [
        (echo_size, "GET", b"", [], [], 200),
        (echo_size, "GET", b"status=a&status=b", [], [], 422),
        (echo_size, "POST", b"", chunks(2 * LIMIT), [("content-type", "application/json")], 413),
        (echo_size, "POST", b"", chunks(CHUNK), [("content-type", "text/plain")], 415),
        (fails_early, "GET", b"", [], [], 500),
    ],
    ids=["answered", "repeated-422", "413", "415", "500"],
)
async def test_with_vary_origin_every_answer_to_a_request_without_origin_varies_by_it(
    app, method, query, messages, headers, status
):
    # The CORS middleware outside leaves such requests to this one; a shared cache must not
    # give a server's answer (no CORS headers) to a browser, whichever layer answered.
    varying = RequestContextMiddleware(app, max_body_bytes=LIMIT, vary_origin=True)
    from_a_server = Client(messages, headers=headers, method=method)
    from_a_browser = Client(messages, headers=[*headers, ("origin", "https://a.example")])
    from_a_browser.scope["method"] = method
    for client in (from_a_server, from_a_browser):
        client.scope["query_string"] = query

    server_status, server_headers, _ = await from_a_server.run(varying)
    browser_status, browser_headers, _ = await from_a_browser.run(varying)

    assert server_status == browser_status == status
    assert server_headers["vary"] == "Origin" and server_headers["x-request-id"]
    assert "vary" not in browser_headers  # the CORS middleware adds it, with the CORS headers
    assert "vary" not in dict((await Client(messages, method=method).run(middleware(app)))[1])


async def test_an_app_that_never_answers_is_logged_as_the_500_the_server_sends(caplog):
    # uvicorn answers 500 for an app that returns without starting a response; the access
    # line must say so, not a status nobody sent.
    async def returns_silently(scope, receive, send):
        return None

    client = Client([], method="GET")
    with caplog.at_level(logging.INFO, logger="looped_needle.access"):
        await middleware(returns_silently)(client.scope, client.receive, client.send)

    assert client.sent == []
    assert access_line(caplog).status == 500


async def test_an_answer_started_without_headers_still_gets_the_request_id():
    # ASGI makes `headers` optional in http.response.start.
    async def bare_start(scope, receive, send):
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body", "body": b""})

    client = Client([], method="GET", headers=[("x-request-id", "bare-1")])
    await middleware(bare_start)(client.scope, client.receive, client.send)

    assert client.sent[0]["headers"] == [(b"x-request-id", b"bare-1")]
