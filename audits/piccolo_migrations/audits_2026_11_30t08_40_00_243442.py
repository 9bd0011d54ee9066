from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from audits.piccolo_migrations.audits_2026_11_30t03_49_02_897527 import GUARD_FUNCTION
from piccolo_conf import DB

ID = "2026-11-30T08:40:00:243442"
VERSION = "1.38.0"
DESCRIPTION = "recorded_by is immutable; the row guards fire even in replica mode"

# recorded_by says which API key wrote the record: as fixed as who did it and when.
GUARD_WITH_RECORDED_BY = (
    GUARD_FUNCTION.replace(
        "NEW.ip_address, NEW.user_agent, NEW.created_at)",
        "NEW.ip_address, NEW.user_agent, NEW.created_at, NEW.recorded_by)",
    )
    .replace(
        "OLD.ip_address, OLD.user_agent, OLD.created_at)",
        "OLD.ip_address, OLD.user_agent, OLD.created_at, OLD.recorded_by)",
    )
    .replace("only status, details", "only status, details, ledger_seq")
)
# `SET session_replication_role = replica` skips ordinary triggers; ALWAYS ones still fire.
# (A superuser can still DISABLE them: the ledger is what catches that.)
GUARD_TRIGGERS = ("audit_guard_rows", "audit_guard_truncate")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="audits", description=DESCRIPTION)

    async def guard_recorded_by():
        assert GUARD_WITH_RECORDED_BY != GUARD_FUNCTION, "the guard's text moved"
        await DB.run_ddl(GUARD_WITH_RECORDED_BY)
        for trigger in GUARD_TRIGGERS:
            await DB.run_ddl(f"ALTER TABLE audit ENABLE ALWAYS TRIGGER {trigger}")

    async def restore_guard():
        for trigger in GUARD_TRIGGERS:
            await DB.run_ddl(f"ALTER TABLE audit ENABLE TRIGGER {trigger}")
        await DB.run_ddl(GUARD_FUNCTION)

    manager.add_raw(guard_recorded_by)
    manager.add_raw_backwards(restore_guard)

    return manager
