"""Property-based tests generated from the app's own OpenAPI document, against the real server.

Every operation, valid and invalid inputs, a bounded number of examples; then the stateful
phase, which follows OpenAPI links from a create to GET, PUT and DELETE of the record it
made, so the 200 paths and the PUT rules are fuzzed too; then bodies past the size cap.
Schemathesis's checks must find no 5xx, no response that breaks its documented schema, and
no undocumented status code. (The schema is taken from `app.openapi()` at collection time:
schemathesis's lazy pytest fixture does not work with this pytest.)

The seed is random on each run and printed; `SCHEMATHESIS_SEED=<n>` replays a run.
"""

import copy
import os
import random

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode

from app import app
from harness.fake_openai import FakeOpenAI
from harness.server_process import ServerProcess
from tests.conftest import run_piccolo

EXAMPLES_PER_OPERATION = 30
SEED = int(os.environ.get("SCHEMATHESIS_SEED") or random.randrange(2**32))
print(f"schemathesis seed: {SEED} (replay with SCHEMATHESIS_SEED={SEED})")

RECORD = "/api/v1/audits/{audit_id}"


def with_record_links(document: dict) -> dict:
    """The create's 201 links to GET, PUT and DELETE of the record it returns (OpenAPI 3.1
    links), which is what schemathesis's stateful phase follows."""
    document = copy.deepcopy(document)
    by_id = {"audit_id": "$response.body#/id"}
    created = document["paths"]["/api/v1/audits"]["post"]["responses"]["201"]
    created["links"] = {
        f"{method}_record": {
            "operationId": document["paths"][RECORD][method]["operationId"],
            "parameters": by_id,
        }
        for method in ("get", "put", "delete")
    }
    return document


SCHEMA = schemathesis.openapi.from_dict(with_record_links(app.openapi()))
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
    @hypothesis.seed(SEED)
    @hypothesis.settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        # Our key would replace headers the fuzzer broke on purpose (say, the key left out),
        # turning an invalid request into a valid one; those go out as generated.
        broken_headers = case.meta is not None and case.meta.is_negative_at(
            ParameterLocation.HEADER
        )
        headers = None if broken_headers else live_server.headers
        case.call_and_validate(base_url=live_server.base_url, headers=headers, timeout=30)

    check()


def test_create_then_read_update_delete_keeps_the_promises(live_server):
    """The stateful phase: POST, then GET/PUT/DELETE on what it created, in random orders."""
    machine = SCHEMA.as_state_machine()

    class AgainstTheServer(machine):
        def get_call_kwargs(self, case):
            return {"base_url": live_server.base_url, "headers": live_server.headers, "timeout": 30}

    hypothesis.seed(SEED)(AgainstTheServer)
    AgainstTheServer.run(
        settings=hypothesis.settings(
            max_examples=15,
            stateful_step_count=6,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_bodies_past_the_size_cap_are_a_documented_413(live_server, method):
    path = "/api/v1/audits" if method == "POST" else RECORD
    operation = SCHEMA[path][method]
    oversized = {"status": "pending", "details": {"pad": "x" * (1024 * 1024 + 1)}}
    case = operation.Case(
        body=oversized,
        path_parameters={"audit_id": "6f1c1f1e-3c1a-4a53-9d1e-2b9d1c0b7a11"}
        if method == "PUT"
        else {},
        media_type="application/json",
    )
    response = case.call_and_validate(
        base_url=live_server.base_url, headers=live_server.headers, timeout=30
    )
    assert response.status_code == 413
