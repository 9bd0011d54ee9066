"""Piccolo's configuration, read by the app and by the `piccolo` CLI alike.

It depends on nothing else in the project so that `piccolo migrations forwards all` works
in a release phase that has only the environment. The engine opens no connection here:
the app starts its pool in the lifespan, the CLI connects per command.
"""

import os

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine

# asyncpg waits this long for a connection before giving up, so a dead host fails fast.
CONNECT_TIMEOUT_S = float(os.environ.get("DB_CONNECT_TIMEOUT_S", "5"))

DB = PostgresEngine(
    config={"dsn": os.environ.get("DATABASE_URL", ""), "timeout": CONNECT_TIMEOUT_S},
)

APP_REGISTRY = AppRegistry(apps=["audits.piccolo_app", "ai.piccolo_app", "access.piccolo_app"])
