"""The substitution guard: refuse a pair that differs in one short run of content words.

The verifier's model serves "What is the best laptop for kids?" for "…for adults?"
(P 0.999), "Which credit card is best for travelers?" for "…for homeowners?", "Is
magnesium safe for nurses?" for "…for experts?", "the input" for "the output" (issue
#18, bench/verifier_probes.tsv sets D and E): one word of a question replaced by
another that names someone or something else. This guard refuses such a pair whatever
the model says (`cache.verifier.substitution_guard`, off by default: it refuses
synonyms too, see below).

The rule, on order.py's tokens (casefolded words, content words lightly stemmed so
"kid" / "kids" are one word):

1. Strip the longest common prefix and suffix of the two token sequences. What is left
   of each text is its run: the words the two texts do not share in place.
2. Both runs hold one or two words (a word added or dropped is not a substitution:
   "for young kids" / "for kids" goes to the model), every one a content word (not in
   order.STOPWORDS, no digits: numbers are the number guard's), and the two runs share
   no word.
3. Around them, the texts share at least one content word, so the pair is one question
   with one slot changed, not two short texts ("hi" / "hello"). ("What vaccines do
   babies need?" shares only "vaccines": "do" and "need" are function words. On the
   calibration part one or two made no difference.)

What it refuses that is a paraphrase: a word for its synonym ("choose" / "select",
"utilize" / "use", "bigger" / "larger") — a miss, never a wrong answer. That is why it
is off by default: on the calibration part it cost 50 right hits (2.2 %) for 4 wrong ones,
against a rule, set before, of at most 0.5 % (docs/cache-eval.md, "The substitution
guard"). What it cannot see: a substitution with
other changes around it, or one of more than two words. Texts longer than
order.MAX_WORDS words are left to the model.

Pure standard library, microseconds per pair.
"""

from __future__ import annotations

from dataclasses import dataclass

from sluice.verifier.order import MAX_WORDS, STOPWORDS, common_ends, stemmed, words

# The most words a substituted run may hold on either side.
MAX_RUN = 2
# The fewest content words the two texts must share around the run.
MIN_SHARED = 1


@dataclass(frozen=True, slots=True)
class Substitution:
    """The run of the query and the run of the cached question that replaced it, as spelled."""

    query: tuple[str, ...]
    cached: tuple[str, ...]

    def describe(self) -> str:
        # The query's own words only: the reason reaches the caller, and the cached question
        # may be another user's.
        return f"'{' '.join(self.query)}' stands where the cached question has another word"


def _content(word: str) -> bool:
    return word not in STOPWORDS and not any(ch.isdigit() for ch in word)


def substituted(query: str, cached: str) -> Substitution | None:
    """The run of words that makes `cached` another question than `query`, or None."""
    raw_q, raw_c = words(query), words(cached)
    if len(raw_q) > MAX_WORDS or len(raw_c) > MAX_WORDS:
        return None
    q, c = stemmed(raw_q), stemmed(raw_c)
    start, end = common_ends(q, c)
    run_q, run_c = q[start : len(q) - end], c[start : len(c) - end]
    if not (0 < len(run_q) <= MAX_RUN and 0 < len(run_c) <= MAX_RUN):
        return None
    if not all(_content(w) for w in run_q + run_c) or set(run_q) & set(run_c):
        return None
    shared = [w for w in q[:start] + q[len(q) - end :] if _content(w)]
    if len(shared) < MIN_SHARED:
        return None
    return Substitution(tuple(raw_q[start : len(q) - end]), tuple(raw_c[start : len(c) - end]))
