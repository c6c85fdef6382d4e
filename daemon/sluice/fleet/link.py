"""The daemon's one link to Redis in fleet mode (issue #20).

Every fleet feature (the cache fill here; budgets and shared health built on it) talks to
Redis through `FleetLink.call`, which never raises into a request and never waits past
its bound:

    healthy ──error or timeout──▶ degraded ──PING answered (backoff + jitter)──▶ healthy

While degraded, calls return None at once: a request never pays a timeout per call while
Redis is down, and only the reconnect task knocks (exponential backoff, full jitter, so a
restarted Redis is not met by every pod at the same instant). When it answers, the
recovery hooks run (the cache fill catches up). The transitions are logged once each
(`degraded: fleet`, `fleet recovered`) and exported as `sluice_fleet_degraded`.

The URL's password never reaches a log line: the address is logged without user info,
and the password comes from `fleet.password_file`, not the URL (config.py refuses one).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sluice.config import FleetSettings
from sluice.errors import ConfigError
from sluice.telemetry.logging import get_logger
from sluice.telemetry.metrics import Metrics

T = TypeVar("T")
log = get_logger("sluice.fleet")

# Connections one pod opens to Redis at most; a call that waits for one counts against its
# own timeout, so a saturated pool shows as slowness, never as a hang.
MAX_CONNECTIONS = 64
# Reconnect backoff: first probe after ~BACKOFF_BASE_S, doubling up to BACKOFF_CAP_S.
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 5.0
# Errors that mean "Redis is down or slow" (the link degrades); any other RedisError is a
# refused command (a bug or a full Redis): counted and logged, the link stays up.
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, TimeoutError, OSError)


def read_password(path: Path | None) -> str | None:
    """The Redis password from `fleet.password_file` (None: no AUTH); ConfigError naming it."""
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("fleet.password_file", f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError("fleet.password_file", f"{path} is not UTF-8 text") from None
    password = text.strip()
    if not password:
        raise ConfigError("fleet.password_file", f"{path} is empty")
    return password


def redacted(url: str) -> str:
    """The URL as logs may show it: scheme, host, port, path; no user, no password."""
    scheme, _, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    host = authority.rpartition("@")[2]
    return f"{scheme}://{host}{slash}{path.split('?', 1)[0]}"


def client_options(settings: FleetSettings, password: str | None) -> dict[str, Any]:
    """The redis-py options shared by the async link and the start-up check."""
    options: dict[str, Any] = {
        "password": password,
        "socket_connect_timeout": settings.connect_timeout_ms / 1000,
    }
    if settings.tls_ca_file is not None:
        options["ssl_ca_certs"] = str(settings.tls_ca_file)
    return options


@dataclass
class _State:
    degraded: bool = False
    since: float = 0.0
    reason: str = ""
    hooks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


class FleetLink:
    """One `redis.asyncio.Redis` with bounded calls, a degraded flag and a reconnect loop."""

    def __init__(
        self,
        settings: FleetSettings,
        metrics: Metrics,
        *,
        password: str | None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.timeout_s = settings.command_timeout_ms / 1000
        self.address = redacted(settings.redis_url)
        self.rng = rng or random.Random()  # noqa: S311 - backoff jitter, not security
        pool = BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=MAX_CONNECTIONS,
            # Reads are bounded per call by asyncio (a blocking XREAD needs longer than a
            # command): no socket-level read timeout to fight with.
            socket_timeout=None,
            # No retries inside redis-py: the link decides (degrade, back off), and a
            # retry would double the time a call may take.
            retry=Retry(NoBackoff(), 0),
            **client_options(settings, password),
        )
        # from_pool: the client owns the pool, so close() closes its connections too.
        self.redis = Redis.from_pool(pool)
        self._state = _State()
        self._reconnect: asyncio.Task[None] | None = None
        self._closed = False

    # ---- state
    @property
    def degraded(self) -> bool:
        return self._state.degraded

    def on_recovered(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run `hook` each time Redis answers again after being down (e.g. catch up)."""
        self._state.hooks.append(hook)

    async def start(self) -> bool:
        """One PING within the connect timeout; False (and degraded) when Redis is not there.

        Never raises: the start-up check (preflight) already refused a wrong password or
        TLS mismatch; a Redis that is down now is one the daemon serves without.
        """
        bound = max(self.timeout_s, self.settings.connect_timeout_ms / 1000)
        ok = await self.call("ping", lambda r: r.ping(), timeout_s=bound)
        return ok is not None

    async def close(self) -> None:
        self._closed = True
        if self._reconnect is not None:
            self._reconnect.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnect
        with contextlib.suppress(RedisError, OSError):
            await self.redis.aclose()

    # ---- calls
    async def call(
        self,
        what: str,
        op: Callable[[Redis], Awaitable[T]],
        *,
        timeout_s: float | None = None,
    ) -> T | None:
        """`op(redis)` within `command_timeout_ms` (or `timeout_s`); None when Redis failed.

        Never raises (but CancelledError): the caller decides from local state on None.
        `what` labels the failure counter (a fixed word, never caller text). An op whose
        own result may be None should wrap it (e.g. a tuple) to tell the two apart.
        """
        if self._state.degraded:
            self.metrics.fleet_call_failures.labels(what).inc()
            return None
        try:
            async with asyncio.timeout(timeout_s if timeout_s is not None else self.timeout_s):
                return await op(self.redis)
        except _UNREACHABLE as exc:
            self.metrics.fleet_call_failures.labels(what).inc()
            self._degrade(what, exc)
        except RedisError as exc:
            # Redis answered, but refused: the link is fine, this command is not.
            self.metrics.fleet_call_failures.labels(what).inc()
            log.warning("fleet_command_refused", what=what, error=_describe(exc))
        return None

    def script(self, source: str) -> AsyncScript:
        """A Lua script run by EVALSHA (loaded again by redis-py after a Redis restart).

        Call it inside `call`: `await link.call("reserve", lambda r: script(keys, args))`.
        """
        return self.redis.register_script(source)

    # ---- transitions
    def _degrade(self, what: str, exc: BaseException) -> None:
        state = self._state
        if state.degraded or self._closed:
            return
        state.degraded, state.since, state.reason = True, time.monotonic(), _describe(exc)
        self.metrics.fleet_degraded.set(1)
        log.warning(
            "degraded: fleet", redis=self.address, what=what, error=state.reason,
            effect="served from local state; reconnecting with backoff",
        )  # fmt: skip
        self._reconnect = asyncio.get_running_loop().create_task(
            self._reconnect_loop(), name="fleet-reconnect"
        )

    async def _reconnect_loop(self) -> None:
        attempt = 0
        bound = max(self.timeout_s, self.settings.connect_timeout_ms / 1000)
        while not self._closed:
            cap = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)
            await asyncio.sleep(self.rng.uniform(cap / 2, cap))
            attempt += 1
            try:
                async with asyncio.timeout(bound):
                    await self.redis.ping()
            except (*_UNREACHABLE, RedisError) as exc:
                self._state.reason = _describe(exc)
                continue
            break
        if self._closed:
            return
        state = self._state
        down_s = time.monotonic() - state.since
        state.degraded, state.reason = False, ""
        self.metrics.fleet_degraded.set(0)
        log.info("fleet recovered", redis=self.address, down_s=round(down_s, 2),
                 attempts=attempt)  # fmt: skip
        for hook in list(state.hooks):
            try:
                await hook()
            except Exception as exc:  # noqa: BLE001 - one hook's bug must not stop the others
                log.warning("fleet_recovery_hook_failed", error=_describe(exc))


def _describe(exc: BaseException) -> str:
    """An error for a log line: its type and first 200 characters (no URL, no password)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
