"""What we send the model: system prompts, compact record renderings, and output schemas.

Records are rendered without `ip_address` and `user_agent`: personal data stays home.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from audits.schemas import ActionType, AuditFilters, Status

# Only these fields of a record ever reach the model.
SHARED_FIELDS = (
    "id",
    "created_at",
    "action_type",
    "entity_type",
    "entity_id",
    "user_id",
    "status",
    "details",
)
DETAILS_CHARS_PER_RECORD = 500

SUMMARY_SYSTEM = (
    "You summarise audit-trail records for an operator. Be factual and brief: what happened, "
    "to which entities, by whom, how it ended, and anything unusual (failures, pending "
    "records, bursts). Cite the ids of the records your statements rest on, only ids that "
    "appear in the input. Answer in the JSON schema given."
)

SUMMARY_SCHEMA = {
    "name": "audit_summary",
    "strict": True,
    "schema": {
        "type": "object",
        "additionalProperties": False,
        "required": ["summary", "cited_ids"],
        "properties": {
            "summary": {"type": "string"},
            "cited_ids": {"type": "array", "items": {"type": "string"}},
        },
    },
}


def render_records(rows: list[dict[str, Any]]) -> str:
    """One JSON object per line, newest first, with only the shared fields."""
    lines = []
    for row in rows:
        shared = {name: row[name] for name in SHARED_FIELDS if row.get(name) is not None}
        if "details" in shared:
            details = json.dumps(shared["details"], ensure_ascii=False)
            if len(details) > DETAILS_CHARS_PER_RECORD:
                details = details[:DETAILS_CHARS_PER_RECORD] + "…(truncated)"
            shared["details"] = details
        lines.append(json.dumps(shared, default=str, ensure_ascii=False))
    return "\n".join(lines)


def search_system_prompt(now: datetime) -> str:
    return (
        "Turn a question about an audit trail into list filters. Records have: action_type "
        f"(one of {', '.join(ActionType.__args__)}), entity_type (free text, e.g. invoice), "
        "entity_id and user_id (UUIDs), status (one of "
        f"{', '.join(Status.__args__)}), created_at, details (a JSON object; to match records "
        "whose details contain some keys and values, give details as JSON text such as "
        '{"field":"amount"}). Use null for every filter the question '
        "does not pin down. Times are RFC 3339 with an offset; created_after is inclusive, "
        f"created_before exclusive. The current time is {now.isoformat()}. Answer only in "
        "the JSON schema given."
    )


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


# The model proposes exactly the list route's filters: one nullable property per field of
# AuditFilters (a filter added there and not here fails at import).
SEARCH_PROPERTIES = {
    "action_type": _nullable({"type": "string", "enum": list(ActionType.__args__)}),
    "entity_type": _nullable({"type": "string"}),
    "entity_id": _nullable({"type": "string"}),
    "user_id": _nullable({"type": "string"}),
    "status": _nullable({"type": "string", "enum": list(Status.__args__)}),
    "created_after": _nullable({"type": "string"}),
    "created_before": _nullable({"type": "string"}),
    "recorded_by": _nullable({"type": "string"}),
    "details": _nullable({"type": "string"}),
}
SEARCH_SCHEMA = {
    "name": "audit_filters",
    "strict": True,
    "schema": {
        "type": "object",
        "additionalProperties": False,
        "required": list(AuditFilters.model_fields),
        "properties": {name: SEARCH_PROPERTIES[name] for name in AuditFilters.model_fields},
    },
}
