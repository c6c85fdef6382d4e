"""The language check of the cache's vector layer (sluice/embedding/language.py, issue #18)."""

from __future__ import annotations

import pytest

from sluice.config import LANGUAGE_LABELS, EmbeddingSettings, parse_settings
from sluice.embedding import language
from sluice.errors import ConfigError

DEFAULT = EmbeddingSettings()


def refusal(text: str, languages: tuple[str, ...] = DEFAULT.languages) -> str:
    return language.refusal(text, languages, DEFAULT.language_min_probability)


def test_the_config_knows_exactly_the_identifiers_labels() -> None:
    # The config validates embedding.languages without loading the model: its list must be
    # the model's (a py3langid upgrade that changes the labels fails here).
    language.load()
    assert set(language._IDENTIFIER.get().nb_classes) == LANGUAGE_LABELS


@pytest.mark.parametrize(
    ("text", "code"),
    [
        # STS-B translations the English verifier served wrongly (calibration part): it
        # cannot read "weniger", "mniej" or "nie".
        ("Haben Sie etwas, um es noch überzeugender zu machen?", "de"),
        ("Czy masz coś, co sprawi, że będzie to bardziej przekonujące?", "pl"),
        ("Les forces égyptiennes se dirigent vers les camps de protestation pro-morsi", "fr"),
        ("e a moral e a honestidade têm tudo a ver com isso.", "pt"),
        ("¿Cómo puedo cambiar la contraseña de mi cuenta?", "es"),
        ("Wie installiere ich Docker auf Ubuntu?", "de"),
    ],
)
def test_a_question_in_another_latin_script_language_is_refused(text: str, code: str) -> None:
    reason = refusal(text)
    assert f"'{code}'" in reason
    assert "embedding.languages" in reason
    assert "exact layer only" in reason
    # The reason goes to logs and responses: it names the language, never the text.
    assert text[:12] not in reason


@pytest.mark.parametrize(
    "text",
    [
        # App traffic full of names the English vocabulary splits: CLD2 called the first
        # one German and the third Danish; the rule must not lose them.
        "Convert 100 Celsius to Fahrenheit",
        "How do I install Docker on Ubuntu 22.04?",
        "Did Microsoft buy GitHub?",
        "kubectl rollout restart deployment nginx",
        "Tokyo stocks open lower",
        # Identified as Nigerian Pidgin (P 0.96 and 0.70), an English-lexified variety: read
        # as English (language.SAME_AS).
        "How do I get a work visa for Nigeria?",
        "Driving time from Nairobi to Vienna?",
        "What's the capital of France?",
        "12345 67890",
        "",
        "   ",
    ],
)
def test_english_and_text_without_language_are_read(text: str) -> None:
    assert refusal(text) == ""


def test_star_turns_the_check_off_and_other_languages_can_be_read() -> None:
    german = "Wie viele Einwohner hat die Stadt Berlin im Jahr 2020?"
    assert refusal(german)
    assert refusal(german, ("*",)) == ""
    assert refusal(german, ("en", "de")) == ""
    assert "'en'" in refusal("How many people lived in the city of Berlin in 2020?", ("de",))


def test_an_unsure_identification_is_let_through() -> None:
    text = "Wie viel kostet das?"
    code, probability = language.identify(text)
    assert code == "de"
    assert language.refusal(text, ("en",), min(1.0, probability + 0.01)) == ""
    assert language.refusal(text, ("en",), probability) != ""


def test_a_huge_question_is_identified_by_its_head() -> None:
    # Bounded work whatever the length: only the first MAX_CHARS characters are read.
    head = "Wie viele Einwohner hat die Stadt Berlin? " * 30
    assert language.identify(head + "x" * 2_000_000) == language.identify(head)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ([], "empty"),
        (["*", "en"], "cannot be listed"),
        (["english"], "not a language the identifier knows"),
        (["EN"], "not a language the identifier knows"),
    ],
)
def test_a_bad_language_list_is_a_config_error_naming_the_key(value: object, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings({"embedding": {"languages": value}})
    assert "embedding.languages" in str(info.value)
    assert fragment in str(info.value)


def test_the_probability_is_a_fraction() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings({"embedding": {"language_min_probability": 1.5}})
    assert "embedding.language_min_probability" in str(info.value)
