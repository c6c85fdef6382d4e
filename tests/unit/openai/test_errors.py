"""The HTTP face of each error (issue #17): sizes are 413, overload 429 + Retry-After, and a
503 says whether the OpenAI SDKs should retry (`x-should-retry`) or when (`Retry-After`)."""

from __future__ import annotations

import pytest

from sluice.errors import (
    InvalidArgument,
    Overloaded,
    ResourceExhausted,
    SluiceError,
    TooLarge,
    Unavailable,
)
from sluice.openai.errors import NotReady, error_body, http_face, retry_headers


@pytest.mark.parametrize(
    ("exc", "status", "type_", "headers"),
    [
        (TooLarge("body: too big"), 413, "invalid_request_error", {}),
        (Overloaded("queue full", retry_after=2.5), 429, "rate_limit_error",
         {"retry-after": "3"}),
        (Overloaded("queue full", retry_after=0.01), 429, "rate_limit_error",
         {"retry-after": "1"}),
        (ResourceExhausted("budget of namespace x"), 429, "rate_limit_error", {}),
        (Unavailable("every provider failed", attempts=[object()]), 503, "service_unavailable",
         {"x-should-retry": "false"}),
        (NotReady("starting"), 503, "service_unavailable", {"retry-after": "1"}),
        (InvalidArgument("model", "bad"), 400, "invalid_request_error", {}),
    ],
)  # fmt: skip
def test_http_faces(exc: SluiceError, status: int, type_: str, headers: dict[str, str]) -> None:
    face = http_face(exc)
    assert (face.status, face.type) == (status, type_)
    assert retry_headers(exc) == headers
    assert error_body(exc)["error"]["type"] == type_  # type: ignore[index]
