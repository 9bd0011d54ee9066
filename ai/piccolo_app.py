import os

from piccolo.conf.apps import AppConfig

from ai.tables import AiCall

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="ai",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=[AiCall],
    migration_dependencies=[],
    commands=[],
)
