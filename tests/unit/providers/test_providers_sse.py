"""The SSE decoder: events from bytes split anywhere, as the WHATWG spec reads them."""

from __future__ import annotations

import pytest

from sluice.providers._http import SseDecoder, SseEvent, WireFormatError


def feed_all(chunks: list[bytes]) -> list[SseEvent]:
    decoder = SseDecoder()
    return [event for chunk in chunks for event in decoder.feed(chunk)]


STREAM = (
    b": keep-alive comment\n"
    b'event: message_start\ndata: {"a": 1}\n\n'
    b"data: line one\ndata: line two\n\n"
    b"data:no-space\r\n\r\n"
    b"id: 7\nretry: 100\ndata: caf\xc3\xa9\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    SseEvent('{"a": 1}', "message_start"),
    SseEvent("line one\nline two"),
    SseEvent("no-space"),
    SseEvent("café"),
    SseEvent("[DONE]"),
]


def test_decodes_a_whole_body() -> None:
    assert feed_all([STREAM]) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
def test_any_split_gives_the_same_events(size: int) -> None:
    chunks = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]

    assert feed_all(chunks) == EXPECTED


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    assert feed_all([b"data: x\r", b"\n\r", b"\n"]) == [SseEvent("x")]


def test_cr_alone_ends_lines() -> None:
    # A CR at the very end waits for the next byte, which might make it a CRLF.
    chunks = [b"data: x\r\rdata: y\r\r", b": next\n"]

    assert feed_all(chunks) == [SseEvent("x"), SseEvent("y")]


def test_an_unterminated_event_is_dropped() -> None:
    assert feed_all([b"data: complete\n\ndata: cut"]) == [SseEvent("complete")]


def test_event_name_resets_after_dispatch() -> None:
    events = feed_all([b"event: ping\n\nevent: a\ndata: 1\n\ndata: 2\n\n"])

    assert events == [SseEvent("1", "a"), SseEvent("2", "message")]


def test_invalid_utf8_is_a_wire_format_error() -> None:
    with pytest.raises(WireFormatError):
        SseDecoder().feed(b"data: \xff\xfe\n\n")
