import uuid

import httpx
import pytest

from harness.fake_openai import FakeOpenAI
from harness.server_process import free_port
from settings import Settings

TEST_KEY = "sk-test-looped-needle-0123456789abcdef"


@pytest.fixture(scope="session")
def fake_openai():
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fresh_script(fake_openai):
    fake_openai.reset()


async def client_for(settings: Settings):
    """Yields one client for an app built with `settings`, its lifespan running."""
    from app import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def ai_settings(base_url: str, **overrides) -> Settings:
    values = {
        "openai_api_key": TEST_KEY,
        "openai_base_url": base_url,
        "openai_model": "gpt-test",
        "openai_timeout_s": 1.0,
        "openai_max_retries": 2,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture(scope="session")
async def ai_client(fake_openai):
    async for client in client_for(ai_settings(fake_openai.base_url)):
        yield client


@pytest.fixture(scope="session")
async def unreachable_ai_client():
    """Configured with a key, but OPENAI_BASE_URL points at a port nobody listens on."""
    async for client in client_for(ai_settings(f"http://127.0.0.1:{free_port()}/v1")):
        yield client


@pytest.fixture
def request_id() -> str:
    """A fresh request id: the ledger rows of one test are found by it."""
    return f"test-{uuid.uuid4().hex}"


async def ledger(db, request_id: str) -> list[dict]:
    rows = await db.fetch(
        """SELECT operation, model, status, error_code, attempt, prompt_tokens,
                  completion_tokens, latency_ms
           FROM ai_call WHERE request_id = $1 ORDER BY attempt""",
        request_id,
    )
    return [dict(row) for row in rows]
