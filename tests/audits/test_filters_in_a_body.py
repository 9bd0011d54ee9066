"""The list filters as a JSON body: the AI routes' requests are made of `AuditFilters`.

JSON has numbers and objects where a query string has only text, so each filter says what
it wants. Checked on the model: over HTTP these bodies need a configured AI service
(tests/ai covers that path, outside mutation testing's selection).
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from audits.schemas import AuditFilters


def problems(body: dict) -> list[tuple[tuple, str]]:
    with pytest.raises(ValidationError) as refused:
        AuditFilters.model_validate(body)
    return [(problem["loc"], problem["msg"]) for problem in refused.value.errors()]


@pytest.mark.parametrize("value", [5, 1700000000.5, True, ["2026-01-01T00:00:00Z"]])
def test_a_timestamp_that_is_not_a_string_is_refused_as_such(value):
    assert problems({"created_after": value}) == [
        (("created_after",), "Value error, must be an RFC 3339 timestamp string")
    ]


def test_a_details_object_becomes_compact_json_text_keeping_its_characters():
    filters = AuditFilters.model_validate({"details": {"city": "Zürich", "tags": ["a", "b"]}})
    assert filters.details == '{"city":"Zürich","tags":["a","b"]}'


def test_a_details_object_is_held_to_the_same_rules_as_text():
    deep = {"d": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}
    assert problems({"details": deep}) == [
        (("details",), "Value error, details must not nest deeper than 32 levels")
    ]
