"""Cache keys: who asks (namespace), in which context, with which parameters, what.

    scope  = digest(model-visible params, system prompt and every earlier turn)
    exact  = digest(scope, normalised last user turn)

Only the last user turn is embedded; a semantic match must also share the
scope exactly, so "Can you explain more?" after two different conversations
never shares an answer, and an answer made with other parameters is not reused.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import asdict, dataclass

from sluice.types import ChatMessage, GenParams

_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Text as the exact layer compares it: NFKC, case-folded, white space folded."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def _digest(payload: object) -> str:
    data = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class CacheKey:
    namespace: str
    scope: str
    exact: str
    # The last user turn as the caller wrote it (embedded for the vector layer).
    question: str


def make_key(namespace: str, messages: tuple[ChatMessage, ...], params: GenParams) -> CacheKey:
    """The key of a conversation whose last message is the user's question."""
    *context, last = messages
    model_params = asdict(params)
    scope = _digest(
        {
            "params": model_params,
            "context": [[m.role, m.name, m.content] for m in context],
            "name": last.name,
        }
    )
    question = normalise(last.content)
    exact = _digest({"scope": scope, "question": question})
    return CacheKey(namespace=namespace, scope=scope, exact=exact, question=last.content)
