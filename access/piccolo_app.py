import os

from piccolo.conf.apps import AppConfig, Command

from access.commands import create_key, grant_runtime_role, list_keys, revoke_key
from access.tables import ApiKey

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="access",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[ApiKey],
    migration_dependencies=[],
    commands=[
        Command(create_key),
        Command(list_keys),
        Command(revoke_key),
        Command(grant_runtime_role),
    ],
)
