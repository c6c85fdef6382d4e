"""What the wire protocols share: one aiohttp provider, SSE decoding, and error classification.

Each protocol module (`openai`, `anthropic`, `gemini`) is a pure `WireCodec`: it builds request
bodies and parses replies, with no I/O. `HttpProvider` runs a codec over aiohttp and is the one
place where transport failures, HTTP statuses and broken replies become `ProviderError`s:

    transport / reply problem              ProviderErrorKind
    TimeoutError (connect, first byte, gap) ProviderTimeout (RETRYABLE)
    HTTP 429                                RateLimited (RETRYABLE, retry_after)
    HTTP 408/409/425/5xx/529                RETRYABLE
    HTTP 401/402/403, 3xx, bad API key      PROVIDER_WIDE
    HTTP 4xx mentioning the context limit   CONTEXT_LENGTH
    other HTTP 4xx                          FINAL
    connection refused/reset, cut body,
    malformed JSON, wrong content type,
    stream without its terminal event       RETRYABLE
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import hmac
import json
import math
import re
import urllib.parse
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Final, NoReturn, Protocol, final

import aiohttp

from sluice.errors import ProviderError, ProviderErrorKind, ProviderTimeout, RateLimited
from sluice.types import Completion, ProviderRequest, StreamEvent

_MAX_DETAIL: Final = 200  # characters of a provider's error message kept in ours
_MAX_ERROR_BODY: Final = 64 * 1024  # bytes of an error reply read to classify it
_MAX_SSE_PENDING: Final = 8 * 1024 * 1024  # an SSE line longer than this is not a real reply
_MIN_SCRUB_LEN: Final = 8  # prompt texts shorter than this are too common to redact reliably
_MIN_FRAGMENT: Final = 16  # a quoted piece of a prompt this long is redacted too


@final
class Secret:
    """A credential whose repr and str never reveal it; `get_secret_value()` is the only way out."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value:
            raise ValueError("a Secret cannot be empty")
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    def __reduce__(self) -> NoReturn:
        # A pickle would carry the key in clear to wherever the bytes go.
        raise TypeError("a Secret cannot be pickled")


# ---- internal failures, raised by codecs and translated by HttpProvider


class WireFormatError(Exception):
    """A reply did not have the shape its protocol promises."""


class IncompleteStream(WireFormatError):
    """A stream ended before its terminal event: the answer may be cut short."""


class UnsupportedRequest(Exception):
    """The request cannot be expressed in this protocol; no retry will change that."""


class InStreamError(Exception):
    """The provider reported an error inside an already started (HTTP 200) stream."""

    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(info.type)
        self.info = info


# ---- typed access to decoded JSON


def load_json(raw: bytes | str, what: str) -> Any:
    try:
        value = json.loads(raw)
    except RecursionError:
        raise WireFormatError(f"{what} is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise WireFormatError(f"{what} is not valid JSON") from exc
    pattern = _SURROGATE_ESCAPE_BYTES if isinstance(raw, bytes) else _SURROGATE_ESCAPE
    if pattern.search(raw):  # type: ignore[arg-type]  # the pattern matches raw's type
        _scrub_surrogates(value)
    return value


# `"\ud83d"` escapes: JSON can carry half of a surrogate pair (a stream may even split an emoji
# across two chunks), which decodes to a str no UTF-8 encoder takes (the cache, gRPC, our reply).
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_BYTES: Final = re.compile(rb"\\u[dD][89a-fA-F]")


def _scrub_surrogates(value: object) -> None:
    """Every string in `value` (in place) with pairs joined and a lone half as U+FFFD."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            for i, v in enumerate(item):
                if isinstance(v, str):
                    item[i] = _valid_unicode(v)
                else:
                    stack.append(v)
        elif isinstance(item, dict):
            for key, v in list(item.items()):
                if not isinstance(v, str):
                    stack.append(v)
                del item[key]
                item[_valid_unicode(key)] = _valid_unicode(v) if isinstance(v, str) else v


def _valid_unicode(text: str) -> str:
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def as_dict(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WireFormatError(f"{what} is not an object")
    return value


def as_list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise WireFormatError(f"{what} is not a list")
    return value


def as_str(value: object, what: str) -> str:
    """A string field; absent or null reads as ""."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise WireFormatError(f"{what} is not a string")
    return value


def as_int(value: object, what: str) -> int:
    """A count; absent or null reads as 0."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise WireFormatError(f"{what} is not an integer")
    return value


def as_float(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WireFormatError(f"{what} is not a number")
    return float(value)


def parse_json_schema(schema: str) -> dict[str, Any]:
    # The fronts refuse bad schemas (sluice.jsontext); this is the line behind them.
    try:
        parsed = json.loads(schema)
    except RecursionError:
        raise UnsupportedRequest("params.json_schema is nested too deeply") from None
    except ValueError:
        raise UnsupportedRequest("params.json_schema is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise UnsupportedRequest("params.json_schema is not a JSON object")
    return parsed


# ---- server-sent events


@dataclass(frozen=True, slots=True)
class SseEvent:
    data: str
    event: str = "message"


_LINE_END: Final = re.compile(r"\r\n|\r|\n")


class SseDecoder:
    """Server-sent events as the WHATWG spec defines them, fed with bytes split anywhere.

    Lines end in CRLF, LF or CR; `data:` lines join with LF; comments (`:`) and `id:`/`retry:`
    are ignored; an unterminated event at the end of the body is dropped, as the spec says.
    """

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._pending = ""
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[SseEvent]:
        try:
            self._pending += self._utf8.decode(chunk)
        except UnicodeDecodeError:
            raise WireFormatError("stream is not valid UTF-8") from None
        events: list[SseEvent] = []
        start = 0
        for match in _LINE_END.finditer(self._pending):
            if match.group() == "\r" and match.end() == len(self._pending):
                break  # maybe the first half of a CRLF split across chunks
            event = self._line(self._pending[start : match.start()])
            if event is not None:
                events.append(event)
            start = match.end()
        self._pending = self._pending[start:]
        if len(self._pending) > _MAX_SSE_PENDING:
            raise WireFormatError("stream line exceeds 8 MiB")
        return events

    def _line(self, line: str) -> SseEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None

    def _dispatch(self) -> SseEvent | None:
        event = SseEvent("\n".join(self._data), self._event or "message") if self._data else None
        self._event, self._data = "", []
        return event


# ---- errors


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """What a provider's error body says, read by its codec."""

    type: str = ""
    message: str = ""
    status: int | None = None  # the HTTP status the body implies (in-stream errors have none)
    context_length: bool = False
    auth: bool = False  # a bad credential reported with a non-auth status (Gemini: 400)
    retry_after: float | None = None  # from the body (Gemini RetryInfo), if any


_CONTEXT_LENGTH: Final = re.compile(
    r"context[ _-]?(length|window|limit)|prompt is too long|maximum (context|number of tokens)"
    r"|too many (input )?tokens",
    re.IGNORECASE,
)


def looks_like_context_length(message: str) -> bool:
    return _CONTEXT_LENGTH.search(message) is not None


def generic_error_info(payload: object) -> ErrorInfo:
    """Read `{"error": {"type"|"status", "code", "message"}}`, the shape all three APIs share."""
    if isinstance(payload, list) and payload:
        payload = payload[0]  # Google wraps some errors in a one-element list
    if not isinstance(payload, dict):
        return ErrorInfo()
    error = payload.get("error", payload)
    if isinstance(error, str):
        return ErrorInfo(message=error, context_length=looks_like_context_length(error))
    if not isinstance(error, dict):
        return ErrorInfo()
    message = error.get("message") or error.get("detail")
    message = message if isinstance(message, str) else ""
    kind = error.get("type") or error.get("status")
    code = error.get("code")
    return ErrorInfo(
        type=kind if isinstance(kind, str) else "",
        message=message,
        status=code if isinstance(code, int) and 100 <= code <= 599 else None,
        context_length=code == "context_length_exceeded" or looks_like_context_length(message),
    )


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, else `Retry-After` (seconds or an HTTP-date)."""
    lowered = {key.lower(): value.strip() for key, value in headers.items()}
    with contextlib.suppress(KeyError, ValueError):
        return _non_negative(float(lowered["retry-after-ms"]) / 1000)
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        return _non_negative(float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return _non_negative((when - (now or datetime.now(UTC))).total_seconds())


def _non_negative(seconds: float) -> float:
    if not math.isfinite(seconds):
        raise ValueError("not a finite number of seconds")
    return max(0.0, seconds)


def error_kind(status: int, info: ErrorInfo) -> ProviderErrorKind:
    """The one table from an HTTP status (and what the body says) to what may follow."""
    if info.auth or status in (401, 402, 403):
        return ProviderErrorKind.PROVIDER_WIDE
    if status in (408, 409, 425, 429) or status >= 500:
        return ProviderErrorKind.RETRYABLE
    if info.context_length:
        return ProviderErrorKind.CONTEXT_LENGTH
    if 300 <= status < 400:  # redirects are not followed: the base_url is wrong
        return ProviderErrorKind.PROVIDER_WIDE
    return ProviderErrorKind.FINAL


def build_error(
    provider: str,
    status: int,
    info: ErrorInfo,
    *,
    where: str,
    retry_after: float | None = None,
    secrets: Iterable[str] = (),
) -> ProviderError:
    """A classified error whose message names provider, status and the provider's own words."""
    secrets = tuple(secrets)
    # Whole secrets first (the cut below could split one), then pieces in what is kept.
    detail = redact(" ".join(info.message.split()), secrets, fragments=False)
    cut = len(detail) > _MAX_DETAIL
    detail = redact(detail[:_MAX_DETAIL], secrets) + ("…" if cut else "")
    kind_part = f" {redact(info.type[:60], secrets)}" if info.type else ""
    message = f"{provider}: {where}{kind_part}" + (f": {detail}" if detail else "")
    retry_after = info.retry_after if retry_after is None else retry_after
    if status == 429:
        return RateLimited(message, provider=provider, retry_after=retry_after)
    return ProviderError(
        message,
        kind=error_kind(status, info),
        provider=provider,
        status=status,
        retry_after=retry_after,
    )


def redact(text: str, secrets: Iterable[str], *, fragments: bool = True) -> str:
    """`text` without any secret, whole or in part (providers quote prompts cut or re-spaced).

    Providers also quote the request body they got, so a prompt may come back JSON-escaped
    (`\\u043f\\u0440…` or raw UTF-8, `\\"`, `\\n`; once or twice) or URL-encoded (`%D0%BF`,
    `+`). Matching happens after undoing those encodings on both sides (`unescaped`), so an
    escaped prompt or an escaped piece of one is caught like a plain one; the text returned
    is the unescaped one. Not caught: base64 or other encodings a provider might invent.

    Fragment search costs len(text) substring scans of each secret: keep `text` short.
    """
    secrets = [s for s in secrets if len(s) >= _MIN_SCRUB_LEN]
    if not secrets:
        return text
    text = unescaped(text)
    for secret in secrets:
        plain = unescaped(secret)
        for form in (secret, plain):
            if form in text:
                text = text.replace(form, "[redacted]")
        if fragments:
            text = _redact_fragments(text, plain)
    return text


_JSON_ESCAPE: Final = re.compile(r'\\u([0-9a-fA-F]{4})|\\(["\\/bfnrt])')
_JSON_SIMPLE: Final = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n",
                       "r": "\r", "t": "\t"}  # fmt: skip


def unescaped(text: str) -> str:
    """`text` with JSON string escapes and URL encoding undone (twice: a quoted body quoted
    again), white space flattened, and never a lone surrogate (it would break our own log)."""
    for _ in range(2):
        if "\\" in text:
            text = _JSON_ESCAPE.sub(_json_char, text)
        if "%" in text or "+" in text:
            text = urllib.parse.unquote_plus(text, errors="replace")
    text = " ".join(text.split())
    return _valid_unicode(text)  # escaped pairs joined (emoji), a lone half as U+FFFD


def _json_char(match: re.Match[str]) -> str:
    code, simple = match.groups()
    return chr(int(code, 16)) if code is not None else _JSON_SIMPLE[simple]


def _redact_fragments(text: str, secret: str) -> str:
    """Every run of at least _MIN_FRAGMENT characters of `text` that also occurs in `secret`."""
    n = _MIN_FRAGMENT
    if len(secret) < n:
        return text
    out: list[str] = []
    start = i = 0
    while i <= len(text) - n:
        if text[i : i + n] not in secret:
            i += 1
            continue
        end = i + n
        while end < len(text) and text[i : end + 1] in secret:
            end += 1
        out.append(text[start:i] + "[redacted]")
        start = i = end
    out.append(text[start:])
    return "".join(out)


# ---- the seam between a protocol and the transport


class StreamDecoder(Protocol):
    """Turns one protocol's SSE events into `StreamEvent`s for one streamed call."""

    @property
    def done(self) -> bool:
        """The terminal event arrived: stop reading."""
        ...

    def feed(self, event: SseEvent) -> list[StreamEvent]: ...

    def finish(self) -> StreamEvent:
        """The last event (`done=True`); raises `IncompleteStream` if the stream was cut."""
        ...


class WireCodec(Protocol):
    """One wire protocol, without I/O: request bodies in, replies out."""

    base_headers: Mapping[str, str]

    def url(self, base_url: str, request: ProviderRequest, *, stream: bool) -> str: ...

    def auth_headers(self, api_key: str) -> dict[str, str]: ...

    def body(self, request: ProviderRequest, *, stream: bool) -> dict[str, Any]: ...

    def parse_completion(self, payload: object, request: ProviderRequest) -> Completion: ...

    def stream_decoder(self, request: ProviderRequest) -> StreamDecoder: ...

    def parse_error(self, payload: object) -> ErrorInfo: ...


# Transport failures in order of precedence (aiohttp's timeouts are also connection errors).
_TRANSPORT_ERRORS: Final[tuple[tuple[type[BaseException], ProviderErrorKind, str], ...]] = (
    (aiohttp.InvalidURL, ProviderErrorKind.PROVIDER_WIDE, "invalid base_url"),
    (aiohttp.ClientConnectorCertificateError, ProviderErrorKind.PROVIDER_WIDE, "TLS failed"),
    (aiohttp.ClientPayloadError, ProviderErrorKind.RETRYABLE, "reply cut off"),
    (aiohttp.ServerDisconnectedError, ProviderErrorKind.RETRYABLE, "server disconnected"),
    (aiohttp.ClientConnectionError, ProviderErrorKind.RETRYABLE, "connection failed"),
    (aiohttp.ClientError, ProviderErrorKind.RETRYABLE, "HTTP client error"),
    (OSError, ProviderErrorKind.RETRYABLE, "connection failed"),
)


class HttpProvider:
    """A `sluice.providers.base.Provider` over aiohttp for any `WireCodec`.

    The session belongs to the caller (one per process, shared by every provider), so `aclose`
    has nothing to release. The key lives in a `Secret` and reaches only request headers.
    """

    # Set by each protocol's subclass: its codec, and the defaults of a real endpoint.
    codec_type: ClassVar[Callable[[], WireCodec]]
    default_name: ClassVar[str]
    default_base_url: ClassVar[str]

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        name: str | None = None,
        base_url: str | None = None,
        api_key: Secret | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        self._session = session
        self._codec = type(self).codec_type()
        self._name = name or self.default_name
        self._base_url = (base_url or self.default_base_url).rstrip("/")
        self._api_key = api_key
        self._extra_headers = dict(extra_headers or {})

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r}, base_url={self._base_url!r})"

    async def aclose(self) -> None:
        """Nothing to release: the session is the caller's."""

    async def complete(self, request: ProviderRequest) -> Completion:
        try:
            return await self._complete(request)
        except Exception as exc:  # noqa: BLE001 - the one place failures are classified
            failure = self._translate(exc, request)
        # Raised outside the handler so the foreign exception is linked only when it is safe.
        raise failure

    async def stream(self, request: ProviderRequest) -> AsyncIterator[StreamEvent]:
        async with contextlib.aclosing(self._stream(request)) as events:
            while True:
                try:
                    event = await anext(events)
                except StopAsyncIteration:
                    return
                except Exception as exc:  # noqa: BLE001 - the one place failures are classified
                    failure = self._translate(exc, request)
                else:
                    yield event
                    continue
                raise failure

    async def _complete(self, request: ProviderRequest) -> Completion:
        async with await self._post(request, stream=False) as response:
            await self._check(response, request, expected_type="application/json")
            payload = load_json(await response.read(), "reply")
            return self._codec.parse_completion(payload, request)

    async def _stream(self, request: ProviderRequest) -> AsyncGenerator[StreamEvent, None]:
        decoder = self._codec.stream_decoder(request)
        sse = SseDecoder()
        async with await self._post(request, stream=True) as response:
            await self._check(response, request, expected_type="text/event-stream")
            async for chunk in response.content.iter_any():
                for event in sse.feed(chunk):
                    for out in decoder.feed(event):
                        yield out
                    if decoder.done:
                        yield decoder.finish()
                        return
        yield decoder.finish()

    async def _post(self, request: ProviderRequest, *, stream: bool) -> aiohttp.ClientResponse:
        body = self._codec.body(request, stream=stream)
        headers = {
            **self._codec.base_headers,
            "Accept": "text/event-stream" if stream else "application/json",
            **self._extra_headers,
        }
        if self._api_key is not None:
            headers.update(self._codec.auth_headers(self._api_key.get_secret_value()))
        seconds = request.timeout_s
        # A stream may run long as long as bytes keep coming: bound the wait for the first
        # byte and every gap between reads, not the total.
        timeout = (
            aiohttp.ClientTimeout(sock_connect=seconds, sock_read=seconds)
            if stream
            else aiohttp.ClientTimeout(total=seconds)
        )
        async with asyncio.timeout(seconds):
            return await self._session.post(
                self._codec.url(self._base_url, request, stream=stream),
                json=body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,  # a redirect would carry the key to another origin
            )

    async def _check(
        self, response: aiohttp.ClientResponse, request: ProviderRequest, *, expected_type: str
    ) -> None:
        status = response.status
        if not 200 <= status < 300:
            raw = await _read_at_most(response, _MAX_ERROR_BODY)
            try:
                info = self._codec.parse_error(load_json(raw, "error reply"))
            except WireFormatError:
                info = ErrorInfo(message=raw.decode("utf-8", "replace"))
            raise build_error(
                self._name,
                status,
                info,
                where=f"HTTP {status}",
                retry_after=parse_retry_after(response.headers),
                secrets=self._secrets(request),
            )
        if response.content_type != expected_type:
            raise ProviderError(
                f"{self._name}: HTTP {status} with content type "
                f"{response.content_type[:60]!r}, expected {expected_type!r}",
                kind=ProviderErrorKind.RETRYABLE,
                provider=self._name,
                status=status,
            )

    def _translate(self, exc: Exception, request: ProviderRequest) -> ProviderError:
        if isinstance(exc, ProviderError):
            return exc
        if isinstance(exc, InStreamError):
            status = exc.info.status or 500  # a failure after the 200 is the server's
            where = "error event in stream"
            return build_error(
                self._name, status, exc.info, where=where, secrets=self._secrets(request)
            )
        if isinstance(exc, UnsupportedRequest):
            return ProviderError(
                f"{self._name}: {exc}", kind=ProviderErrorKind.FINAL, provider=self._name
            )
        if isinstance(exc, WireFormatError | KeyError | IndexError | TypeError | ValueError):
            what = "stream cut short" if isinstance(exc, IncompleteStream) else "malformed reply"
            detail = redact(str(exc), self._secrets(request))[:_MAX_DETAIL]
            error = ProviderError(
                f"{self._name}: {what}: {detail}",
                kind=ProviderErrorKind.RETRYABLE,
                provider=self._name,
            )
            return _linked(error, exc)
        return self._transport_error(exc, request)

    def _transport_error(self, exc: Exception, request: ProviderRequest) -> ProviderError:
        name = self._name
        if isinstance(exc, TimeoutError):
            timeout = ProviderTimeout(
                f"{name}: no reply within {request.timeout_s:g}s", provider=name
            )
            return _linked(timeout, exc)
        if isinstance(exc, aiohttp.ClientResponseError):
            # Its repr carries our request headers, key included: keep only the status.
            return ProviderError(
                f"{name}: unreadable HTTP reply ({type(exc).__name__}, status {exc.status})",
                kind=ProviderErrorKind.RETRYABLE,
                provider=name,
            )
        for exc_type, kind, what in _TRANSPORT_ERRORS:
            if isinstance(exc, exc_type):
                detail = redact(str(exc), self._secrets(request))[:_MAX_DETAIL]
                error = ProviderError(
                    f"{name}: {what} ({type(exc).__name__}: {detail})", kind=kind, provider=name
                )
                return _linked(error, exc)
        raise exc  # a bug of ours, not a provider failure: let it surface as itself

    def _secrets(self, request: ProviderRequest) -> list[str]:
        """Strings that must never reach an error message: the key and the prompt texts."""
        secrets = [message.content for message in request.messages]
        if self._api_key is not None:
            secrets.insert(0, self._api_key.get_secret_value())
        return secrets


async def _read_at_most(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body up to `limit` bytes (`read(n)` alone may return whatever has arrived so far)."""
    raw = b""
    while len(raw) < limit and (chunk := await response.content.read(limit - len(raw))):
        raw += chunk
    return raw


def _linked(error: ProviderError, cause: BaseException) -> ProviderError:
    error.__cause__ = cause
    return error
