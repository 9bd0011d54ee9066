"""JSON lines on stdout, one format for our loggers and uvicorn's alike."""

import logging
import sys
import time
from typing import Any

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


class JsonLineFormatter(OrjsonFormatter):
    """python-json-logger's orjson formatter with two costs taken out of every line (the
    access line is written on every request): its general field merge (renames, defaults,
    static fields, none of which we use) and `time.strftime` per record, done once a second
    here. The time is ISO 8601 in UTC, which log pipelines read without a format hint."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s", timestamp=False)
        self._second = -1
        self._second_text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{int(record.msecs):03d}Z"

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["time"] = record.asctime
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.message
        log_data.update(message_dict)  # exc_info and stack_info, when the record has them
        skipped = self._skip_fields
        for key, value in record.__dict__.items():
            if key not in skipped and not key.startswith("_"):
                log_data[key] = value


def configure_logging(level: str) -> None:
    # Per the logging HOWTO's "Optimization": every request logs a line, and none of these
    # (caller's file and line, thread, process) is in our format.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_drop_terminal_colours)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers = []
        uvicorn_logger.propagate = True
    for name, quiet_level in QUIETED_LOGGERS.items():
        logging.getLogger(name).setLevel(quiet_level)
