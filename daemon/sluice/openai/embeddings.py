"""`POST /v1/embeddings`: the daemon's own ONNX model, in OpenAI's request and response shapes."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from sluice import validate
from sluice.config import LimitSettings
from sluice.embedding.model import Embedded
from sluice.errors import InvalidArgument
from sluice.openai.errors import UnknownModel
from sluice.openai.fields import optional, renamed, typed

_ENCODINGS: Final = ("float", "base64")


@dataclass(frozen=True, slots=True)
class EmbedCall:
    texts: list[str]
    encoding: str  # float | base64 (the Python SDK asks for base64 unless told otherwise)


def model_names(model_id: str) -> tuple[str, str]:
    """The model's id ("all-MiniLM-L6-v2@<digest>") and its plain name, both accepted."""
    return model_id, model_id.split("@", 1)[0]


def parse_embed(body: object, model_id: str, dimensions: int, limits: LimitSettings) -> EmbedCall:
    body = typed(body, "body", dict)
    model = typed(body.get("model"), "model", str)
    if model not in model_names(model_id):
        raise UnknownModel("model", model, [model_id])
    encoding = optional(body, "encoding_format", str) or "float"
    if encoding not in _ENCODINGS:
        raise InvalidArgument("encoding_format", f"{encoding[:32]!r}: use float or base64")
    wanted = optional(body, "dimensions", int)
    if wanted is not None and wanted != dimensions:
        raise InvalidArgument("dimensions", f"the model has {dimensions} dimensions, not {wanted}")
    value = body.get("input")
    texts = [value] if isinstance(value, str) else typed(value, "input", list)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidArgument(
                f"input[{i}]", "must be a string (token arrays are not supported: send text)"
            )
    with renamed("texts", "input"):
        return EmbedCall(validate.embed_texts(texts, limits), encoding)


def reply(results: Sequence[Embedded], model_id: str, encoding: str) -> dict[str, object]:
    tokens = sum(r.tokens for r in results)
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": _encode(r, encoding)}
            for i, r in enumerate(results)
        ],
        "model": model_id,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _encode(result: Embedded, encoding: str) -> list[float] | str:
    if encoding == "base64":  # little-endian float32, as OpenAI sends it
        return base64.b64encode(np.asarray(result.vector, dtype="<f4").tobytes()).decode()
    return [float(x) for x in result.vector]
