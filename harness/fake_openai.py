"""A small OpenAI-compatible server on loopback, for the AI tests and bench/ai_overhead.py.

It answers `POST /v1/chat/completions` like OpenAI does. A test scripts what the next
calls get with `fake.script(...)`: a normal answer with chosen content, 401, 429 with
Retry-After, 500, a slow answer, a body without choices, or non-JSON content for a schema
request. Every request it receives is kept, so tests can read exactly what was sent.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from harness.server_process import free_port


@dataclass
class Behaviour:
    kind: str = "ok"  # ok | status | slow | no_choices | not_json
    content: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


def ok(content: str | None = None) -> Behaviour:
    return Behaviour("ok", content=content)


def status(code: int, **headers: str) -> Behaviour:
    return Behaviour("status", status=code, headers=headers)


def slow(delay_s: float) -> Behaviour:
    return Behaviour("slow", delay_s=delay_s)


def no_choices() -> Behaviour:
    return Behaviour("no_choices")


def not_json() -> Behaviour:
    return Behaviour("ok", content="Sure! Here is your JSON: {summary: oops")


class FakeOpenAI:
    def __init__(self) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str] = []
        self._script: deque[Behaviour] = deque()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def script(self, *behaviours: Behaviour) -> None:
        """What the next calls get, in order; afterwards calls get a normal answer."""
        self._script = deque(behaviours)

    def reset(self) -> None:
        self._script.clear()
        self.requests.clear()
        self.authorizations.clear()

    async def _completions(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        self.authorizations.append(request.headers.get("authorization", ""))
        behaviour = self._script.popleft() if self._script else ok()
        if behaviour.kind == "status":
            error = {"error": {"message": f"scripted {behaviour.status}", "type": "test"}}
            return JSONResponse(error, status_code=behaviour.status, headers=behaviour.headers)
        if behaviour.kind == "slow":
            await asyncio.sleep(behaviour.delay_s)
        if behaviour.kind == "no_choices":
            return JSONResponse({"id": "chatcmpl-empty", "object": "chat.completion"})
        content = behaviour.content
        if content is None:
            content = self._default_content(body)
        return JSONResponse(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
            }
        )

    @staticmethod
    def _default_content(body: dict[str, Any]) -> str:
        """A plain echo, or an answer that fits the JSON schema the request asked for."""
        schema = body.get("response_format", {}).get("json_schema", {}).get("schema")
        if schema is None:
            return f"echo: {body['messages'][-1]['content']}"
        answer = {
            name: [] if spec.get("type") == "array" else None
            for name, spec in schema["properties"].items()
        }
        if "summary" in answer:
            answer["summary"] = "A summary."
        return json.dumps(answer)

    def start(self) -> FakeOpenAI:
        app = Starlette(routes=[Route("/v1/chat/completions", self._completions, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake OpenAI server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
