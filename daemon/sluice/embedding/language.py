"""Which language a question is written in, so the cache's vector layer sees only the
languages its models read (issue #18).

The shipped embedding model and verifier were trained on English. The coverage check
(model.py `coverage`) keeps out scripts their vocabulary only spells, such as Cyrillic,
but German, Polish or French share the Latin script: their words fall apart into English
word pieces that the models never learned as words, and the verifier, which cannot read
"weniger" or "nie", served them wrong answers (docs/cache-eval.md, "Languages the models
do not read"). `refusal` names such a question's language so that it is served from the
exact layer only, as Russian is.

The identifier is py3langid (langid.py's model: character n-grams, 140 labels, BSD-3),
loaded once per process: about 0.7 s and 70 MiB of resident memory, which a daemon whose
`embedding.languages` is ["*"] never pays. A call takes about 0.04 ms of CPU for a question
(`python -m bench.cpu`).
"""

from __future__ import annotations

import threading
from typing import Any

from sluice.config import ANY_LANGUAGE

# A question is identified by its first characters: enough for the n-grams to decide, and
# the cost of a call stays bounded whatever the question's length.
MAX_CHARS = 1000
# py3langid's label for text without language (digits, symbols, code): never refused.
NO_LANGUAGE = "zxx"
# Labels that stand for a variety of another language the models read as that language.
# Nigerian Pidgin is English-lexified, and English questions that name African places get
# it: "How do I get a work visa for Nigeria?" P 0.96, "Gunmen kill four in Kenya church
# attack"; it was 61 of the 79 English texts of the evaluation sets' non-test parts that
# the check refused at 0.6 before this mapping.
SAME_AS = {"pcm": "en"}


class _Identifier:
    """The model, loaded by the first caller; the others wait for it (one load)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: Any = None

    def get(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    # Imported here: a daemon that checks no language never loads it.
                    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # noqa: PLC0415

                    self._model = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return self._model


_IDENTIFIER = _Identifier()


def load() -> None:
    """Load the identifier now (at startup) rather than on the first question."""
    _IDENTIFIER.get()


def identify(text: str) -> tuple[str, float]:
    """The most likely language of `text` (a py3langid label, mostly ISO 639-1) and its
    probability among the 140 the model knows."""
    language, probability = _IDENTIFIER.get().classify(text[:MAX_CHARS])
    return str(language), float(probability)


def refusal(text: str, languages: tuple[str, ...], min_probability: float) -> str:
    """Why the vector layer must not take `text`, or "" when it may.

    A question is refused when it reads as a language outside `languages` with at least
    `min_probability`. An unsure identification (a short question, names and numbers) is
    let through: the verifier and the guards still decide it, as before this check.
    The reason names the language and the probability, never the text.
    """
    if ANY_LANGUAGE in languages or not text.strip():
        return ""
    language, probability = identify(text)
    language = SAME_AS.get(language, language)
    if language in languages or language == NO_LANGUAGE or probability < min_probability:
        return ""
    return (
        f"text reads as language {language!r} (P {probability:.2f}), and the embedding model "
        f"and verifier read {', '.join(languages)} (embedding.languages): exact layer only"
    )
