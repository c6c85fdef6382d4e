"""The order guard: refuse a pair whose shared content words trade places.

The verifier's model serves "convert dollars to euros" for "convert euros to
dollars" with P ≥ 0.999 (issue #18): the two texts hold the same words, and a
cross-encoder of six layers reads them as the same question. This guard
refuses such a pair whatever the model says (`cache.verifier.order_guard`).

The rule, on casefolded words with a light stem (English plural `s`, `'s`;
Russian case endings, so "из Москвы в Берлин" and "из Берлина в Москву" share
their words):

1. Content words are the words outside STOPWORDS (function words of English
   and Russian: articles, prepositions, pronouns, auxiliaries, question words).
   Numbers are content words.
2. The shared content words are those that occur once in each text. In the
   query's order they read P A M B S; when the cached text reads P B M A S
   (two blocks A and B exchanged around an unchanged middle), and
3. the roles stayed where they were, the pair is an exchange of roles and the
   guard refuses it. Apart (M not empty), each slot keeps its frame — the words
   just before and just after it, articles skipped, are the same in both texts
   ("is _ heavier than _", "does _ owe _ money") — and the two slots' frames
   differ. Adjacent (M empty), the words between the blocks are the same in both
   texts and not empty ("from _ to _", "_ , когда в _"), and so are the word
   before the pair and the word after it; one word, the same, before both slots
   ("в _ в _") tells no role apart.
4. Not when the words between two adjacent blocks are only "and", "or", "vs",
   a comma or "&" (and their Russian equivalents): "between TCP and UDP" is
   "between UDP and TCP".

What it keeps: paraphrases whose shared words keep their order, and those that
reorder them in another frame ("convert 5 miles to km" / "how many km is 5
miles": the blocks move, the frames differ). What it refuses that is a
paraphrase: converse wordings of one relation ("is London bigger than Paris" /
"is Paris smaller than London") — a miss, never a wrong answer. What it cannot
see: an exchange with other words around it, or one whose words are not shared
(a changed entity is the model's to refuse). Measured in docs/cache-eval.md.

Pure standard library, microseconds per pair.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Longer texts are not questions of a template: an exchange there is a rewrite the model
# must judge, and the search below stays small.
MAX_WORDS = 64

_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?|[,&]")

_ENGLISH = """
a an the this that these those some any each every all both either neither another other
of to in on at by for from with without into onto over under about above below between
among through during across along around against toward towards upon via per than then as
and or nor but so if because while whereas though although
i me my mine we us our you your yours he him his she her it its they them their there here
is are was were be been being am do does did done doing have has had having
can could should would will shall may might must need ought
what which who whom whose when where why how whether
not no yes please just also too very really much many more most less least few lot lots
get got make made way thing things one ones s
"""
_RUSSIAN = """
а и или либо но да же ли бы не ни то это этот эта эти тот та те так также тоже
в во на с со к ко о об обо от до из изо у за по под над при про через для без между
перед после около среди вместо кроме
я мы ты вы он она оно они меня мне мной нас нам нами тебя тебе тобой вас вам вами
его ему им ним него нему её ее ей ней их ими них мой моя моё мое мои твой ваш наш свой
себя себе собой
что чего чему чем кто кого кому кем где куда откуда когда почему зачем как какой какая
какое какие каков сколько ли чей чья чьё чьи
есть быть был была было были будет будут является можно нужно надо ли
очень ещё еще уже только просто пожалуйста
"""
# Function words, dropped before the order is compared (documented in the model card).
STOPWORDS = frozenset((_ENGLISH + _RUSSIAN).split())
# Skipped when a slot's frame is read: "is the _ more expensive than the _" frames its
# slots with "is" and "than".
ARTICLES = frozenset({"the", "a", "an"})
# Words that make two adjacent blocks a symmetric pair ("TCP and UDP" is "UDP and TCP").
SYMMETRIC = frozenset({"and", "or", ",", "&", "vs", "versus", "и", "или", "либо"})
# Russian case and verb endings, stripped longest first so "Москвы", "Москву" and "Москве"
# share the stem "москв" (a light stemmer: a wrong stem only hides an exchange).
_ENDINGS = """ями ами ого его ому ему ыми ими ешь ете ите ая яя ое ее ые ие ый ий ой ей ом ем
ах ях ов ев ам ям ью ию ия ии ею ея а я о е ы и у ю ь й"""
_RUSSIAN_ENDINGS = tuple(sorted(_ENDINGS.split(), key=len, reverse=True))


@dataclass(frozen=True, slots=True)
class Exchange:
    """Two blocks of shared content words that trade places, as the query spells them."""

    first: tuple[str, ...]
    second: tuple[str, ...]

    def describe(self) -> str:
        return f"'{' '.join(self.first)}' and '{' '.join(self.second)}' exchanged"


def _stem(word: str) -> str:
    if word.endswith("'s"):
        word = word[:-2]
    if "а" <= word[-1:] <= "я":  # Cyrillic: the case ending, when a stem of 3 letters stays
        for ending in _RUSSIAN_ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= 3:
                return word[: -len(ending)]
        return word
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """Casefolded words and the symmetric marks (`,` `&`), in order."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    return _TOKEN.findall(folded.replace("\u2019", "'"))


def stemmed(raw: list[str]) -> list[str]:
    """`words`' output with its content words stemmed: what the rules compare."""
    return [t if t in STOPWORDS else _stem(t) for t in raw]


def tokens(text: str) -> list[str]:
    """`words`, content words stemmed: what the rule compares."""
    return stemmed(words(text))


def common_ends(q: list[str], c: list[str]) -> tuple[int, int]:
    """How many items the two lists share at their start, then at their end (not counting
    the start's again)."""
    start = 0
    while start < min(len(q), len(c)) and q[start] == c[start]:
        start += 1
    end = 0
    while end < min(len(q), len(c)) - start and q[-1 - end] == c[-1 - end]:
        end += 1
    return start, end


def _content(words: list[str]) -> list[str]:
    """Content words that occur once in `words`, in order."""
    content = [w for w in words if w not in STOPWORDS and w not in SYMMETRIC]
    seen: dict[str, int] = {}
    for w in content:
        seen[w] = seen.get(w, 0) + 1
    return [w for w in content if seen[w] == 1]


def _blocks(q: list[str], c: list[str]) -> tuple[list[str], list[str]] | None:
    """(A, B) when q reads P A M B S and c reads P B M A S, else None."""
    start, shared_end = common_ends(q, c)
    end = len(q) - shared_end
    qm, cm = q[start:end], c[start:end]
    n = len(qm)
    for la in range(1, n):
        for lb in range(1, n - la + 1):
            a, b, middle = qm[:la], qm[n - lb :], qm[la : n - lb]
            if cm == b + middle + a:
                return a, b
    return None


def _neighbour(words: list[str], index: int, step: int) -> str | None:
    """The word next to `index` in direction `step`, articles skipped; None past an end."""
    index += step
    while 0 <= index < len(words) and words[index] in ARTICLES:
        index += step
    return words[index] if 0 <= index < len(words) else None


def _frame(block: list[str], words: list[str]) -> tuple[str | None, str | None]:
    """The words around a block: (before, after)."""
    return _neighbour(words, words.index(block[0]), -1), _neighbour(
        words, words.index(block[-1]), 1
    )


def _swapped_roles(a: list[str], b: list[str], adjacent: bool, q: list[str], c: list[str]) -> bool:
    """Whether A and B trade places inside one frame (rule 3 of the module's docstring)."""
    if adjacent:
        # "from _ to _", "ли _ _ в финале": the words between the two blocks and the words
        # around the pair are the same in both texts. A block moved past a neighbour has
        # other words between ("style influences" / "influences of style").
        # Nothing between ("Связному банку" / "банку Связной") is a noun and its modifier
        # reordered as often as two names exchanged: left to the model. One word, the same,
        # before both slots ("в _ в _") tells no role apart; "and", "or", "," none either.
        between_q = q[q.index(a[-1]) + 1 : q.index(b[0])]
        between_c = c[c.index(b[-1]) + 1 : c.index(a[0])]
        if not between_q or between_q != between_c or all(w in SYMMETRIC for w in between_q):
            return False
        before = _frame(a, q)[0]
        return (
            (len(between_q) > 1 or before != between_q[0])
            and before == _frame(b, c)[0]
            and _frame(b, q)[1] == _frame(a, c)[1]
        )
    # Apart: each slot keeps its frame while its filler changes, and the two frames
    # differ ("is _ heavier than _"): the roles, not the words, moved.
    slot1, slot2 = _frame(a, q), _frame(b, q)
    return slot1 != slot2 and slot1 == _frame(b, c) and slot2 == _frame(a, c)


def exchanged(query: str, cached: str) -> Exchange | None:
    """The exchange that makes `cached` another question than `query`, or None."""
    raw = words(query)
    if len(raw) > MAX_WORDS:
        return None
    q, c = stemmed(raw), tokens(cached)
    if len(c) > MAX_WORDS:
        return None
    qc, cc = _content(q), _content(c)
    shared = set(qc) & set(cc)
    order_q = [w for w in qc if w in shared]
    order_c = [w for w in cc if w in shared]
    if len(order_q) < 2 or order_q == order_c:
        return None
    found = _blocks(order_q, order_c)
    if found is None:
        return None
    a, b = found
    adjacent = order_q.index(b[0]) == order_q.index(a[-1]) + 1
    if not _swapped_roles(a, b, adjacent, q, c):
        return None
    # Reported as the query spells them (a content word occurs once: its stem finds it).
    spelled = dict(zip(q, raw, strict=True))
    return Exchange(tuple(spelled[w] for w in a), tuple(spelled[w] for w in b))
