"""One aiohttp app that speaks OpenAI, Anthropic and Gemini on their real paths, with faults.

    POST /v1/chat/completions                          OpenAI (base_url http://HOST:PORT/v1)
    POST /v1/messages                                  Anthropic (base_url http://HOST:PORT)
    POST /v1beta/models/{model}:generateContent        Gemini (base_url http://HOST:PORT)
    POST /v1beta/models/{model}:streamGenerateContent?alt=sse

    POST /_fake/faults   a fault object, or {"faults": [fault, …]}       → {"ok": true}
    POST /_fake/chaos    {"seed": 7, "faults": [{"probability": 0.1, "kind": …, …}]}, or {} to stop
    POST /_fake/models   {"model": m, "answer": str|null, "logprob": f, "cached_input_tokens": n}
    POST /_fake/reset    forget faults, chaos, model settings and recorded calls
    GET  /_fake/calls    {"calls": [{"protocol", "model", "path", "stream", "headers",
                                     "auth_ok", "fault", "body"}, …]}

A fault object is `Fault`'s fields as JSON, e.g. {"kind": "rate_limit", "model": "m", "times": 1,
"retry_after_s": 2}. Recorded headers never include credentials; `auth_ok` says whether the
presented key matched the expected one (or, with no expected key, whether one was presented).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from types import TracebackType
from typing import Any, Final

from aiohttp import web

from sluice.testing.fakeprovider.faults import Chaos, Echo, Fault, FaultKind, FaultPlan
from sluice.testing.fakeprovider.wire import (
    WIRE_FORMATS,
    Answer,
    Ask,
    ErrorCase,
    WireFormat,
    split_tokens,
)

PROTOCOLS: Final = tuple(WIRE_FORMATS)
_SECRET_HEADERS: Final = frozenset(
    {"authorization", "x-api-key", "x-goog-api-key", "cookie", "proxy-authorization"}
)
_ECHO_FROM: Final = ('"messages"', '"contents"', '"system"')
_ECHOES: Final[Mapping[Echo, Callable[[str], str]]] = {
    Echo.RAW: lambda raw: raw,
    Echo.UNICODE: lambda raw: json.dumps(_loose_json(raw), ensure_ascii=False),
    Echo.DOUBLE: json.dumps,
    Echo.URL: urllib.parse.quote,
    Echo.URL_PLUS: urllib.parse.quote_plus,
}


def _loose_json(raw: str) -> object:
    """The body piece re-decoded: from `"messages": [...]` on it is `{` short of an object."""
    try:
        return json.loads("{" + raw)
    except ValueError:
        return raw


_MALFORMED_BODY: Final = b'{"id": "fake", "choices": [{"index": 0, "message": {"conte'
_MALFORMED_FRAME: Final = b'data: {"type": "content_block_delta", "delta": {"te\n\n'
_HTML: Final = "<html><body><h1>502 Bad Gateway</h1><p>captive proxy</p></body></html>"


@dataclass(frozen=True, slots=True)
class ModelBehaviour:
    answer: str | None = None  # None: "echo: <last user message>"
    logprob: float = -0.05  # of every token: near 0 is confident, -3 is unsure
    cached_input_tokens: int = 0  # reported as cached (capped at the prompt size)


@dataclass(frozen=True, slots=True)
class RecordedCall:
    protocol: str
    model: str
    path: str
    stream: bool
    headers: Mapping[str, str]
    auth_ok: bool
    fault: str | None
    body: Any

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "headers": dict(self.headers)}


_Handler = Callable[[web.Request, WireFormat, Ask, Fault], Awaitable[web.StreamResponse]]


class FakeProviderServer:
    """`async with FakeProviderServer() as fake:` serves on `fake.url` until the block ends."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        protocols: Sequence[str] = PROTOCOLS,
        default: ModelBehaviour = ModelBehaviour(),
    ) -> None:
        self._host, self._port = host, port
        self._api_key = api_key
        self._default = default
        self._models: dict[str, ModelBehaviour] = {}
        self._plan = FaultPlan()
        self._calls: list[RecordedCall] = []
        self._inflight = 0
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.app = self._build_app(protocols)
        self._faulty: Final[Mapping[FaultKind, _Handler]] = {
            FaultKind.LATENCY: self._latency,
            FaultKind.RATE_LIMIT: self._rate_limit,
            FaultKind.SERVER_ERROR: self._server_error,
            FaultKind.HANG: self._hang,
            FaultKind.MALFORMED_JSON: self._malformed,
            FaultKind.CUT_STREAM: self._cut,
            FaultKind.SLOW_DRIP: self._drip,
            FaultKind.WRONG_CONTENT_TYPE: self._wrong_type,
            FaultKind.UNAUTHORIZED: self._unauthorized,
            FaultKind.CONTEXT_LENGTH: self._context_length,
            FaultKind.ECHO_REQUEST: self._echo_request,
        }

    # ---- lifecycle

    async def start(self) -> None:
        self._stopping.clear()
        # handler_cancellation: a client that gives up (timeout) ends a hanging handler.
        self._runner = web.AppRunner(
            self.app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeProviderServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    def base_url(self, protocol: str) -> str:
        """What a client of `protocol` uses as its base_url."""
        return f"{self.url}/v1" if protocol == "openai" else self.url

    # ---- control

    def set_fault(self, fault: Fault) -> None:
        self._plan.add(fault)

    def set_chaos(self, chaos: Chaos | None) -> None:
        self._plan.set_chaos(chaos)

    def configure_model(self, model: str, behaviour: ModelBehaviour) -> None:
        self._models[model] = behaviour

    def reset(self) -> None:
        self._plan.clear()
        self._models.clear()
        self._calls.clear()

    @property
    def calls(self) -> tuple[RecordedCall, ...]:
        return tuple(self._calls)

    # ---- HTTP

    def _build_app(self, protocols: Sequence[str]) -> web.Application:
        app = web.Application()
        if "openai" in protocols:
            app.router.add_post("/v1/chat/completions", self._openai)
        if "anthropic" in protocols:
            app.router.add_post("/v1/messages", self._anthropic)
        if "gemini" in protocols:
            app.router.add_post("/v1beta/models/{target}", self._gemini)
        app.router.add_post("/_fake/faults", self._post_faults)
        app.router.add_post("/_fake/chaos", self._post_chaos)
        app.router.add_post("/_fake/models", self._post_model)
        app.router.add_post("/_fake/reset", self._post_reset)
        app.router.add_get("/_fake/calls", self._get_calls)
        return app

    @property
    def inflight(self) -> int:
        """Provider requests being handled now (a cancelled client call ends its handler)."""
        return self._inflight

    async def _openai(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, WIRE_FORMATS["openai"])

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, WIRE_FORMATS["anthropic"])

    async def _gemini(self, request: web.Request) -> web.StreamResponse:
        model, _, action = request.match_info["target"].rpartition(":")
        if action not in ("generateContent", "streamGenerateContent") or not model:
            raise web.HTTPNotFound()
        stream = action == "streamGenerateContent"
        if stream and request.query.get("alt") != "sse":
            raise web.HTTPBadRequest(text="this fake streams only with alt=sse")
        return await self._serve(request, WIRE_FORMATS["gemini"], model, stream)

    async def _serve(
        self,
        request: web.Request,
        wire: WireFormat,
        path_model: str = "",
        path_stream: bool = False,
    ) -> web.StreamResponse:
        self._inflight += 1
        try:
            return await self._serve_counted(request, wire, path_model, path_stream)
        finally:
            self._inflight -= 1

    async def _serve_counted(
        self, request: web.Request, wire: WireFormat, path_model: str, path_stream: bool
    ) -> web.StreamResponse:
        try:
            body = json.loads(await request.read())
            ask = wire.parse(body, path_model, path_stream)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return self._error(wire, "bad_request", 400, f"invalid request body: {exc}")
        key = wire.presented_key(request.headers, request.query)
        auth_ok = key is not None and (self._api_key is None or key == self._api_key)
        fault = self._plan.pick(ask.model) if auth_ok or self._api_key is None else None
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in _SECRET_HEADERS and (not key or key not in value)
        }
        self._calls.append(
            RecordedCall(
                wire.name,
                ask.model,
                request.path,
                ask.stream,
                headers,
                auth_ok,
                fault.kind.value if fault else None,
                body,
            )
        )
        if self._api_key is not None and not auth_ok:
            return self._error(wire, "unauthorized", 401)
        if fault is None:
            return await self._answer(request, wire, ask)
        return await self._faulty[fault.kind](request, wire, ask, fault)

    async def _answer(
        self, request: web.Request, wire: WireFormat, ask: Ask, interval_s: float = 0
    ) -> web.StreamResponse:
        answer = self._compose(ask)
        if not ask.stream:
            if interval_s:
                raw = json.dumps(wire.completion(ask, answer)).encode()
                pieces = [raw[i : i + 64] for i in range(0, len(raw), 64)]
                return await self._write(request, pieces, interval_s, "application/json")
            return web.json_response(wire.completion(ask, answer))
        frames = wire.frames(ask, answer)
        return await self._write(request, [*frames.head, *frames.body, *frames.tail], interval_s)

    def _compose(self, ask: Ask) -> Answer:
        behaviour = self._models.get(ask.model, self._default)
        text = behaviour.answer if behaviour.answer is not None else f"echo: {ask.last_user_text}"
        tokens = split_tokens(text)
        cached = min(behaviour.cached_input_tokens, ask.prompt_tokens)
        if ask.max_tokens is not None and len(tokens) > ask.max_tokens:
            tokens = tokens[: ask.max_tokens]
            return Answer(tokens, behaviour.logprob, "length", ask.prompt_tokens, cached)
        return Answer(tokens, behaviour.logprob, "stop", ask.prompt_tokens, cached)

    async def _write(
        self,
        request: web.Request,
        pieces: Sequence[bytes],
        interval_s: float = 0,
        content_type: str = "text/event-stream",
        *,
        finish: bool = True,
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": content_type, "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        for index, piece in enumerate(pieces):
            if interval_s and index:
                await asyncio.sleep(interval_s)
            await response.write(piece)
        if finish:
            await response.write_eof()
        elif request.transport is not None:
            # Drop the connection without the chunked terminator: the client sees a cut body.
            request.transport.close()
        return response

    def _error(
        self,
        wire: WireFormat,
        case: ErrorCase,
        status: int,
        message: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        retry_after_s: float | None = None,
    ) -> web.Response:
        status, body = wire.error(case, status, message, retry_after_s)
        return web.json_response(body, status=status, headers=headers)

    # ---- faults, one handler per FaultKind

    async def _latency(
        self, request: web.Request, wire: WireFormat, ask: Ask, fault: Fault
    ) -> web.StreamResponse:
        await asyncio.sleep(fault.latency_ms / 1000)
        return await self._answer(request, wire, ask)

    async def _drip(
        self, request: web.Request, wire: WireFormat, ask: Ask, fault: Fault
    ) -> web.StreamResponse:
        return await self._answer(request, wire, ask, interval_s=fault.interval_ms / 1000)

    async def _rate_limit(
        self, request: web.Request, wire: WireFormat, ask: Ask, fault: Fault
    ) -> web.StreamResponse:
        headers: dict[str, str] = {}
        if fault.retry_after_s is not None:
            headers["Retry-After"] = (
                formatdate(time.time() + fault.retry_after_s, usegmt=True)
                if fault.retry_after_http_date
                else f"{fault.retry_after_s:g}"
            )
        if fault.retry_after_ms is not None:
            headers["retry-after-ms"] = str(fault.retry_after_ms)
        return self._error(
            wire,
            "rate_limit",
            429,
            fault.message,
            headers=headers,
            retry_after_s=fault.retry_after_s,
        )

    async def _server_error(
        self, request: web.Request, wire: WireFormat, ask: Ask, fault: Fault
    ) -> web.StreamResponse:
        return self._error(wire, "server", fault.status, fault.message)

    async def _unauthorized(
        self, request: web.Request, wire: WireFormat, ask: Ask, fault: Fault
    ) -> web.StreamResponse:
        return self._error(wire, "unauthorized", 401, fault.message)

    async def _context_length(
        self, request: web.Request, wire: WireFormat, ask: Ask, fault: Fault
    ) -> web.StreamResponse:
        return self._error(wire, "context_length", 400, fault.message)

    async def _echo_request(
        self, request: web.Request, wire: WireFormat, ask: Ask, fault: Fault
    ) -> web.StreamResponse:
        raw = (await request.read()).decode("utf-8", "replace")
        # From the conversation on, so the prompt falls in the first few hundred characters.
        starts = [i for key in _ECHO_FROM if (i := raw.find(key)) >= 0]
        quoted = _ECHOES[fault.echo](raw[min(starts, default=0) :])
        case: ErrorCase = "server" if fault.status >= 500 else "bad_request"
        return self._error(wire, case, fault.status, f"could not parse the request: {quoted}")

    async def _hang(
        self, request: web.Request, wire: WireFormat, ask: Ask, fault: Fault
    ) -> web.StreamResponse:
        await self._stopping.wait()  # until the client gives up (cancellation) or we stop
        raise web.HTTPServiceUnavailable()

    async def _wrong_type(
        self, request: web.Request, wire: WireFormat, ask: Ask, fault: Fault
    ) -> web.StreamResponse:
        return web.Response(text=_HTML, content_type="text/html")

    async def _malformed(
        self, request: web.Request, wire: WireFormat, ask: Ask, fault: Fault
    ) -> web.StreamResponse:
        if not ask.stream:
            return web.Response(body=_MALFORMED_BODY, content_type="application/json")
        frames = wire.frames(ask, self._compose(ask))
        return await self._write(
            request, [*frames.head, *frames.body[:1], _MALFORMED_FRAME, *frames.tail]
        )

    async def _cut(
        self, request: web.Request, wire: WireFormat, ask: Ask, fault: Fault
    ) -> web.StreamResponse:
        answer = self._compose(ask)
        if not ask.stream:
            raw = json.dumps(wire.completion(ask, answer)).encode()
            return await self._write(
                request, [raw[: len(raw) // 2]], content_type="application/json", finish=False
            )
        frames = wire.frames(ask, answer)
        pieces = [*frames.head, *frames.body[: fault.after_chunks]]
        return await self._write(request, pieces, finish=fault.clean_close)

    # ---- control endpoints

    async def _post_faults(self, request: web.Request) -> web.Response:
        def apply(data: Any) -> None:
            for item in data.get("faults", [data]):
                self.set_fault(Fault.from_json(item))

        return await self._control(request, apply)

    async def _post_chaos(self, request: web.Request) -> web.Response:
        def apply(data: Any) -> None:
            self.set_chaos(Chaos.from_json(data) if data else None)

        return await self._control(request, apply)

    async def _post_model(self, request: web.Request) -> web.Response:
        def apply(data: Any) -> None:
            fields = dict(data)
            model = str(fields.pop("model"))
            self.configure_model(model, dataclasses.replace(self._default, **fields))

        return await self._control(request, apply)

    async def _post_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})

    async def _get_calls(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"calls": [call.to_json() for call in self._calls], "inflight": self._inflight}
        )

    async def _control(self, request: web.Request, apply: Callable[[Any], None]) -> web.Response:
        try:
            raw = await request.read()
            apply(json.loads(raw) if raw.strip() else {})
        except (ValueError, TypeError, KeyError) as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        return web.json_response({"ok": True})
