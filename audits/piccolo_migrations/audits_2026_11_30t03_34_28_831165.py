from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from piccolo_conf import DB

ID = "2026-11-30T03:34:28:831165"
VERSION = "1.38.0"
DESCRIPTION = "indexes for the list filters and newest-first order"

# Every list is `WHERE deleted_at IS NULL [AND filter] ORDER BY created_at DESC, id DESC`,
# so each filter gets a partial composite index that also serves the order and the page.
# Piccolo's columns can only say single-column indexes, hence raw SQL.
INDEXES = {
    "audit_live_newest_idx": "(created_at DESC, id DESC)",
    "audit_live_entity_type_action_idx": "(entity_type, action_type, created_at DESC, id DESC)",
    "audit_live_action_type_idx": "(action_type, created_at DESC, id DESC)",
    "audit_live_entity_id_idx": "(entity_id, created_at DESC, id DESC)",
    "audit_live_user_id_idx": "(user_id, created_at DESC, id DESC)",
    "audit_live_status_idx": "(status, created_at DESC, id DESC)",
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="audits", description=DESCRIPTION)

    async def create_indexes():
        for name, columns in INDEXES.items():
            await DB.run_ddl(
                f"CREATE INDEX IF NOT EXISTS {name} ON audit {columns} WHERE deleted_at IS NULL"
            )

    async def drop_indexes():
        for name in INDEXES:
            await DB.run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)

    return manager
