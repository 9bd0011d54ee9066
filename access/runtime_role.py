"""The least-privilege role the web process (and the sealer) should connect as.

It owns nothing, so it cannot ALTER or DROP a table, disable a trigger or grant itself
more; it holds only what the service's queries need, and UPDATE only on the columns the API
changes. It cannot TRUNCATE anything, nor DELETE anything but the sealer's queue rows, nor
write a journal entry itself: the journal trigger runs with its owner's rights (SECURITY
DEFINER). Migrations run as another role, the owner of the tables (the Procfile's `release`
uses its own DATABASE_URL).

A feature that adds a table adds it to RUNTIME_TABLES (and its sequence, if the app inserts
through one, to RUNTIME_SEQUENCES); operators re-run `piccolo access grant_runtime_role`
after the migration, as the release phase can.
"""

from __future__ import annotations

# table -> (privileges on every column, columns the app may also UPDATE)
RUNTIME_TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "audit": (("SELECT", "INSERT"), ("status", "details", "updated_at", "deleted_at")),
    "api_key": (("SELECT", "INSERT"), ("last_used_at", "revoked_at")),
    "ai_call": (("SELECT", "INSERT"), ()),
    # The trigger, not the app, writes the journal and queues each entry for sealing; the
    # sealer takes entries off the queue and gives each its tree position.
    "journal_entry": (("SELECT",), ()),
    "journal_unsealed": (("SELECT", "DELETE"), ()),
    "ledger_leaf": (("SELECT", "INSERT"), ()),
    "ledger_node": (("SELECT", "INSERT"), ()),
    "ledger_checkpoint": (("SELECT", "INSERT"), ()),
    # Idempotency answers are a cache, not audit data: expired ones are swept by new keys
    # (DELETE, and a row lock to skip the ones another request is sweeping).
    "idempotency_key": (("SELECT", "INSERT", "DELETE"), ("expires_at",)),
}
# Sequences behind the INSERTs above (journal_entry's is used by the trigger, as its owner).
RUNTIME_SEQUENCES: tuple[str, ...] = ("ledger_checkpoint_id_seq", "idempotency_key_id_seq")


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def grant_statements(role: str, database: str) -> list[str]:
    """Everything the role may do, from nothing: revoke first so a re-run also narrows."""
    who = quote_ident(role)
    statements = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {who}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {who}",
        f"GRANT CONNECT ON DATABASE {quote_ident(database)} TO {who}",
        f"GRANT USAGE ON SCHEMA public TO {who}",
    ]
    for table, (privileges, update_columns) in RUNTIME_TABLES.items():
        statements.append(f"GRANT {', '.join(privileges)} ON TABLE {quote_ident(table)} TO {who}")
        if update_columns:
            columns = ", ".join(quote_ident(column) for column in update_columns)
            statements.append(f"GRANT UPDATE ({columns}) ON TABLE {quote_ident(table)} TO {who}")
    for sequence in RUNTIME_SEQUENCES:
        statements.append(f"GRANT USAGE ON SEQUENCE {quote_ident(sequence)} TO {who}")
    return statements
