"""Request and response bodies of the key-management routes. No schema carries a secret
except `ApiKeyCreated.key`, which is answered once."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from access.keys import ALL_SCOPES, SCOPES, Scope, expand_scopes

# No control characters (PostgreSQL text cannot hold NUL), and not blank.
NAME_PATTERN = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "billing", "scopes": ["audits:write"]}]},
    )

    name: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN, examples=["billing"])
    scopes: list[Scope | Literal["all"]] = Field(
        min_length=1,
        max_length=len(SCOPES) + 1,
        description=f"Any of {', '.join(SCOPES)}; or `{ALL_SCOPES}` for every scope.",
        examples=[["audits:read", "audits:write"]],
    )

    @field_validator("scopes")
    @classmethod
    def known_scopes(cls, scopes: list[str]) -> list[str]:
        return expand_scopes(scopes)


class ApiKeyOut(BaseModel):
    name: str
    prefix: str = Field(description="The key's public part; it names the key in logs.")
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None = Field(description="Updated at most once a minute.")
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The whole key. Shown only in this answer; store it now.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]
