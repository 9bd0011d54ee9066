"""The access line: written straight to the handler's stream while logging is as
configure_logging left it, through `logging` as soon as anything else is configured, and the
same JSON line either way."""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest

import logs
from logs import access_logger, configure_logging, write_access_line

FIELDS = {
    "request_id": "r-1",
    "method": "GET",
    "path": '/api/v1/audits/"quoted"/é',
    "status": 200,
    "duration_ms": 1.25,
    "client": None,
    "api_key": "0123456789ab",
}
ISO_UTC = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


@pytest.fixture
def stream():
    """configure_logging's set-up, writing to a buffer."""
    root = logging.getLogger()
    saved_level = root.level
    configure_logging("INFO")
    handler, _ = logs._installed
    buffer = io.StringIO()
    handler.setStream(buffer)
    yield buffer
    root.setLevel(saved_level)
    access_logger.filters.clear()
    access_logger.setLevel(logging.NOTSET)


def only_ours() -> None:
    """Take pytest's capture handlers (added to the root logger as each test runs) off, as no
    server has them: the root logger's one handler is configure_logging's again."""
    logging.getLogger().handlers = [logs._installed[0]]


def lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_the_direct_line_is_the_line_logging_writes(stream, monkeypatch):
    def no_record(*args, **kwargs):
        raise AssertionError("a LogRecord was made")

    only_ours()
    with monkeypatch.context() as patched:
        patched.setattr(access_logger, "makeRecord", no_record)
        write_access_line(FIELDS)
    access_logger.addFilter(lambda record: True)  # any filter sends the line through logging
    write_access_line(FIELDS)

    direct, standard = lines(stream)
    assert re.fullmatch(ISO_UTC, direct.pop("time")) and re.fullmatch(ISO_UTC, standard.pop("time"))
    assert list(direct.items()) == list(standard.items())  # same fields, same order
    assert direct == {
        "level": "INFO",
        "logger": "looped_needle.access",
        "message": "request",
        **FIELDS,
    }


def test_an_operators_level_or_filter_is_honoured(stream):
    only_ours()
    access_logger.setLevel(logging.WARNING)
    write_access_line(FIELDS)
    access_logger.setLevel(logging.NOTSET)
    access_logger.addFilter(lambda record: record.status != 200)
    write_access_line(FIELDS)
    write_access_line({**FIELDS, "status": 503})

    assert [line["status"] for line in lines(stream)] == [503]


def test_another_handler_gets_the_line_too(stream):
    only_ours()
    extra = io.StringIO()
    also = logging.StreamHandler(extra)
    logging.getLogger().addHandler(also)
    try:
        write_access_line(FIELDS)
    finally:
        logging.getLogger().removeHandler(also)

    assert lines(stream)[0]["request_id"] == "r-1"
    assert "request" in extra.getvalue()


def test_a_stream_that_fails_does_not_fail_the_request(stream, capsys):
    only_ours()
    stream.close()  # as a closed stdout would

    write_access_line(FIELDS)  # no exception: logging's own error report instead

    assert "Logging error" in capsys.readouterr().err


def test_the_direct_line_is_stamped_with_the_time_it_was_written(stream):
    only_ours()
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    write_access_line(FIELDS)
    after = datetime.now(UTC) + timedelta(milliseconds=1)

    stamp = datetime.strptime(lines(stream)[0]["time"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert before <= stamp <= after
