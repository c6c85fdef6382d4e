"""The gRPC servicer: protobuf in, domain calls, protobuf out. No logic here.

Every method goes through `_rpc`, which maps the one exception tree to gRPC
status codes (errors.grpc_code), counts and times the call, and writes the
request's log line. Unexpected exceptions become INTERNAL with a request id
to look up in the log, never a stack trace on the wire.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from sluice import convert
from sluice.config import LimitSettings
from sluice.errors import SluiceError, Unavailable, Unimplemented, grpc_code
from sluice.pipeline import Pipeline
from sluice.telemetry.logging import get_logger
from sluice.telemetry.metrics import Metrics
from sluice.v1 import sluice_pb2 as pb

log = get_logger("sluice.rpc")

Req = TypeVar("Req")
Resp = TypeVar("Resp")


class BadRequest:
    """Stands in for a request that could not be decoded (see server._safe_deserializer)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class SluiceService:
    def __init__(self, metrics: Metrics, limits: LimitSettings) -> None:
        self.metrics = metrics
        self.limits = limits
        # Set by the app once the model is loaded and the cache restored; the
        # server listens before that so probes can see NOT_SERVING.
        self._pipeline: Pipeline | None = None

    def attach(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    @property
    def pipeline(self) -> Pipeline:
        if self._pipeline is None:
            raise Unavailable("the sidecar is starting (loading the model); retry when SERVING")
        return self._pipeline

    async def _rpc(
        self,
        method: str,
        request: Any,
        context: grpc.aio.ServicerContext[Any, Any],
        handler: Callable[[], Awaitable[Resp]],
    ) -> Resp:
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        error: SluiceError | None = None
        try:
            if isinstance(request, BadRequest):
                code = grpc.StatusCode.INVALID_ARGUMENT
                await context.abort(code, request.reason)
            return await handler()
        except SluiceError as exc:
            error, code = exc, grpc_code(exc)
            await context.abort(code, exc.message)
        except grpc.aio.AbortError:
            raise
        except Exception:
            code = grpc.StatusCode.INTERNAL
            incident = uuid.uuid4().hex[:12]
            log.exception("rpc_failed", method=method, incident=incident)
            await context.abort(code, f"internal error (incident {incident} in the sidecar's log)")
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.rpc_requests.labels(method, code.name).inc()
            self.metrics.rpc_latency.labels(method).observe(elapsed)
            # One line per request; bodies never (redacted by telemetry.logging).
            log.info(
                "rpc", method=method, code=code.name,
                error=error.message if error is not None else None,
                ms=round(elapsed * 1000, 3),
            )  # fmt: skip
        raise AssertionError("unreachable: context.abort raises")

    # ---- Embed
    async def Embed(  # noqa: N802 - gRPC method names are CamelCase
        self, request: pb.EmbedRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.EmbedResponse:
        async def handle() -> pb.EmbedResponse:
            texts = convert.embed_texts(request, self.limits)
            results = await self.pipeline.embed(texts)
            return pb.EmbedResponse(
                embeddings=[
                    pb.Embedding(values=r.vector.tolist(), tokens=r.tokens, truncated=r.truncated)
                    for r in results
                ],
                model=self.pipeline.model_id,
                dimensions=self.pipeline.dimensions,
                max_tokens=self.pipeline.max_tokens,
            )

        return await self._rpc("Embed", request, context, handle)

    # ---- not built yet: each names the issue that brings it
    async def _unimplemented(
        self, method: str, request: Any, context: grpc.aio.ServicerContext[Any, Any], what: str
    ) -> Any:
        async def handle() -> Any:
            raise Unimplemented(f"{method} is not built yet: {what}")

        return await self._rpc(method, request, context, handle)

    async def Complete(  # noqa: N802
        self, request: pb.CompleteRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.CompleteResponse:
        return await self._unimplemented(  # type: ignore[no-any-return]
            "Complete", request, context, "providers and the cascade (issue #5)"
        )

    async def StreamComplete(  # noqa: N802
        self, request: pb.CompleteRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.CompleteChunk]:
        await self._unimplemented(
            "StreamComplete", request, context, "providers and the cascade (issue #5)"
        )
        yield pb.CompleteChunk()  # pragma: no cover - unreachable, makes this a generator

    async def Route(  # noqa: N802
        self, request: pb.RouteRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.RouteDecision:
        return await self._unimplemented(  # type: ignore[no-any-return]
            "Route", request, context, "routing policies (issue #6)"
        )

    async def Feedback(  # noqa: N802
        self, request: pb.FeedbackRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.FeedbackResponse:
        return await self._unimplemented(  # type: ignore[no-any-return]
            "Feedback", request, context, "the learned routing policy (issue #6)"
        )

    async def Lookup(  # noqa: N802
        self, request: pb.LookupRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.LookupResponse:
        return await self._unimplemented(  # type: ignore[no-any-return]
            "Lookup", request, context, "the semantic cache (issue #3)"
        )

    async def Store(  # noqa: N802
        self, request: pb.StoreRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.StoreResponse:
        return await self._unimplemented(  # type: ignore[no-any-return]
            "Store", request, context, "the semantic cache (issue #3)"
        )

    async def Invalidate(  # noqa: N802
        self, request: pb.InvalidateRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.InvalidateResponse:
        return await self._unimplemented(  # type: ignore[no-any-return]
            "Invalidate", request, context, "the semantic cache (issue #3)"
        )

    async def GetStats(  # noqa: N802
        self, request: pb.GetStatsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Stats:
        return await self._unimplemented(  # type: ignore[no-any-return]
            "GetStats", request, context, "the semantic cache (issue #3)"
        )
