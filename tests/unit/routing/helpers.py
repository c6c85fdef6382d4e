"""A three-tier catalogue for routing tests."""

from __future__ import annotations

from sluice.cascade.plan import Catalogue
from sluice.config import parse_settings

CONFIG = {
    "providers": {"p": {"kind": "openai", "base_url": "http://x.invalid/v1"}},
    "tiers": [
        {"name": "cheap", "deployments": [{"provider": "p", "model": "gpt-4o-mini"}]},
        {"name": "medium", "deployments": [{"provider": "p", "model": "gemini-1.5-flash"}]},
        {"name": "premium", "deployments": [{"provider": "p", "model": "gpt-4o"}]},
    ],
}


def catalogue() -> Catalogue:
    return Catalogue.from_settings(parse_settings(CONFIG))
