"""Property-based tests generated from the app's own OpenAPI document, against the real server.

Every operation, valid and invalid inputs, a fixed seed, a bounded number of examples.
Schemathesis's checks must find no 5xx, no response that breaks its documented schema, and
no undocumented status code. (The schema is taken from `app.openapi()` at collection time:
schemathesis's lazy pytest fixture does not work with this pytest.)
"""

import os

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.generation import GenerationMode

from app import app
from harness.fake_openai import FakeOpenAI
from harness.server_process import ServerProcess
from tests.conftest import run_piccolo

EXAMPLES_PER_OPERATION = 30

SCHEMA = schemathesis.openapi.from_dict(app.openapi())
OPERATIONS = [
    (method.upper(), path, mode)
    for path, item in app.openapi()["paths"].items()
    for method, operation in item.items()
    if method in {"get", "post", "put", "delete", "patch"}
    # An operation that takes no input has no invalid input to generate.
    for mode in (
        [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
        if operation.get("parameters") or operation.get("requestBody")
        else [GenerationMode.POSITIVE]
    )
]


@pytest.fixture(scope="module")
def live_server():
    fake = FakeOpenAI().start()
    env = {"OPENAI_API_KEY": "sk-schemathesis", "OPENAI_BASE_URL": fake.base_url}
    # Fuzz the production configuration: auth on, with a key holding every scope (schemathesis
    # also checks that the same requests without it, or with a wrong one, are refused).
    minted = run_piccolo(
        os.environ["DATABASE_URL"], "access", "create_key", "--name=fuzz", "--scopes=all"
    )
    key = minted.stdout.strip().splitlines()[-1]
    with ServerProcess(**env, LOG_LEVEL="WARNING", AUTH_REQUIRED="true") as server:
        server.headers = {"Authorization": f"Bearer {key}"}
        yield server
    fake.stop()


@pytest.mark.parametrize(
    ("method", "path", "mode"),
    OPERATIONS,
    ids=[f"{m} {p} {mode.value}" for m, p, mode in OPERATIONS],
)
def test_the_api_keeps_its_documented_promises(live_server, method, path, mode):
    operation = SCHEMA[path][method]

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.seed(20261130)
    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        case.call_and_validate(
            base_url=live_server.base_url, headers=live_server.headers, timeout=30
        )

    check()
