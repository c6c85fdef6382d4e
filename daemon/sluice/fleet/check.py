"""The start-up check of fleet mode: connect, AUTH, PING (serve and check-config alike).

A wrong password or a TLS mismatch is a config error (nothing will fix it but the config),
named by its key. A Redis that is not reachable now is not: Redis must not be a single
point of failure, so the daemon starts degraded and fills in when Redis comes back
(`fleet_unreachable_at_start` in the log).
"""

from __future__ import annotations

import errno
import socket
import ssl

import redis
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from redis.retry import Retry

from sluice.config import FleetSettings
from sluice.errors import ConfigError
from sluice.fleet.link import client_options, read_password, redacted
from sluice.telemetry.logging import get_logger

log = get_logger("sluice.fleet")

# Errors that say "nothing listens there (yet)": the daemon starts degraded.
_NOT_THERE = (errno.ECONNREFUSED, errno.ENOENT, errno.EHOSTUNREACH, errno.ENETUNREACH)


def check_fleet(settings: FleetSettings) -> None:
    """Raise ConfigError when Redis refuses this config; warn when it is not reachable."""
    if not settings.enabled:
        return
    password = read_password(settings.password_file)
    address = redacted(settings.redis_url)
    timeout = max(settings.connect_timeout_ms, settings.command_timeout_ms, 1000) / 1000
    client = redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        **client_options(settings, password),
    )
    try:
        client.ping()
    except AuthenticationError as exc:
        raise ConfigError(
            "fleet.password_file",
            f"Redis at {address} refused the password ({_first_line(exc)}); put the "
            "server's requirepass (or the ACL user's password) in fleet.password_file",
        ) from None
    except ResponseError as exc:
        if "NOAUTH" in str(exc) or "AUTH" in str(exc).upper():
            raise ConfigError(
                "fleet.password_file",
                f"Redis at {address} requires a password ({_first_line(exc)}); set "
                "fleet.password_file",
            ) from None
        raise ConfigError("fleet.redis_url", f"Redis at {address}: {_first_line(exc)}") from None
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        if _unreachable(exc):
            log.warning(
                "fleet_unreachable_at_start", redis=address, error=_first_line(exc),
                effect="serving from local state (degraded: fleet) until Redis answers",
            )  # fmt: skip
            return
        tls = settings.redis_url.startswith("rediss://")
        hint = (
            "rediss:// speaks TLS: is that port plain Redis? (use redis://), or is "
            "fleet.tls_ca_file the CA that signed its certificate?"
            if tls
            else "the server closed the connection: does it want TLS? (use rediss://)"
        )
        raise ConfigError(
            "fleet.redis_url", f"Redis at {address}: {_first_line(exc)}; {hint}"
        ) from None
    except RedisError as exc:
        raise ConfigError("fleet.redis_url", f"Redis at {address}: {_first_line(exc)}") from None
    finally:
        client.close()


def _unreachable(exc: BaseException) -> bool:
    """Refused, no such socket, no route, no name, or no answer in time.

    Not a TLS handshake that got no answer: that port is open and speaks plain Redis (a
    plain server waits for a newline that a ClientHello never sends).
    """
    if "handshake" in str(exc).lower() or any(
        isinstance(e, ssl.SSLError) or "handshake" in str(e).lower() for e in _chain(exc)
    ):
        return False
    for seen in _chain(exc):
        if isinstance(seen, socket.gaierror | TimeoutError | redis.TimeoutError):
            return True
        if isinstance(seen, OSError) and seen.errno in _NOT_THERE:
            return True
    text = str(exc)
    return any(s in text for s in ("Connection refused", "No such file", "Timeout"))


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes (redis-py wraps the socket's error)."""
    out: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(out) < 8:
        out.append(seen)
        seen = seen.__cause__ or seen.__context__
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
