from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from ledger.piccolo_migrations.ledger_2026_11_30t08_40_02_486429 import (
    JOURNAL_RULES,
    SEALED_ONCE,
)
from ledger.piccolo_migrations.ledger_2026_11_30t09_44_22_342113 import JOURNAL_AS_OWNER
from piccolo_conf import DB

ID = "2026-11-30T12:09:16:912882"
VERSION = "1.38.0"
DESCRIPTION = "the journal is never updated: tree positions and the seal queue move out"

# Sealing used to rewrite each wide journal row to set its `leaf_index` (a new row version
# and four index entries each: most of the sealer's time). Now the trigger also queues the
# entry's `seq` in the narrow `journal_unsealed`, and the sealer moves it to `ledger_leaf`.
# The journal itself then takes no UPDATE at all, which its guard now says without a WHEN.
QUEUED = "\n    INSERT INTO journal_unsealed (seq) VALUES (entry_seq);\n    RETURN NEW;\nEND"
JOURNAL_AND_QUEUE = JOURNAL_AS_OWNER.replace("\n    RETURN NEW;\nEND", QUEUED)


def always(table: str, trigger: str) -> str:
    # Fired in replica mode too, like every other ledger guard.
    return f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger}"


def guard(table: str, trigger: str, events: str, each: str = "ROW") -> list[str]:
    return [
        f"CREATE TRIGGER {trigger} BEFORE {events} ON {table} "
        f"FOR EACH {each} EXECUTE FUNCTION ledger_guard()",
        always(table, trigger),
    ]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ledger", description=DESCRIPTION)

    async def move_out():
        assert JOURNAL_AND_QUEUE.count("journal_unsealed") == 1, "the journal function moved"
        statements = [
            "INSERT INTO ledger_leaf (leaf_index, seq) "
            "SELECT leaf_index, seq FROM journal_entry WHERE leaf_index IS NOT NULL",
            "INSERT INTO journal_unsealed (seq) "
            "SELECT seq FROM journal_entry WHERE leaf_index IS NULL",
            JOURNAL_AND_QUEUE,
            "DROP INDEX IF EXISTS journal_entry_unsealed_idx",
            *(f"DROP TRIGGER IF EXISTS {trigger} ON journal_entry" for trigger in JOURNAL_RULES),
            "DROP TRIGGER journal_entry_guard_rows ON journal_entry",
            *guard("journal_entry", "journal_entry_guard_rows", "UPDATE OR DELETE"),
            *guard("ledger_leaf", "ledger_leaf_guard_rows", "UPDATE OR DELETE"),
            *guard("ledger_leaf", "ledger_leaf_guard_truncate", "TRUNCATE", "STATEMENT"),
            # The sealer deletes from its queue; nothing rewrites or empties it wholesale.
            *guard("journal_unsealed", "journal_unsealed_guard_rows", "UPDATE"),
            *guard("journal_unsealed", "journal_unsealed_guard_truncate", "TRUNCATE", "STATEMENT"),
        ]
        for statement in statements:
            await DB.run_ddl(statement)

    async def move_back():
        # Runs after the next migration's backwards has put `leaf_index` back (empty).
        statements = [
            JOURNAL_AS_OWNER,
            "DROP TRIGGER journal_entry_guard_rows ON journal_entry",
            "UPDATE journal_entry SET leaf_index = ledger_leaf.leaf_index "
            "FROM ledger_leaf WHERE ledger_leaf.seq = journal_entry.seq",
            *guard("journal_entry", "journal_entry_guard_rows", "DELETE"),
            "CREATE INDEX IF NOT EXISTS journal_entry_unsealed_idx ON journal_entry (seq) "
            "WHERE leaf_index IS NULL",
        ]
        for trigger, event in JOURNAL_RULES.items():
            when = SEALED_ONCE if trigger.endswith("sealed") else ""
            statements.append(
                f"CREATE TRIGGER {trigger} {event} ON journal_entry FOR EACH ROW {when} "
                "EXECUTE FUNCTION ledger_guard()"
            )
            statements.append(always("journal_entry", trigger))
        for statement in statements:
            await DB.run_ddl(statement)

    manager.add_raw(move_out)
    manager.add_raw_backwards(move_back)

    return manager
