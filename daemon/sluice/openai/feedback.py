"""POST /v1/feedback (a Sluice extension; OpenAI has none): the HTTP face of gRPC Feedback.

    {"request_id": "<x-sluice-request-id of the answer>", "kind": "thumbs_down"}
    {"request_id": "...", "kind": "score", "score": 0.3}

kind: thumbs_up, thumbs_down, regenerate or score. The checks are validate.feedback's, so
both fronts refuse the same judgements with the same words.
"""

from __future__ import annotations

from typing import Any

from sluice import validate
from sluice.errors import InvalidArgument
from sluice.openai.fields import optional, typed

KINDS = "thumbs_up, thumbs_down, regenerate or score"


def parse_feedback(body: Any) -> tuple[str, float]:
    """(request id, quality in [0, 1])."""
    body = typed(body, "body", dict)
    judged = optional(body, "request_id", str) or ""
    kind = optional(body, "kind", str) or ""
    score = optional(body, "score", float)
    if kind == validate.FEEDBACK_SCORE and score is None:
        raise InvalidArgument("score", 'required with kind "score": a number in [0, 1]')
    return validate.feedback(judged, kind, 0.0 if score is None else score, KINDS)
