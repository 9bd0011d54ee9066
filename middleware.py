"""Plain ASGI middleware (no BaseHTTPMiddleware: it costs a task per request).

`RequestContextMiddleware` gives every request an id, writes one access-log line, refuses a
repeated query parameter, caps the body size (per path: batch ingest takes more; reading a
refused body's rest, within bounds, so the 413 is read), and is the last resort for
unexpected exceptions: they become a 500 in the contract's shape with the request id, and
their traceback goes to the log only. `CORSMiddleware` is Starlette's with a fast path for
requests that carry no Origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time

from fastapi.exceptions import RequestValidationError
from starlette.middleware import cors
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from errors import (
    PayloadTooLarge,
    UnexpectedError,
    UnsupportedMediaType,
    refuse_repeated_query_parameters,
    response_for,
    validation_response,
)
from logs import write_access_line

error_logger = logging.getLogger("looped_needle.errors")

REQUEST_ID_HEADER = b"x-request-id"
# A client-supplied id is echoed only if it is short and tame, so it cannot forge log lines.
ACCEPTABLE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
BODY_METHODS = {"POST", "PUT", "PATCH"}
# Past the cap, the rest of the body is read and dropped before the 413 goes out, as nginx's
# lingering close does: a socket closed with unread data makes the kernel send a reset, and
# the client, still sending, then never reads the 413. Bounded, so that this costs no more
# than an honest upload could: at most this many times the cap, for at most this long.
DISCARD_LIMIT_FACTOR = 8
DISCARD_LIMIT_S = 5.0


def _is_json(scope: Scope) -> bool:
    content_type = _header(scope, b"content-type")
    if content_type is None:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        body_limits: dict[str, int] | None = None,
        vary_origin: bool = False,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # Exact paths with a cap of their own; every other path gets max_body_bytes.
        self.body_limits = body_limits or {}
        # Set when our CORSMiddleware runs outside this one: it leaves the answer to a
        # request without Origin alone, and its `Vary: Origin` is added here, in the header
        # rewrite every answer gets anyway.
        self.vary_origin = vary_origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        request_id, has_origin = self._read_headers(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        own_headers = [(REQUEST_ID_HEADER, request_id.encode())]
        if self.vary_origin and not has_origin:
            own_headers.append((b"vary", b"Origin"))
        status = 500
        started_response = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status = message["status"]
                started_response = True
                kept = [h for h in message.get("headers", ()) if h[0].lower() != REQUEST_ID_HEADER]
                message["headers"] = kept + own_headers
            await send(message)

        try:
            try:
                refuse_repeated_query_parameters(scope.get("query_string", b""))
            except RequestValidationError as repeated:
                await validation_response(repeated)(scope, receive, send_with_request_id)
                return
            if scope["method"] in BODY_METHODS:
                limit = self.body_limits.get(scope["path"], self.max_body_bytes)
                replay, body = await self._buffered_body(scope, receive, limit)
                refusal = None
                if replay is None:
                    refusal = PayloadTooLarge(limit)
                elif body and not _is_json(scope):
                    refusal = UnsupportedMediaType()
                if refusal is not None:
                    await response_for(refusal)(scope, receive, send_with_request_id)
                    return
                receive = replay
            await self.app(scope, receive, send_with_request_id)
        except Exception:
            error_logger.exception(
                "unhandled error", extra={"request_id": request_id, "path": scope.get("path")}
            )
            if not started_response:
                unexpected = response_for(UnexpectedError(request_id))
                await unexpected(scope, receive, send_with_request_id)
        finally:
            write_access_line(
                {
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    # Hundredths of a millisecond; round(x, 2) costs ten times as much.
                    "duration_ms": int((time.perf_counter() - started) * 100_000 + 0.5) / 100,
                    "client": scope["client"][0] if scope.get("client") else None,
                    "api_key": scope["state"].get("api_key_prefix"),
                }
            )

    @staticmethod
    def _read_headers(scope: Scope) -> tuple[str, bool]:
        """The request's id (the client's own, if acceptable) and whether it has an Origin."""
        request_id = None
        has_origin = False
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER:
                if request_id is None and ACCEPTABLE_REQUEST_ID.match(value):
                    request_id = value.decode()
            elif name == b"origin":
                has_origin = True
        # 128 random bits, as a uuid4 has. An id only needs to be unique, not secret, so the
        # process's own generator (seeded from os.urandom) serves, without a system call.
        return request_id or f"{random.getrandbits(128):032x}", has_origin

    async def _buffered_body(
        self, scope: Scope, receive: Receive, limit: int
    ) -> tuple[Receive | None, bytes]:
        """Read the whole body up to `limit`; (None, b"") if it is over (by header or count)."""
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._discard_rest(scope, receive, limit, int(declared), received=0)
            return None, b""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                if message.get("more_body", False):
                    await self._discard_rest(scope, receive, limit, None, received=size)
                return None, b""
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay, body

    async def _discard_rest(
        self, scope: Scope, receive: Receive, limit: int, declared: int | None, *, received: int
    ) -> None:
        """Read and drop what is left of a refused body, within bounds, so the 413 is read."""
        allowance = limit * DISCARD_LIMIT_FACTOR
        if declared is not None and declared > allowance:
            return  # more than we would ever read: answer now and let the connection go
        expect = _header(scope, b"expect")
        if received == 0 and expect is not None and expect.lower() == "100-continue":
            return  # the client sends nothing before our answer; asking for it would invite it
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DISCARD_LIMIT_S):
                while received <= allowance:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    received += len(message.get("body", b""))
                    if not message.get("more_body", False):
                        return


class CORSMiddleware(cors.CORSMiddleware):
    """Starlette's, passed by for a request with no Origin (every server-to-server call, the
    API's bulk): no CORS header applies to it, only `Vary: Origin`, so a cache keeps it apart
    from a browser's answer, as Starlette does. That one header is added by the
    RequestContextMiddleware inside this one (`vary_origin=True`), which rewrites every
    answer's headers anyway; a second rewrite here cost each request as much again."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _header(scope, b"origin") is None:
            await self.app(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1").strip()
    return None
