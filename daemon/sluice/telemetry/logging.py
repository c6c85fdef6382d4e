"""structlog set-up: one JSON object per line on stderr, secrets redacted.

Prompt and answer bodies never reach the log unless `logging.log_prompts` is
on; anything that looks like a credential is masked whatever the setting.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

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


def configure_logging(level: str = "info", log_prompts: bool = False) -> None:
    """Configure structlog (and the stdlib root logger) for JSON lines on stderr."""
    numeric = logging.getLevelNamesMapping()[level.upper()]
    logging.basicConfig(stream=sys.stderr, level=numeric, format="%(message)s", force=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact(log_prompts),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
