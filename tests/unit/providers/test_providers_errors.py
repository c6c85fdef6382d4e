"""Classification of provider failures, Retry-After, redaction and the Secret wrapper (no I/O)."""

from __future__ import annotations

import copy
import json
import pickle
import urllib.parse
from datetime import UTC, datetime

import pytest

from sluice.errors import ProviderErrorKind, RateLimited
from sluice.providers._http import (
    ErrorInfo,
    Secret,
    WireFormatError,
    build_error,
    error_kind,
    generic_error_info,
    load_json,
    looks_like_context_length,
    parse_retry_after,
    redact,
    unescaped,
)

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"Retry-After": "7", "retry-after-ms": "250"}, 0.25),
        ({"Retry-After": "Wed, 01 Jan 2025 12:00:30 GMT"}, 30.0),
        ({"Retry-After": "Wed, 01 Jan 2025 11:59:00 GMT"}, 0.0),
        ({"Retry-After": "-3"}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "nan"}, None),
        ({"retry-after-ms": "junk", "Retry-After": "2"}, 2.0),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers, now=NOW) == expected


@pytest.mark.parametrize(
    ("status", "info", "kind"),
    [
        (500, ErrorInfo(), ProviderErrorKind.RETRYABLE),
        (502, ErrorInfo(), ProviderErrorKind.RETRYABLE),
        (503, ErrorInfo(), ProviderErrorKind.RETRYABLE),
        (504, ErrorInfo(), ProviderErrorKind.RETRYABLE),
        (529, ErrorInfo(), ProviderErrorKind.RETRYABLE),
        (408, ErrorInfo(), ProviderErrorKind.RETRYABLE),
        (401, ErrorInfo(), ProviderErrorKind.PROVIDER_WIDE),
        (403, ErrorInfo(), ProviderErrorKind.PROVIDER_WIDE),
        (400, ErrorInfo(auth=True), ProviderErrorKind.PROVIDER_WIDE),
        (307, ErrorInfo(), ProviderErrorKind.PROVIDER_WIDE),
        (400, ErrorInfo(), ProviderErrorKind.FINAL),
        (404, ErrorInfo(), ProviderErrorKind.FINAL),
        (422, ErrorInfo(), ProviderErrorKind.FINAL),
        (400, ErrorInfo(context_length=True), ProviderErrorKind.CONTEXT_LENGTH),
        (413, ErrorInfo(context_length=True), ProviderErrorKind.CONTEXT_LENGTH),
        (503, ErrorInfo(context_length=True), ProviderErrorKind.RETRYABLE),
    ],
)
def test_error_kind_table(status: int, info: ErrorInfo, kind: ProviderErrorKind) -> None:
    assert error_kind(status, info) is kind


@pytest.mark.parametrize(
    "message",
    [
        "This model's maximum context length is 8192 tokens. However, you requested 9000.",
        "prompt is too long: 208310 tokens > 200000 maximum",
        "input length and `max_tokens` exceed context limit: 197000 + 8192 > 200000",
        "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
    ],
)
def test_context_length_messages_are_recognised(message: str) -> None:
    assert looks_like_context_length(message)


@pytest.mark.parametrize(
    "message",
    ["Invalid value for 'temperature'", "max_tokens: 100000 > 64000, the maximum allowed"],
)
def test_other_bad_requests_are_not_context_length(message: str) -> None:
    assert not looks_like_context_length(message)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {"error": {"message": "m", "type": "t", "code": "context_length_exceeded"}},
            ErrorInfo(type="t", message="m", context_length=True),
        ),
        (
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            ErrorInfo(type="overloaded_error", message="Overloaded"),
        ),
        (
            [{"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}}],
            ErrorInfo(type="UNAVAILABLE", message="busy", status=503),
        ),
        ({"error": "plain text"}, ErrorInfo(message="plain text")),
        ({"detail": [{"input": "prompt echo"}]}, ErrorInfo()),
        ("not an object", ErrorInfo()),
    ],
)
def test_generic_error_info(payload: object, expected: ErrorInfo) -> None:
    assert generic_error_info(payload) == expected


def test_build_error_names_provider_status_and_type_and_truncates() -> None:
    info = ErrorInfo(type="server_error", message="x" * 500)

    error = build_error("openai-main", 500, info, where="HTTP 500")

    assert error.message.startswith("openai-main: HTTP 500 server_error: xxx")
    assert len(error.message) < 260
    assert error.kind is ProviderErrorKind.RETRYABLE
    assert error.status == 500
    assert error.provider == "openai-main"


def test_build_error_429_is_rate_limited_with_the_body_delay_as_fallback() -> None:
    error = build_error("g", 429, ErrorInfo(retry_after=4.0), where="HTTP 429")

    assert isinstance(error, RateLimited)
    assert error.retry_after == 4.0
    assert (
        build_error("g", 429, ErrorInfo(retry_after=4.0), where="", retry_after=1).retry_after == 1
    )


def test_build_error_redacts_secrets_in_provider_messages() -> None:
    info = ErrorInfo(
        type="bad sk-test-SECRET-123", message="key sk-test-SECRET-123, prompt My question?"
    )

    error = build_error(
        "p", 400, info, where="HTTP 400", secrets=["sk-test-SECRET-123", "My question?"]
    )

    assert "SECRET" not in error.message
    assert "My question" not in error.message


def test_build_error_redacts_quoted_pieces_of_a_prompt() -> None:
    prompt = "Summarise   this:\nmy card number is 4111 1111 1111 1111 and my name is Ann"
    quoted = "invalid content 'my card number is 4111 1111 1111 1111' in messages[0]"
    cut = "x " * 95 + "sk-test-SECRET-1234567890"
    for message in (quoted, prompt, cut):
        error = build_error(
            "p", 400, ErrorInfo(message=message), where="HTTP 400",
            secrets=["sk-test-SECRET-1234567890", prompt],
        )  # fmt: skip
        assert "4111" not in error.message
        assert "SECRET" not in error.message
        assert "sk-test" not in error.message
    assert "messages[0]" in build_error("p", 400, ErrorInfo(message=quoted), where="",
                                        secrets=[prompt]).message  # fmt: skip


RUSSIAN = "привет, мой номер карты 4111 1111 1111 1111, а зовут меня Анна"
QUOTES = 'He said "my card is 4111 1111 1111 1111"\nand\tthen left \\ ok 🙂 1+1=2 100%'


def _echoes(prompt: str) -> list[tuple[str, bool]]:
    """How a provider may quote the request body it got in its error: (message, whole prompt)."""
    body = {"messages": [{"role": "user", "content": prompt}]}
    whole = [
        json.dumps(body),  # what aiohttp sends (ensure_ascii): \u043f\u0440…
        json.dumps(body, ensure_ascii=False),
        json.dumps(json.dumps(body)),  # the body quoted once more
        json.dumps(prompt)[1:-1],
        json.dumps(prompt, ensure_ascii=False)[1:-1],
        urllib.parse.quote(prompt),
        urllib.parse.quote_plus(prompt),
        urllib.parse.urlencode({"q": prompt}),
    ]
    # Pieces of it: a provider quotes 40 characters from somewhere in the middle.
    middle = prompt[10:50]
    pieces = [json.dumps(middle)[1:-1], urllib.parse.quote(middle)]
    forms = [(form, True) for form in whole] + [(form, False) for form in pieces]
    return [(f"invalid request: {form} (see docs)", is_whole) for form, is_whole in forms]


@pytest.mark.parametrize("prompt", [RUSSIAN, QUOTES])
def test_redact_catches_escaped_and_url_encoded_prompts(prompt: str) -> None:
    secrets = ["sk-test-SECRET-1234567890", prompt]
    for echo, is_whole in _echoes(prompt):
        # A whole prompt goes in the first pass; a piece needs the fragment pass.
        for fragments in (True, False) if is_whole else (True,):
            out = redact(echo, secrets, fragments=fragments)
            for leak in ("4111", "карты", "card", "\\u0", "%D0"):
                assert leak not in out, (echo, out)
        error = build_error("p", 400, ErrorInfo(message=echo), where="HTTP 400", secrets=secrets)
        assert "4111" not in error.message, (echo, error.message)
        assert "invalid request" in error.message


def test_unescaped_never_returns_a_lone_surrogate() -> None:
    assert unescaped("a \\ud800 b \\ud83d\\ude42") == "a \ufffd b 🙂"
    assert unescaped("%ED%A0%80").encode("utf-8")


def test_redact_leaves_short_strings_alone() -> None:
    assert redact("hi there", ["hi"]) == "hi there"


def test_secret_never_shows_its_value() -> None:
    secret = Secret("sk-test-SECRET-123")

    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", repr([secret])):
        assert "SECRET" not in text
    assert secret.get_secret_value() == "sk-test-SECRET-123"
    assert secret == Secret("sk-test-SECRET-123")
    assert secret != Secret("other-key-000")
    assert copy.deepcopy(secret) is secret
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(ValueError, match="empty"):
        Secret("")


def test_provider_json_never_holds_a_lone_surrogate() -> None:
    """A reply (or one stream chunk) with half a surrogate pair was INTERNAL further on."""
    raw = '{"text": "bad \\ud800 and \\ud83d\\ude42", "\\udfff": ["\\udc00"]}'
    for value in (load_json(raw, "reply"), load_json(raw.encode(), "reply")):
        assert value == {"text": "bad \ufffd and 🙂", "\ufffd": ["\ufffd"]}
        json.dumps(value, ensure_ascii=False).encode("utf-8")


def test_provider_json_nested_too_deep_is_a_wire_format_error() -> None:
    with pytest.raises(WireFormatError, match="nested too deeply"):
        load_json(b"[" * 100_000 + b"]" * 100_000, "reply")
