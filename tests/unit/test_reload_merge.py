"""Which settings a reload applies at once and which wait for a restart."""

from __future__ import annotations

from sluice.config import parse_settings
from sluice.reload import merge


def test_verifier_thresholds_apply_at_once_its_model_waits_for_a_restart() -> None:
    running = parse_settings({})
    new = parse_settings(
        {
            "cache": {
                "verifier": {
                    "enabled": False, "model_dir": "/elsewhere", "threads": 2,
                    "min_probability": 0.99, "recall_threshold": 0.85, "candidates": 2,
                },
            },
        }
    )  # fmt: skip
    merged, restart = merge(running, new)
    v = merged.cache.verifier
    assert (v.min_probability, v.recall_threshold, v.candidates) == (0.99, 0.85, 2)
    assert (v.enabled, v.model_dir, v.threads) == (True, None, 1)
    assert sorted(restart) == [
        "cache.verifier.enabled", "cache.verifier.model_dir", "cache.verifier.threads"
    ]  # fmt: skip
    assert merge(running, running)[1] == []
