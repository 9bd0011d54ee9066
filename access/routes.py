"""HTTP routes for managing API keys; every one needs the `admin` scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, status

from access import queries
from access.auth import GuardedRoute, forget, require
from access.keys import PREFIX_LENGTH, mint_key
from access.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyOut
from errors import ApiKeyNotFound, error_responses

router = APIRouter(prefix="/api/v1/access/keys", tags=["access"], route_class=GuardedRoute)

COMMON_ERRORS = error_responses(422, 500, 503)
Prefix = Annotated[str, Path(min_length=PREFIX_LENGTH, max_length=PREFIX_LENGTH)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key",
    description="Mint a key with a name and scopes. The answer's `key` is the only time the "
    "secret is ever shown: the server keeps its SHA-256 alone.",
    responses={**COMMON_ERRORS, **error_responses(413, 415)},
    dependencies=[require("admin")],
)
async def create_key(request: Annotated[ApiKeyCreate, Body()]) -> ApiKeyCreated:
    minted = mint_key()
    row = await queries.create_key(request.name, minted.prefix, minted.secret_hash, request.scopes)
    return ApiKeyCreated(**row, key=minted.key)


@router.get(
    "",
    summary="List API keys",
    description="Every key, newest first, revoked ones included. Secrets are never shown.",
    responses=COMMON_ERRORS,
    dependencies=[require("admin")],
)
async def list_keys() -> ApiKeyList:
    return ApiKeyList(items=await queries.list_keys())


@router.post(
    "/{prefix}/revoke",
    summary="Revoke an API key",
    description="The key stops working at once in this process, and within AUTH_CACHE_TTL_S "
    "in every other. The row stays, with `revoked_at`; revoking again changes nothing.",
    responses={**COMMON_ERRORS, **error_responses(404)},
    dependencies=[require("admin")],
)
async def revoke_key(prefix: Prefix) -> ApiKeyOut:
    row = await queries.revoke_key(prefix)
    if row is None:
        raise ApiKeyNotFound(prefix)
    forget(prefix)
    return ApiKeyOut(**row)
