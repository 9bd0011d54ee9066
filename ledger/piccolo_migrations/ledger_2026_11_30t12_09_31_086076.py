from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T12:09:31:086076"
VERSION = "1.38.0"
DESCRIPTION = "journal_entry.leaf_index moved to ledger_leaf"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ledger", description=DESCRIPTION)

    manager.drop_column(
        table_class_name="JournalEntry",
        tablename="journal_entry",
        column_name="leaf_index",
        db_column_name="leaf_index",
        schema=None,
    )

    return manager
