"""Prometheus metrics, on a registry owned by the app (tests build several apps).

Every alert in deploy/alerts names only metrics defined here; a test scrapes
`/metrics` and checks that.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
_SIMILARITY_BUCKETS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.96, 0.97, 0.98, 0.99, 1.0)


class Metrics:
    """All of the daemon's metrics. Label sets are small and bounded by config."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.ready = Gauge("sluice_ready", "1 when health is SERVING.", registry=r)
        self.rpc_requests = Counter(
            "sluice_rpc_requests", "gRPC calls by method and status code.", ["method", "code"],
            registry=r,
        )  # fmt: skip
        self.rpc_latency = Histogram(
            "sluice_rpc_duration_seconds", "gRPC call latency by method.", ["method"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        # ---- embedding
        self.embed_texts = Counter("sluice_embed_texts", "Texts embedded.", registry=r)
        self.embed_truncated = Counter(
            "sluice_embed_truncated", "Texts cut at the model's token limit.", registry=r
        )
        self.embed_batch_size = Histogram(
            "sluice_embed_batch_size", "Texts per onnxruntime call.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256), registry=r,
        )  # fmt: skip
        self.embed_latency = Histogram(
            "sluice_embed_batch_seconds", "Duration of one onnxruntime call.",
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        # ---- cache
        self.cache_lookups = Counter(
            "sluice_cache_lookups",
            "Cache lookups by result: exact, semantic, miss, skipped.", ["result"], registry=r,
        )  # fmt: skip
        self.cache_similarity = Histogram(
            "sluice_cache_similarity", "Cosine similarity of the best semantic candidate.",
            buckets=_SIMILARITY_BUCKETS, registry=r,
        )  # fmt: skip
        self.cache_entries = Gauge("sluice_cache_entries", "Entries in the cache.", registry=r)
        self.cache_bytes = Gauge("sluice_cache_bytes", "Approximate cache size.", registry=r)
        self.cache_stores = Counter("sluice_cache_stores", "Entries stored.", registry=r)
        self.cache_evictions = Counter(
            "sluice_cache_evictions", "Entries removed by reason: lru, bytes, expired.",
            ["reason"], registry=r,
        )  # fmt: skip
        self.cache_unsupported = Counter(
            "sluice_cache_unsupported_text",
            "Lookups kept to the exact layer: text not covered by the embedding model.",
            registry=r,
        )
        self.cache_feedback = Counter(
            "sluice_cache_feedback",
            "Feedback on answers the cache served or stored, by what it did: removed (an exact "
            "or same-question answer judged wrong), narrowed (a semantic hit judged wrong), "
            "kept (judged good enough), gone (the entry had left the cache).",
            ["action"], registry=r,
        )  # fmt: skip
        self.verifier_info = Gauge(
            "sluice_cache_verifier_info", "1 for the loaded verifier model's version.",
            ["version"], registry=r,
        )  # fmt: skip
        self.verifier_decisions = Counter(
            "sluice_cache_verifier_decisions",
            "Verifier decisions on semantic candidates: accept (served), reject, same_pieces "
            "(served without a model run), order_guard / number_guard / substitution_guard "
            "(vetoed by the rule).",
            ["decision"], registry=r,
        )  # fmt: skip
        self.verifier_score = Histogram(
            "sluice_cache_verifier_score", "Verifier P(same meaning) of each candidate scored.",
            buckets=(0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99, 1.0),
            registry=r,
        )  # fmt: skip
        self.verifier_seconds = Histogram(
            "sluice_cache_verifier_seconds", "Duration of one verifier call (all candidates).",
            buckets=(0.001, 0.002, 0.003, 0.004, 0.006, 0.008, 0.012, 0.02, 0.05, 0.1, 0.25),
            registry=r,
        )  # fmt: skip
        self.snapshot_seconds = Histogram(
            "sluice_snapshot_seconds", "Duration of a snapshot write.",
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        # ---- completions, cascade, providers
        self.completions = Counter(
            "sluice_completions",
            "Answered completions by source (cache, model) and whether degraded.",
            ["source", "degraded"], registry=r,
        )  # fmt: skip
        self.provider_calls = Counter(
            "sluice_provider_calls", "Provider calls by provider, model and outcome.",
            ["provider", "model", "outcome"], registry=r,
        )  # fmt: skip
        self.model_latency = Histogram(
            "sluice_model_latency_seconds", "Provider call latency by model.",
            ["provider", "model"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.escalations = Counter(
            "sluice_escalations", "Escalations to a higher tier.", ["from_tier", "to_tier"],
            registry=r,
        )  # fmt: skip
        self.fallbacks = Counter(
            "sluice_fallbacks", "Fallbacks to another deployment after a failure.",
            ["from_provider"], registry=r,
        )  # fmt: skip
        self.circuit_state = Gauge(
            "sluice_circuit_state", "Circuit breaker: 0 closed, 1 half-open, 2 open.",
            ["provider"], registry=r,
        )  # fmt: skip
        self.tokens = Counter(
            "sluice_tokens", "Tokens by model and kind (input, output, cached_input).",
            ["model", "kind"], registry=r,
        )  # fmt: skip
        self.cost_usd = Counter(
            "sluice_cost_usd", "Money spent on provider calls, by model.", ["model"], registry=r
        )
        self.baseline_cost_usd = Counter(
            "sluice_baseline_cost_usd",
            "What the same requests would have cost on the premium model (cache hits included).",
            registry=r,
        )
        self.budget_remaining_usd = Gauge(
            "sluice_budget_remaining_usd", "Budget left in the current window.", ["namespace"],
            registry=r,
        )  # fmt: skip
        # ---- fleet (Redis; issue #20)
        self.fleet_degraded = Gauge(
            "sluice_fleet_degraded",
            "1 while fleet mode is on and Redis is down or slow (local state decides).",
            registry=r,
        )
        self.fleet_call_failures = Counter(
            "sluice_fleet_call_failures",
            "Redis calls given up (error, timeout, or skipped while degraded), by purpose.",
            ["what"], registry=r,
        )  # fmt: skip
        self.fleet_cache_published = Counter(
            "sluice_fleet_cache_published",
            "Cache events written to Redis by kind (put, delete, drop) and outcome.",
            ["kind", "outcome"], registry=r,
        )  # fmt: skip
        self.fleet_cache_received = Counter(
            "sluice_fleet_cache_received",
            "Other pods' cache events applied here, by kind and outcome "
            "(applied, stale, other_model, expired, bad).",
            ["kind", "outcome"], registry=r,
        )  # fmt: skip
        self.fleet_bandit_pods = Gauge(
            "sluice_fleet_bandit_pods",
            "Other pods whose bandit learning this pod's model includes, by policy.",
            ["policy"], registry=r,
        )  # fmt: skip
        self.fleet_bandit_published = Counter(
            "sluice_fleet_bandit_published",
            "This pod's bandit statistics written to Redis, by policy.",
            ["policy"], registry=r,
        )  # fmt: skip
        self.fleet_bandit_refused = Counter(
            "sluice_fleet_bandit_refused",
            "Other pods' bandit statistics not merged, by policy and reason "
            "(shape, tag, bad).",
            ["policy", "reason"], registry=r,
        )  # fmt: skip
