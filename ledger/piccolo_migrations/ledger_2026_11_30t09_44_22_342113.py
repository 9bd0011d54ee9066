from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from ledger.piccolo_migrations.ledger_2026_11_30t08_40_02_486429 import JOURNAL_FUNCTION
from piccolo_conf import DB

ID = "2026-11-30T09:44:22:342113"
VERSION = "1.38.0"
DESCRIPTION = "audit_journal runs as its owner so the runtime role needs no journal INSERT"

# SECURITY DEFINER: the journal entry is written with the privileges of the function's owner
# (the role that runs migrations), so the runtime role can change a record, and so have its
# entry written, while holding no INSERT on journal_entry: it cannot forge an entry. A fixed
# search_path keeps a caller's own objects from standing in for the tables the body names.
OWNER_RIGHTS = "SET timezone = 'UTC' SECURITY DEFINER SET search_path = public, pg_temp AS $$"
JOURNAL_AS_OWNER = JOURNAL_FUNCTION.replace("SET timezone = 'UTC' AS $$", OWNER_RIGHTS)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ledger", description=DESCRIPTION)

    async def run_as_owner():
        assert JOURNAL_AS_OWNER != JOURNAL_FUNCTION, "the journal function's text moved"
        await DB.run_ddl(JOURNAL_AS_OWNER)

    async def run_as_caller():
        # CREATE OR REPLACE sets every attribute it does not name back to its default.
        await DB.run_ddl(JOURNAL_FUNCTION)

    manager.add_raw(run_as_owner)
    manager.add_raw_backwards(run_as_caller)

    return manager
