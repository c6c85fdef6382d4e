"""Everything `serve` refuses at start, checked without binding a port or loading a model.

`sluice check-config` runs `check`; `serve` runs it too before it listens, so a file that
check-config passes is one that serve starts with (issue #17: check-config passed files
with an unreadable key file or an unset key variable). Binding is the one check left to
serve: a port in use is only known by trying.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sluice.auth import read_token
from sluice.cascade.plan import Catalogue
from sluice.config import Settings
from sluice.embedding.model import MODEL_DIR_KEY, model_id, weights_file
from sluice.fleet.check import check_fleet
from sluice.models_path import api_key, probability_scorer
from sluice.onnx_session import model_files
from sluice.routing.router import build_router
from sluice.sockets import group_id
from sluice.verifier.model import VERIFIER_KEY, read_card


def check(
    settings: Settings,
    *,
    secrets: Mapping[str, str],
    model_dir: Path,
    verifier_dir: Path | None,
    environment: bool = True,
    checksums: bool = True,
) -> None:
    """Raise the ConfigError serve would raise at start (naming the key), or return.

    `environment=False` checks the settings alone, not the files, variables and groups
    they name: for CI checking a pod's config away from the pod (`--content-only`).
    `checksums=False` leaves out what reads the models whole (the embedding model's id
    that a classifier must match, the verifier's sha256): serve, which checks both when
    it loads the models moments later, so start-up hashes each model once.
    """
    # Tiers are priced here too: a model without a price is a config error.
    catalogue = Catalogue.from_settings(settings)
    if not environment:
        return
    server = settings.server
    if server.auth_token_file is not None:
        read_token(server.auth_token_file)
    group_id(server.socket_group)
    for name, provider in settings.providers.items():
        api_key(name, provider, secrets)
    probability_scorer(settings)
    precision = settings.embedding.precision
    model_files(model_dir, MODEL_DIR_KEY, weights_file(model_dir, precision))
    # The classifier's embedding model must be the daemon's ("" skips that check); the bandit's
    # width is not checked here (the model's dimensions, known once the model is loaded).
    embedding_id = model_id(model_dir, precision) if checksums else ""
    build_router(settings.routing, catalogue, dimensions=1, model_id=embedding_id)
    if verifier_dir is not None and checksums:
        read_card(verifier_dir)
    elif verifier_dir is not None:
        model_files(verifier_dir, VERIFIER_KEY)
    # Connect + AUTH + PING: a wrong password or TLS mismatch fails here, naming its key.
    check_fleet(settings.fleet)
