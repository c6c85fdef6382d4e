"""What a namespace name may be: one rule for the config's keys and for both fronts' requests.

A namespace owns a cache partition, a budget and a routing policy, so two spellings of
one name must never be two namespaces. The rule is checked with `fullmatch`: a pattern
anchored with `^…$` also accepts a trailing newline, and `"tight\\n"` was a namespace of
its own with its own (unlimited) budget.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

DEFAULT_NAMESPACE: Final = "default"
RULE: Final = "use 1–64 of [A-Za-z0-9._-]"
_NAME: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")


def is_namespace(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


def check_names(names: Iterable[str]) -> None:
    """Raise ValueError naming the first key of a config section that is not a namespace."""
    for name in names:
        if not is_namespace(name):
            raise ValueError(f"namespace {name[:80]!r}: {RULE}")
