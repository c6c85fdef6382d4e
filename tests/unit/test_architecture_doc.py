"""docs/architecture.md quotes the import-linter layers as pyproject.toml enforces them."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_documented_layers_are_the_enforced_ones() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    doc = (ROOT / "docs" / "architecture.md").read_text()
    block = doc.split("```\nsluice.cli\n", 1)[1].split("```", 1)[0]
    quoted = ["sluice.cli", *block.strip().splitlines()]
    assert quoted == layers, "update the layer list in docs/architecture.md"
