"""Fuzzing the config loader: whatever the YAML holds, the answer is Settings or ConfigError."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from sluice.config import Settings, load_settings, parse_settings
from sluice.errors import ConfigError

EXAMPLES = 10_000 if os.environ.get("SLUICE_NIGHTLY") == "1" else 200

# What yaml.safe_load can produce: scalars (dates too), lists, mappings with odd keys.
_SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
    st.text(max_size=30), st.sampled_from(["", "0o777", "unix:///x", "0.0.0.0:1", "-1", "1e999"]),
    st.dates(), st.binary(max_size=8),
)  # fmt: skip
_KEYS = st.one_of(st.text(max_size=12), st.integers(), st.booleans(), st.none(), st.floats())
YAMLISH = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=4)),
    max_leaves=20,
)


def _known_keys(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """Mappings with the real keys of `model` (nested sections too) and random values."""
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields[name] = st.one_of(_known_keys(annotation), YAMLISH)
        else:
            fields[name] = YAMLISH
    return st.fixed_dictionaries({}, optional=fields)


def _check(data: Any) -> None:
    error: ConfigError | None = None
    try:
        result = parse_settings(data, "fuzz.yaml")
    except ConfigError as exc:
        error = exc
    if error is None:
        assert isinstance(result, Settings)
    else:
        assert error.key
        assert error.message.startswith("config key ")


_FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


@_FUZZ
@given(st.one_of(YAMLISH, _known_keys(Settings)))
def test_parse_settings_raises_only_config_error(data: Any) -> None:
    _check(data)


@_FUZZ
@given(st.text(max_size=200))
def test_load_settings_from_any_text_raises_only_config_error(text: str) -> None:
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"sluice-fuzz-{os.getpid()}.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        with contextlib.suppress(ConfigError):  # any other exception fails the test
            load_settings(path)
    finally:
        path.unlink(missing_ok=True)


def test_deeply_nested_yaml_is_a_config_error(tmp_path: Path) -> None:
    for text in ("[" * 5000, "server: " + "[" * 3000 + "]" * 3000):
        path = tmp_path / "deep.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError) as info:
            load_settings(path)
        assert info.value.key == "<file>"


def test_yaml_odd_but_valid_shapes() -> None:
    for text in ("[]", "1", "!!binary aGk=", "server: {listen: []}", "? [a]\n: 1", "a: &x [*x]"):
        with contextlib.suppress(yaml.YAMLError):
            _check(yaml.safe_load(text))
