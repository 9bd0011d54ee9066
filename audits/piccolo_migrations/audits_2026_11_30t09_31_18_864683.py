from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from piccolo_conf import DB

ID = "2026-11-30T09:31:18:864683"
VERSION = "1.38.0"
DESCRIPTION = "GIN jsonb_path_ops index on details for the containment filter"

# `details @> '{...}'` (the list/export/stats `details` filter). jsonb_path_ops indexes only
# what `@>` needs, so it is a fraction of the default jsonb_ops index's size. CONCURRENTLY,
# outside a transaction, so a table taking writes is not locked while it builds.
INDEX = "audit_details_path_ops_idx"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="audits", description=DESCRIPTION, wrap_in_transaction=False
    )

    async def create_index():
        await DB.run_ddl(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON audit "
            "USING gin (details jsonb_path_ops)"
        )

    async def drop_index():
        await DB.run_ddl(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")

    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)

    return manager
