"""Batch and idempotent ingest: the keyed app fixtures of tests/access, reused."""

from tests.access.conftest import admin_key, auth_app, auth_client, mint  # noqa: F401
