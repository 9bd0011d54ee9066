import os

from piccolo.conf.apps import AppConfig

from ingest.tables import IdempotencyKey

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="ingest",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[IdempotencyKey],
    migration_dependencies=[],
    commands=[],
)
