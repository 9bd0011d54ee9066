"""An app with AUTH_REQUIRED on (the rest of the suite runs with it off), and key minting."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from access import queries
from access.keys import SCOPES, mint_key
from settings import Settings

KEY_SHAPE = re.compile(r"^lnk_[0-9a-f]{12}_[0-9A-Za-z]{43}$")
Mint = Callable[..., Awaitable[str]]


def auth_settings(**overrides) -> Settings:
    return Settings(**{"auth_required": True, "auth_cache_ttl_s": 5.0, **overrides})


@pytest.fixture(scope="session")
async def auth_app():
    from app import create_app

    app = create_app(auth_settings())
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="session")
async def auth_client(auth_app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=auth_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture(scope="session")
def mint(auth_app) -> Mint:
    """Store a new key straight in the database (as the CLI does) and return it."""

    async def mint_with(*scopes: str, name: str = "test", revoked: bool = False) -> str:
        minted = mint_key()
        await queries.create_key(name, minted.prefix, minted.secret_hash, list(scopes))
        if revoked:
            await queries.revoke_key(minted.prefix)
        return minted.key

    return mint_with


@pytest.fixture(scope="session")
async def admin_key(mint) -> str:
    return await mint(*SCOPES, name="test-admin")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
