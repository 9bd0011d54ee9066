"""JSON lines on stdout, one format for our loggers and uvicorn's alike."""

import logging
import sys

from pythonjsonlogger.orjson import OrjsonFormatter

# uvicorn's access log would duplicate ours, which carries the request id. The HTTP clients
# and the openai SDK would log every upstream request (and at DEBUG, its options): the ledger
# and our access line already say what happened, so they stay at WARNING whatever LOG_LEVEL.
QUIETED_LOGGERS = {
    name: logging.WARNING for name in ("uvicorn.access", "httpx", "httpx2", "httpcore", "openai")
}


def _drop_terminal_colours(record: logging.LogRecord) -> bool:
    # uvicorn attaches an ANSI-coloured copy of its message; a JSON log wants the plain one.
    record.__dict__.pop("color_message", None)
    return True


def configure_logging(level: str) -> None:
    # Per the logging HOWTO's "Optimization": every request logs a line, and none of these
    # (caller's file and line, thread, process) is in our format.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_drop_terminal_colours)
    handler.setFormatter(
        OrjsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            timestamp=False,
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers = []
        uvicorn_logger.propagate = True
    for name, quiet_level in QUIETED_LOGGERS.items():
        logging.getLogger(name).setLevel(quiet_level)
