"""Piccolo's configuration, read by the app and by the `piccolo` CLI alike.

DATABASE_URL and DB_CONNECT_TIMEOUT_S come through settings.Settings, like every other
knob: the CLI then sees `.env` as the app does, and a broken setting stops a release phase
with the same one line as the web process. The engine opens no connection here: the app
starts its own pool (from the settings given to create_app) in the lifespan, the CLI
connects per command.
"""

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine

from settings import get_settings

_settings = get_settings()

DB = PostgresEngine(
    config={
        "dsn": _settings.database_url.get_secret_value() if _settings.database_url else "",
        # asyncpg waits this long for a connection before giving up: a dead host fails fast.
        "timeout": _settings.db_connect_timeout_s,
    },
)

APP_REGISTRY = AppRegistry(
    apps=[
        "audits.piccolo_app",
        "ai.piccolo_app",
        "access.piccolo_app",
        "ledger.piccolo_app",
        "ingest.piccolo_app",
    ]
)
