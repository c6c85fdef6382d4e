"""Library loggers (aiohttp, asyncio, grpc) come out as the same JSON lines (issue #17)."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
import warnings
from collections.abc import Iterator

import pytest
import structlog

from sluice.telemetry.logging import (
    configure_logging,
    get_logger,
    note_request_line,
    request_line,
)


@pytest.fixture
def json_logging() -> Iterator[io.StringIO]:
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    hooks = sys.excepthook, threading.excepthook
    stream = io.StringIO()
    configure_logging("info", log_prompts=False, stream=stream)
    try:
        yield stream
    finally:
        logging.captureWarnings(False)
        sys.excepthook, threading.excepthook = hooks
        root.handlers[:], root.level = handlers, level
        structlog.configure(**saved)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    err = stream.getvalue()
    assert err.endswith("\n")
    return [json.loads(line) for line in err.splitlines()]  # every line is one JSON object


def test_library_tracebacks_are_one_json_line_each(
    json_logging: io.StringIO,
) -> None:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        logging.getLogger("aiohttp.server").exception("Error handling request")
    logging.getLogger("aiohttp.access").info('127.0.0.1 "GET /v1/models HTTP/1.1" 200')
    logging.getLogger("asyncio").error("Task exception was never retrieved")
    get_logger("sluice.test").info("ours", n=1)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("deprecated thing", DeprecationWarning, stacklevel=1)
    lines = _lines(json_logging)
    assert [line["event"] for line in lines[:4]] == [
        "Error handling request", '127.0.0.1 "GET /v1/models HTTP/1.1" 200',
        "Task exception was never retrieved", "ours",
    ]  # fmt: skip
    first = lines[0]
    assert first["logger"] == "aiohttp.server"
    assert first["level"] == "error"
    assert "ValueError: boom" in str(first["exception"])
    assert "timestamp" in first
    assert lines[4]["logger"] == "py.warnings"


def test_library_lines_are_redacted(json_logging: io.StringIO) -> None:
    logging.getLogger("aiohttp.client").warning("sent Authorization: Bearer sk-abcdefgh12345678")
    try:
        raise RuntimeError("key sk-abcdefgh12345678 refused")
    except RuntimeError:
        logging.getLogger("grpc._cython.cygrpc").exception("callback failed")
    out = json.dumps(_lines(json_logging))
    assert "sk-abcdefgh12345678" not in out
    assert "[REDACTED]" in out


def test_an_uncaught_thread_exception_is_a_json_line(
    json_logging: io.StringIO,
) -> None:
    def fail() -> None:
        raise KeyError("in a thread")

    thread = threading.Thread(target=fail, name="worker-1")
    thread.start()
    thread.join()
    (line,) = _lines(json_logging)
    assert line["level"] == "critical"
    assert "worker-1" in str(line["event"])
    assert "KeyError" in str(line["exception"])


def test_request_line_is_noted_across_the_scope() -> None:
    with request_line() as line:
        assert not line.written
        note_request_line()
        assert line.written
    note_request_line()  # outside any request: nothing to note, no error
