"""The one AsyncOpenAI of the process, and the single call path every AI route uses.

`complete()` sends a Chat Completion, retries what is worth retrying (connection errors,
timeouts, 5xx) a bounded number of times with short backoff, writes one ledger row per
attempt, and turns every failure into one of the contract's errors. The SDK's own retries
are off: it would honour an upstream Retry-After of up to two minutes, holding our
consumer's request that long; a 429 is passed straight back with its Retry-After instead.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass
from typing import Annotated, Any

import openai
from fastapi import Depends, Request
from openai import AsyncOpenAI

from ai import queries
from errors import (
    AIAuthenticationFailed,
    AIBadResponse,
    AINotConfigured,
    AIRateLimited,
    AIRequestRejected,
    AIUnavailable,
    AppError,
)
from settings import Settings

BACKOFF_BASE_S = 0.25
BACKOFF_MAX_S = 2.0


def create_client(settings: Settings) -> AsyncOpenAI | None:
    """None when no key is configured: the AI routes then answer 503 ai_not_configured."""
    if settings.openai_api_key is None:
        return None
    return AsyncOpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        timeout=settings.openai_timeout_s,
        max_retries=0,
    )


@dataclass(frozen=True)
class AI:
    """What a route needs to call the model: the client and the knobs around it."""

    client: AsyncOpenAI
    settings: Settings
    request_id: str | None


async def get_ai(request: Request) -> AI:
    # `async` so that FastAPI does not run it in a worker thread.
    client = request.app.state.openai
    if client is None:
        raise AINotConfigured()
    return AI(client, request.app.state.settings, request.state.request_id)


AIDep = Annotated[AI, Depends(get_ai)]


@dataclass(frozen=True)
class Completion:
    id: str
    model: str
    content: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    parsed: Any = None

    @property
    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


def _contract_error(error: openai.OpenAIError) -> AppError:
    # APITimeoutError subclasses APIConnectionError, so it must be matched first.
    if isinstance(error, openai.APITimeoutError):
        return AIUnavailable("The AI service did not answer in time. Retry shortly.")
    if isinstance(error, openai.APIConnectionError):
        return AIUnavailable("The AI service could not be reached. Retry shortly.")
    if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        return AIAuthenticationFailed()
    if isinstance(error, openai.RateLimitError):
        return AIRateLimited(error.response.headers.get("retry-after"))
    if isinstance(error, openai.APIStatusError) and error.status_code >= 500:
        return AIUnavailable(retry_after=error.response.headers.get("retry-after"))
    if isinstance(error, openai.APIStatusError):
        return AIRequestRejected(details={"upstream_status": error.status_code})
    return AIBadResponse()


def _backoff_s(attempt: int) -> float:
    # Jitter spreads the retries of many concurrent requests hitting one upstream failure.
    return min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempt - 1)) * (1 - 0.25 * random.random())


def _is_worth_retrying(error: AppError) -> bool:
    return isinstance(error, AIUnavailable)


def _read_completion(raw: Any, expect_json: bool) -> tuple[str, str | None, Any]:
    """Content, finish reason and (when a schema was asked for) the decoded JSON."""
    choices = getattr(raw, "choices", None)
    if not choices:
        raise AIBadResponse("The AI service answered without any choices.")
    message = getattr(choices[0], "message", None)
    content = getattr(message, "content", None)
    if not isinstance(content, str):
        raise AIBadResponse("The AI service answered without any content.")
    parsed = None
    if expect_json:
        try:
            parsed = json.loads(content)
        except ValueError:
            raise AIBadResponse("The AI service answered invalid JSON.") from None
    return content, getattr(choices[0], "finish_reason", None), parsed


async def complete(
    ai: AI,
    *,
    operation: str,
    messages: list[dict[str, str]],
    model: str | None = None,
    json_schema: dict[str, Any] | None = None,
    **options: Any,
) -> Completion:
    model = model or ai.settings.openai_model
    if json_schema is not None:
        options["response_format"] = {"type": "json_schema", "json_schema": json_schema}
    attempts = ai.settings.openai_max_retries + 1
    for attempt in range(1, attempts + 1):
        started = time.perf_counter()
        usage = None
        try:
            try:
                raw = await ai.client.chat.completions.create(
                    model=model, messages=messages, **options
                )
            except openai.OpenAIError as error:
                raise _contract_error(error) from None
            usage = getattr(raw, "usage", None)
            content, finish_reason, parsed = _read_completion(raw, json_schema is not None)
        except AppError as error:
            await _record(ai, operation, model, attempt, started, usage, error.code)
            if _is_worth_retrying(error) and attempt < attempts:
                await asyncio.sleep(_backoff_s(attempt))
                continue
            raise
        latency_ms = await _record(ai, operation, model, attempt, started, usage, None)
        return Completion(
            id=str(getattr(raw, "id", "") or ""),
            model=str(getattr(raw, "model", "") or model),
            content=content,
            finish_reason=finish_reason,
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
            latency_ms=latency_ms,
            parsed=parsed,
        )
    raise AssertionError("unreachable: the last attempt returns or raises")


async def _record(
    ai: AI, operation: str, model: str, attempt: int, started: float, usage: Any, error: str | None
) -> float:
    latency_ms = round((time.perf_counter() - started) * 1000, 3)
    await queries.record_call(
        operation=operation,
        model=model,
        status="failure" if error else "success",
        error_code=error,
        attempt=attempt,
        prompt_tokens=getattr(usage, "prompt_tokens", None),
        completion_tokens=getattr(usage, "completion_tokens", None),
        latency_ms=latency_ms,
        request_id=ai.request_id,
    )
    return latency_ms
