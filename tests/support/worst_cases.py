"""The embedding path's documented worst cases (issue #17), for tests/integration/test_memory.py
and bench/memory.py: inputs at the shipped limits, sent to a real daemon."""

from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import grpc

from sluice.v1 import sluice_pb2 as pb
from sluice.v1 import sluice_pb2_grpc

# The shipped defaults (config.py): limits.max_texts_per_embed, limits.max_text_bytes,
# server.max_message_bytes. 120 texts of 64 KiB is the most one 8 MiB message carries.
MAX_TEXTS = 256
MAX_TEXT_BYTES = 64 * 1024
TEXTS_PER_MESSAGE_AT_MAX_BYTES = 120

_WORDS = [
    "cache",
    "question",
    "answer",
    "provider",
    "model",
    "token",
    "latency",
    "budget",
    "tenant",
    "cluster",
    "request",
    "reply",
    "vector",
    "index",
    "memory",
    "deadline",
    "retry",
    "queue",
    "batch",
    "embedding",
    "verifier",
    "router",
    "tier",
    "price",
    "the",
    "a",
    "of",
    "to",
    "in",
    "and",
    "for",
    "with",
    "on",
    "when",
    "how",
    "why",
    "what",
    "which",
    "does",
    "can",
    "should",
    "would",
]


def prose(chars: int, seed: int) -> str:
    """`chars` characters of English-like words (~4.5 characters per token)."""
    rng = random.Random(seed)
    out: list[str] = []
    size = 0
    while size < chars:
        out.append(rng.choice(_WORDS))
        size += len(out[-1]) + 1
    return " ".join(out)[:chars].strip()


def texts(count: int, chars: int, seed: int = 0) -> list[str]:
    return [prose(chars, seed * 100_000 + i) for i in range(count)]


def question(seed: int, words: int = 250) -> str:
    """A question of ~`words` words: past the model's 256 tokens, as in the adversarial run."""
    return prose(words * 6, seed) + "?"


def memory_mb(pid: int) -> tuple[float, float]:
    """The process's resident set and its peak (VmRSS, VmHWM), in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def embed(stub: sluice_pb2_grpc.SluiceStub, batch: Sequence[str]) -> pb.EmbedResponse:
    return await stub.Embed(pb.EmbedRequest(texts=list(batch)), timeout=300)


async def lookup(stub: sluice_pb2_grpc.SluiceStub, text: str) -> float:
    """One Lookup's latency in milliseconds."""
    started = time.perf_counter()
    request = pb.LookupRequest(messages=[pb.Message(role=pb.ROLE_USER, content=text)])
    await stub.Lookup(request, timeout=120)
    return (time.perf_counter() - started) * 1000


async def sequential_lookups(
    stub: sluice_pb2_grpc.SluiceStub, count: int, seed: int, words: int = 12
) -> list[float]:
    return [await lookup(stub, question(seed * 10_000 + i, words)) for i in range(count)]


async def concurrent_lookups(
    stub: sluice_pb2_grpc.SluiceStub, count: int, seed: int, words: int = 250
) -> list[float]:
    return list(
        await asyncio.gather(
            *(lookup(stub, question(seed * 10_000 + i, words)) for i in range(count))
        )
    )


def openai_embeddings(origin: str, batch: Sequence[str], model: str) -> dict[str, object]:
    """POST /v1/embeddings on the daemon's OpenAI front (blocking: run it in a thread)."""
    body = json.dumps({"model": model, "input": list(batch)}).encode()
    request = urllib.request.Request(
        f"{origin}/v1/embeddings", data=body, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=300) as reply:
        result: dict[str, object] = json.loads(reply.read())
        return result


def channel(address: str) -> grpc.aio.Channel:
    # The daemon's own limit: one message at max_message_bytes must pass the client too.
    size = 8 * 1024 * 1024
    options = [("grpc.max_send_message_length", size), ("grpc.max_receive_message_length", size)]
    return grpc.aio.insecure_channel(address, options=options)
