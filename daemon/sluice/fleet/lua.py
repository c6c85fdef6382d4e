"""The Lua scripts of fleet/scripts/, by file name (pure Redis 7 / Valkey: no modules)."""

from __future__ import annotations

import functools
from importlib import resources


@functools.cache
def source(name: str) -> str:
    """The text of fleet/scripts/<name> (shipped as package data)."""
    return resources.files("sluice.fleet").joinpath("scripts", name).read_text(encoding="utf-8")
