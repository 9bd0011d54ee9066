from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from piccolo_conf import DB

ID = "2026-11-30T03:49:02:897527"
VERSION = "1.38.0"
DESCRIPTION = "audit rows are append-only, enforced by a trigger"

# The API already only inserts, merges details, finalises a pending status and soft
# deletes. This makes PostgreSQL refuse everything else too, whoever connects: DELETE,
# TRUNCATE, changing an immutable column, moving a final status, dropping details keys,
# or undeleting a row.
GUARD_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
        RAISE EXCEPTION 'audit rows are append-only: % is refused (soft delete instead)', TG_OP
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF (NEW.id, NEW.action_type, NEW.entity_type, NEW.entity_id, NEW.user_id,
        NEW.ip_address, NEW.user_agent, NEW.created_at)
       IS DISTINCT FROM
       (OLD.id, OLD.action_type, OLD.entity_type, OLD.entity_id, OLD.user_id,
        OLD.ip_address, OLD.user_agent, OLD.created_at) THEN
        RAISE EXCEPTION 'audit %: only status, details, updated_at and deleted_at may change',
            OLD.id USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.status IN ('success', 'failure') AND NEW.status IS DISTINCT FROM OLD.status THEN
        RAISE EXCEPTION 'audit %: status % is final', OLD.id, OLD.status
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.details IS NOT NULL AND (
        NEW.details IS NULL
        OR EXISTS (SELECT 1 FROM jsonb_object_keys(OLD.details) AS key
                   WHERE NOT NEW.details ? key)
    ) THEN
        RAISE EXCEPTION 'audit %: details keys may be added or replaced, never removed', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.deleted_at IS NOT NULL AND NEW.deleted_at IS DISTINCT FROM OLD.deleted_at THEN
        RAISE EXCEPTION 'audit %: a deleted record stays deleted', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="audits", description=DESCRIPTION)

    async def create_guard():
        await DB.run_ddl(GUARD_FUNCTION)
        await DB.run_ddl(
            "CREATE TRIGGER audit_guard_rows BEFORE UPDATE OR DELETE ON audit "
            "FOR EACH ROW EXECUTE FUNCTION audit_guard()"
        )
        await DB.run_ddl(
            "CREATE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON audit "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_guard()"
        )

    async def drop_guard():
        await DB.run_ddl("DROP TRIGGER IF EXISTS audit_guard_truncate ON audit")
        await DB.run_ddl("DROP TRIGGER IF EXISTS audit_guard_rows ON audit")
        await DB.run_ddl("DROP FUNCTION IF EXISTS audit_guard()")

    manager.add_raw(create_guard)
    manager.add_raw_backwards(drop_guard)

    return manager
