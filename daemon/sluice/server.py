"""The grpc.aio server: listeners, health, reflection, size limits, graceful stop."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from sluice.errors import ConfigError
from sluice.service import BadRequest, SluiceService
from sluice.sockets import GRPC, check_port_free, claim_unix_path, group_id, open_up, owner_only
from sluice.v1 import sluice_pb2 as pb

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Sluice"].full_name


def _safe_deserializer(message_class: type[Message]) -> Callable[[bytes], Any]:
    """Decode a request, or hand the servicer a BadRequest instead of raising.

    grpc answers INTERNAL when a deserializer raises; a request we cannot
    decode (invalid UTF-8 in a string field, truncated bytes) is the caller's
    mistake and must come back as INVALID_ARGUMENT with a reason.
    """

    def deserialize(data: bytes) -> Any:
        try:
            return message_class.FromString(data)
        except (DecodeError, UnicodeDecodeError, ValueError) as exc:
            return BadRequest(
                f"the request could not be decoded as {message_class.DESCRIPTOR.full_name}: "
                f"{exc} (string fields must be valid UTF-8)"
            )

    return deserialize


def _generic_handler(servicer: SluiceService) -> grpc.GenericRpcHandler:
    service = pb.DESCRIPTOR.services_by_name["Sluice"]
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in service.methods:
        request_class: type[Message] = getattr(pb, method.input_type.name)
        response_class: type[Message] = getattr(pb, method.output_type.name)
        kwargs: dict[str, Any] = {
            "request_deserializer": _safe_deserializer(request_class),
            "response_serializer": response_class.SerializeToString,
        }
        behaviour = getattr(servicer, method.name)
        if method.server_streaming:
            handlers[method.name] = grpc.unary_stream_rpc_method_handler(behaviour, **kwargs)
        else:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(behaviour, **kwargs)
    return grpc.method_handlers_generic_handler(SERVICE_NAME, handlers)


class GrpcServer:
    def __init__(
        self,
        servicer: SluiceService,
        *,
        listen: tuple[str, ...],
        max_message_bytes: int,
        socket_mode: int,
        socket_group: str | None = None,
        max_concurrent_rpcs: int | None = None,
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    ) -> None:
        self._listen = listen
        self._socket_mode = socket_mode
        self._socket_gid = group_id(socket_group)
        options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.so_reuseport", 0),
        ]
        self.server = grpc.aio.server(
            options=options,
            maximum_concurrent_rpcs=max_concurrent_rpcs,
            interceptors=tuple(interceptors),
        )
        self.server.add_generic_rpc_handlers((_generic_handler(servicer),))
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server
        )
        self.bound: list[str] = []

    async def start(self) -> list[str]:
        """Bind every address (health NOT_SERVING) and return them, ports resolved."""
        await self.set_serving(False)
        # Sockets are created owner-only (no window in which others may connect), then
        # opened up to socket_mode / socket_group. Start-up is single-threaded here.
        with owner_only():
            await self._bind()
        for address in self.bound:
            if address.startswith("unix://"):
                open_up(address.removeprefix("unix://"), self._socket_mode, self._socket_gid)
        return self.bound

    async def _bind(self) -> None:
        # Start-up, before serving: the blocking checks below take microseconds.
        for address in self._listen:
            if address.startswith("unix://"):
                # grpc unlinks whatever socket is at the path: check it is not a live one.
                claim_unix_path(Path(address.removeprefix("unix://")), GRPC)
                self._add_port(address)
                self.bound.append(address)
            else:
                check_port_free(address, GRPC)
                port = self._add_port(address)
                host = address.rpartition(":")[0]
                self.bound.append(f"{host}:{port}")
        await self.server.start()

    def _add_port(self, address: str) -> int:
        try:
            return self.server.add_insecure_port(address)
        except RuntimeError:  # lost a race since the check, or a case it cannot see
            raise ConfigError(
                GRPC.key, f"{address} cannot be bound (set by {GRPC.flag} / {GRPC.key}): "
                "is another process using it?",
            ) from None  # fmt: skip

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", SERVICE_NAME):
            await self.health.set(name, status)

    async def stop(self, grace_s: float) -> None:
        """Refuse new calls, let in-flight ones finish within the grace period."""
        await self.server.stop(grace_s)
        for address in self.bound:
            if address.startswith("unix://"):
                Path(address.removeprefix("unix://")).unlink(missing_ok=True)  # noqa: ASYNC240
