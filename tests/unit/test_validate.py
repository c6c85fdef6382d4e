"""Input checks as plain domain code, shared by the gRPC and HTTP fronts (issue #22)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sluice.openai
from sluice import validate
from sluice.config import LimitSettings, validate_listen_address
from sluice.errors import InvalidArgument, TooLarge
from sluice.types import ChatMessage

LIMITS = LimitSettings()


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: validate.params(temperature=2.5), "params.temperature"),
        (lambda: validate.params(top_p=0.0), "params.top_p"),
        (lambda: validate.params(max_tokens=0), "params.max_tokens"),
        (lambda: validate.params(stop=["a"] * 5), "params.stop"),
        (lambda: validate.params(json_schema="[1]"), "params.json_schema"),
        (lambda: validate.threshold(float("nan"), "cache.threshold"), "cache.threshold"),
        (lambda: validate.namespace("a b"), "namespace"),
        (lambda: validate.request_id("x" * 129), "request_id"),
        (lambda: validate.routing_hints(max_cost_usd=-1), "routing.max_cost_usd"),
        (lambda: validate.routing_hints(task_tags=["t"] * 33), "routing.task_tags"),
        (lambda: validate.embed_texts([], LIMITS), "texts"),
        (lambda: validate.embed_texts([" "], LIMITS), "texts[0]"),
        (lambda: validate.messages([], LIMITS), "messages"),
        (lambda: validate.messages([ChatMessage("system", "hi")], LIMITS), "messages[0].role"),
        (lambda: validate.messages([ChatMessage("user", " ")], LIMITS), "messages[0].content"),
    ],
)
def test_each_check_names_the_field(call: object, field: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        call()  # type: ignore[operator]
    assert info.value.field == field


def test_limits_are_too_large_not_invalid() -> None:
    with pytest.raises(TooLarge):
        validate.embed_texts(["x"] * (LIMITS.max_texts_per_embed + 1), LIMITS)
    with pytest.raises(TooLarge):
        validate.message_count(LIMITS.max_messages + 1, LIMITS)


def test_good_values_pass_through() -> None:
    params = validate.params(temperature=0.0, stop=["\n"], seed=7, json_schema='{"type": "object"}')
    assert (params.temperature, params.stop, params.seed) == (0.0, ("\n",), 7)
    hints = validate.routing_hints(task_tags=["code"], max_cost_usd=0.0, pinned_model="m")
    assert (hints.task_tags, hints.max_cost_usd, hints.pinned_model) == (("code",), None, "m")
    assert validate.namespace("") == "default"
    assert len(validate.request_id("")) == 32


def _imports(path: Path) -> set[str]:
    """Every module a file imports, `from a import b` counted as both a and a.b."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return out


def test_the_http_front_builds_no_protobuf() -> None:
    folder = Path(sluice.openai.__file__).parent
    for path in sorted(folder.glob("*.py")):
        found = {m for m in _imports(path) if m.startswith(("sluice.v1", "sluice.convert", "grpc"))}
        assert not found, (path.name, found)


@pytest.mark.parametrize(
    ("addr", "ok"),
    [
        ("127.0.0.1:50051", True),
        ("[::1]:0", True),
        ("unix:///tmp/sluice.sock", True),
        ("localhost", False),
        ("127.0.0.1:99999", False),
        # Read as host "tcp://127.0.0.1" and refused as "off loopback" (asking for a token).
        ("tcp://127.0.0.1:50051", False),
        ("http://127.0.0.1:9091", False),
        ("unix://tmp/sluice.sock", False),
    ],
)
def test_listen_addresses(addr: str, ok: bool) -> None:
    if ok:
        assert validate_listen_address(addr) == addr
    else:
        with pytest.raises(ValueError, match=r"expected host:port|absolute"):
            validate_listen_address(addr)
