"""One aiohttp application on one address, with the connection hygiene aiohttp leaves out.

    idle / slow heads   aiohttp's keep-alive timer runs from the moment a connection opens
                        and again after each response, and closes a connection still
                        waiting for a complete request head when it fires: one timer
                        (server.http_idle_timeout_s) cuts slowloris clients (partial
                        headers, or nothing) and idle keep-alive connections alike
    connection cap      at most server.http_max_connections open per listener; the next
                        one is answered 429 + Retry-After and closed at once, so a flood
                        of one listener holds a bounded number of descriptors and the
                        others (and gRPC) keep answering
    binding             a port in use or a live unix socket is a ConfigError naming the
                        key (sluice.sockets); unix sockets get server.socket_mode / _group

aiohttp's sites call the runner's protocol factory directly, so this class creates
the asyncio server itself (public loop API) with a counting factory around it.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from pathlib import Path
from typing import cast

from aiohttp import web

from sluice.http.apps import overloaded_reply
from sluice.sockets import Where, bind_error, claim_unix_path, open_up, owner_only
from sluice.telemetry.logging import get_logger

log = get_logger("sluice.http")

# The kernel's accept queue, and how many connections asyncio accepts per wake-up (each a
# descriptor until refused a loop turn later). aiohttp's 128 made the kernel drop the
# handshakes of 1 in 10 clients in a flood of 1,100 (they retry after 1, 3, 7 s…); 512 keeps
# the transient burst bounded (the cap + about two wake-ups) and the queue deep enough.
_BACKLOG = 512
_LINGER_S = 1.0
# At most one log line per listener per this many seconds about refused connections.
_REFUSAL_LOG_INTERVAL_S = 10.0


class _Counted(asyncio.Protocol):
    """Forwards to aiohttp's protocol; counted by the gate while its connection lives."""

    def __init__(self, inner: asyncio.Protocol, gate: _Gate) -> None:
        self._inner = inner
        self._gate = gate

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._gate.live.discard(self)
        self._inner.connection_lost(exc)


class _Refuse(asyncio.Protocol):
    """Over the cap: a canned 429 and close, before reading anything."""

    def __init__(self, reply: bytes) -> None:
        self._reply = reply

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        stream = cast(asyncio.Transport, transport)  # create_server makes stream transports
        stream.write(self._reply)
        stream.close()


class _Gate:
    """The protocol factory: aiohttp's handler while under the cap, a refusal over it."""

    def __init__(self, server: web.Server, limit: int, reply: bytes, name: str) -> None:
        self._server = server
        self._limit = limit
        self._reply = reply
        self._name = name
        # A weak set: a protocol whose connection never started (the loop failed to make
        # its transport) is collected and stops counting, so the cap cannot leak shut.
        self.live: weakref.WeakSet[_Counted] = weakref.WeakSet()
        self.refused = 0
        self._refused_logged = 0
        self._logged_at = 0.0

    def __call__(self) -> asyncio.Protocol:
        if len(self.live) >= self._limit:
            self.refused += 1
            self._log_refusals()
            return _Refuse(self._reply)
        protocol = _Counted(self._server(), self)
        self.live.add(protocol)
        return protocol

    def _log_refusals(self) -> None:
        now = time.monotonic()
        if now - self._logged_at >= _REFUSAL_LOG_INTERVAL_S:
            log.warning(
                "http_connections_refused", listener=self._name, limit=self._limit,
                refused=self.refused - self._refused_logged,
            )  # fmt: skip
            self._logged_at, self._refused_logged = now, self.refused


class HttpListener:
    """Serve `app` on `address` (host:port or unix:///path) until `cleanup()`."""

    def __init__(
        self,
        app: web.Application,
        address: str,
        where: Where,
        *,
        idle_timeout_s: float,
        max_connections: int,
        shutdown_timeout_s: float = 10.0,
        socket_mode: int = 0o600,
        socket_gid: int = -1,
    ) -> None:
        self._app = app
        self._address = address
        self._where = where
        self._idle_timeout_s = idle_timeout_s
        self._max_connections = max_connections
        self._shutdown_timeout_s = shutdown_timeout_s
        self._socket_mode = socket_mode
        self._socket_gid = socket_gid
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self._gate: _Gate | None = None
        self._path: Path | None = None

    @property
    def open_connections(self) -> int:
        return len(self._gate.live) if self._gate is not None else 0

    async def start(self) -> str:
        """Bind and serve; returns the bound address (port 0 resolved)."""
        self._runner = web.AppRunner(
            self._app, access_log=None, handle_signals=False,
            # aiohttp's own default is 3630 s: a silent connection held a descriptor an hour.
            keepalive_timeout=self._idle_timeout_s,
            # After a reply to a body it did not read (408, 413), drain for 1 s, not 10.
            lingering_time=_LINGER_S,
            shutdown_timeout=self._shutdown_timeout_s,
        )  # fmt: skip
        await self._runner.setup()
        assert self._runner.server is not None
        self._gate = _Gate(
            self._runner.server,
            self._max_connections,
            overloaded_reply(self._max_connections, self._where.key),
            self._where.key,
        )
        loop = asyncio.get_running_loop()
        if self._address.startswith("unix://"):
            return await self._start_unix(loop)
        host, _, port = self._address.rpartition(":")
        try:
            self._server = await loop.create_server(
                self._gate, host.strip("[]"), int(port), backlog=_BACKLOG, reuse_address=True
            )
        except OSError as exc:
            await self._abandon()
            raise bind_error(self._address, self._where, exc) from None
        bound_port = self._server.sockets[0].getsockname()[1]
        return f"{host}:{bound_port}"

    async def _start_unix(self, loop: asyncio.AbstractEventLoop) -> str:
        assert self._gate is not None
        assert self._runner is not None
        path = Path(self._address.removeprefix("unix://"))
        # asyncio removes any socket at the path: make sure it is not a live one first.
        claim_unix_path(path, self._where)
        # Created owner-only (no window in which others may connect), then opened up.
        try:
            with owner_only():
                self._server = await loop.create_unix_server(
                    self._gate, str(path), backlog=_BACKLOG
                )
        except OSError as exc:
            await self._abandon()
            raise bind_error(self._address, self._where, exc) from None
        self._path = path
        open_up(path, self._socket_mode, self._socket_gid)
        return self._address

    async def _abandon(self) -> None:
        """Undo setup() after a failed bind; cleanup() then has nothing left to do."""
        assert self._runner is not None
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def cleanup(self) -> None:
        """Stop accepting, let open requests finish (shutdown_timeout_s), close the rest."""
        if self._server is not None:
            self._server.close()  # not wait_closed(): on 3.12+ it waits for every connection
        if self._runner is not None:
            await self._runner.cleanup()
        if self._path is not None:
            self._path.unlink(missing_ok=True)


async def start_http(
    app: web.Application,
    address: str,
    where: Where,
    *,
    idle_timeout_s: float = 15.0,
    max_connections: int = 512,
) -> tuple[HttpListener, str]:
    """Serve `app` with default hygiene (tests, tools); the daemon builds its own from Settings."""
    listener = HttpListener(
        app, address, where, idle_timeout_s=idle_timeout_s, max_connections=max_connections,
    )  # fmt: skip
    return listener, await listener.start()
