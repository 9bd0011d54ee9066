"""Every operation documents itself well enough for a consumer to build against it."""

import pytest

METHODS = {"get", "post", "put", "delete", "patch"}


@pytest.fixture(scope="module")
async def operations(client):
    spec = (await client.get("/openapi.json")).json()
    return spec, [
        (method.upper(), path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


async def test_every_operation_has_summary_description_tags_and_a_success_model(operations):
    _, ops = operations
    for method, path, operation in ops:
        where = f"{method} {path}"
        assert operation.get("summary"), where
        assert operation.get("description"), where
        assert operation.get("tags"), where
        success = [code for code in operation["responses"] if code.startswith("2")]
        assert success, where
        if success != ["204"]:
            # JSON for most; a download (the export) names its own media types.
            content = operation["responses"][success[0]].get("content", {})
            assert content and all(media.get("schema") for media in content.values()), where


async def test_api_operations_document_their_errors_with_the_error_schema(operations):
    _, ops = operations
    for method, path, operation in ops:
        if not path.startswith("/api/"):
            continue
        for code in ("422", "500", "503"):
            schema = operation["responses"][code]["content"]["application/json"]["schema"]
            assert schema["$ref"].endswith(("/ErrorBody", "/ValidationErrorBody")), (method, path)
        if "{audit_id}" in path:
            assert "404" in operation["responses"], (method, path)


async def test_request_bodies_carry_an_example(operations):
    spec, ops = operations
    schemas = spec["components"]["schemas"]
    for method, path, operation in ops:
        if "requestBody" not in operation:
            continue
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert schemas[ref.rsplit("/", 1)[1]].get("examples"), (method, path)


# pydantic's names for bounds; a schema that carries them instead of JSON Schema's own
# (minimum, maxLength, …) tells clients and fuzzers that any value fits.
NOT_JSON_SCHEMA = {"ge", "gt", "le", "lt", "min_length", "max_length", "multiple_of"}


def keywords_outside_json_schema(node, where: str = "#") -> list[str]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in NOT_JSON_SCHEMA and not where.endswith("/properties"):
                found.append(f"{where}/{key}")
            found += keywords_outside_json_schema(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += keywords_outside_json_schema(value, f"{where}/{index}")
    return found


async def test_every_bound_is_stated_in_json_schema_words(operations):
    spec, _ = operations
    assert keywords_outside_json_schema(spec) == []
    max_tokens = spec["components"]["schemas"]["ChatRequest"]["properties"]["max_tokens"]
    assert {"minimum": 1, "maximum": 4096}.items() <= max_tokens["anyOf"][0].items()
