"""Batch ingest and Idempotency-Key handling for the audit write routes."""
