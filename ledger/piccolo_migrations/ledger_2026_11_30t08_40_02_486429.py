from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from piccolo_conf import DB

ID = "2026-11-30T08:40:02:486429"
VERSION = "1.38.0"
DESCRIPTION = "every change of an audit row journaled by a trigger; ledger tables only grow"

# A trigger, not the query helpers, writes the journal: then no code path (today's, a future
# one, or direct SQL) can change a record without an entry in the same transaction. It runs
# BEFORE the row is written so it can stamp the row's receipt (`ledger_seq`); its name sorts
# after `audit_guard_rows`, so a change the guard refuses never reaches it. The leaf is built
# by PostgreSQL once (json, not jsonb: measurably cheaper, and its keys keep this order) and
# stored as bytes; `SET timezone = UTC` makes every leaf render time
# the same way whatever the writing session's setting. `by` is the API key the request used
# (set per statement with set_config); `db_user` shows who connected when there was none.
JOURNAL_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_journal() RETURNS trigger LANGUAGE plpgsql
SET timezone = 'UTC' AS $$
DECLARE
    kind text;
    entry_seq bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        kind := 'create';
    ELSIF OLD.ledger_seq IS NULL THEN
        kind := 'import';
    ELSIF (to_jsonb(NEW) - 'ledger_seq') = (to_jsonb(OLD) - 'ledger_seq') THEN
        NEW.ledger_seq := OLD.ledger_seq;
        RETURN NEW;
    ELSIF OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN
        kind := 'delete';
    ELSE
        kind := 'update';
    END IF;
    entry_seq := nextval(pg_get_serial_sequence('journal_entry', 'seq'));
    NEW.ledger_seq := entry_seq;
    INSERT INTO journal_entry (seq, audit_id, change, leaf, created_at)
    VALUES (entry_seq, NEW.id, kind, convert_to(json_build_object(
        'v', 1,
        'seq', entry_seq,
        'audit_id', NEW.id,
        'change', kind,
        'by', nullif(current_setting('looped_needle.actor', true), ''),
        'db_user', session_user,
        'at', now(),
        'record', row_to_json(NEW))::text, 'UTF8'), now());
    RETURN NEW;
END
$$
"""

# The journal only grows: an entry is never deleted or rewritten; the sealer may give it its
# tree position once. Tree nodes and checkpoints are never changed or removed either. The
# journal's rules are column lists and WHEN conditions, checked without calling PL/pgSQL,
# because the sealer sets `leaf_index` on many thousands of rows per second.
LEDGER_GUARD_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows only grow: % is refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$
"""
JOURNAL_RULES = {
    "journal_entry_guard_fixed": "BEFORE UPDATE OF seq, audit_id, change, leaf, created_at",
    "journal_entry_guard_sealed": "BEFORE UPDATE OF leaf_index",
}
SEALED_ONCE = "WHEN (OLD.leaf_index IS NOT NULL OR NEW.leaf_index IS NULL)"
LEDGER_TABLES = ("journal_entry", "ledger_node", "ledger_checkpoint")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ledger", description=DESCRIPTION)

    async def create_journal():
        await DB.run_ddl(JOURNAL_FUNCTION)
        await DB.run_ddl(
            "CREATE TRIGGER audit_journal_rows BEFORE INSERT OR UPDATE ON audit "
            "FOR EACH ROW EXECUTE FUNCTION audit_journal()"
        )
        await DB.run_ddl("ALTER TABLE audit ENABLE ALWAYS TRIGGER audit_journal_rows")
        await DB.run_ddl(LEDGER_GUARD_FUNCTION)
        for table in LEDGER_TABLES:
            # The journal's updates are ruled by JOURNAL_RULES below; the others take none.
            events = "DELETE" if table == "journal_entry" else "UPDATE OR DELETE"
            await DB.run_ddl(
                f"CREATE TRIGGER {table}_guard_rows BEFORE {events} ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_guard()"
            )
            await DB.run_ddl(
                f"CREATE TRIGGER {table}_guard_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION ledger_guard()"
            )
            for trigger in (f"{table}_guard_rows", f"{table}_guard_truncate"):
                await DB.run_ddl(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger}")
        for trigger, event in JOURNAL_RULES.items():
            when = SEALED_ONCE if trigger.endswith("sealed") else ""
            await DB.run_ddl(
                f"CREATE TRIGGER {trigger} {event} ON journal_entry FOR EACH ROW {when} "
                "EXECUTE FUNCTION ledger_guard()"
            )
            await DB.run_ddl(f"ALTER TABLE journal_entry ENABLE ALWAYS TRIGGER {trigger}")
        # The sealer reads only what is not in the tree yet.
        await DB.run_ddl(
            "CREATE INDEX IF NOT EXISTS journal_entry_unsealed_idx ON journal_entry (seq) "
            "WHERE leaf_index IS NULL"
        )
        # Records written before the ledger existed get an `import` entry each.
        await DB.run_ddl("UPDATE audit SET ledger_seq = NULL WHERE ledger_seq IS NULL")

    async def drop_journal():
        await DB.run_ddl("DROP INDEX IF EXISTS journal_entry_unsealed_idx")
        for trigger in JOURNAL_RULES:
            await DB.run_ddl(f"DROP TRIGGER IF EXISTS {trigger} ON journal_entry")
        for table in LEDGER_TABLES:
            await DB.run_ddl(f"DROP TRIGGER IF EXISTS {table}_guard_truncate ON {table}")
            await DB.run_ddl(f"DROP TRIGGER IF EXISTS {table}_guard_rows ON {table}")
        await DB.run_ddl("DROP FUNCTION IF EXISTS ledger_guard()")
        await DB.run_ddl("DROP TRIGGER IF EXISTS audit_journal_rows ON audit")
        await DB.run_ddl("DROP FUNCTION IF EXISTS audit_journal()")

    manager.add_raw(create_journal)
    manager.add_raw_backwards(drop_journal)

    return manager
