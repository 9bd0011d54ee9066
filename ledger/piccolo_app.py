import os

from piccolo.conf.apps import AppConfig

from ledger.commands import new_key, verify
from ledger.tables import JournalEntry, LedgerCheckpoint, LedgerLeaf, LedgerNode, UnsealedEntry

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="ledger",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[JournalEntry, UnsealedEntry, LedgerLeaf, LedgerNode, LedgerCheckpoint],
    # The journal trigger lives on `audit`, so the audits tables must exist first.
    migration_dependencies=["audits.piccolo_app"],
    commands=[new_key, verify],
)
