"""The audits API's public shapes. Inputs forbid unknown fields so a typo never drops data."""

from __future__ import annotations

import ipaddress
import json
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from settings import get_settings

ActionType = Literal[
    "create", "update", "delete", "view", "export", "import", "login", "logout", "other"
]
Status = Literal["success", "failure", "pending"]

NoNulString = Annotated[str, Field(pattern=r"^[^\x00]*$")]


def check_details(details: dict[str, Any] | None) -> dict[str, Any] | None:
    """Refuse what PostgreSQL's jsonb cannot keep faithfully, and enforce the size cap."""
    if details is None:
        return None
    try:
        serialized = json.dumps(details, allow_nan=False, ensure_ascii=False)
    except ValueError:
        raise ValueError("details must not contain NaN or Infinity") from None
    if "\\u0000" in serialized:
        raise ValueError("details must not contain NUL (\\u0000) characters")
    limit = get_settings().max_details_bytes
    if len(serialized.encode()) > limit:
        raise ValueError(f"details is larger than {limit} bytes when serialized")
    return details


EXAMPLE_AUDIT = {
    "action_type": "update",
    "entity_type": "invoice",
    "entity_id": "6f1c1f1e-3c1a-4a53-9d1e-2b9d1c0b7a11",
    "user_id": "0b8f2b1e-9a57-4a8e-8a7e-5f0f0c7d2e33",
    "details": {"field": "amount", "from": 100, "to": 120},
    "status": "success",
    "ip_address": "203.0.113.7",
    "user_agent": "billing-ui/2.4",
}


class AuditCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_AUDIT]})

    action_type: ActionType
    entity_type: NoNulString = Field(min_length=1, max_length=100)
    entity_id: UUID
    user_id: UUID | None = Field(default=None, description="null means the system acted")
    details: dict[str, Any] | None = Field(default=None, description="Free-form, ≤ 64 KiB")
    status: Status = "success"
    ip_address: str | None = Field(default=None, max_length=45, description="IPv4 or IPv6")
    user_agent: NoNulString | None = Field(default=None, max_length=500)

    @field_validator("entity_type")
    @classmethod
    def entity_type_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("entity_type must not be blank")
        return value

    @field_validator("ip_address")
    @classmethod
    def ip_address_is_an_address(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError("ip_address must be a valid IPv4 or IPv6 address") from None
        return value

    @field_validator("details")
    @classmethod
    def details_fit_jsonb(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_details(value)


class AuditUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "success", "details": {"reviewed": True}}]},
    )

    status: Status | None = Field(default=None, description="pending → success | failure only")
    details: dict[str, Any] | None = Field(
        default=None, description="Merged into the stored object: keys added or replaced."
    )

    @field_validator("details")
    @classmethod
    def details_fit_jsonb(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_details(value)

    @model_validator(mode="after")
    def something_to_change(self) -> AuditUpdate:
        if self.status is None and self.details is None:
            raise ValueError("send at least one of status or details")
        return self


class AuditOut(BaseModel):
    id: UUID
    action_type: ActionType
    entity_type: str
    entity_id: UUID
    user_id: UUID | None
    details: dict[str, Any] | None
    status: Status
    ip_address: str | None
    user_agent: str | None
    created_at: datetime
    updated_at: datetime | None


class AuditFilters(BaseModel):
    """List filters, combined with AND. Unknown query parameters are refused, like body fields."""

    model_config = ConfigDict(extra="forbid")

    action_type: ActionType | None = None
    entity_type: NoNulString | None = Field(default=None, min_length=1, max_length=100)
    entity_id: UUID | None = None
    user_id: UUID | None = None
    status: Status | None = None
    created_after: AwareDatetime | None = Field(
        default=None, description="Inclusive lower bound, RFC 3339 with a UTC offset."
    )
    created_before: AwareDatetime | None = Field(
        default=None, description="Exclusive upper bound, RFC 3339 with a UTC offset."
    )

    @model_validator(mode="after")
    def window_is_ordered(self) -> AuditFilters:
        if self.created_after and self.created_before and self.created_after > self.created_before:
            raise ValueError("created_after must not be later than created_before")
        return self


class AuditListQuery(AuditFilters):
    limit: int = Field(default=20, ge=1, le=50, description="Page size, 1-50.")
    offset: int = Field(default=0, ge=0, le=1_000_000, description="Rows to skip.")


class AuditPage(BaseModel):
    items: list[AuditOut]
    total: int
    limit: int
    offset: int
