"""The configuration example in the README is a valid config (docs that cannot rot)."""

from pathlib import Path

import yaml

from sluice.cascade.plan import Catalogue
from sluice.config import parse_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_yaml_examples_validate() -> None:
    blocks = [b.split("```")[0] for b in README.read_text().split("```yaml")[1:]]
    assert blocks, "the README shows a configuration"
    for block in blocks:
        settings = parse_settings(yaml.safe_load(block), "README.md")
        Catalogue.from_settings(settings)  # every model has a price
