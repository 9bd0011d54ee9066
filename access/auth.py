"""Who is calling: the bearer-key check and the scope check, as FastAPI dependencies.

Every API route names the scopes it needs with `require("audits:read")` (or `acting`), which
also declares them in OpenAPI; `every_route_guarded` refuses a router with a route that
forgot. A verified key is cached in-process for AUTH_CACHE_TTL_S, so most requests cost a
dict lookup and one SHA-256; a revocation is seen within that time. Unknown prefixes are
cached too, so garbage keys cannot hammer the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer, SecurityScopes
from starlette.responses import Response

from access import queries
from access.keys import secret_matches, split_key
from errors import (
    AuthenticationRequired,
    DatabaseUnavailable,
    InsufficientScope,
    InvalidApiKey,
)

logger = logging.getLogger("looped_needle.access")

FIRST_KEY_COMMAND = "piccolo access create_key --name first-admin --scopes all"
CACHE_MAX_ENTRIES = 10_000
# The error body's schema, already in the OpenAPI components (every route documents it).
ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}


@dataclass(frozen=True)
class Caller:
    """The verified key behind a request (never its secret)."""

    name: str
    prefix: str
    scopes: frozenset[str]

    @property
    def label(self) -> str:
        """How records and the journal name the key that acted: 'name (prefix)'."""
        return f"{self.name} ({self.prefix})"


@dataclass
class _Entry:
    fetched_at: float
    row: dict[str, Any] | None  # None: no key has this prefix
    caller: Caller | None  # made once per fetch, not per request


_cache: dict[str, _Entry] = {}
_background: set[asyncio.Task] = set()


def forget(prefix: str) -> None:
    """Drop a cached key, so a revocation made by this process applies at once."""
    _cache.pop(prefix, None)


async def _lookup(prefix: str, ttl_s: float) -> tuple[_Entry, bool]:
    """(the cached key, whether it came fresh from the database)."""
    now = time.monotonic()
    entry = _cache.get(prefix)
    if entry is not None and now - entry.fetched_at < ttl_s:
        return entry, False
    row = await queries.find_key(prefix)
    if len(_cache) >= CACHE_MAX_ENTRIES:
        _cache.clear()
    caller = None if row is None else Caller(row["name"], prefix, frozenset(row["scopes"]))
    entry = _cache[prefix] = _Entry(now, row, caller)
    return entry, True


def _note_use(prefix: str) -> None:
    """Move last_used_at off the request path; losing one update is harmless."""

    async def touch() -> None:
        try:
            await queries.touch_last_used(prefix)
        except Exception as error:
            logger.warning(
                "last_used_at not updated",
                extra={"api_key": prefix, "error": type(error).__name__},
            )

    task = asyncio.get_running_loop().create_task(touch())
    _background.add(task)
    task.add_done_callback(_background.discard)


async def authenticate(request: Request) -> Caller | None:
    """The caller's key, or None when AUTH_REQUIRED is off. Does the work once per request."""
    state = request.scope.setdefault("state", {})
    if "api_key" in state:
        return state["api_key"]
    settings = request.app.state.settings
    if not settings.auth_required:
        state["api_key"] = None
        return None
    authorization = _authorization_header(request.scope)
    if authorization is None:
        raise AuthenticationRequired()
    scheme, _, token = authorization.partition(" ")
    parts = split_key(token.strip()) if scheme.lower() == "bearer" else None
    if parts is None:
        raise InvalidApiKey()
    prefix, secret = parts
    entry, fresh = await _lookup(prefix, settings.auth_cache_ttl_s)
    row, caller = entry.row, entry.caller
    # Compare even for an unknown prefix, so both paths cost the same.
    known_hash = row["secret_hash"] if row else "0" * 64
    if not secret_matches(secret, known_hash) or caller is None or row["revoked_at"] is not None:
        raise InvalidApiKey()
    if fresh:
        _note_use(prefix)
    state["api_key"] = caller
    state["api_key_prefix"] = prefix
    return caller


def _authorization_header(scope: dict[str, Any]) -> str | None:
    """The raw header, read straight off the ASGI scope (one request reads it once)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return value.decode("latin-1")
    return None


class ApiKeyGuard(HTTPBearer):
    """The dependency itself is the security scheme: OpenAPI declares the bearer scheme with
    each route's scopes, and a request resolves one dependency, not a chain of three (each
    costs tens of microseconds in FastAPI). The raw header is read, not HTTPBearer's parse,
    so a header in the wrong shape is told apart from no header at all."""

    async def __call__(  # type: ignore[override]
        self, request: Request, security_scopes: SecurityScopes
    ) -> Caller | None:
        return await authorize(request, security_scopes.scopes)


async def authorize(request: Request, scopes: list[str]) -> Caller | None:
    """The caller, once its key is valid and holds every one of `scopes`."""
    caller = await authenticate(request)
    if caller is not None:
        missing = [scope for scope in scopes if scope not in caller.scopes]
        if missing:
            raise InsufficientScope(scopes, missing)
    return caller


guard = ApiKeyGuard(
    scheme_name="ApiKey",
    bearerFormat="lnk_<prefix>_<secret>",
    description="An API key `lnk_<prefix>_<secret>`, from `piccolo access create_key`.",
    auto_error=False,
)


def require(*scopes: str) -> Any:
    """A route dependency: a valid key holding every one of `scopes`."""
    return Security(guard, scopes=list(scopes))


def acting(scope: str) -> Any:
    """A route parameter type: who acts (`Caller.label`, None with auth off), once the key
    is checked for `scope`. Writers pass it on, so the journal records which key did what."""

    # A default, not an Annotated hint: this module's annotations are strings, and the scope
    # is only known here.
    async def label(request: Request, _checked: Any = require(scope)) -> str | None:
        caller = request.scope["state"].get("api_key")  # put there by the key check
        return None if caller is None else caller.label

    return Annotated[str | None, Depends(label)]


class GuardedRoute(APIRoute):
    """An API route that checks the key itself, once, before FastAPI solves the rest.

    The guard stays among the route's declared dependencies, so OpenAPI still documents the
    bearer scheme and each operation's scopes, and `every_route_guarded` still sees it. At
    request time FastAPI's solve of that one dependency cost about as much as the rest of a
    GET by id, so the handler is built without it and the check runs here instead."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        declared = self.dependant
        scopes = _guard_scopes(declared)
        self.dependant = _without_guard(declared)
        try:
            handle = super().get_route_handler()
        finally:
            self.dependant = declared
        if scopes is None:
            return handle

        async def checked_then_handled(request: Request) -> Response:
            await authorize(request, scopes)
            return await handle(request)

        return checked_then_handled


def _guard_scopes(dependant: Dependant) -> list[str] | None:
    """Every scope the route's guards ask for, in order; None when it has no guard."""
    found: list[str] | None = None
    for sub in dependant.dependencies:
        nested = (sub.own_oauth_scopes or []) if sub.call is guard else _guard_scopes(sub)
        if nested is not None:
            found = found or []
            found += [scope for scope in nested if scope not in found]
    return found


def _without_guard(dependant: Dependant) -> Dependant:
    kept = [_without_guard(sub) for sub in dependant.dependencies if sub.call is not guard]
    return replace(dependant, dependencies=kept)


def every_route_guarded(router: APIRouter) -> APIRouter:
    """Refuse, at start-up, an API route that requires no key: each route names its scopes
    with `require` or `acting`, and one that forgot would be open to anyone. A router-wide
    guard would catch that too, but would check the key a second time on every request."""
    for route in router.routes:
        if isinstance(route, APIRoute) and _guard_scopes(route.dependant) is None:
            methods = ", ".join(sorted(route.methods))
            raise RuntimeError(f"{methods} {route.path} requires no API key scope")
    return router


def document_scopes(app: FastAPI) -> None:
    """Repeat each operation's scopes (which FastAPI puts in its `security` requirement) as
    `x-required-scopes` and in its description, and document its 401/403 answers. Done on
    the generated document, so it holds for every route, however it was included."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                if "security" in operation and "x-required-scopes" not in operation:
                    _describe_guard(operation)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _describe_guard(operation: dict[str, Any]) -> None:
    scopes = [scope for need in operation["security"] for scope in need.get(guard.scheme_name, [])]
    operation["x-required-scopes"] = scopes
    needs = ", ".join(f"`{scope}`" for scope in scopes) or "any valid key"
    operation["description"] = (
        f"{operation.get('description', '')}\n\nRequires an API key with scope(s): {needs}."
    ).lstrip()
    operation["responses"].setdefault(
        "401", {"description": "No API key, or a bad one.", "content": ERROR_CONTENT}
    )
    operation["responses"].setdefault(
        "403", {"description": "The key lacks a required scope.", "content": ERROR_CONTENT}
    )


async def warn_if_no_keys(settings: Any) -> None:
    """At start-up with auth on and no usable key, say once how to mint the first one."""
    if not settings.auth_required:
        return
    try:
        if not await queries.has_active_key():
            logger.warning(f"AUTH_REQUIRED is on and no API key exists; run: {FIRST_KEY_COMMAND}")
    except DatabaseUnavailable:
        pass  # db.open_pool has already said the database is down
