"""The standard google.rpc details (reason, field violations, retry delay) and the asyncio
client, against the real daemon."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
import sluice_client
from daemon import RunningDaemon
from sluice_client import pb

TEXTS = [f"a long enough sentence about sluice gates number {i} " * 8 for i in range(64)]


def test_invalid_argument_names_the_field_and_the_reason(client: sluice_client.Client) -> None:
    with pytest.raises(sluice_client.InvalidArgumentError) as info:
        client.complete([pb.Message(role=pb.ROLE_UNSPECIFIED, content="hi")], request_id="r-7")
    err = info.value
    assert err.reason == "INVALID_ARGUMENT"
    assert err.status_details.domain == "sluice.dev"
    assert err.metadata["request_id"] == "r-7"
    (violation,) = err.field_violations
    assert violation.field == "messages[0].role"
    assert violation.description
    assert err.retry_delay is None
    assert err.details is not None and err.details.field == "messages[0].role"


def test_not_found_has_a_reason_and_no_retry_delay(client: sluice_client.Client) -> None:
    with pytest.raises(sluice_client.NotFoundError) as info:
        client.feedback(uuid.uuid4().hex, pb.FEEDBACK_KIND_THUMBS_UP)
    assert info.value.reason == "NOT_FOUND"
    assert info.value.retry_delay is None
    assert info.value.field_violations == ()


async def _flood(target: str) -> list[BaseException | pb.EmbedResponse]:
    async with sluice_client.aio.Client(target, timeout=60) as client:
        calls = [client.embed(TEXTS) for _ in range(6)]
        return await asyncio.gather(*calls, return_exceptions=True)


def test_overload_carries_a_retry_delay(daemon: RunningDaemon) -> None:
    # The test config queues at most 64 texts: of six 64-text calls sent at once the first
    # is admitted and at least one of the rest finds the queue full.
    for _ in range(5):
        results = asyncio.run(_flood(daemon.target))
        errors = [r for r in results if isinstance(r, sluice_client.SluiceError)]
        if errors:
            break
    assert errors, "no call was refused: the queue bound did not apply"
    for err in errors:
        assert isinstance(err, sluice_client.ResourceExhaustedError)
        assert err.reason == "OVERLOADED"
        assert err.retry_delay is not None and err.retry_delay >= 1.0


def test_aio_client_covers_the_rpcs(daemon: RunningDaemon) -> None:
    async def run() -> None:
        question = [("user", f"What is a weir? {uuid.uuid4().int % 10**6:06d}")]
        async with sluice_client.aio.Client(daemon.target, timeout=30) as client:
            assert await client.health()
            answer = await client.complete(question, request_id="aio-1")
            assert answer.request_id == "aio-1" and answer.message.content
            chunks = [c async for c in client.stream_complete(question)]
            assert chunks[-1].summary.cache.outcome == pb.CACHE_OUTCOME_EXACT
            looked = await client.lookup(question)
            assert looked.hit
            stored = await client.store([("user", "aio stored")], "an answer")
            assert stored.entry_id
            assert (await client.route(question)).tier
            assert await client.invalidate(entry_id=stored.entry_id) == 1
            stats = await client.stats()
            assert stats.requests.requests >= 2
            with pytest.raises(sluice_client.InvalidArgumentError) as info:
                await client.embed([])
            assert info.value.field_violations[0].field == "texts"

    asyncio.run(run())


def test_aio_deadline_and_cancel(daemon: RunningDaemon) -> None:
    async def run() -> None:
        async with sluice_client.aio.Client(daemon.target) as client:
            # 64 long texts take the daemon far longer than 1 ms, so the deadline expires
            # first even when a loaded machine runs the client's timer late (a 1 µs deadline
            # on one short text was once answered in time, beside a model training).
            with pytest.raises(sluice_client.DeadlineExceededError) as info:
                await client.embed(TEXTS, timeout=0.001)
            assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
            task = asyncio.ensure_future(client.embed(TEXTS))
            await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(run())
