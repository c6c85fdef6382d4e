"""Drives `sluice eval routing` and `sluice train classifier` (argv is parsed in cli.py)."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

from sluice.app import offline_pipeline
from sluice.cascade.learned import TierScorer
from sluice.config import Settings
from sluice.embedding.model import OnnxEmbedder
from sluice.evaluation.embed_cache import TableEmbedder, embed_cached
from sluice.evaluation.replay_data import ReplaySet, load_replay
from sluice.evaluation.replay_provider import ReplayProvider
from sluice.evaluation.routing_eval import (
    POLICIES,
    DatasetResult,
    Models,
    Split,
    Tiers,
    Vectors,
    evaluate,
    fit_classifier,
)
from sluice.evaluation.routing_metrics import ChoiceRule
from sluice.evaluation.routing_report import as_json, format_table, plot, plot_calibration


def _load(paths: list[Path], limit: int | None) -> list[ReplaySet]:
    sets = [load_replay(p) for p in paths]
    if limit is not None:
        import random  # noqa: PLC0415

        out = []
        for s in sets:
            rows = list(s.rows)
            if len(rows) > limit:
                rows = random.Random(0).sample(rows, limit)  # noqa: S311 - sampling
            out.append(ReplaySet(s.name, s.models, tuple(rows), s.dropped, s.note))
        sets = out
    return sets


def vectors_for(
    settings: Settings, model_dir: Path, sets: list[ReplaySet], cache: Path | None
) -> tuple[Vectors, OnnxEmbedder]:
    emb = settings.embedding
    embedder = TableEmbedder(model_dir, {}, threads=emb.threads, max_tokens=emb.max_tokens)
    vectors: Vectors = {}
    for s in sets:
        vectors.update(embed_cached(embedder, [r.prompt for r in s.rows], cache))
    embedder.table = vectors
    return vectors, embedder


def _for_replay(settings: Settings) -> Settings:
    """The config with the cache off: every request reaches the router and the cascade."""
    data = settings.model_dump(mode="python")
    data["cache"] = {**data["cache"], "enabled": False}
    return Settings.model_validate(data)


async def _evaluate(
    settings: Settings, model_dir: Path, sets: list[ReplaySet], vectors: Vectors, *,
    embedder: OnnxEmbedder, seeds: list[int], margin: float, policies: list[str], folds: int,
    rule: ChoiceRule,
) -> list[tuple[DatasetResult, Models]]:  # fmt: skip
    out = []
    for data, seed in ((d, s) for d in sets for s in seeds):
        provider = ReplayProvider("replay", data.rows)
        providers = {name: provider for name in settings.providers}
        tiers = Tiers.from_settings(settings, data)
        async with offline_pipeline(
            settings, model_dir, providers=providers, embedder=embedder
        ) as pipeline:
            out.append(
                await evaluate(
                    pipeline, data, tiers, vectors, seed=seed, margin=margin,
                    policies=policies, model_id=embedder.model_id, folds=folds, rule=rule,
                )
            )  # fmt: skip
    return out


def eval_routing(
    settings: Settings, model_dir: Path, *, replay: list[Path], json_out: bool,
    plot_path: Path | None, cache_dir: Path | None, seeds: list[int], margin: float,
    folds: int, rule: ChoiceRule,
    policies: list[str] | None, limit: int | None, save_confidence: Path | None,
    markdown: bool, json_file: Path | None = None,
) -> int:  # fmt: skip
    settings = _for_replay(settings)
    try:
        unknown = sorted(set(policies or ()) - set(POLICIES))
        if unknown:
            raise ValueError(f"unknown policies {unknown}; choose from {', '.join(POLICIES)}")
        sets = _load(replay, limit)
        for data in sets:
            Tiers.from_settings(settings, data)  # fail before the embedding work
        vectors, embedder = vectors_for(settings, model_dir, sets, cache_dir)
    except (FileNotFoundError, ValueError) as exc:
        print(f"sluice: {exc}", file=sys.stderr)
        return 2
    results = asyncio.run(
        _evaluate(
            settings, model_dir, sets, vectors, embedder=embedder, seeds=seeds, margin=margin,
            policies=policies or list(POLICIES), folds=folds, rule=rule,
        )
    )  # fmt: skip
    datasets = [r for r, _ in results]
    if plot_path is not None:
        plot(datasets, plot_path)
        plot_calibration(datasets, plot_path.with_name(plot_path.stem + "-calibration.png"))
    if save_confidence is not None and results:
        save_scorers(results[0][1].confidence, save_confidence)
    if json_file is not None:
        json_file.write_text(json.dumps(as_json(datasets), indent=1))
    if json_out:
        print(json.dumps(as_json(datasets)))
    else:
        print(format_table(datasets, markdown=markdown))
    return 0


def save_scorers(confidence: TierScorer, out: Path) -> None:
    """FILE.npz: the cheapest tier's scorer (for `cascade.confidence.learned_path`). A
    folder: one file per tier below the strongest, and the config lines that load them."""
    models = list(confidence.scorers)
    if out.suffix == ".npz":
        confidence.scorers[models[0]].save(out)
        print(f"{out}: learned confidence of {models[0]} (cascade.confidence.learned_path)",
              file=sys.stderr)  # fmt: skip
        return
    lines = ["cascade:", "  confidence:", "    learned_by_model:"]
    for model, scorer in confidence.scorers.items():
        path = out / (re.sub(r"[^A-Za-z0-9._-]+", "_", model) + ".npz")
        scorer.save(path)
        lines.append(f"      {json.dumps(model)}: {json.dumps(str(path))}")
    print("\n".join([f"{out}: one learned confidence per tier; in the config:", *lines]),
          file=sys.stderr)  # fmt: skip


def train_classifier(
    settings: Settings, model_dir: Path, *, replay: list[Path], out: Path,
    cache_dir: Path | None, margin: float,
) -> int:  # fmt: skip
    """Fit the complexity classifier on every row of the replay files (no test split here)."""
    try:
        sets = _load(replay, None)
        vectors, embedder = vectors_for(settings, model_dir, sets, cache_dir)
        rows = tuple(r for s in sets for r in s.rows)
        merged = ReplaySet("train", sets[0].models, rows)
        tiers = Tiers.from_settings(settings, merged)
    except (FileNotFoundError, ValueError) as exc:
        print(f"sluice: {exc}", file=sys.stderr)
        return 2
    n_cal = max(1, len(rows) // 5)  # the l2 penalty is chosen on a fifth of the rows
    clf = fit_classifier(Split(rows[n_cal:], rows[:n_cal], ()), tiers, vectors, margin,
                         embedder.model_id)  # fmt: skip
    clf.save(out)
    print(f"{out}: classifier over tiers {list(clf.tiers)} from {len(rows)} prompts")
    return 0
