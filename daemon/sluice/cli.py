"""Command line: argv and the environment → Settings → App.

The only module that reads `os.environ` (STYLE.md: one composition root).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sluice import __version__
from sluice.config import Settings, load_settings, with_overrides
from sluice.errors import ConfigError
from sluice.telemetry.logging import configure_logging

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def default_model_dir() -> Path:
    """The model shipped with the source tree (models/ beside daemon/)."""
    return Path(__file__).resolve().parents[2] / "models" / DEFAULT_MODEL


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sluice", description=__doc__)
    parser.add_argument("--version", action="version", version=f"sluice {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the daemon")
    serve.add_argument("--config", type=Path, help="YAML settings (default: embedded defaults)")
    serve.add_argument(
        "--listen",
        action="append",
        metavar="ADDR",
        help="gRPC address, unix:///path or host:port; repeatable; replaces server.listen",
    )
    serve.add_argument("--http", metavar="HOST:PORT", help="metrics/health port (server.http)")
    serve.add_argument("--snapshot-dir", type=Path, help="cache snapshots (cache.snapshot_dir)")
    serve.add_argument("--model-dir", type=Path, help="ONNX embedding model directory")
    serve.add_argument(
        "--ready-file", type=Path, help="write bound addresses as JSON here once SERVING"
    )

    check = sub.add_parser("check-config", help="validate a settings file and exit")
    check.add_argument("file", type=Path)
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if args.listen:
        out.setdefault("server", {})["listen"] = tuple(args.listen)
    if args.http:
        out.setdefault("server", {})["http"] = args.http
    if args.snapshot_dir:
        out.setdefault("cache", {})["snapshot_dir"] = args.snapshot_dir
    if args.model_dir:
        out.setdefault("embedding", {})["model_dir"] = args.model_dir
    return out


def _secrets(settings: Settings) -> dict[str, str]:
    """Provider keys named by `api_key_env`, read here and nowhere else."""
    names = {p.api_key_env for p in settings.providers.values() if p.api_key_env}
    return {name: os.environ[name] for name in names if name in os.environ}


def _serve(args: argparse.Namespace) -> int:
    from sluice.app import App  # imported late: `check-config` needs no onnxruntime

    settings = with_overrides(load_settings(args.config), _overrides(args))
    configure_logging(settings.logging.level, settings.logging.log_prompts)
    model_dir = (
        settings.embedding.model_dir
        or (Path(os.environ["SLUICE_MODEL_DIR"]) if os.environ.get("SLUICE_MODEL_DIR") else None)
        or default_model_dir()
    )
    secrets = _secrets(settings)

    async def run() -> None:
        # grpc.aio binds the server to the loop it is created in: build it inside.
        await App(settings, model_dir, ready_file=args.ready_file, secrets=secrets).run()

    asyncio.run(run())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "check-config":
            load_settings(args.file)
            print(f"{args.file}: ok")
            return 0
        return _serve(args)
    except ConfigError as exc:
        print(f"sluice: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
