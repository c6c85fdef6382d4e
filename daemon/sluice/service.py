"""The gRPC servicer: protobuf in, domain calls, protobuf out. No logic here.

Every method goes through `_rpc`, which maps the one exception tree to gRPC
status codes and google.rpc details (grpc_errors), counts and times the call,
and writes the request's log line. Unexpected exceptions become INTERNAL with a request id
to look up in the log, never a stack trace on the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from sluice import __version__, convert
from sluice.cache.tier import CacheTier
from sluice.config import LimitSettings
from sluice.errors import InvalidArgument, NotReady, SluiceError, TooLarge
from sluice.grpc_errors import rich_status
from sluice.pipeline import Pipeline, Runtime
from sluice.telemetry.logging import get_logger, request_line
from sluice.telemetry.metrics import Metrics
from sluice.v1 import sluice_pb2 as pb

log = get_logger("sluice.rpc")

Req = TypeVar("Req")
Resp = TypeVar("Resp")


class BadRequest:
    """Stands in for a request that could not be decoded (see server._safe_deserializer)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Call:
    """What the guard reports about one call; the handler fills in what it learns."""

    def __init__(self, request: Any) -> None:
        # The caller's id at first; Complete replaces it with the generated one, so an
        # error's details name the id its log line carries.
        self.request_id = str(getattr(request, "request_id", ""))[:128]


class SluiceService:
    def __init__(self, metrics: Metrics, limits: LimitSettings) -> None:
        self.metrics = metrics
        self.limits = limits
        self.started = time.monotonic()
        # Set by the app once the model is loaded and the cache restored; the
        # server listens before that so probes can see NOT_SERVING.
        self._pipeline: Pipeline[CacheTier] | None = None

    def attach(self, pipeline: Pipeline[CacheTier]) -> None:
        self._pipeline = pipeline

    @property
    def pipeline(self) -> Pipeline[CacheTier]:
        if self._pipeline is None:
            raise NotReady("the sidecar is starting (loading the model); retry when SERVING")
        return self._pipeline

    @contextlib.asynccontextmanager
    async def _guard(
        self, method: str, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[_Call]:
        """Map errors to status codes, count and time the call, write its log line."""
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        error: SluiceError | None = None
        call = _Call(request)
        with request_line() as line:
            try:
                if isinstance(request, BadRequest):
                    code = grpc.StatusCode.INVALID_ARGUMENT
                    await context.abort(code, request.reason)
                yield call
            except SluiceError as exc:
                status = rich_status(exc, call.request_id)
                error, code = exc, status.code
                await context.abort(
                    code, status.details, trailing_metadata=status.trailing_metadata
                )
            except grpc.aio.AbortError:
                raise
            except asyncio.CancelledError:
                code = grpc.StatusCode.CANCELLED
                raise
            except Exception:
                code = grpc.StatusCode.INTERNAL
                incident = uuid.uuid4().hex[:12]
                log.exception("rpc_failed", method=method, incident=incident)
                message = f"internal error (incident {incident} in the sidecar's log)"
                await context.abort(code, message)
            finally:
                elapsed = time.perf_counter() - started
                self.metrics.rpc_requests.labels(method, code.name).inc()
                self.metrics.rpc_latency.labels(method).observe(elapsed)
                # One line per request, bodies never: the pipeline's `request` line when it
                # got that far (it may fail before: bad input, cache, routing), else this one.
                if not line.written:
                    log.info(
                        "rpc", method=method, code=code.name,
                        request_id=call.request_id or None,
                        error=error.message if error is not None else None,
                        ms=round(elapsed * 1000, 3),
                    )  # fmt: skip

    async def _rpc(
        self,
        method: str,
        request: Any,
        context: grpc.aio.ServicerContext[Any, Any],
        handler: Callable[[], Awaitable[Resp]],
    ) -> Resp:
        async with self._guard(method, request, context):
            return await handler()
        raise AssertionError("unreachable: _guard re-raises or aborts")

    @staticmethod
    def _deadline(context: grpc.aio.ServicerContext[Any, Any], runtime: Runtime) -> float:
        remaining = context.time_remaining()
        if remaining is None:
            remaining = runtime.settings.cascade.default_deadline_s
        return time.monotonic() + max(0.0, remaining)

    # ---- Embed
    async def Embed(
        self, request: pb.EmbedRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.EmbedResponse:
        async def handle() -> pb.EmbedResponse:
            texts = convert.embed_texts(request, self.limits)
            results = await self.pipeline.embed(texts, bulk=True)
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

    async def Complete(
        self, request: pb.CompleteRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.CompleteResponse:
        async with self._guard("Complete", request, context) as call:
            pipeline = self.pipeline
            runtime = pipeline.runtime  # one snapshot for the whole call (a reload may come)
            deadline = self._deadline(context, runtime)
            domain = convert.completion_request(request, self.limits, deadline)
            call.request_id = domain.request_id
            result = await pipeline.complete(domain, runtime)
            return convert.completion_response(result, pipeline.cache.clock())
        raise AssertionError("unreachable: _guard re-raises or aborts")

    async def StreamComplete(
        self, request: pb.CompleteRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.CompleteChunk]:
        async with self._guard("StreamComplete", request, context) as call:
            pipeline = self.pipeline
            runtime = pipeline.runtime
            deadline = self._deadline(context, runtime)
            domain = convert.completion_request(request, self.limits, deadline)
            call.request_id = domain.request_id
            async for item in pipeline.stream_complete(domain, runtime):
                if isinstance(item, str):
                    yield pb.CompleteChunk(delta=item)
                else:
                    summary = convert.completion_response(item, pipeline.cache.clock())
                    yield pb.CompleteChunk(summary=summary)

    async def Route(
        self, request: pb.RouteRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.RouteDecision:
        async def handle() -> pb.RouteDecision:
            route = await self.pipeline.route(convert.route_request(request, self.limits))
            return convert.route_to_pb(route)

        return await self._rpc("Route", request, context, handle)

    async def Feedback(
        self, request: pb.FeedbackRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.FeedbackResponse:
        async def handle() -> pb.FeedbackResponse:
            request_id, quality = convert.feedback(request)
            return pb.FeedbackResponse(policy=await self.pipeline.feedback(request_id, quality))

        return await self._rpc("Feedback", request, context, handle)

    async def Lookup(
        self, request: pb.LookupRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.LookupResponse:
        async def handle() -> pb.LookupResponse:
            p = self.pipeline
            result = await p.lookup(
                convert.namespace(request.namespace),
                convert.messages(request.messages, self.limits),
                convert.params(request.params),
                convert.threshold(request.threshold, "threshold")
                if request.HasField("threshold")
                else None,
            )
            response = pb.LookupResponse(
                hit=result.entry is not None, cache=convert.cache_info(result, p.cache.clock())
            )
            if result.entry is not None:
                response.entry.CopyFrom(convert.entry_to_pb(result.entry))
            return response

        return await self._rpc("Lookup", request, context, handle)

    async def Store(
        self, request: pb.StoreRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.StoreResponse:
        async def handle() -> pb.StoreResponse:
            if request.answer.role not in (pb.ROLE_ASSISTANT, pb.ROLE_UNSPECIFIED):
                raise InvalidArgument("answer.role", "must be ROLE_ASSISTANT")
            if not request.answer.content.strip():
                raise InvalidArgument("answer.content", "must not be empty")
            if len(request.answer.content.encode("utf-8")) > self.limits.max_prompt_bytes:
                raise TooLarge(
                    f"answer.content: larger than {self.limits.max_prompt_bytes} bytes; "
                    "store a shorter answer"
                )
            entry, replaced = await self.pipeline.store(
                convert.namespace(request.namespace),
                convert.messages(request.messages, self.limits),
                convert.params(request.params),
                answer=request.answer.content,
                finish_reason=request.finish_reason or "stop",
                usage=convert.usage_from_pb(request.usage),
                model=request.model[:256],
                ttl_s=convert.ttl_seconds(request.ttl, "ttl"),
            )
            return pb.StoreResponse(
                entry_id=entry.id, expires=convert.timestamp(entry.expires), replaced=replaced
            )

        return await self._rpc("Store", request, context, handle)

    async def Invalidate(
        self, request: pb.InvalidateRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.InvalidateResponse:
        async def handle() -> pb.InvalidateResponse:
            target = request.WhichOneof("target")
            if target == "entry_id":
                if not request.entry_id:
                    raise InvalidArgument("entry_id", "must not be empty")
                removed = await self.pipeline.invalidate(request.entry_id, None)
            elif target == "namespace":
                namespace = convert.namespace(request.namespace)
                removed = await self.pipeline.invalidate(None, namespace)
            elif target == "all" and request.all:
                removed = await self.pipeline.invalidate(None, None)
            else:
                raise InvalidArgument(
                    "target", "set exactly one of entry_id, namespace, or all=true"
                )
            return pb.InvalidateResponse(removed=removed)

        return await self._rpc("Invalidate", request, context, handle)

    async def GetStats(
        self, request: pb.GetStatsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Stats:
        async def handle() -> pb.Stats:
            p = self.pipeline
            namespace = convert.namespace(request.namespace) if request.namespace else None
            return pb.Stats(
                cache=convert.cache_stats_to_pb(p.cache_stats(namespace)),
                requests=convert.request_stats_to_pb(p.tally.counts(namespace)),
                model=p.model_id,
                uptime=convert.duration(time.monotonic() - self.started),
                version=__version__,
            )

        return await self._rpc("GetStats", request, context, handle)
