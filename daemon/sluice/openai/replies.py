"""Pipeline results in OpenAI's chat shapes, and what happened in `x-sluice-*` headers.

Non-streaming: the headers below, and the same values in a `sluice` object of
the body. Streaming: headers leave before the answer is known, so they carry
only `x-sluice-request-id`; the rest rides in a `sluice` object on the chunk
that carries `finish_reason` (the SDKs keep unknown fields: `chunk.sluice` in
JavaScript, `chunk.model_extra["sluice"]` in Python). An SSE comment would be
dropped by every SDK, so it is not used.

    x-sluice-request-id          the caller's id, or a new one
    x-sluice-cache               miss | exact | semantic | skipped
    x-sluice-similarity          cosine similarity of the best cache candidate
    x-sluice-verifier-score      the verifier's P(same meaning) for it ("" when it did not run)
    x-sluice-served-by           provider/model, or "cache"
    x-sluice-cost-usd            what this call cost (0 for a hit)
    x-sluice-baseline-cost-usd   what the baseline model would have cost
    x-sluice-attempts            provider calls made (and deployments skipped)
    x-sluice-degraded            true when served below the confidence bar or the routed tier
    x-request-id                 the request id again, where OpenAI's SDKs look for it
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from sluice.pipeline import CompletionResult
from sluice.types import Usage

_HEADER_KEYS: Final = (
    "request_id", "cache", "similarity", "verifier_score", "served_by", "cost_usd",
    "baseline_cost_usd", "attempts", "degraded",
)  # fmt: skip
DONE: Final = b"data: [DONE]\n\n"


def metadata(result: CompletionResult) -> dict[str, object]:
    served = result.served_by
    return {
        "request_id": result.request_id,
        "cache": result.lookup.outcome,
        "similarity": round(result.lookup.similarity, 4),
        "verifier_score": (
            None if result.lookup.verifier_score is None else round(result.lookup.verifier_score, 4)
        ),
        "served_by": "cache" if served is None else f"{served.provider}/{served.model}",
        "cost_usd": result.cost_usd,
        "baseline_cost_usd": result.baseline_cost_usd,
        "attempts": len(result.attempts),
        "degraded": result.degraded,
        "degraded_reason": result.degraded_reason,  # free text: the body only, never a header
    }


def metadata_headers(meta: Mapping[str, object]) -> dict[str, str]:
    headers = {
        f"x-sluice-{key.replace('_', '-')}": _header_value(meta[key]) for key in _HEADER_KEYS
    }
    return {**headers, **request_id_headers(str(meta["request_id"]))}


def request_id_headers(request_id: str) -> dict[str, str]:
    """Ours, and OpenAI's own `x-request-id` (the SDKs expose it as `_request_id`)."""
    if not request_id:
        return {}
    return {"x-sluice-request-id": request_id, "x-request-id": request_id}


def _header_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, ".10g")
    return str(value)


def served_model(result: CompletionResult, requested: str) -> str:
    """The model that wrote the answer (for a hit: the one that wrote the cached answer)."""
    if result.served_by is not None:
        return result.served_by.model
    entry = result.lookup.entry
    return entry.model if entry is not None and entry.model else requested


def usage(value: Usage) -> dict[str, object]:
    return {
        "prompt_tokens": value.input_tokens,
        "completion_tokens": value.output_tokens,
        "total_tokens": value.input_tokens + value.output_tokens,
        "prompt_tokens_details": {"cached_tokens": value.cached_input_tokens},
    }


def completion(result: CompletionResult, requested: str, created: int) -> dict[str, object]:
    message = {"role": "assistant", "content": result.text, "refusal": None}
    return {
        "id": f"chatcmpl-{result.request_id}",
        "object": "chat.completion",
        "created": created,
        "model": served_model(result, requested),
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": result.finish_reason,
            },
        ],
        "usage": usage(result.usage),
        "system_fingerprint": None,
        "sluice": metadata(result),
    }


def sse(data: Mapping[str, object]) -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


@dataclass(frozen=True, slots=True)
class Chunks:
    """`chat.completion.chunk` events of one streamed answer, as SSE bytes.

    Until the answer is served, chunks name the model the caller asked for
    (the cascade may still escalate); the closing chunks name the one that served.
    """

    request_id: str
    model: str
    created: int
    include_usage: bool

    def _chunk(self, choices: list[object], model: str = "", **extra: object) -> bytes:
        chunk: dict[str, object] = {
            "id": f"chatcmpl-{self.request_id}",
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": model or self.model,
            "system_fingerprint": None,
            "choices": choices,
        }
        if self.include_usage:
            chunk["usage"] = None  # as OpenAI does: null on every chunk but the last
        return sse({**chunk, **extra})

    def _choice(self, delta: dict[str, object], finish_reason: str | None = None) -> list[object]:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]

    def opening(self) -> bytes:
        return self._chunk(self._choice({"role": "assistant", "content": ""}))

    def delta(self, text: str) -> bytes:
        return self._chunk(self._choice({"content": text}))

    def closing(self, result: CompletionResult) -> bytes:
        """The finish_reason chunk (with the `sluice` object), the usage chunk if asked, [DONE]."""
        model = served_model(result, self.model)
        out = self._chunk(self._choice({}, result.finish_reason), model, sluice=metadata(result))
        if self.include_usage:
            out += self._chunk([], model, usage=usage(result.usage))
        return out + DONE
