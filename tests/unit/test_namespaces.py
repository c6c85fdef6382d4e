"""One namespace rule for the config and both fronts; no second spelling of a name.

Regression for issue #17: the rule was `^…$` with `re.match`, which accepts a trailing
newline, so "tight\\n" was a namespace of its own with its own (unlimited) budget.
"""

from __future__ import annotations

import pytest

from sluice import convert
from sluice.config import parse_settings
from sluice.errors import ConfigError, InvalidArgument
from sluice.namespaces import is_namespace

SPELLINGS = ["tight\n", "tight\r\n", "\ntight", "tight ", " tight", "tight\x00", "tïght", "t/ght"]


@pytest.mark.parametrize("name", SPELLINGS)
def test_another_spelling_is_not_a_namespace(name: str) -> None:
    assert not is_namespace(name)
    with pytest.raises(InvalidArgument, match="namespace"):
        convert.namespace(name)


@pytest.mark.parametrize("name", ["tight", "team-a.prod_1", "x" * 64])
def test_names_that_follow_the_rule_pass(name: str) -> None:
    assert convert.namespace(name) == name


def test_too_long_and_empty() -> None:
    assert not is_namespace("x" * 65)
    assert not is_namespace("")
    assert convert.namespace("") == "default"


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"budgets": {"namespaces": {"tight\n": {"limit_usd": 1}}}}, "budgets.namespaces"),
        ({"cache": {"namespaces": {"tight\n": {}}}}, "cache.namespaces"),
        ({"routing": {"namespaces": {"tight\n": {}}}}, "routing.namespaces"),
    ],
)
def test_config_sections_keyed_by_namespace_refuse_other_spellings(
    section: dict[str, object], key: str
) -> None:
    with pytest.raises(ConfigError, match="namespace") as caught:
        parse_settings(section)
    assert caught.value.key == key
