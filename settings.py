"""The service's configuration: one pydantic-settings class, read from the environment."""

from __future__ import annotations

import ipaddress
import re
import sys
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Literal

from fastapi import Depends, Request
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SERVICE_NAME = "Looped Needle API"

try:
    SERVICE_VERSION = version("looped-needle-api")
except PackageNotFoundError:  # running from a checkout that was never pip-installed
    SERVICE_VERSION = "0.0.0+unknown"

MIB = 1024 * 1024
HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")


class Settings(BaseSettings):
    """Every knob the service reads. Secrets are `SecretStr`: `repr` and logs show stars."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", hide_input_in_errors=True)

    database_url: SecretStr | None = Field(
        default=None,
        description="asyncpg DSN: postgresql://user:pass@host:port/db, or ?host=/socket/dir",
    )
    db_pool_min: int = Field(default=2, ge=0)
    db_pool_max: int = Field(default=10, ge=1)
    db_connect_timeout_s: float = Field(default=5.0, gt=0)
    db_acquire_timeout_s: float = Field(default=5.0, gt=0)
    # The bound for jobs that ask for a longer one (the sealer); API statements use
    # DB_STATEMENT_TIMEOUT_S.
    db_command_timeout_s: float = Field(default=30.0, gt=0)
    db_health_timeout_s: float = Field(default=2.0, gt=0)
    db_statement_cache_size: int = Field(default=100, ge=0)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    cors_origins: Annotated[list[str], NoDecode] = ["*"]
    max_body_bytes: int = Field(default=MIB, ge=1024)
    max_details_bytes: int = Field(default=64 * 1024, ge=64)
    list_exact_total_up_to: int = Field(default=10_000, ge=0)

    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_timeout_s: float = Field(default=20.0, gt=0)
    openai_max_retries: int = Field(default=2, ge=0, le=10)

    auth_required: bool = Field(default=True, description="Demand an API key on /api/v1.")
    # A revoked key keeps working in a process for at most this long; 0 looks up every time.
    auth_cache_ttl_s: float = Field(default=5.0, ge=0, le=300)

    # How the process serves (serve.py and `dev.py run`). No HOST means all interfaces for
    # serve.py, and only 127.0.0.1 for `dev.py run`.
    host: str | None = None
    port: int = Field(default=8000, ge=0, le=65535)
    web_concurrency: int = Field(default=1, ge=1)
    graceful_shutdown_s: float = Field(default=20.0, gt=0)
    forwarded_allow_ips: str = "127.0.0.1"

    @field_validator("host")
    @classmethod
    def host_is_an_address_or_a_name(cls, host: str | None) -> str | None:
        if host is None:
            return None
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if len(host) > 253 or not HOSTNAME.fullmatch(host):
                raise ValueError("must be an IP address or a host name") from None
        return host

    # The ledger's checkpoint signer, a signed-note private key (`piccolo ledger new_key`).
    ledger_signing_key: SecretStr | None = None
    # The matching verifier key (public): what `piccolo ledger verify` checks signatures with.
    ledger_verifier_key: str | None = None
    ledger_seal_interval_s: float = Field(default=1.0, gt=0)
    ledger_seal_batch_max: int = Field(default=100_000, ge=1)
    # Run the sealer inside each web process (one works at a time), or only in a worker.
    ledger_sealer: bool = True

    # Batch ingest (POST /api/v1/audits/batch) takes bigger bodies than any other route.
    max_batch_body_bytes: int = Field(default=4 * MIB, ge=1024)
    # How long an Idempotency-Key's first answer is kept and replayed.
    idempotency_ttl_s: int = Field(default=24 * 3600, ge=60)
    # How long a duplicate waits for the same key's first request to finish before a 409.
    idempotency_wait_s: float = Field(default=5.0, gt=0, le=60)

    @model_validator(mode="before")
    @classmethod
    def split_cors_origins(cls, values: dict) -> dict:
        raw = values.get("cors_origins")
        if isinstance(raw, str):
            values["cors_origins"] = [origin.strip() for origin in raw.split(",") if origin.strip()]
        for name in (
            "database_url",
            "openai_api_key",
            "openai_base_url",
            "host",
            "ledger_signing_key",
            "ledger_verifier_key",
        ):
            if values.get(name) == "":
                values[name] = None
        return values

    @model_validator(mode="after")
    def pool_bounds_are_ordered(self) -> Settings:
        if self.db_pool_max < self.db_pool_min:
            raise ValueError(
                f"DB_POOL_MAX ({self.db_pool_max}) must be >= DB_POOL_MIN ({self.db_pool_min})"
            )
        return self

    # Seconds any one API statement may take, counted by the client, so a silent (frozen)
    # database is a 503 within DB_ACQUIRE_TIMEOUT_S + this, never a hang.
    db_statement_timeout_s: float = Field(default=5.0, gt=0)


def describe_settings_error(error: ValidationError) -> str:
    """One line naming each broken setting, without echoing its (possibly secret) value."""
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        name = ".".join(str(part) for part in item["loc"]).upper() or "settings"
        problems.append(f"{name}: {item['msg']}")
    return "invalid configuration: " + "; ".join(problems)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; a broken value stops start-up with one readable line."""
    try:
        return Settings()
    except ValidationError as error:
        sys.exit(describe_settings_error(error))


async def app_settings(request: Request) -> Settings:
    """The settings this app was built with (`create_app(settings)`), for request paths.
    (`async` so that FastAPI does not run it in a worker thread.)"""
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(app_settings)]
