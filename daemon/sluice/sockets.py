"""Claiming listen addresses, for gRPC and the HTTP listeners alike.

    host:port in use       a ConfigError naming the flag and the key: one line, exit 2
    unix:///path           something answers on it → a ConfigError (a live daemon keeps it);
                           nothing answers → a stale socket of a killed predecessor: removed
    RLIMIT_NOFILE          the soft limit is raised to the hard one at start: every open
                           connection holds a descriptor, and the default soft 1024 is easy
                           to exhaust with slow clients (each listener caps its own share)

Start-up only: the checks block for microseconds, before anything is served.
"""

from __future__ import annotations

import contextlib
import errno
import grp
import os
import resource
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sluice.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Where:
    """Which setting an address came from, for the error a user reads."""

    key: str  # server.http
    flag: str  # --http


GRPC = Where("server.listen", "--listen")
METRICS = Where("server.http", "--http")
OPENAI = Where("server.openai", "--openai")


def group_id(name: str | None) -> int:
    """server.socket_group as a gid (-1: leave the group alone); a ConfigError names the key."""
    if name is None:
        return -1
    if name.isdigit():
        return int(name)
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise ConfigError("server.socket_group", f"no group named {name!r}") from None


def bind_error(address: str, where: Where, exc: OSError) -> ConfigError:
    """The one line a user reads when an address cannot be bound."""
    if exc.errno == errno.EADDRINUSE:
        why = "is already in use by another process"
        fix = "stop it or choose another address"
    elif exc.errno == errno.EADDRNOTAVAIL:
        why = "is not an address of this machine"
        fix = "use 127.0.0.1, 0.0.0.0 or one of this host's addresses"
    elif exc.errno == errno.EACCES:
        why = "may not be bound by this user (a port below 1024?)"
        fix = "choose a port above 1024"
    else:
        why = f"cannot be bound ({exc.strerror or exc})"
        fix = "choose another address"
    return ConfigError(where.key, f"{address} {why} (set by {where.flag} / {where.key}): {fix}")


def check_port_free(address: str, where: Where) -> None:
    """Bind and release `host:port` once, so a port in use fails here with a clear line.

    grpc reports a failed bind as a RuntimeError and a multi-line C-core log; this
    check runs first. Port 0 (any free port) is never in use.
    """
    host, _, port = address.rpartition(":")
    if int(port) == 0:
        return
    try:
        infos = socket.getaddrinfo(
            host.strip("[]"), int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise ConfigError(
            where.key, f"{address}: cannot resolve the host ({exc.strerror})"
        ) from None
    for family, kind, proto, _, sockaddr in infos:
        with socket.socket(family, kind, proto) as probe:
            # As the servers bind: SO_REUSEADDR, so a port in TIME_WAIT is not "in use".
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(sockaddr)
            except OSError as exc:
                raise bind_error(address, where, exc) from None


def claim_unix_path(path: Path, where: Where) -> None:
    """Make `path` free for a new socket: remove a stale one, never a live one.

    A second daemon started on the same path used to unlink the first one's socket,
    leaving it serving nobody. Something that accepts a connection is alive.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() and not path.is_symlink():
        return
    if not path.is_socket():
        raise ConfigError(
            where.key, f"{path} exists and is not a socket (set by {where.flag} / {where.key}): "
            "remove it or choose another path",
        )  # fmt: skip
    if _answers(path, where):
        raise ConfigError(
            where.key,
            f"unix://{path} is in use: another process (a second sluice?) is serving on it "
            f"(set by {where.flag} / {where.key}): stop it or choose another path",
        )
    path.unlink(missing_ok=True)


def _answers(path: Path, where: Where) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2.0)  # a live server with a full backlog answers late: still alive
        try:
            probe.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            return False  # nobody listens: a stale socket
        except TimeoutError:
            return True
        except PermissionError:
            raise ConfigError(
                where.key, f"unix://{path} belongs to another user: cannot tell whether it is "
                "in use; remove it or choose another path",
            ) from None  # fmt: skip
        return True


@contextlib.contextmanager
def owner_only() -> Iterator[None]:
    """Sockets created inside are owner-only: no moment at which others may connect."""
    previous = os.umask(0o177)
    try:
        yield
    finally:
        os.umask(previous)


def open_up(path: str | Path, mode: int, gid: int) -> None:
    """Then give a created socket server.socket_mode and (gid ≥ 0) server.socket_group."""
    if gid >= 0:
        os.chown(path, -1, gid)
    os.chmod(path, mode)


@dataclass(frozen=True, slots=True)
class FileLimit:
    before: int
    after: int
    hard: int


def raise_open_files_limit() -> FileLimit:
    """Soft RLIMIT_NOFILE → the hard limit (unprivileged; the kernel may still cap it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # "unlimited" is not a number the kernel accepts as a soft limit: 2**20 is its usual cap.
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            target = soft
    return FileLimit(before=soft, after=max(soft, target), hard=hard)
