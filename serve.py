"""The production entry point (the Procfile's `web`): check the settings, then run uvicorn.

Without DATABASE_URL it refuses to start, with one line, rather than guess a database.
"""

import os
import sys

import uvicorn

from settings import get_settings


def main() -> None:
    settings = get_settings()
    if settings.database_url is None:
        sys.exit("refusing to start: DATABASE_URL is not set (postgresql://user:pass@host/db)")
    uvicorn.run(
        "app:app",
        host=os.environ.get("HOST", "0.0.0.0"),
        port=int(os.environ.get("PORT", "8000")),
        workers=int(os.environ.get("WEB_CONCURRENCY", "1")),
        access_log=False,  # our middleware writes the access line, with the request id
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        server_header=False,
        timeout_graceful_shutdown=int(os.environ.get("GRACEFUL_SHUTDOWN_S", "20")),
        log_config=None,
    )


if __name__ == "__main__":
    main()
