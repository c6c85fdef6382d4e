"""The fleet overlay's config is the base's plus `fleet:` (kustomize cannot read the base's
file from an overlay, so it is a copy; this keeps the copy from drifting)."""

from __future__ import annotations

import yaml

from sluice.config import parse_settings
from tests.support.daemon import REPO

KUBE = REPO / "deploy" / "kubernetes"


def test_the_fleet_overlay_is_the_base_config_plus_fleet() -> None:
    base = yaml.safe_load((KUBE / "base" / "sluice.yaml").read_text())
    fleet = yaml.safe_load((KUBE / "overlays" / "fleet" / "sluice.yaml").read_text())
    section = fleet.pop("fleet")
    assert fleet == base
    settings = parse_settings({**base, "fleet": section}, "overlays/fleet/sluice.yaml")
    assert settings.fleet.enabled
    assert settings.fleet.password_file is not None
