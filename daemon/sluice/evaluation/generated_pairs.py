"""Pairs made from real questions by documented rules (hard negatives, easy positives).

Each rule edits one source sentence; the pair (source, edit) carries the
rule's label and name. Negatives change the meaning while keeping almost
every word — what a cosine cache confuses:

    negate          insert "not" after the first auxiliary, or drop an existing negation
    swap_entities   "from A to B" → "from B to A"; "A <comparative> than B" → "B … than A";
                    "convert X to Y" → "convert Y to X" on unit words
    change_number   the first number n → n + 1, 2n, n + 10 or n − 1 (one, by a hash of the text)
    antonym         the first word with an entry in ANTONYMS replaced by it
                    (true antonyms and same-kind substitutions: file ↔ directory,
                    Linux ↔ Windows, Celsius ↔ Fahrenheit)
    substitute_entity  the first name found in ENTITIES (countries, cities, continents,
                    languages, programming languages, painters and their works, …)
                    replaced by another of its kind: "population of Canada" → "… of Mexico"
    exchange_names  (PAWS / CANNOT sentences only) the first two different runs of
                    capitalised words after the first word exchanged ("Atoka is east of
                    McGee Creek Lake, west of Antlers" → "Atoka is east of Antlers, west of
                    McGee Creek Lake"): PAWS's own way of making its negatives, which the
                    training data otherwise holds only from PAWS dev. Not when only "and",
                    "or", "&" or a comma stands between them ("Paris and Rome" is "Rome and
                    Paris")

Positives keep the meaning; they also stop the model from learning "a small
edit means a different question", which the negatives alone would teach:

    rephrase        "how do I" → "how can I", "what is" → "what's", "can you" → "could you", …
    symmetric_swap  "between A and B" → "between B and A"
    surface         a change of form only, one of three by a hash of the text: lower case
                    with the final punctuation dropped; the final punctuation dropped (or a
                    "?" added); the final "?" doubled (or a "!" added). Every source gets one:
                    without them the model learned that any edit to a sentence seen among
                    the negatives (numbers, templates) means another question
    spacing         a space before the last punctuation mark: the same word pieces, so the
                    model sees one question twice (it had learned to refuse some of those)
    recase          a sentence with a number in lower (or upper) case: the same word pieces
    synonym         the first word with an entry in SYNONYMS replaced by it

Templated pairs (`templated`) fill slots of question templates whose meaning
depends on the order or the value of the slots ("flight from A to B",
"convert N X to Y"): the slots swapped or one slot changed make negatives, the
same slots in a reworded template make positives. They carry the template's
name, so the evaluation reports them apart.

`exchange_names` and the `audience` templates are trial kinds (verifier_data.TRIAL_RULES):
the shipped model was not trained on them, and the evaluation reports them as their own set.

A pair inherits the split part of its source sentence (splits.py), so a
held-out sentence never reaches training through a generated edit. Pure
standard library (the training venv imports it).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from random import Random

_AUX = [
    "is",
    "are",
    "was",
    "were",
    "do",
    "does",
    "did",
    "can",
    "could",
    "should",
    "would",
    "will",
    "has",
    "have",
    "had",
    "may",
    "might",
    "must",
]
_AUX_RE = re.compile(r"\b(" + "|".join(_AUX) + r")\b(\s+not\b|n't\b)?", re.IGNORECASE)
_CONTRACTED = re.compile(
    r"\b(isn't|aren't|wasn't|weren't|don't|doesn't|didn't|can't|couldn't|shouldn't|wouldn't|"
    r"won't|hasn't|haven't)\b",
    re.IGNORECASE,
)
_UNCONTRACT = {"can't": "can", "won't": "will"}
_FROM_TO = re.compile(r"\bfrom ([A-Z]?[\w-]+) to ([A-Z]?[\w-]+)\b")
_THAN = re.compile(r"\b([A-Z]?[\w-]+) (\w+er|more \w+|less \w+) than ([A-Z]?[\w-]+)\b")
_UNITS = [
    "celsius",
    "fahrenheit",
    "kelvin",
    "miles",
    "kilometers",
    "km",
    "meters",
    "feet",
    "inches",
    "centimeters",
    "cm",
    "pounds",
    "kilograms",
    "kg",
    "ounces",
    "grams",
    "liters",
    "gallons",
    "cups",
    "dollars",
    "euros",
    "yen",
    "bytes",
    "bits",
    "mb",
    "gb",
    "kb",
    "seconds",
    "minutes",
    "hours",
    "days",
    "weeks",
    "years",
    "hex",
    "decimal",
    "binary",
    "json",
    "xml",
    "yaml",
    "csv",
]
_CONVERT = re.compile(
    r"\b(" + "|".join(_UNITS) + r") (to|into) (" + "|".join(_UNITS) + r")\b", re.IGNORECASE
)
_BETWEEN = re.compile(r"\bbetween ([\w-]+(?: [\w-]+)?) and ([\w-]+(?: [\w-]+)?)(?=[?.!,]|$)")
_NUMBER = re.compile(r"\b\d+\b")
_NAME = re.compile(r"\b[A-Z][\w'-]*(?: [A-Z][\w'-]*)*")
_PRONOUN_I = re.compile(r"I(?:'\w+)?")
_COORDINATION = re.compile(r"\s*(?:,|and|or|&)?\s*", re.IGNORECASE)
_PUNCTUATION = frozenset("?!.,:;")


def _both_ways(spec: str) -> dict[str, str]:
    """ "a b; c d; …" → {a: b, b: a, c: d, …} (the first entry of a word wins; "-" is a space)."""
    table: dict[str, str] = {}
    for pair in spec.split(";"):
        if pair.strip():
            x, y = (w.replace("-", " ") for w in pair.split())
            table.setdefault(x, y)
            table.setdefault(y, x)
    return table


def _any_of(words: Iterable[str], flags: int = 0) -> re.Pattern[str]:
    """One whole word (or phrase) of `words`, the longest first; group 1 is the match."""
    alternatives = "|".join(sorted(map(re.escape, words), key=len, reverse=True))
    return re.compile(r"\b(" + alternatives + r")\b", flags)


_ANTONYM_PAIRS = """
increase decrease; add remove; buy sell; upload download; import export; enable disable;
encrypt decrypt; compress decompress; maximum minimum; before after; start stop; open close;
win lose; hot cold; north south; east west; input output; push pull; first last; best worst;
advantages disadvantages; pros cons; true false; positive negative; always never; more less;
larger smaller; faster slower; higher lower; longest shortest; largest smallest;
cheapest most-expensive; safe dangerous; legal illegal; healthy unhealthy; possible impossible;
file directory; linux windows; python java; celsius fahrenheit; husband wife; men women;
day night; summer winter; morning evening; client server; encode decode; read write;
install uninstall; lock unlock; allow deny; accept reject; include exclude; inside outside;
private public; success failure; rise fall; strong weak; old new; young old; easy hard;
cause prevent; love hate; agree disagree; like dislike; above below; over under; top bottom;
""".replace("\n", " ")
ANTONYMS = _both_ways(_ANTONYM_PAIRS)
_ANTONYM_RE = _any_of(ANTONYMS, re.IGNORECASE)
_SYNONYM_PAIRS = """
delete remove; big large; buy purchase; start begin; show display; create make; fix repair;
fast quick; help assist; use utilize; car automobile; mistake error; choose select; find locate;
get obtain; need require; reply answer; about regarding; tell inform; picture image;
""".replace("\n", " ")
SYNONYMS = _both_ways(_SYNONYM_PAIRS)
_SYNONYM_RE = _any_of(SYNONYMS, re.IGNORECASE)
# Names of one kind: a question about one is not a question about another.
_ENTITY_KINDS = """
Canada Mexico Brazil Argentina Chile Peru Colombia France Germany Spain Italy Portugal Netherlands
Belgium Sweden Norway Denmark Finland Poland Austria Switzerland Greece Turkey Egypt Nigeria
Kenya Ethiopia Morocco India China Japan Korea Vietnam Thailand Indonesia Australia Russia
Ukraine Ireland Iran Iraq Israel Pakistan Bangladesh Philippines
| London Paris Berlin Madrid Rome Tokyo Boston Chicago Sydney Delhi Cairo Toronto Seoul Lisbon
Vienna Dublin Oslo Prague Lima Nairobi Denver Seattle Austin Miami Osaka Milan Beijing Shanghai
Moscow Istanbul Bangkok Singapore Amsterdam Brussels Stockholm Warsaw Athens Mumbai Houston
| Africa Europe Asia Antarctica Australia
| English French German Spanish Italian Japanese Chinese Russian Portuguese Arabic Hindi Korean
Dutch Greek Polish Turkish
| Python Java JavaScript TypeScript Rust Go Ruby PHP Kotlin Swift Perl Scala Haskell
| Linux Windows macOS Android iOS Ubuntu Debian
| PostgreSQL MySQL SQLite MongoDB Redis Oracle
| January February March April May June July August September October November December
| Monday Tuesday Wednesday Thursday Friday Saturday Sunday
| Mercury Venus Earth Mars Jupiter Saturn Uranus Neptune
| Shakespeare Dickens Tolstoy Hemingway Austen Orwell Picasso Rembrandt Monet Mozart Beethoven
Bach Einstein Newton Darwin Napoleon Lincoln
"""
ENTITIES: dict[str, tuple[str, ...]] = {}
for _kind in _ENTITY_KINDS.split("|"):
    _names = tuple(_kind.split())
    for _name in _names:
        ENTITIES.setdefault(_name, _names)
_ENTITY_RE = _any_of(ENTITIES)
_REPHRASE = [
    (re.compile(r"\bhow do i\b", re.IGNORECASE), "how can I"),
    (re.compile(r"\bhow can i\b", re.IGNORECASE), "how do I"),
    (re.compile(r"\bwhat is\b", re.IGNORECASE), "what's"),
    (re.compile(r"\bwhat's\b", re.IGNORECASE), "what is"),
    (re.compile(r"\bcan you\b", re.IGNORECASE), "could you"),
    (re.compile(r"\bcould you\b", re.IGNORECASE), "can you"),
    (re.compile(r"\bhow to\b", re.IGNORECASE), "what is the way to"),
    (re.compile(r"\btell me\b", re.IGNORECASE), "let me know"),
    (re.compile(r"\bexplain\b", re.IGNORECASE), "describe"),
]


@dataclass(frozen=True, slots=True)
class GeneratedPair:
    a: str
    b: str
    label: int
    rule: str


def _same_case(original: str, replacement: str) -> str:
    if original.isupper() and len(original) > 1:
        return replacement.upper()
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def negate(text: str) -> str | None:
    contracted = _CONTRACTED.search(text)
    if contracted:
        word = contracted.group(1)
        base = _UNCONTRACT.get(word.lower(), word[:-3])
        return text[: contracted.start()] + _same_case(word, base) + text[contracted.end() :]
    m = _AUX_RE.search(text)
    if m is None:
        return None
    if m.group(2):  # "is not" → "is"
        return text[: m.end(1)] + text[m.end() :]
    return text[: m.end(1)] + " not" + text[m.end(1) :]


def _from_to(m: re.Match[str]) -> str:
    return f"from {m.group(2)} to {m.group(1)}"


def _than(m: re.Match[str]) -> str:
    return f"{m.group(3)} {m.group(2)} than {m.group(1)}"


def _convert(m: re.Match[str]) -> str:
    return f"{m.group(3)} {m.group(2)} {m.group(1)}"


def swap_entities(text: str) -> str | None:
    swaps: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
        (_FROM_TO, _from_to),
        (_THAN, _than),
        (_CONVERT, _convert),
    )
    for pattern, build in swaps:
        m = pattern.search(text)
        if m and m.group(1).lower() != m.group(m.lastindex or 1).lower():
            return text[: m.start()] + build(m) + text[m.end() :]
    return None


def change_number(text: str) -> str | None:
    m = _NUMBER.search(text)
    if m is None:
        return None
    n = int(m.group())
    options = (n + 1, n * 2 if n > 1 else n + 2, n + 10, n - 1 if n > 1 else n + 3)
    return text[: m.start()] + str(options[_pick(text, len(options))]) + text[m.end() :]


def _substitute(text: str, pattern: re.Pattern[str], table: dict[str, str]) -> str | None:
    """The first word of `table` found in `text`, replaced by its entry (case kept)."""
    m = pattern.search(text)
    if m is None:
        return None
    word = m.group(1)
    return text[: m.start()] + _same_case(word, table[word.lower()]) + text[m.end() :]


def antonym(text: str) -> str | None:
    return _substitute(text, _ANTONYM_RE, ANTONYMS)


def _pick(text: str, n: int) -> int:
    """A stable choice among n by the text (the same on every run and machine)."""
    return zlib.crc32(text.encode()) % n


def substitute_entity(text: str) -> str | None:
    m = _ENTITY_RE.search(text)
    if m is None:
        return None
    kind = ENTITIES[m.group(1)]
    others = [name for name in kind if name != m.group(1)]
    return text[: m.start()] + others[_pick(text, len(others))] + text[m.end() :]


def exchange_names(text: str) -> str | None:
    names = [
        m
        for m in _NAME.finditer(text)
        if m.start() > 0
        and not _PRONOUN_I.fullmatch(m.group())
        and text[: m.start()].rstrip()[-1:] not in ".!?:"
    ]  # not a sentence's first word
    for i, first in enumerate(names):
        second = next((m for m in names[i + 1 :] if m.group() != first.group()), None)
        if second is None:
            return None
        if _COORDINATION.fullmatch(text[first.end() : second.start()]):
            continue
        return (text[: first.start()] + second.group() + text[first.end() : second.start()]
                + first.group() + text[second.end() :])  # fmt: skip
    return None


def rephrase(text: str) -> str | None:
    for pattern, replacement in _REPHRASE:
        m = pattern.search(text)
        if m:
            return text[: m.start()] + _same_case(m.group(), replacement) + text[m.end() :]
    return None


def surface(text: str) -> str | None:
    stripped = text.rstrip(" ?.!")
    form = _pick(text, 3)
    if form == 0:
        variant = stripped.lower()
    elif form == 1:
        variant = stripped if stripped != text.rstrip() else text + "?"
    else:
        variant = text.rstrip() + "?" if text.rstrip().endswith("?") else text.rstrip() + "!"
    return variant if variant != text else text + "?"


def spacing(text: str) -> str | None:
    """A space before the last punctuation mark (not inside a number)."""
    stripped = text.rstrip()
    for i in range(len(stripped) - 1, 0, -1):
        after = stripped[i + 1 : i + 2]
        if stripped[i] in _PUNCTUATION and stripped[i - 1] != " " and not after.isdigit():
            return stripped[:i] + " " + stripped[i:]
    return None


def recase(text: str) -> str | None:
    """Text with numbers in other letter case: the same word pieces to an uncased model.

    Only where a number is: such sentences sit among the changed-number negatives, and
    the model learned to refuse them even when nothing but the case differs.
    """
    if not _NUMBER.search(text):
        return None
    variant = text.lower() if text != text.lower() else text.upper()
    return variant if variant != text else None


def synonym(text: str) -> str | None:
    return _substitute(text, _SYNONYM_RE, SYNONYMS)


def symmetric_swap(text: str) -> str | None:
    m = _BETWEEN.search(text)
    if m is None or m.group(1).lower() == m.group(2).lower():
        return None
    return text[: m.start()] + f"between {m.group(2)} and {m.group(1)}" + text[m.end() :]


RULES: tuple[tuple[str, int, Callable[[str], str | None]], ...] = (
    ("negate", 0, negate),
    ("swap_entities", 0, swap_entities),
    ("change_number", 0, change_number),
    ("antonym", 0, antonym),
    ("substitute_entity", 0, substitute_entity),
    ("exchange_names", 0, exchange_names),
    ("rephrase", 1, rephrase),
    ("symmetric_swap", 1, symmetric_swap),
    ("surface", 1, surface),
    ("spacing", 1, spacing),
    ("recase", 1, recase),
    ("synonym", 1, synonym),
)


# The rules for the LLM-style questions and answers (GPTCache, MeanCache): every rule but
# exchange_names, which there taught the model to refuse long paraphrases full of
# capitalised terms (docs/cache-eval.md, "Who a question is for, and names exchanged").
QUESTION_RULES = tuple(name for name, _, _ in RULES if name != "exchange_names")
# The rules for sentences whose set already holds negations and antonyms (PAWS, CANNOT):
# what those sets lack are form-only positives, other names and other numbers, and names
# exchanged (PAWS's negatives, of which only its dev split is here).
FORM_AND_NAME_RULES = (
    "surface", "spacing", "recase", "change_number", "substitute_entity", "exchange_names",
)  # fmt: skip


def generate(sources: Iterable[str], rules: Iterable[str] | None = None) -> list[GeneratedPair]:
    """The rules (all, or those named) applied to every source sentence, where they apply."""
    chosen = [r for r in RULES if rules is None or r[0] in set(rules)]
    pairs = []
    seen: set[tuple[str, str]] = set()
    for source in sources:
        for name, label, rule in chosen:
            variant = rule(source)
            if variant is None or variant == source or (source, variant) in seen:
                continue
            seen.add((source, variant))
            pairs.append(GeneratedPair(source, variant, label, name))
    return pairs


_CITIES = [
    "London",
    "Paris",
    "Berlin",
    "Madrid",
    "Rome",
    "Tokyo",
    "Boston",
    "Chicago",
    "Sydney",
    "Delhi",
    "Cairo",
    "Toronto",
    "Seoul",
    "Lisbon",
    "Vienna",
    "Dublin",
    "Oslo",
    "Prague",
    "Lima",
    "Nairobi",
    "Denver",
    "Seattle",
    "Austin",
    "Miami",
    "Osaka",
    "Milan",
]
_COUNTRIES = ENTITIES["Canada"]
_UNIT_PAIRS = (
    ("Fahrenheit", "Celsius"), ("miles", "kilometers"), ("pounds", "kilograms"),
    ("inches", "centimeters"), ("feet", "meters"), ("ounces", "grams"), ("gallons", "liters"),
    ("dollars", "euros"), ("hours", "minutes"), ("bytes", "bits"), ("kelvin", "Celsius"),
)  # fmt: skip
_LANGUAGES = [
    "English",
    "French",
    "German",
    "Spanish",
    "Italian",
    "Japanese",
    "Dutch",
    "Portuguese",
]
_LANGUAGE_PAIRS = tuple((a, b) for a in _LANGUAGES for b in _LANGUAGES if a != b)
_THINGS = (
    ("file", "directory"), ("user", "group"), ("table", "column"), ("branch", "tag"),
    ("container", "image"), ("process", "thread"), ("row", "index"), ("key", "value"),
    ("commit", "branch"), ("volume", "snapshot"),
)  # fmt: skip
_SYSTEMS = [
    "Linux",
    "Windows",
    "macOS",
    "Ubuntu",
    "Docker",
    "Kubernetes",
    "PostgreSQL",
    "MySQL",
    "Git",
    "Python",
]
# Who a question is for: an answer for one group is not an answer for another. Held out of
# this list on purpose: children, adults, kids and aspirin, so that the hand probe "aspirin
# for children" / "… for adults" (bench/verifier_probes.tsv, set D) stays unseen.
_GROUPS = (
    "teenagers", "seniors", "infants", "toddlers", "students", "teachers", "beginners",
    "experts", "employees", "managers", "customers", "athletes", "nurses", "patients",
    "parents", "retirees", "freelancers", "veterans", "dogs", "cats", "families", "developers",
)  # fmt: skip
_DRUGS = ("ibuprofen", "paracetamol", "melatonin", "vitamin D", "caffeine", "amoxicillin",
          "antihistamines", "magnesium")  # fmt: skip
# (template, reworded template); {a}/{b} are order-sensitive slots.
_TEMPLATES: dict[str, tuple[tuple[str, str], ...]] = {
    "route": (
        ("Flight from {a} to {b}", "Flights from {a} to {b}"),
        ("How far is it from {a} to {b}?", "What is the distance from {a} to {b}?"),
        ("Cheapest train from {a} to {b}", "What is the cheapest train from {a} to {b}?"),
        ("How long does it take to drive from {a} to {b}?",
         "Driving time from {a} to {b}?"),
    ),
    "convert": (
        ("Convert {n} {a} to {b}", "How many {b} is {n} {a}?"),
        ("What is {n} {a} in {b}?", "Convert {n} {a} into {b}"),
    ),
    "translate": (
        ("Translate this sentence from {a} to {b}", "Please translate this from {a} into {b}"),
    ),
    "fact": (
        ("What is the capital of {c}?", "Which city is the capital of {c}?"),
        ("What language do people speak in {c}?", "Which language is spoken in {c}?"),
        ("How do I get a work visa for {c}?", "How can I get a work visa for {c}?"),
    ),
    "object": (
        ("How do I delete a {a} in {s}?", "How can I delete a {a} in {s}?"),
        ("How do I rename a {a} in {s}?", "How to rename a {a} in {s}?"),
        ("How do I list every {a} in {s}?", "How can I list all {a}s in {s}?"),
    ),
    "audience": (
        ("What is the recommended dose of {d} for {a}?", "How much {d} is recommended for {a}?"),
        ("Is {d} safe for {a}?", "Is it safe for {a} to take {d}?"),
        ("How many hours of sleep do {a} need?", "How much sleep do {a} need?"),
        ("What are the best exercises for {a}?", "Which exercises are best for {a}?"),
        ("What discounts do you offer for {a}?", "Do you have any discounts for {a}?"),
        ("Which plan do you recommend for {a}?", "What plan would you recommend for {a}?"),
    ),
}  # fmt: skip


def _slot_values(kind: str, rng: Random) -> tuple[str, str, str]:
    """Two different values for the order-sensitive slots, and a third ("" if none)."""
    if kind == "route":
        a, b = rng.sample(_CITIES, 2)
        return a, b, rng.choice([c for c in _CITIES if c not in (a, b)])
    if kind == "convert":
        a, b = rng.choice(_UNIT_PAIRS)
        return a, b, ""
    if kind == "fact":
        a, b = rng.sample(_COUNTRIES, 2)
        return a, b, ""
    if kind == "audience":
        a, b = rng.sample(_GROUPS, 2)
        return a, b, rng.choice(_DRUGS)
    if kind == "translate":
        a, b = rng.choice(_LANGUAGE_PAIRS)
        return a, b, rng.choice([x for x in _LANGUAGES if x not in (a, b)])
    a, b = rng.choice(_THINGS)
    return a, b, ""


def templated(count_per_template: int = 40, seed: int = 0) -> list[GeneratedPair]:
    """Slot-filled question pairs: swapped or changed slots (0), reworded template (1)."""
    rng = Random(seed)  # noqa: S311 - data generation, not security
    out: list[GeneratedPair] = []
    for kind, templates in _TEMPLATES.items():
        for template, reworded in templates:
            for _ in range(count_per_template):
                a, b, other = _slot_values(kind, rng)
                slots = {"a": a, "b": b, "n": str(rng.choice((1, 3, 5, 10, 12, 25, 100, 250))),
                         "s": rng.choice(_SYSTEMS), "c": a}  # fmt: skip
                if kind == "audience":
                    slots["d"] = other
                base = template.format(**slots)
                name = f"template:{kind}"
                out.append(GeneratedPair(base, reworded.format(**slots), 1, name))
                out.append(GeneratedPair(base, surface(base) or base, 1, name))
                out.append(GeneratedPair(base, spacing(base) or base, 1, name))
                if kind == "fact":  # Canada is not Mexico
                    out.append(GeneratedPair(base, template.format(**{**slots, "c": b}), 0, name))
                    continue
                if kind == "audience":  # a dose for infants is not one for seniors
                    out.append(GeneratedPair(base, template.format(**{**slots, "a": b}), 0, name))
                    continue
                if kind == "object":  # a file is not a directory; Linux is not Windows
                    out.append(GeneratedPair(base, template.format(**{**slots, "a": b}), 0, name))
                    system = rng.choice([x for x in _SYSTEMS if x != slots["s"]])
                    out.append(GeneratedPair(base, template.format(**{**slots, "s": system}), 0,
                                             name))  # fmt: skip
                    continue
                out.append(GeneratedPair(base, template.format(**{**slots, "a": b, "b": a}), 0,
                                         name))  # fmt: skip
                if other:
                    out.append(GeneratedPair(base, template.format(**{**slots, "b": other}), 0,
                                             name))  # fmt: skip
                if "{n}" in template:
                    changed = change_number(base)
                    if changed:
                        out.append(GeneratedPair(base, changed, 0, name))
    unique = {(p.a, p.b): p for p in out if p.a != p.b}
    return list(unique.values())
