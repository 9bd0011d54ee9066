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
