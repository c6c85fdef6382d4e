"""Config reload without restart: on SIGHUP, and when the file changes (a ConfigMap update).

A reload validates the whole file first; a bad file keeps the running config and logs the key
and the reason. Settings that only a restart can apply (listeners, the HTTP port, the
embedding model, the snapshot folder) keep their running values and are named in the log.
State is kept where the settings behind it did not change: the providers, breakers and budget
counters when none of providers / tiers / prices / cascade / budgets changed, and the router (a
bandit's learning) when, in addition, `routing` did not. Provider keys named by `api_key_env`
were read at start; keys in `api_key_file` are read again (key rotation without restart).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sluice.config import Settings, load_settings, with_overrides
from sluice.errors import ConfigError
from sluice.telemetry.logging import get_logger

log = get_logger("sluice.reload")

# Only a restart applies these: they shape listeners, the model, or where state lives.
RESTART_ONLY = ("server", "embedding", "limits", "fleet")
MODEL_PATH_KEYS = ("providers", "tiers", "prices", "cascade", "budgets")


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def merge(running: Settings, new: Settings) -> tuple[Settings, list[str]]:
    """`new`, with the restart-only settings of `running`; and which of those differed."""
    keep: dict[str, Any] = {}
    restart = [key for key in RESTART_ONLY if getattr(new, key) != getattr(running, key)]
    for key in RESTART_ONLY:
        keep[key] = getattr(running, key)
    if new.cache.snapshot_dir != running.cache.snapshot_dir:
        restart.append("cache.snapshot_dir")
    # The verifier model is loaded at start; its thresholds apply at once.
    old_v, new_v = running.cache.verifier, new.cache.verifier
    loaded = {"enabled": old_v.enabled, "model_dir": old_v.model_dir, "threads": old_v.threads}
    restart += [f"cache.verifier.{k}" for k, v in loaded.items() if getattr(new_v, k) != v]
    keep["cache"] = new.cache.model_copy(
        update={"snapshot_dir": running.cache.snapshot_dir,
                "verifier": new_v.model_copy(update=loaded)}
    )  # fmt: skip
    return new.model_copy(update=keep), restart


class ConfigWatcher:
    """Watches one file; calls `apply(new_settings)` with a validated, merged config."""

    def __init__(
        self,
        path: Path,
        overrides: dict[str, dict[str, Any]],
        current: Callable[[], Settings],
        apply: Callable[[Settings], None],
        interval_s: float = 2.0,
    ) -> None:
        self.path = path
        self.overrides = overrides
        self.current = current
        self.apply = apply
        self.interval_s = interval_s
        self._requested = asyncio.Event()
        self._seen = _mtime(path)

    def request(self) -> None:
        """SIGHUP: reload now."""
        self._requested.set()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval_s):
                    await self._requested.wait()
            requested = self._requested.is_set()
            self._requested.clear()
            # Kubernetes swaps a ConfigMap through a symlink: stat follows it.
            mtime = _mtime(self.path)
            if requested or (mtime is not None and mtime != self._seen):
                self._seen = mtime
                self.reload("SIGHUP" if requested else "file changed")

    def reload(self, why: str) -> bool:
        try:
            new = with_overrides(load_settings(self.path), self.overrides)
            merged, restart = merge(self.current(), new)
            self.apply(merged)
        except ConfigError as exc:
            log.warning("config_reload_failed", why=why, key=exc.key, reason=exc.message)
            return False
        if restart:
            log.warning("config_reload_partial", why=why, restart_needed=restart)
        log.info("config_reloaded", why=why, path=str(self.path))
        return True
