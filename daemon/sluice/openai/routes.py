"""aiohttp handlers of the OpenAI-compatible front: parse, call the pipeline, format.

Every handler runs through `_guarded`, which turns the one exception tree into
OpenAI's error shape (errors.py holds the status table), and writes the
request's log line unless the pipeline wrote it (completions).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from sluice import jsontext
from sluice.cache.tier import CacheTier
from sluice.errors import SluiceError, TooLarge
from sluice.openai import embeddings, replies
from sluice.openai.chat import AUTO_MODEL, ChatCall, parse_chat
from sluice.openai.controls import header_safe
from sluice.openai.errors import (
    NotReady,
    UnknownModel,
    error_body,
    error_response,
    internal_error_body,
)
from sluice.openai.feedback import parse_feedback
from sluice.openai.fields import renamed
from sluice.pipeline import CompletionResult, ModelPath, Pipeline, Runtime
from sluice.telemetry.logging import get_logger, request_line

log = get_logger("sluice.http")

PipelineGetter = Callable[[], Pipeline[CacheTier] | None]


class _Call:
    """What a handler learnt, for the error reply and the log line."""

    def __init__(self, request: web.Request) -> None:
        # Echoed in a reply header before the controls are checked: only if it can be one.
        rid = request.headers.get("x-sluice-request-id", "")[:128]
        self.request_id = rid if header_safe(rid) else ""


class OpenAIFront:
    def __init__(self, pipeline: PipelineGetter) -> None:
        # None while the model loads and while draining: every call answers 503.
        self._get_pipeline = pipeline
        self._created = int(time.time())

    def pipeline(self) -> Pipeline[CacheTier]:
        pipeline = self._get_pipeline()
        if pipeline is None:
            raise NotReady(
                "the sidecar is starting (loading the model) or stopping; "
                "retry when /healthz says SERVING"
            )
        return pipeline

    async def _guarded(
        self, request: web.Request, handle: Callable[[_Call], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = time.perf_counter()
        call = _Call(request)
        status, error = 500, None
        with request_line() as line:
            try:
                response = await handle(call)
                status = response.status
                return response
            except SluiceError as exc:
                error = exc.message
                response = error_response(exc, _error_headers(call, exc))
                status = response.status
                return response
            except Exception:  # never a stack trace on the wire: an incident id for the log
                incident = uuid.uuid4().hex[:12]
                log.exception("http_failed", path=request.path, incident=incident)
                return web.json_response(internal_error_body(incident), status=500)
            finally:
                # One line per request: the pipeline's `request` line if it got that far.
                if not line.written:
                    log.info(
                        "http", method=request.method, path=request.path, status=status,
                        request_id=call.request_id or None, error=error,
                        ms=round((time.perf_counter() - started) * 1000, 3),
                    )  # fmt: skip

    # ---- POST /v1/chat/completions
    async def chat(self, request: web.Request) -> web.StreamResponse:
        async def handle(call: _Call) -> web.StreamResponse:
            pipeline = self.pipeline()
            body = await _json_body(request)
            # One snapshot from the checks to the answer: a reload may come meanwhile.
            runtime = pipeline.runtime
            parsed = parse_chat(
                body, request.headers, runtime.settings, _known_models(runtime.models),
                time.monotonic(),
            )  # fmt: skip
            call.request_id = parsed.request.request_id
            # The pipeline names gRPC's fields ("routing.max_cost_usd"); here they are the
            # `sluice` object's (or its x-sluice-* headers).
            with renamed("routing.", "sluice."):
                if parsed.stream:
                    return await _stream(request, parsed, pipeline, runtime)
                result = await pipeline.complete(parsed.request, runtime)
            reply = replies.completion(result, parsed.model, int(time.time()))
            headers = replies.metadata_headers(replies.metadata(result))
            return web.json_response(reply, headers=headers)

        return await self._guarded(request, handle)

    # ---- POST /v1/embeddings
    async def embeddings(self, request: web.Request) -> web.StreamResponse:
        async def handle(_call: _Call) -> web.StreamResponse:
            pipeline = self.pipeline()
            parsed = embeddings.parse_embed(
                await _json_body(request), pipeline.model_id, pipeline.dimensions,
                pipeline.runtime.settings.limits,
            )  # fmt: skip
            results = await pipeline.embed(parsed.texts, bulk=True)
            return web.json_response(embeddings.reply(results, pipeline.model_id, parsed.encoding))

        return await self._guarded(request, handle)

    # ---- POST /v1/feedback (Sluice's own: the judgement of an earlier answer)
    async def feedback(self, request: web.Request) -> web.StreamResponse:
        async def handle(call: _Call) -> web.StreamResponse:
            pipeline = self.pipeline()
            judged, quality = parse_feedback(await _json_body(request))
            policy = await pipeline.feedback(judged, quality)
            reply = {"object": "sluice.feedback", "request_id": judged, "policy": policy}
            return web.json_response(reply, headers=replies.request_id_headers(call.request_id))

        return await self._guarded(request, handle)

    # ---- GET /v1/models, GET /v1/models/{model}
    def _cards(self, pipeline: Pipeline[CacheTier]) -> list[dict[str, object]]:
        models = pipeline.runtime.models
        owners = [(AUTO_MODEL, "sluice"), *_model_owners(models), (pipeline.model_id, "sluice")]
        return [
            {"id": name, "object": "model", "created": self._created, "owned_by": owner}
            for name, owner in owners
        ]

    async def models(self, request: web.Request) -> web.StreamResponse:
        async def handle(_call: _Call) -> web.StreamResponse:
            return web.json_response({"object": "list", "data": self._cards(self.pipeline())})

        return await self._guarded(request, handle)

    async def model(self, request: web.Request) -> web.StreamResponse:
        async def handle(_call: _Call) -> web.StreamResponse:
            name = request.match_info["model"]
            cards = self._cards(self.pipeline())
            for card in cards:
                if card["id"] == name:
                    return web.json_response(card)
            raise UnknownModel("model", name, [str(c["id"]) for c in cards])

        return await self._guarded(request, handle)


async def _stream(
    request: web.Request, call: ChatCall, pipeline: Pipeline[CacheTier], runtime: Runtime
) -> web.StreamResponse:
    """SSE in OpenAI's chunk format. Errors before the first byte get a status and a JSON body."""
    chunks = replies.Chunks(
        call.request.request_id, call.model, int(time.time()), call.include_usage
    )
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            **replies.request_id_headers(call.request.request_id),
        }
    )
    items = pipeline.stream_complete(call.request, runtime)
    try:
        first = await anext(items)
        await response.prepare(request)
        await _relay_or_report(request, response, chunks, first, items)
    finally:
        if isinstance(items, AsyncGenerator):  # closes the provider stream if we stopped early
            await items.aclose()
    return response


async def _relay_or_report(
    request: web.Request,
    response: web.StreamResponse,
    chunks: replies.Chunks,
    first: str | CompletionResult,
    rest: AsyncIterator[str | CompletionResult],
) -> None:
    """Past the status line, an error can only be an `error` event (the SDKs raise on it)."""
    try:
        await response.write(chunks.opening())
        await _relay(response, chunks, first, rest)
    except ConnectionResetError:
        return  # the client went away
    except SluiceError as exc:
        body = error_body(exc)
    except Exception:  # an incident id to find in the log, never a stack trace
        incident = uuid.uuid4().hex[:12]
        log.exception("http_stream_failed", path=request.path, incident=incident)
        body = internal_error_body(incident)
    else:
        return
    with contextlib.suppress(ConnectionResetError):
        await response.write(replies.sse(body))


async def _relay(
    response: web.StreamResponse,
    chunks: replies.Chunks,
    first: str | CompletionResult,
    rest: AsyncIterator[str | CompletionResult],
) -> None:
    item = first
    while True:
        if isinstance(item, CompletionResult):
            await response.write(chunks.closing(item))
            return
        if item:
            await response.write(chunks.delta(item))
        item = await anext(rest)


async def _json_body(request: web.Request) -> Any:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise TooLarge(f"body: {exc.text}") from None
    return jsontext.loads(raw, "body")


def _model_owners(models: ModelPath | None) -> list[tuple[str, str]]:
    """Each configured model once, cheapest tier first, with its first provider."""
    if models is None:
        return []
    owners: dict[str, str] = {}
    for tier in models.catalogue.tiers:
        for deployment in tier.deployments:
            owners.setdefault(deployment.model, deployment.provider)
    return list(owners.items())


def _known_models(models: ModelPath | None) -> list[str]:
    return [name for name, _ in _model_owners(models)]


def _error_headers(call: _Call, exc: SluiceError) -> dict[str, str]:
    headers = replies.request_id_headers(call.request_id)
    attempts = getattr(exc, "attempts", ())
    if attempts:
        headers["x-sluice-attempts"] = str(len(attempts))
    return headers


@web.middleware
async def openai_http_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Unknown routes and methods under /v1/ in OpenAI's error shape too."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith("/v1/"):
            raise
        body = {
            "error": {
                "message": f"{request.method} {request.path}: {exc.reason}",
                "type": "invalid_request_error", "param": None, "code": None,
            }
        }  # fmt: skip
        allow = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return web.json_response(body, status=exc.status, headers=allow)


def add_routes(app: web.Application, pipeline: PipelineGetter) -> None:
    front = OpenAIFront(pipeline)
    app.middlewares.append(openai_http_errors)
    app.router.add_post("/v1/chat/completions", front.chat)
    app.router.add_post("/v1/embeddings", front.embeddings)
    app.router.add_post("/v1/feedback", front.feedback)
    app.router.add_get("/v1/models", front.models)
    app.router.add_get("/v1/models/{model}", front.model)
