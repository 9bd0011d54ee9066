"""The production entry point (the Procfile's `web`): check the settings, then run uvicorn.

Without DATABASE_URL or LEDGER_SIGNING_KEY it refuses to start, with one line, rather than
guess a database or run a ledger nobody can check.
Every knob, HOST and PORT included, is read once, by settings.Settings.
"""

import sys

import uvicorn

from settings import get_settings


def main() -> None:
    settings = get_settings()
    if settings.database_url is None:
        sys.exit("refusing to start: DATABASE_URL is not set (postgresql://user:pass@host/db)")
    if settings.ledger_signing_key is None:
        sys.exit(
            "refusing to start: LEDGER_SIGNING_KEY is not set (make one with "
            "`piccolo ledger new_key --name=<your log's name>`)"
        )
    uvicorn.run(
        "app:app",
        host=settings.host or "0.0.0.0",
        port=settings.port,
        workers=settings.web_concurrency,
        access_log=False,  # our middleware writes the access line, with the request id
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
        timeout_graceful_shutdown=settings.graceful_shutdown_s,
        log_config=None,
    )


if __name__ == "__main__":
    main()
