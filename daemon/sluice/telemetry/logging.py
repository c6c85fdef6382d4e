"""structlog set-up: one JSON object per line on stderr, secrets redacted.

Prompt and answer bodies never reach the log unless `logging.log_prompts` is
on; anything that looks like a credential is masked whatever the setting.

Libraries log through the standard library (aiohttp.server, aiohttp.access,
asyncio, grpc): their records go through the same processors (structlog's
ProcessorFormatter), so a traceback becomes an `exception` field of one JSON
line instead of twenty lines of text a log shipper cannot parse. Warnings and
uncaught exceptions (main thread and others) take the same road.

Each request writes exactly one line: the pipeline's `request` line when it
got that far, else the front's own (`rpc`, `http`). `request_line()` scopes the
flag the pipeline sets with `note_request_line()`.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import threading
import types
from collections.abc import Iterator, MutableMapping
from contextvars import ContextVar
from typing import Any, TextIO

import structlog

# Keys whose values are never logged as they are.
_SECRET_KEYS = re.compile(r"(?i)(api[_-]?key|authorization|token|secret|password|credential)")
_BODY_KEYS = frozenset({"prompt", "messages", "content", "answer", "text", "texts"})
# Provider key shapes (OpenAI sk-…, Anthropic sk-ant-…, Google AIza…) and bearer tokens.
_SECRET_VALUES = re.compile(r"(sk-[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,}|Bearer\s+[^\s\"']+)")


def _mask(value: str) -> str:
    return _SECRET_VALUES.sub("[REDACTED]", value)


def redact(log_prompts: bool) -> structlog.types.Processor:
    def processor(
        _logger: Any, _name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key in list(event):
            value = event[key]
            if _SECRET_KEYS.search(key):
                event[key] = "[REDACTED]"
            elif key in _BODY_KEYS and not log_prompts:
                event[key] = f"[{len(str(value))} chars]"
            elif isinstance(value, str):
                event[key] = _mask(value)
        return event

    return processor


def _logger_name(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    record = event.get("_record")
    if record is not None:
        event["logger"] = record.name
    return event


def _rendering(log_prompts: bool) -> list[structlog.types.Processor]:
    """What every line goes through last, ours and the libraries' alike: the traceback as a
    field, then redaction (of the traceback text too), then one JSON object."""
    return [structlog.processors.format_exc_info, redact(log_prompts),
            structlog.processors.JSONRenderer()]  # fmt: skip


def stdlib_formatter(log_prompts: bool) -> structlog.stdlib.ProcessorFormatter:
    """Formats standard-library records as the JSON lines structlog writes."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.processors.add_log_level,
            _logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *_rendering(log_prompts),
        ],
    )


def configure_logging(
    level: str = "info", log_prompts: bool = False, stream: TextIO | None = None
) -> None:
    """Configure structlog (and the stdlib root logger) for JSON lines on stderr (or `stream`)."""
    numeric = logging.getLevelNamesMapping()[level.upper()]
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(stdlib_formatter(log_prompts))
    logging.basicConfig(level=numeric, handlers=[handler], force=True)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_thread_uncaught
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *_rendering(log_prompts),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=True,
    )


def _log_uncaught(
    kind: type[BaseException], value: BaseException, tb: types.TracebackType | None
) -> None:
    logging.getLogger("sluice.uncaught").critical("uncaught_exception", exc_info=(kind, value, tb))


def _log_thread_uncaught(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return  # what threading's own hook ignores too
    thread = args.thread.name if args.thread is not None else "?"
    logging.getLogger("sluice.uncaught").critical(
        "uncaught_exception in thread %s",
        thread,
        exc_info=args.exc_value if args.exc_value is not None else False,
    )


class RequestLine:
    """Whether the current request's one log line has been written."""

    __slots__ = ("written",)

    def __init__(self) -> None:
        self.written = False


# A mutable holder, not a flag: a write from a task the request started is seen too.
_REQUEST_LINE: ContextVar[RequestLine | None] = ContextVar("sluice_request_line", default=None)


@contextlib.contextmanager
def request_line() -> Iterator[RequestLine]:
    """Scope one request; `.written` tells the front whether to write the line itself."""
    line = RequestLine()
    token = _REQUEST_LINE.set(line)
    try:
        yield line
    finally:
        # A streaming handler may end in another context (a closed async generator).
        with contextlib.suppress(ValueError):
            _REQUEST_LINE.reset(token)


def note_request_line() -> None:
    """The pipeline wrote the current request's line: the front must not add its own."""
    line = _REQUEST_LINE.get()
    if line is not None:
        line.written = True


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
