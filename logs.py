"""JSON lines on stdout, one format for our loggers and uvicorn's alike."""

import logging
import sys
import time
from typing import Any

import orjson
from pythonjsonlogger.orjson import OrjsonFormatter

ACCESS_LOGGER_NAME = "looped_needle.access"
access_logger = logging.getLogger(ACCESS_LOGGER_NAME)

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
        return self.time_text(record.created, record.msecs)

    def time_text(self, created: float, msecs: float) -> str:
        second = int(created)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{int(msecs):03d}Z"

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


# The handler and formatter configure_logging installed: while they are still the only ones
# an access line would pass through, write_access_line writes to the handler's stream itself.
_installed: tuple[logging.StreamHandler, JsonLineFormatter] | None = None


def write_access_line(fields: dict[str, Any]) -> None:
    """Log the request's access line: the same JSON line `access_logger.info("request",
    extra=fields)` writes, for half the CPU (about 5 µs against 9, to /dev/null). Every
    request writes one, and the line was a third of a `/health` request's CPU. So while
    logging is as configure_logging left it, no LogRecord is made and no Logger, Handler
    and Formatter passed through; any other set-up (a level, a filter, another handler,
    pytest's caplog, an operator's own config) takes the standard path, which honours it."""
    if _installed is None or not _as_configured(*_installed):
        access_logger.info("request", extra=fields)
        return
    handler, formatter = _installed
    created = time.time()
    line = {
        "time": formatter.time_text(created, (created - int(created)) * 1000),
        "level": "INFO",
        "logger": ACCESS_LOGGER_NAME,
        "message": "request",
        **fields,
    }
    text = orjson.dumps(line).decode() + handler.terminator  # our own keys: all strings
    with handler.lock:  # type: ignore[union-attr]
        try:
            handler.stream.write(text)
            handler.stream.flush()
        except Exception:
            handler.handleError(logging.makeLogRecord({"name": ACCESS_LOGGER_NAME}))


def _as_configured(handler: logging.StreamHandler, formatter: JsonLineFormatter) -> bool:
    """Whether an INFO line on the access logger would reach `handler` alone, unfiltered,
    formatted by `formatter`: then writing it directly gives the same line."""
    root = logging.root
    return (
        access_logger.isEnabledFor(logging.INFO)
        and access_logger.parent is root
        and access_logger.propagate
        and not access_logger.handlers
        and not access_logger.filters
        and len(root.handlers) == 1
        and root.handlers[0] is handler
        and handler.level <= logging.INFO
        and handler.formatter is formatter
        and handler.filters == [_drop_terminal_colours]
    )


def configure_logging(level: str) -> None:
    # Per the logging HOWTO's "Optimization": every request logs a line, and none of these
    # (caller's file and line, thread, process) is in our format.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    global _installed
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_drop_terminal_colours)
    formatter = JsonLineFormatter()
    handler.setFormatter(formatter)
    _installed = (handler, formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers = []
        uvicorn_logger.propagate = True
    for name, quiet_level in QUIETED_LOGGERS.items():
        logging.getLogger(name).setLevel(quiet_level)
