"""One error shape for every failure: the body schema, the project's exceptions, their handlers."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl
from uuid import UUID

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.routing import Match

from responses import JSONBytes

logger = logging.getLogger("looped_needle.errors")


class ErrorBody(BaseModel):
    error: str = Field(description="Machine-readable snake_case code.", examples=["not_found"])
    message: str = Field(description="A sentence a person can act on.")
    details: dict[str, Any] | None = Field(default=None, description="Extra context, if any.")


class FieldProblem(BaseModel):
    field: str = Field(examples=["body.action_type"])
    message: str


class ValidationErrorBody(ErrorBody):
    validation_errors: list[FieldProblem]


class AppError(Exception):
    """Base for errors the API answers on purpose. Subclasses set status, code and message."""

    status_code = 500
    code = "internal_error"
    message = "An unexpected error occurred."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details
        self.headers = headers or {}


class AuditNotFound(AppError):
    status_code = 404
    code = "audit_not_found"

    def __init__(self, audit_id: UUID) -> None:
        super().__init__(
            f"No audit record with id {audit_id} exists.", details={"id": str(audit_id)}
        )


class InvalidStatusTransition(AppError):
    status_code = 409
    code = "invalid_status_transition"

    def __init__(self, current: str, requested: str) -> None:
        super().__init__(
            f"The status is already final ('{current}') and cannot become '{requested}'. "
            "Only a 'pending' record may change status.",
            details={"current_status": current, "requested_status": requested},
        )


class DatabaseUnavailable(AppError):
    status_code = 503
    code = "database_unavailable"
    message = "The database is unavailable right now. Retry shortly."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"Retry-After": "5"})


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(
            f"The request body is larger than the limit of {limit_bytes} bytes.",
            details={"limit_bytes": limit_bytes},
            # The rest of the body is unread: the connection cannot carry another request.
            headers={"Connection": "close"},
        )


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "unsupported_media_type"
    message = "Send the body as JSON with 'Content-Type: application/json'."


class UnexpectedError(AppError):
    """What a bug looks like to a consumer: nothing internal, only the id to quote."""

    message = "An unexpected error occurred. Quote the request id when reporting it."

    def __init__(self, request_id: str) -> None:
        super().__init__(details={"request_id": request_id})


class AINotConfigured(AppError):
    status_code = 503
    code = "ai_not_configured"
    message = "AI features are not configured on this server (no OPENAI_API_KEY)."


class AIAuthenticationFailed(AppError):
    status_code = 502
    code = "ai_authentication_failed"
    message = "The AI service rejected this server's credentials. Tell the operator."


class AIRateLimited(AppError):
    status_code = 429
    code = "ai_rate_limited"
    message = "The AI service is rate-limiting this server. Retry later."

    def __init__(self, retry_after: str | None) -> None:
        super().__init__(headers={"Retry-After": retry_after} if retry_after else None)


class AIUnavailable(AppError):
    status_code = 503
    code = "ai_unavailable"
    message = "The AI service is unreachable, timed out, or failing. Retry shortly."

    def __init__(self, message: str | None = None, retry_after: str | None = None) -> None:
        super().__init__(message, headers={"Retry-After": retry_after or "5"})


class AIBadResponse(AppError):
    status_code = 502
    code = "ai_bad_response"
    message = "The AI service answered with something unusable. Retrying may help."


class AIRequestRejected(AppError):
    status_code = 502
    code = "ai_request_rejected"
    message = "The AI service refused the request (for example an unknown model or too many "
    "tokens)."


def error_response(
    status_code: int,
    code: str,
    message: str,
    *,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONBytes:
    body = {"error": code, "message": message, "details": details, **extra}
    return JSONBytes(body, status_code=status_code, headers=headers)


def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting the error body for each status."""
    described = {
        400: "The request could not be read.",
        404: "The record does not exist (or was deleted).",
        409: "The change is not allowed by the status rules.",
        413: "The request body is too large.",
        415: "The body is not JSON (send Content-Type: application/json).",
        422: "The request failed validation; see validation_errors.",
        429: "Rate limited upstream; retry after Retry-After seconds.",
        500: "Unexpected error; the body carries the request id.",
        502: "The upstream AI service rejected us or answered nonsense.",
        503: "A dependency is unavailable; retry after Retry-After seconds.",
    }
    return {
        status: {
            "model": ValidationErrorBody if status == 422 else ErrorBody,
            "description": described[status],
        }
        for status in status_codes
    }


HTTP_STATUS_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _describe_problem(item: dict[str, Any]) -> dict[str, str]:
    location = tuple(item.get("loc", ()))
    if item.get("type") == "json_invalid":
        # FastAPI puts the character offset in the location; the field is the body itself.
        reason = item.get("ctx", {}).get("error", "malformed JSON")
        return {"field": "body", "message": f"Malformed JSON: {reason} at position {location[-1]}"}
    # A list item by its place, as a reader writes it: body.records[12].entity_type.
    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location)
    field = field.removeprefix(".") or "request"
    return {"field": field, "message": item.get("msg", "invalid")}


def response_for(error: AppError, extra_headers: dict[str, str] | None = None) -> JSONBytes:
    headers = {**error.headers, **(extra_headers or {})}
    return error_response(
        error.status_code, error.code, error.message, details=error.details, headers=headers
    )


async def handle_app_error(request: Request, exc: AppError) -> JSONBytes:
    return response_for(exc)


async def handle_validation_error(request: Request, exc: RequestValidationError) -> JSONBytes:
    return validation_response(exc)


def validation_response(exc: RequestValidationError) -> JSONBytes:
    problems = [_describe_problem(item) for item in exc.errors()]
    return error_response(
        422,
        "validation_error",
        f"The request has {len(problems)} invalid field(s); see validation_errors.",
        validation_errors=problems,
    )


async def handle_http_exception(request: Request, exc: HTTPException) -> JSONBytes:
    if exc.status_code == 400 and exc.__cause__ is not None:
        # FastAPI turns an unreadable body (bad UTF-8, nesting too deep) into a bare 400;
        # to a consumer that is malformed JSON, which the contract answers with 422.
        return error_response(
            422,
            "validation_error",
            "The request body is not valid JSON.",
            validation_errors=[{"field": "body", "message": "The body could not be parsed."}],
        )
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 404:
        message = f"There is no route {request.url.path}. See /docs for the routes."
    elif exc.status_code == 405:
        headers["Allow"] = _methods_allowed_on(request, headers.get("Allow"))
        message = f"{request.method} is not allowed on {request.url.path}; use {headers['Allow']}."
    else:
        message = str(exc.detail)
    code = HTTP_STATUS_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, message, headers=headers)


# The methods of RFC 9110 and PATCH, in the order a reader expects them in `Allow`.
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")


def _methods_allowed_on(request: Request, named: str | None) -> str:
    """Every method served on this path, for a 405's `Allow` (RFC 9110 15.5.6).

    Whoever raised the 405 names only what it knows (`named`): Starlette names the first
    route that matched the path, and each method here is its own route, so on
    `/api/v1/audits` it would hide `POST`. Asking every route of the app (included routers
    too) whether it takes the path with each method finds the rest.
    """
    allowed = {method.strip().upper() for method in (named or "").split(",") if method.strip()}
    for method in HTTP_METHODS:
        probe = {**request.scope, "method": method}
        if any(route.matches(probe)[0] == Match.FULL for route in request.app.router.routes):
            allowed.add(method)
    known = [method for method in HTTP_METHODS if method in allowed]
    return ", ".join(known + sorted(allowed - set(HTTP_METHODS)))


def refuse_repeated_query_parameters(query_string: bytes) -> None:
    """Every query parameter is one value: `?status=a&status=b` is ambiguous (frameworks
    differ on which one wins), so it is a 422 naming the parameter, like an unknown one.
    Called by RequestContextMiddleware on every request: as a FastAPI dependency it cost each
    request a dependency solve, the check itself nothing. Names are compared decoded, as
    the routes read them (`st%61tus` is `status`)."""
    if b"&" not in query_string:
        return  # one parameter at most
    seen: set[str] = set()
    for name, _ in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name in seen:
            raise RequestValidationError(
                [
                    {
                        "type": "value_error",
                        "loc": ("query", name),
                        "msg": "Value error, given more than once: send each query parameter once",
                    }
                ]
            )
        seen.add(name)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, handle_app_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(HTTPException, handle_http_exception)


# Access control (the access app). The WWW-Authenticate headers follow RFC 6750 section 3.
class AuthenticationRequired(AppError):
    status_code = 401
    code = "authentication_required"
    message = "This route needs an API key: send 'Authorization: Bearer <key>'."

    def __init__(self) -> None:
        super().__init__(headers={"WWW-Authenticate": 'Bearer realm="api"'})


class InvalidApiKey(AppError):
    status_code = 401
    code = "invalid_api_key"
    message = "The API key is malformed, unknown or revoked."

    def __init__(self) -> None:
        super().__init__(headers={"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'})


class InsufficientScope(AppError):
    status_code = 403
    code = "insufficient_scope"

    def __init__(self, required: list[str], missing: list[str]) -> None:
        super().__init__(
            f"This API key lacks the scope(s) this route needs: {', '.join(missing)}.",
            details={"required_scopes": required, "missing_scopes": missing},
            headers={
                "WWW-Authenticate": (
                    f'Bearer realm="api", error="insufficient_scope", scope="{" ".join(required)}"'
                )
            },
        )


class ApiKeyNotFound(AppError):
    status_code = 404
    code = "api_key_not_found"

    def __init__(self, prefix: str) -> None:
        super().__init__(f"No API key has the prefix {prefix!r}.", details={"prefix": prefix})


class CheckpointNotFound(AppError):
    status_code = 404
    code = "checkpoint_not_found"

    def __init__(self, tree_size: int | None) -> None:
        if tree_size is None:
            message = "The ledger has no checkpoint yet: nothing has been sealed."
        else:
            message = f"There is no checkpoint for tree size {tree_size}."
        super().__init__(message, details={"tree_size": tree_size})


class ProofNotFound(AppError):
    status_code = 404
    code = "proof_not_found"

    def __init__(self, first: int, second: int, latest: int) -> None:
        super().__init__(
            f"There is no consistency proof from tree size {first} to {second}: it needs "
            f"first <= second <= the latest tree size, {latest}.",
            details={"first": first, "second": second, "latest_tree_size": latest},
        )


class LedgerNotConfigured(AppError):
    status_code = 503
    code = "ledger_not_configured"
    message = "This server has no LEDGER_SIGNING_KEY, so it signs no checkpoints."
