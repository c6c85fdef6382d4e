"""Command line: argv and the environment → Settings → App.

The only module that reads `os.environ` (STYLE.md: one composition root).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sluice import __version__
from sluice.config import ServerSettings, Settings, load_settings, with_overrides
from sluice.errors import ConfigError
from sluice.telemetry.logging import configure_logging, get_logger

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_VERIFIER = "sluice-verifier"


def default_model_dir() -> Path:
    """The model shipped with the source tree (models/ beside daemon/)."""
    return Path(__file__).resolve().parents[2] / "models" / DEFAULT_MODEL


def default_verifier_dir() -> Path:
    """The verifier shipped with the source tree (models/ beside daemon/)."""
    return default_model_dir().parent / DEFAULT_VERIFIER


def default_data_dir() -> Path:
    """$SLUICE_DATA_DIR, else data/ in the source tree (docs/data.md: its layout and sources)."""
    env = os.environ.get("SLUICE_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "data"


def _resolve_model_dir(settings: Settings, flag: Path | None = None) -> Path:
    env = os.environ.get("SLUICE_MODEL_DIR")
    return flag or settings.embedding.model_dir or (Path(env) if env else default_model_dir())


def _resolve_verifier_dir(settings: Settings, enabled: bool | None = None) -> Path | None:
    """cache.verifier.model_dir, else SLUICE_VERIFIER_DIR, else the shipped one; None when off."""
    verifier = settings.cache.verifier
    if not (verifier.enabled if enabled is None else enabled):
        return None
    env = os.environ.get("SLUICE_VERIFIER_DIR")
    return verifier.model_dir or (Path(env) if env else default_verifier_dir())


DESCRIPTION = """\
Sluice: a sidecar that cuts the cost and latency of your app's LLM calls. Your app calls it
over gRPC (or the OpenAI-compatible HTTP front) instead of calling providers; it answers
from a semantic cache when it can, starts at the cheapest tier that will do, escalates
when an answer is unsure, falls back when a provider fails, and reports what each call
cost and what always-premium would have cost."""

ENVIRONMENT = {
    "SLUICE_MODEL_DIR": "the embedding model when neither --model-dir nor "
    "embedding.model_dir names one (default: models/all-MiniLM-L6-v2, shipped)",
    "SLUICE_VERIFIER_DIR": "the cache verifier when cache.verifier.model_dir is not set "
    "(default: models/sluice-verifier, shipped)",
    "SLUICE_DATA_DIR": "`sluice eval`: the public evaluation sets (default: data/ in the "
    "source tree; docs/data.md)",
}


def _environment_help() -> str:
    lines = [
        textwrap.fill(text, 88, initial_indent=f"  {name:<20} ", subsequent_indent=" " * 23)
        for name, text in ENVIRONMENT.items()
    ]
    lines.append("  the variable each provider's api_key_env names: its API key")
    lines.append("  Nothing else is read from the environment.")
    return "environment:\n" + "\n".join(lines)


def _serve_epilog() -> str:
    return f"""\
{_environment_help()}

examples:
  sluice serve --demo                       fake tiers, no keys; then, in another shell,
  sluice demo --address unix:///tmp/sluice.sock
  sluice serve --config /etc/sluice/sluice.yaml
  sluice serve --listen unix:///run/sluice/sluice.sock --openai 127.0.0.1:9091

Every key, its default and whether a reload applies it: docs/configuration.md.
SIGHUP (or a change of the --config file) reloads; SIGTERM drains and stops."""


def _parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="sluice", description=DESCRIPTION, formatter_class=raw,
        epilog="quick start, no keys: `sluice demo` (it starts `sluice serve --demo` itself).\n"
        "`sluice COMMAND --help` for each command; docs/ for the rest.",
    )  # fmt: skip
    parser.add_argument("--version", action="version", version=f"sluice {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve", help="run the daemon", formatter_class=raw, epilog=_serve_epilog(),
        description="Run the daemon: gRPC on the --listen addresses, Prometheus metrics and\n"
        "health on --http, the OpenAI-compatible front on --openai. Each flag overrides the\n"
        "config file's key named in its help.",
    )  # fmt: skip
    serve.add_argument(
        "--config", type=Path, metavar="FILE",
        help="YAML settings (default: none, every key at its embedded default)",
    )  # fmt: skip
    _override_flags(serve)
    serve.add_argument(
        "--ready-file", type=Path, metavar="FILE",
        help="write the bound addresses as JSON here once SERVING (for scripts and tests)",
    )  # fmt: skip
    serve.add_argument(
        "--demo", action="store_true",
        help="serve fake cheap/medium/premium tiers in process (list prices, made-up "
        "answers marked [demo]): no keys, no network; refused with a config that names "
        "providers or tiers, a snapshot folder or fleet mode, so fake answers never mix "
        "with real ones",
    )  # fmt: skip

    sub.add_parser(
        "demo", help="show a miss, an exact hit, a semantic hit, an escalation and the savings",
        description="Send four questions to `sluice serve --demo` and print what each did and "
        "cost. Starts that daemon itself (on a private socket) unless --address is given.",
    ).add_argument("--address", metavar="ADDR", help="a running `sluice serve --demo`")  # fmt: skip

    reference = sub.add_parser(
        "config-reference", help="print the configuration reference (docs/configuration.md)",
        description="Write every settings key, its type, default, reload behaviour and "
        "description as Markdown, generated from the settings model.",
    )  # fmt: skip
    reference.add_argument("--out", type=Path, metavar="FILE", help="write here, not stdout")
    reference.add_argument(
        "--check", action="store_true",
        help="exit 1 when --out differs from what would be written (stale) or a key has no "
        "description",
    )  # fmt: skip

    check = sub.add_parser(
        "check-config",
        help="validate a settings file (with the same flags as serve) and exit",
        description="Check FILE as `sluice serve --config FILE [flags]` would start with it, "
        "without starting: the YAML and every key's type and bounds, the references between "
        "keys (tiers → providers, routing → tiers), a price for every model, the key files "
        "and key variables, the token file, the socket group, the embedding model, the "
        "verifier and the routing policies' files, and fleet mode's Redis. Only binding "
        "the addresses is left to serve. Prints 'FILE: ok' or the key to fix; exit 0 / 2.",
    )  # fmt: skip
    check.add_argument("file", type=Path)
    check.add_argument(
        "--content-only",
        action="store_true",
        help="check the settings alone, not the key files, environment variables, groups "
        "and model folders they name (for CI, away from the pod); by default every check "
        "that serve makes at start except binding",
    )
    _override_flags(check)
    # Accepted so that a pod's argument list (less --config) checks as is (deploy/validate).
    check.add_argument("--ready-file", type=Path, help=argparse.SUPPRESS)

    evaluate = sub.add_parser("eval", help="offline evaluations on public data")
    eval_sub = evaluate.add_subparsers(dest="what", required=True)
    cache = eval_sub.add_parser("cache", help="hit and false-hit rates against the threshold")
    cache.add_argument("--config", type=Path)
    cache.add_argument("--model-dir", type=Path)
    cache.add_argument("--data", type=Path, default=default_data_dir() / "cache",
                       help="the labelled sets (default: $SLUICE_DATA_DIR/cache, else "
                       "data/cache; docs/data.md)")  # fmt: skip
    cache.add_argument("--pairs", type=Path, help="evaluate this TSV (text_a, text_b, label) only")
    cache.add_argument("--limit", type=int, help="at most N pairs per set (seeded sample)")
    cache.add_argument("--json", action="store_true", help="print one JSON object")
    cache.add_argument("--plot", type=Path, help="write a PNG plot here")
    cache.add_argument("--markdown", type=Path, help="write the tables as Markdown here")
    cache.add_argument("--verifier", choices=("off", "on", "both"), default="both",
                       help="cosine alone, with the verifier, or both (default)")  # fmt: skip
    cache.add_argument("--split", choices=("all", "train", "calibration", "test"), default="all",
                       help="only this part of each set (test: unseen in training)")  # fmt: skip
    cache.add_argument("--sets", help="comma-separated subset of the sets (default: all)")
    cache.add_argument("--errors", type=Path, metavar="FILE",
                       help="write every wrong hit and missed paraphrase at the defaults here "
                       "(JSON lines)")  # fmt: skip
    cache.add_argument("--feedback", action="store_true",
                       help="instead of the curves: judge half of the users' wrong hits wrong "
                       "(Feedback) and measure the other half and the same half again, at "
                       "the defaults")  # fmt: skip
    _routing_parsers(eval_sub, sub)
    return parser


def _override_flags(parser: argparse.ArgumentParser) -> None:
    """The flags that override settings: `serve` runs with them, `check-config` checks them."""
    server = ServerSettings()
    parser.add_argument(
        "--listen", action="append", metavar="ADDR",
        help="gRPC address, unix:///path or host:port; repeatable; replaces server.listen "
        f"(default: {' and '.join(server.listen)})",
    )  # fmt: skip
    parser.add_argument(
        "--http", metavar="HOST:PORT",
        help="HTTP port for Prometheus /metrics and /healthz only, nothing else "
        f"(server.http; default: {server.http})",
    )  # fmt: skip
    parser.add_argument(
        "--openai", metavar="ADDR",
        help="HTTP port of the OpenAI-compatible front (/v1/chat/completions, "
        "/v1/embeddings, /v1/models), host:port or unix:///path; off loopback it needs "
        f"--auth-token-file (server.openai; default: {server.openai})",
    )  # fmt: skip
    parser.add_argument(
        "--auth-token-file", type=Path, metavar="FILE",
        help="bearer token every gRPC-over-TCP and front call must send (server."
        "auth_token_file; default: none, so every address must be loopback or a unix socket)",
    )  # fmt: skip
    parser.add_argument(
        "--snapshot-dir", type=Path, metavar="DIR",
        help="where cache snapshots are written and restored from (cache.snapshot_dir; "
        "default: none, the cache lives in memory only)",
    )  # fmt: skip
    parser.add_argument(
        "--model-dir", type=Path, metavar="DIR",
        help="ONNX embedding model folder, model.onnx + tokenizer.json (embedding.model_dir; "
        f"default: $SLUICE_MODEL_DIR, else models/{DEFAULT_MODEL})",
    )  # fmt: skip


def _number(text: str, ok: Callable[[float], bool], expected: str) -> float:
    """`text` as a number that `ok` accepts; else an argparse error saying what was expected."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"{value} is not {expected}")
    return value


def _share(text: str) -> float:
    """A share of the strongest tier's quality: a number in (0, 1.5]."""
    return _number(text, lambda v: 0.0 < v <= 1.5, "in (0, 1.5], e.g. 0.97")


def _level(text: str) -> float:
    """A one-sided confidence level: 0 (off) or a number in [0.5, 1)."""
    return _number(text, lambda v: v == 0.0 or 0.5 <= v < 1.0, "0 or in [0.5, 1), e.g. 0.95")


def _routing_parsers(eval_sub: Any, sub: Any) -> None:
    routing = eval_sub.add_parser("routing", help="replay recorded answers through each policy")
    routing.add_argument("--replay", type=Path, action="append", required=True,
                         help="CSV/JSONL file or data-set folder; repeatable")  # fmt: skip
    routing.add_argument(
        "--config", type=Path, help="tiers and prices (examples/routing-replay.yaml)"
    )
    routing.add_argument("--model-dir", type=Path)
    routing.add_argument("--json", action="store_true", help="print one JSON object")
    routing.add_argument("--markdown", action="store_true", help="tables in Markdown")
    routing.add_argument("--json-out", type=Path, help="also write the JSON object to this file")
    routing.add_argument("--plot", type=Path, help="write a PNG plot here (+ -calibration.png)")
    routing.add_argument("--policies", help="comma-separated subset of the policies")
    routing.add_argument("--seed", type=int, action="append", dest="seeds",
                         help="split seed; repeat for several splits (default: 0)")  # fmt: skip
    routing.add_argument(
        "--folds", type=int, default=4, choices=range(1, 11), metavar="N",
        help="choose operating points on N cross-fitted calibrate parts of the non-test half "
             "(1: the calibrate split alone; default: %(default)s)",
    )  # fmt: skip
    routing.add_argument(
        "--choose-at", type=_share, default=0.95, metavar="SHARE",
        help="choose each operating point where calibration quality reaches SHARE of the "
             "strongest tier's (default: %(default)s)",
    )  # fmt: skip
    routing.add_argument(
        "--choose-bound", type=_level, default=0.95, metavar="LEVEL",
        help="compare SHARE with the one-sided lower bound at LEVEL of a paired bootstrap "
             "of the calibration quality share, a margin sized by the data; 0: with the "
             "estimate itself (default: %(default)s)",
    )  # fmt: skip
    routing.add_argument(
        "--grid", type=int, default=17, choices=range(3, 102), metavar="N",
        help="knob grid of the classifier and the cascades: N quantiles of their score on "
             "calibrate; the point is the cheapest that passes, so a coarse grid overshoots "
             "(earlier versions: 9, which 17 contains; default: %(default)s)",
    )  # fmt: skip
    routing.add_argument("--margin", type=float, default=0.05,
                         help="a tier suffices within this of the best tier's quality")  # fmt: skip
    routing.add_argument("--limit", type=int, help="at most N prompts per data set (seeded)")
    routing.add_argument("--cache-dir", type=Path, help="keep prompt embeddings here")
    routing.add_argument(
        "--save-confidence", type=Path,
        help="write the first data set's learned confidence: FILE.npz the cheapest tier's, "
             "a folder one .npz per tier below the top",
    )  # fmt: skip
    train = sub.add_parser("train", help="train a routing model from replay data")
    train_sub = train.add_subparsers(dest="what", required=True)
    clf = train_sub.add_parser("classifier", help="the complexity classifier (.npz)")
    clf.add_argument("--replay", type=Path, action="append", required=True)
    clf.add_argument("--config", type=Path, help="tiers (and prices) the classes map to")
    clf.add_argument("--out", type=Path, required=True)
    clf.add_argument("--model-dir", type=Path)
    clf.add_argument("--margin", type=float, default=0.05)
    clf.add_argument("--cache-dir", type=Path)


def _overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if args.listen:
        out.setdefault("server", {})["listen"] = tuple(args.listen)
    if args.http:
        out.setdefault("server", {})["http"] = args.http
    if args.openai:
        out.setdefault("server", {})["openai"] = args.openai
    if args.auth_token_file:
        out.setdefault("server", {})["auth_token_file"] = args.auth_token_file
    if args.snapshot_dir:
        out.setdefault("cache", {})["snapshot_dir"] = args.snapshot_dir
    if args.model_dir:
        out.setdefault("embedding", {})["model_dir"] = args.model_dir
    return out


def _secrets(settings: Settings) -> dict[str, str]:
    """Provider keys named by `api_key_env`, read here and nowhere else."""
    names = {p.api_key_env for p in settings.providers.values() if p.api_key_env}
    return {name: os.environ[name] for name in names if name in os.environ}


def _preflight(settings: Settings, *, environment: bool = True, checksums: bool = True) -> None:
    """Every check serve makes at start but binding (sluice.preflight); raises ConfigError."""
    from sluice import preflight  # noqa: PLC0415 - the evals' commands do not need it

    preflight.check(
        settings, secrets=_secrets(settings), model_dir=_resolve_model_dir(settings),
        verifier_dir=_resolve_verifier_dir(settings), environment=environment,
        checksums=checksums,
    )  # fmt: skip


def _serve(args: argparse.Namespace) -> int:
    from sluice.app import App  # noqa: PLC0415 - `check-config` needs no onnxruntime

    overrides = _overrides(args)
    settings = with_overrides(load_settings(args.config), overrides)
    extra: dict[str, Any] = {"config_path": args.config}
    if args.demo:
        from sluice.demo import providers as demo  # noqa: PLC0415 - only the demo needs it

        settings = demo.demo_settings(settings)
        # No reload: a reload would read the file again, without the demo's fake tiers.
        extra = {"config_path": None, "provider_builder": demo.build_fake_providers}
    configure_logging(settings.logging.level, settings.logging.log_prompts)
    if args.demo:
        get_logger("sluice.demo").warning("demo_mode", banner=demo.BANNER)
    model_dir = _resolve_model_dir(settings)
    secrets = _secrets(settings)
    # The same checks as check-config, before anything binds; the models' checksums are
    # checked once, as they load.
    _preflight(settings, checksums=False)

    async def run() -> None:
        # grpc.aio binds the server to the loop it is created in: build it inside.
        app = App(
            settings, model_dir, ready_file=args.ready_file, secrets=secrets,
            overrides=overrides, verifier_dir=_resolve_verifier_dir(settings), **extra,
        )  # fmt: skip
        await app.run()

    asyncio.run(run())
    return 0


def _eval_cache(args: argparse.Namespace) -> int:
    from sluice.app import offline_pipeline  # noqa: PLC0415
    from sluice.evaluation import cache_eval, datasets, verifier_data  # noqa: PLC0415

    settings = load_settings(args.config)
    configure_logging("warning")
    part = None if args.split == "all" else args.split
    try:
        if args.pairs is not None:
            sets = {args.pairs.stem: datasets.read_pairs_tsv(args.pairs)}
        else:
            names = args.sets.split(",") if args.sets else None
            sets = verifier_data.eval_sets(args.data, part, names)
    except (OSError, ValueError) as exc:
        print(f"sluice: {exc}", file=sys.stderr)
        return 2
    sets = {name: cache_eval.sample(pairs, args.limit) for name, pairs in sets.items()}
    protocols = {name: cache_eval.protocol_for(pairs) for name, pairs in sets.items()}
    model_dir = _resolve_model_dir(settings, args.model_dir)
    modes = {"off": ("cosine",), "on": ("verifier",), "both": ("cosine", "verifier")}

    wrong: list[dict[str, Any]] = []

    async def run(mode: str) -> dict[str, Any]:
        verifier_dir = _resolve_verifier_dir(settings, True) if mode == "verifier" else None
        results = {}
        reaches: dict[str, Any] = {}
        seconds = 0.0
        async with offline_pipeline(settings, model_dir, verifier_dir=verifier_dir) as p:
            model_id = p.model_id
            verifier = p.cache.verifier
            default = p.cache.policy("").min_probability if verifier else settings.cache.threshold
            grid = cache_eval.PROBABILITIES if verifier else cache_eval.THRESHOLDS
            grid = tuple(sorted({*grid, default}))
            for name, pairs in sets.items():
                namespace = name.replace("_", "-")[:48]
                outcomes, took = await cache_eval.run_pairs_timed(
                    p, namespace, pairs, protocols[name]
                )
                seconds += took
                results[name] = cache_eval.rows(outcomes, grid)
                if verifier is not None:
                    recall = p.cache.threshold_for(namespace, None, "threshold")
                    reaches[name] = await cache_eval.reach(p, pairs, outcomes, recall)
                if args.errors is not None:
                    found = cache_eval.errors(outcomes, default)
                    await cache_eval.add_cosines(p, found)
                    wrong.extend({"mode": mode, "set": name} | row for row in found)
        report = cache_eval.as_json(default, results, protocols)
        lookups = sum(len(pairs) for pairs in sets.values())
        # Wall clock of the lookup phase over lookups, embedding included, 64 at a time; with
        # the verifier every candidate is scored (score_all): an upper bound of the daemon's.
        report["ms_per_lookup"] = round(1000 * seconds / max(lookups, 1), 3)
        report["embedding_model"] = model_id
        if verifier is not None:
            report |= {"verifier_version": verifier.version,
                       "recall_threshold": settings.cache.verifier.recall_threshold,
                       "order_guard": settings.cache.verifier.order_guard,
                       "guards": sorted(settings.cache.verifier.guards),
                       "reach": {name: asdict(r) for name, r in reaches.items()}}  # fmt: skip
        return {"default": default, "results": results, "json": report, "reach": reaches}

    if args.feedback:
        return _eval_cache_feedback(args, settings, model_dir, sets)
    out = {mode: asyncio.run(run(mode)) for mode in modes[args.verifier]}
    _report_eval_cache(args, out, protocols, wrong)
    return 0


def _eval_cache_feedback(
    args: argparse.Namespace,
    settings: Settings,
    model_dir: Path,
    sets: dict[str, Any],
) -> int:
    """`sluice eval cache --feedback` (evaluation/feedback_eval.py)."""
    import json  # noqa: PLC0415 - the eval's imports stay out of `serve`

    from sluice.app import offline_pipeline  # noqa: PLC0415
    from sluice.evaluation import feedback_eval  # noqa: PLC0415

    modes = {"off": ("cosine",), "on": ("verifier",), "both": ("cosine", "verifier")}

    async def run(mode: str) -> dict[str, Any]:
        verifier_dir = _resolve_verifier_dir(settings, True) if mode == "verifier" else None
        async with offline_pipeline(settings, model_dir, verifier_dir=verifier_dir) as p:
            return {
                name: await feedback_eval.feedback_run(p, name.replace("_", "-")[:48], pairs)
                for name, pairs in sets.items()
            }

    out = {mode: asyncio.run(run(mode)) for mode in modes[args.verifier]}
    if args.json:
        report = {mode: feedback_eval.as_json(figures) for mode, figures in out.items()}
        print(json.dumps({"split": args.split, "feedback": report}))
        return 0
    for mode, figures in out.items():
        print(f"\n=== {mode}: judging the first half's wrong hits wrong ===")
        print(feedback_eval.format_table(figures))
    return 0


def _report_eval_cache(
    args: argparse.Namespace,
    out: dict[str, dict[str, Any]],
    protocols: dict[str, str],
    wrong: list[dict[str, Any]],
) -> None:
    """`sluice eval cache`'s outputs: plots, Markdown, JSON or tables, the --errors file."""
    import json  # noqa: PLC0415 - the eval's imports stay out of `serve`

    from sluice.evaluation import cache_eval  # noqa: PLC0415

    if args.errors is not None:
        args.errors.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in wrong))
    column = {"cosine": "threshold", "verifier": "min P"}
    for mode, r in out.items():
        suffix = "" if mode == "cosine" else "-verifier"
        if args.plot is not None:
            cache_eval.plot(
                r["results"], r["default"], args.plot.with_stem(args.plot.stem + suffix),
                xlabel="cosine threshold" if mode == "cosine" else "verifier min_probability",
            )  # fmt: skip
        if args.markdown is not None:
            shown = (
                cache_eval.SHOWN_THRESHOLDS if mode == "cosine" else cache_eval.SHOWN_PROBABILITIES
            )
            text = cache_eval.markdown(r["results"], r["default"], protocols, shown, column[mode])
            args.markdown.with_stem(args.markdown.stem + suffix).write_text(text + "\n")
    if args.json:
        print(json.dumps({"split": args.split} | {m: r["json"] for m, r in out.items()}))
    else:
        for mode, r in out.items():
            print(f"\n=== {mode} ===")
            print(cache_eval.format_table(r["results"], r["default"], protocols, column[mode]))
            for name, reached in r["reach"].items():
                print(cache_eval.format_reach(name, reached))
        for mode, r in out.items():
            print(f"{mode}: {r['json']['ms_per_lookup']:.2f} ms per lookup (wall clock, "
                  "embedding included, 64 lookups at a time)")  # fmt: skip
    if args.errors is not None:
        print(f"{len(wrong)} wrong hits and missed paraphrases written to {args.errors}",
              file=sys.stderr)  # fmt: skip


def _routing(args: argparse.Namespace) -> int:
    from sluice.evaluation import routing_run  # noqa: PLC0415 - the eval's imports stay out of `serve`
    from sluice.evaluation.routing_metrics import ChoiceRule  # noqa: PLC0415 - same

    settings = load_settings(args.config)
    configure_logging("warning")
    model_dir = _resolve_model_dir(settings, args.model_dir)
    if args.command == "train":
        return routing_run.train_classifier(
            settings, model_dir, replay=args.replay, out=args.out, cache_dir=args.cache_dir,
            margin=args.margin,
        )  # fmt: skip
    return routing_run.eval_routing(
        settings, model_dir, replay=args.replay, json_out=args.json, plot_path=args.plot,
        cache_dir=args.cache_dir, seeds=args.seeds or [0], margin=args.margin, folds=args.folds,
        rule=ChoiceRule(args.choose_at, args.choose_bound, args.grid),
        policies=args.policies.split(",") if args.policies else None, limit=args.limit,
        save_confidence=args.save_confidence, markdown=args.markdown, json_file=args.json_out,
    )  # fmt: skip


def _demo(args: argparse.Namespace) -> int:
    from sluice.demo import client  # noqa: PLC0415 - grpc stubs only for the demo

    return client.run(args.address)


def _config_reference(args: argparse.Namespace) -> int:
    from sluice import config_doc  # noqa: PLC0415 - only this command walks the model

    out, check = args.out, args.check

    text = config_doc.render()
    missing = config_doc.undocumented()
    if missing:
        print(f"sluice: keys without a description (add description= in config.py): "
              f"{', '.join(missing)}", file=sys.stderr)  # fmt: skip
    if check:
        stale = out is None or not out.is_file() or out.read_text(encoding="utf-8") != text
        if stale:
            print(f"sluice: {out} is stale: run `make config-doc` and commit it", file=sys.stderr)
        return 1 if stale or missing else 0
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
    return 1 if missing else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "check-config":
            settings = with_overrides(load_settings(args.file), _overrides(args))
            _preflight(settings, environment=not args.content_only)
            print(f"{args.file}: ok")
            return 0
        if args.command in ("demo", "config-reference"):
            return _demo(args) if args.command == "demo" else _config_reference(args)
        if args.command == "train" or (args.command == "eval" and args.what == "routing"):
            return _routing(args)
        if args.command == "eval":
            return _eval_cache(args)
        return _serve(args)
    except ConfigError as exc:
        print(f"sluice: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
