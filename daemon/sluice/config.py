"""Typed, validated settings. One YAML file; errors name the key and the reason.

The defaults are embedded here, so the daemon runs with no file at all. This
module never reads the environment: `cli.py` does, and passes values in.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sluice.errors import ConfigError
from sluice.namespaces import check_names
from sluice.routing_config import RoutingSettings
from sluice.types import Guard

# The longest time to live, for the config and for requests alike (cache.expiry): an
# expiry must stay a valid protobuf Timestamp (year ≤ 9999). Ten years is far from it.
MAX_TTL_S = 10 * 365 * 86400

Fraction = Annotated[float, Field(gt=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def validate_listen_address(addr: str) -> str:
    """`unix:///abs/path` or `host:port` (port may be 0 for an ephemeral port)."""
    if addr.startswith("unix://"):
        path = addr.removeprefix("unix://")
        if not path.startswith("/"):
            raise ValueError(f"{addr!r}: a unix socket address must be absolute: unix:///path")
        return addr
    host, sep, port = addr.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{addr!r}: expected host:port or unix:///path")
    if "/" in host:  # "tcp://…", "http://…": it passed as a host and was called off loopback
        raise ValueError(f"{addr!r}: expected host:port without a scheme or path, or unix:///path")
    return addr


def is_loopback(addr: str) -> bool:
    """True for a unix socket or a loopback host (127.0.0.0/8, ::1, localhost)."""
    if addr.startswith("unix://"):
        return True
    host = addr.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


class ServerSettings(_Strict):
    # Loopback TCP plus a unix socket by default: pod-local only.
    listen: tuple[str, ...] = ("127.0.0.1:50051", "unix:///tmp/sluice.sock")
    # Prometheus `/metrics` and `/healthz` only: safe to bind off loopback for a scraper.
    http: str | None = "127.0.0.1:9090"
    # The OpenAI-compatible front (`/v1/...`): it spends provider money, so it is pod-local
    # unless server.auth_token_file is set. Not 8080: the app in the same pod likely has it.
    openai: str | None = "127.0.0.1:9091"
    max_message_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=64 * 1024,
        le=256 * 1024 * 1024,
        description="Largest gRPC message and HTTP request body accepted, in bytes.",
    )
    # How long in-flight calls may finish after SIGTERM (keep below the pod's
    # terminationGracePeriodSeconds).
    grace_period_s: float = Field(default=10.0, ge=0.0, le=600.0)
    # Unix sockets: owner-only by default; with a group, 0o660 unless socket_mode is set.
    socket_mode: int = Field(default=0o600, ge=0, le=0o777)
    socket_group: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Group allowed to use the unix sockets (mode 0o660 unless socket_mode is "
        "set); null: the daemon's own group only.",
    )
    # A file holding the bearer token every TCP call must send (`authorization: Bearer …`);
    # required when a gRPC address or the OpenAI front is off loopback. Health checks and
    # /metrics are exempt (docs/RELIABILITY.md).
    auth_token_file: Path | None = None
    max_concurrent_rpcs: int | None = Field(
        default=None,
        ge=1,
        description="gRPC calls served at once; past it calls are refused with "
        "RESOURCE_EXHAUSTED. null: no limit.",
    )
    # HTTP listeners (metrics and front): a connection that has not sent a complete request
    # head this long after connecting or after its last response is closed (slow or idle).
    http_idle_timeout_s: float = Field(default=15.0, gt=0.0, le=3600.0)
    # The front only: the whole request body must arrive within this (a slow upload is cut).
    http_body_timeout_s: float = Field(default=30.0, gt=0.0, le=3600.0)
    # Open connections per HTTP listener; more are answered 429 and closed, so a flood of
    # one listener cannot take the file descriptors the others (and gRPC) need.
    http_max_connections: int = Field(default=512, ge=1, le=65536)

    @model_validator(mode="before")
    @classmethod
    def _group_mode(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("socket_group") and "socket_mode" not in data:
            return {**data, "socket_mode": 0o660}
        return data

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one address is required")
        return tuple(validate_listen_address(a) for a in value)

    @field_validator("http")
    @classmethod
    def _check_http(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("unix://"):
            raise ValueError("the metrics port must be host:port (Prometheus scrapes TCP)")
        return None if value is None else validate_listen_address(value)

    @field_validator("openai")
    @classmethod
    def _check_openai(cls, value: str | None) -> str | None:
        return None if value is None else validate_listen_address(value)

    @model_validator(mode="after")
    def _check_auth(self) -> ServerSettings:
        exposed = [a for a in self.listen if not is_loopback(a)]
        if exposed and self.auth_token_file is None:
            raise ValueError(
                f"server.auth_token_file: {exposed[0]!r} is off loopback; set "
                "server.auth_token_file (a bearer token every call must send), or listen on "
                "127.0.0.1 / a unix socket (mTLS is not built)"
            )
        if self.openai is not None and not is_loopback(self.openai) and not self.auth_token_file:
            raise ValueError(
                f"server.auth_token_file: the OpenAI front (server.openai, --openai) "
                f"{self.openai!r} is off loopback, where anyone who reaches it spends your "
                "provider budget; set server.auth_token_file (clients send it as their API "
                "key), or bind server.openai to 127.0.0.1:PORT / unix:///path"
            )
        return self


# `embedding.languages`: this entry alone turns the language check off.
ANY_LANGUAGE = "*"
# The 140 labels of py3langid 0.4.0's model (sluice/embedding/language.py): the languages
# `embedding.languages` can name. tests/unit/embedding/test_language.py compares them with
# the model's own list.
# fmt: off
LANGUAGE_LABELS = frozenset((
    "ace", "af", "am", "an", "ar", "ary", "arz", "as", "az", "ba", "bcl", "be", "bg", "bn", "br",
    "bs", "ca", "crh", "cs", "cy", "da", "de", "dz", "el", "en", "eo", "es", "et", "eu", "ext",
    "fa", "fi", "fo", "fr", "fuv", "fy", "ga", "gcf", "gcr", "gd", "gl", "gom", "grc", "gu",
    "gug", "guw", "ha", "hbo", "he", "hi", "hr", "ht", "hu", "hy", "id", "ig", "is", "it", "ja",
    "jv", "ka", "kab", "kik", "kk", "km", "kn", "ko", "ku", "ky", "la", "lb", "lg", "lij", "ln",
    "lo", "lt", "ltg", "lv", "mg", "mk", "ml", "mn", "mr", "ms", "mt", "my", "ne", "nl", "nn",
    "no", "nso", "oc", "om", "or", "pa", "pcm", "pl", "ps", "pt", "qu", "ro", "ru", "rw", "sa",
    "sdh", "se", "si", "sk", "sl", "sn", "so", "sq", "sr", "st", "sv", "sw", "ta", "te", "tg",
    "th", "tk", "tl", "tr", "tt", "ug", "uk", "ur", "uz", "uzs", "vec", "vi", "vo", "wa", "wuu",
    "xh", "yo", "yue", "zh", "zu", "zxx",
))
# fmt: on


class EmbeddingSettings(_Strict):
    # None: the model shipped in the repository / image (resolved by the CLI).
    model_dir: Path | None = None
    # The questions' CPU budget in cores: question batches (embedding, then each lookup's
    # vector search and verifier) run side by side on this many threads, each onnxruntime
    # call on one thread that never spin-waits (issue #19; was intra-op threads of one call,
    # which spun). The sidecar usually gets 1–2 cores.
    threads: int = Field(default=2, ge=1, le=64)
    # Threads of the bulk lane (the Embed RPC, POST /v1/embeddings), at nice +10 so that
    # questions keep the CPU they need; each runs one caller's Embed at a time. None: as
    # many as `threads`. One thread halved bulk texts/s with the int8 model, which runs
    # each text alone (issue #19, docs/cpu.md).
    bulk_threads: int | None = Field(default=None, ge=1, le=64)
    # Which weights of the folder run (issue #19): "int8" is model.int8.onnx (dynamic int8,
    # each text run alone), "fp32" is model.onnx, "auto" the int8 file when the folder has
    # one, else model.onnx. Vectors and trained classifiers are tied to the file that runs
    # (its sha256 is in the model id); a snapshot of another file restores its exact layer.
    precision: Literal["auto", "int8", "fp32"] = "auto"
    # Sentence-transformers' limit for MiniLM; longer texts are cut and reported.
    max_tokens: int = Field(default=256, ge=8, le=8192)
    max_batch: int = Field(
        default=64,
        ge=1,
        le=1024,
        description="Texts per onnxruntime call at most (max_batch_tokens usually binds first).",
    )
    # Padded tokens (texts × longest) per onnxruntime call. Attention memory grows with
    # texts × length²: one 64×256 call took the daemon to 1.3 GB. A question waits for at
    # most one such call of a bulk Embed; at 1024 (4 texts of 256 tokens, or 64 short ones)
    # per-text speed is unchanged (docs/RELIABILITY.md, "Embedding memory and CPU").
    max_batch_tokens: int = Field(default=1024, ge=8, le=1_048_576)
    # Concurrent requests share onnxruntime calls (off only for benchmarks' side-by-side).
    micro_batching: bool = True
    # Texts with less than this share of covered words (embedding/model.py `coverage`:
    # no unknown pieces, no script the vocabulary only spells) are served from the exact
    # layer only. 0.8: the least-covered English question of the eval sets scores 0.80
    # (none of 42,908 falls below); Russian with English terms ("Как настроить Kubernetes
    # ingress?", 0.5) stays out: the model cannot read the words that say what is asked.
    coverage_min: Fraction = 0.8
    # The languages the embedding model and the verifier read (py3langid labels, mostly
    # ISO 639-1), or ["*"] for no check. A question that reads as another language with
    # P >= language_min_probability is served from the exact layer only, like text the
    # model does not cover (sluice/embedding/language.py; issue #18). The shipped models
    # read English; set this to a multilingual model's languages when you switch to one.
    languages: tuple[str, ...] = ("en",)
    # 0.55: the lowest P (0.05 steps) at which no English evaluation set loses more than
    # 0.5 % of its texts on the parts never used for testing (at most 0.13 % there); at 0.55
    # it refuses 84-98 % of STS-B's German, Spanish, French, Italian, Dutch, Polish and
    # Portuguese texts there (docs/cache-eval.md, "Languages the models do not read").
    language_min_probability: Fraction = 0.55

    @field_validator("languages")
    @classmethod
    def _check_languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError(
                'empty; list the languages the models read (["en"]) or ["*"] for no language check'
            )
        if ANY_LANGUAGE in value and len(value) > 1:
            raise ValueError(f'"*" (no check) cannot be listed with languages: {list(value)}')
        unknown = sorted(set(value) - LANGUAGE_LABELS - {ANY_LANGUAGE})
        if unknown:
            raise ValueError(
                f"{unknown}: not a language the identifier knows; use "
                'its codes, mostly ISO 639-1 (en, de, ru, zh, ...), or "*"'
            )
        return value

    @model_validator(mode="after")
    def _check_batch_tokens(self) -> EmbeddingSettings:
        if self.max_batch_tokens < self.max_tokens:
            raise ValueError(
                f"embedding.max_batch_tokens: {self.max_batch_tokens} is below max_tokens "
                f"{self.max_tokens}; one text of max_tokens must fit in a call"
            )
        return self


class LimitSettings(_Strict):
    max_texts_per_embed: int = Field(
        default=256,
        ge=1,
        description="Texts per Embed / POST /v1/embeddings call; more is RESOURCE_EXHAUSTED (HTTP"
        " 413).",
    )
    max_text_bytes: int = Field(
        default=64 * 1024,
        ge=1,
        description="UTF-8 bytes per text; longer is RESOURCE_EXHAUSTED (HTTP 413).",
    )
    max_messages: int = Field(
        default=256,
        ge=1,
        description="Messages per completion request; more is RESOURCE_EXHAUSTED (HTTP 413).",
    )
    max_prompt_bytes: int = Field(
        default=1024 * 1024,
        ge=1,
        description="UTF-8 bytes of a completion request's messages together (and of a Feedback "
        "answer).",
    )
    # Texts of Embed / POST /v1/embeddings calls queued at once (a question's vector for
    # Lookup and Complete never waits in this queue); past it a call gets RESOURCE_EXHAUSTED
    # (HTTP 429) with a Retry-After. Two calls at max_texts_per_embed: each queued text is
    # held in memory (8 concurrent 8 MiB Embeds peaked at 627 MiB with 1024, 560 with 512).
    max_queued_embed_texts: int = Field(default=512, ge=1)

    @model_validator(mode="after")
    def _check_queue(self) -> LimitSettings:
        if self.max_queued_embed_texts < self.max_texts_per_embed:
            raise ValueError(
                f"limits.max_queued_embed_texts: {self.max_queued_embed_texts} is below "
                f"max_texts_per_embed {self.max_texts_per_embed}; the queue must hold one call"
            )
        return self


class NamespaceCacheSettings(_Strict):
    threshold: Fraction | None = Field(
        default=None, description="This namespace's cache.threshold; null: the global one."
    )
    floor: Fraction | None = Field(
        default=None, description="This namespace's cache.floor; null: the global one."
    )
    ttl_s: float | None = Field(
        default=None,
        gt=0,
        le=MAX_TTL_S,
        description="This namespace's cache.ttl_s; null: the global one.",
    )
    # The verifier's precision setting for this namespace (see VerifierSettings).
    min_probability: Fraction | None = None
    substitution_guard: bool | None = Field(
        default=None,
        description="This namespace's cache.verifier.substitution_guard; null: the global one.",
    )


class VerifierSettings(_Strict):
    """The cross-encoder between the vector layer and a semantic hit (docs/cache.md, cache-eval.md).

    With it on, the vector layer proposes up to `candidates` entries whose
    cosine is ≥ `recall_threshold` (or a request's higher threshold), and a
    hit is served only when the verifier's P(same meaning) is ≥
    `min_probability`; `threshold` and `floor` then apply to verifier-off
    namespaces only.
    """

    enabled: bool = Field(
        default=True,
        description="Serve a semantic hit only when the verifier accepts it; false: cosine ≥ "
        "cache.threshold alone.",
    )
    # None: the model shipped in models/ (sluice-verifier).
    model_dir: Path | None = None
    recall_threshold: Fraction = Field(
        default=0.80,
        description="Cosine a cached question needs to be proposed to the verifier; a request may"
        " raise it, not lower it.",
    )
    candidates: int = Field(
        default=4,
        ge=1,
        le=32,
        description="Nearest cached questions proposed to the verifier (the nearest first, alone).",
    )
    # Model runs (pairs) one lookup may cost: the nearest candidate alone, then, when it is
    # refused, the next ones; a lookup refused after that many is a miss. A candidate with
    # the question's own word pieces needs no run. 2: every `sluice eval cache` figure is the
    # same as with 4 (a refused lookup costs half); 1 serves fewer hits (docs/cpu.md).
    max_pairs: int = Field(default=2, ge=1, le=32)
    # None: the model's calibrated default (its verifier.json).
    min_probability: Fraction | None = None
    order_guard: bool = Field(
        default=True,
        description=(
            "Refuse a candidate whose shared content words trade places with the question's "
            "('convert dollars to euros' / 'convert euros to dollars'), whatever the model's "
            "P(same meaning): the model serves many such swaps with P ≥ 0.999 (issue #18). "
            "Rule and figures: sluice/verifier/order.py, docs/cache-eval.md."
        ),
    )
    number_guard: bool = Field(
        default=True,
        description=(
            "Refuse a candidate whose numbers differ from the question's (order 88213 / "
            "88214, 2 / 3 tickets, version 3.11 / 3.12), whatever the model's P(same "
            "meaning): the model served such pairs at P 0.97-0.99 (issue #18). Numbers are "
            "compared as digit strings (1,000 = 1000, 04 = 4), English number words by value "
            "(first law / second law, chapter one / two; not 'one', 'first', 'once'), "
            "weekdays and months by name, spans of time when both name one (per month / per "
            "year), quantifiers of no common class (all / some); '15th' / 'fifteenth' is "
            "refused, a miss. Figures: docs/cache-eval.md."
        ),
    )

    substitution_guard: bool = Field(
        default=False,
        description=(
            "Refuse a candidate that differs from the question in one run of one or two "
            "content words, the rest the same ('best laptop for kids' / 'for adults', "
            "'before / after signing up'), whatever the model's P(same meaning): the model "
            "served such pairs at P 0.97-0.999 (issue #18). Off by default: it refuses "
            "synonyms too ('choose' / 'select'), misses that cost more right hits than the "
            "wrong ones it saves on the public sets. Turn it on where an answer meant for "
            "someone else costs more than a miss. Rule and figures: "
            "sluice/verifier/substitution.py, docs/cache-eval.md."
        ),
    )

    @functools.cached_property
    def guards(self) -> frozenset[Guard]:
        """The rule guards switched on (cache/verdict.py runs them before the model); built
        once per settings object, not on every lookup."""
        on: dict[Guard, bool] = {
            "order_guard": self.order_guard,
            "number_guard": self.number_guard,
            "substitution_guard": self.substitution_guard,
        }
        return frozenset(guard for guard, enabled in on.items() if enabled)

    # Lookups given a ready vector (`sluice eval cache`) decided at once. The daemon's own
    # lookups run the verifier on the embedding lane that embedded the question, right
    # after it (one hop, issue #19): embedding.threads is their CPU budget, not this.
    threads: int = Field(default=1, ge=1, le=64)


class CacheSettings(_Strict):
    enabled: bool = Field(
        default=True, description="false: every request goes to a provider and nothing is stored."
    )
    # A semantic hit needs cosine ≥ threshold; a request may raise it, never
    # below `floor`. See docs/cache-eval.md for how 0.97 was chosen.
    threshold: Fraction = 0.97
    floor: Fraction = Field(
        default=0.95,
        description="The lowest threshold a request may ask for (verifier-off namespaces).",
    )
    ttl_s: float = Field(
        default=24 * 3600.0,
        gt=0,
        le=MAX_TTL_S,
        description="Seconds an entry lives, before jitter.",
    )
    ttl_jitter: float = Field(
        default=0.15,
        ge=0.0,
        le=0.5,
        description="Expiry = ttl_s × (1 ± ttl_jitter): entries stored together do not expire "
        "together.",
    )
    max_entries: int = Field(
        default=100_000,
        ge=1,
        description="Entries kept; past it the least recently used are evicted (a full cache "
        "never refuses a Store).",
    )
    max_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=1024,
        description="Bytes of answers and vectors kept; past it the least recently used are "
        "evicted.",
    )
    # hnswlib search breadth; recall@1 was measured against brute force (docs/benchmarks.md).
    ef_search: int = Field(default=128, ge=1, le=4096)
    hnsw_m: int = Field(
        default=16,
        ge=2,
        le=128,
        description="hnswlib graph degree M: higher recalls better and takes more memory.",
    )
    ef_construction: int = Field(
        default=200,
        ge=8,
        le=4096,
        description="hnswlib build breadth: higher builds a better index, inserts more slowly.",
    )
    # Rebuild the index when this share of its vectors is marked deleted.
    compact_fraction: Fraction = 0.3
    store_nondeterministic: bool = Field(
        default=False, description="Also store answers to requests with temperature > 0."
    )
    namespaces: dict[str, NamespaceCacheSettings] = Field(
        default_factory=dict,
        description=(
            "Per-namespace threshold, floor, ttl_s, verifier min_probability and "
            "substitution_guard."
        ),
    )
    feedback_below: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Feedback of lower quality (THUMBS_DOWN, REGENERATE, SCORE below it) on an "
        "answer the cache served or stored marks it wrong: an exact or same-question answer "
        "is removed, a semantic hit narrows its entry to closer questions. 0: never.",
    )
    feedback_capacity: int = Field(
        default=10_000,
        ge=1,
        le=1_000_000,
        description="Recent request ids whose cache answer Feedback can still judge.",
    )
    verifier: VerifierSettings = Field(default_factory=VerifierSettings)
    snapshot_dir: Path | None = Field(
        default=None,
        description="Folder for snapshots (on an interval and at shutdown, restored before "
        "SERVING); null: memory only.",
    )
    snapshot_interval_s: float = Field(default=60.0, gt=0, description="Seconds between snapshots.")
    # A Lookup that misses keeps its question's vector this long for the Store of the same
    # question that follows (a read-through client's model call in between), so the Store
    # does not embed it again; at most handoff_max_entries of them (1.5 KB each). 0: off.
    handoff_ttl_s: float = Field(default=120.0, ge=0, le=3600)
    handoff_max_entries: int = Field(default=2048, ge=0, le=1_000_000)

    @field_validator("namespaces")
    @classmethod
    def _check_ns(
        cls, value: dict[str, NamespaceCacheSettings]
    ) -> dict[str, NamespaceCacheSettings]:
        check_names(value)
        return value

    @model_validator(mode="after")
    def _check_floor(self) -> CacheSettings:
        if self.threshold < self.floor:
            raise ValueError(f"threshold {self.threshold} is below floor {self.floor}")
        return self


class LoggingSettings(_Strict):
    level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Level of the JSON log lines on stderr."
    )
    # Prompt and answer bodies never reach logs unless this is turned on.
    log_prompts: bool = False


class ProviderSettings(_Strict):
    kind: Literal["openai", "anthropic", "gemini"] = Field(
        description="Wire protocol: openai (also vLLM, llama.cpp, Ollama…), anthropic or gemini."
    )
    base_url: str = Field(
        description="The API's base URL, e.g. https://api.openai.com/v1 or http://127.0.0.1:8000/v1."
    )
    # The key is read from this environment variable (by the CLI) or file.
    api_key_env: str | None = None
    api_key_file: Path | None = None
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra HTTP headers sent with every call (organisation ids, gateway tokens); "
        "never logged.",
    )
    # The provider account's requests and tokens (input + output) per minute; unset: no
    # limit. Calls past them wait or move to the next deployment, as after a 429, instead
    # of being sent (resilience/ratelimit.py). In fleet mode the limits are the fleet's,
    # shared through Redis; each pod keeps to limit / fleet.expected_replicas while Redis
    # is unreachable.
    rpm: float | None = Field(default=None, gt=0)
    tpm: float | None = Field(default=None, gt=0)


class DeploymentSettings(_Strict):
    provider: str = Field(description="A key under providers.")
    model: str = Field(
        description="The model name sent to the provider; it needs a price (built-in or "
        "under prices)."
    )
    context_tokens: int | None = Field(
        default=None,
        gt=0,
        description="The model's context window; on 'context too long' the cascade moves to a "
        "deployment with a larger one.",
    )


class TierSettings(_Strict):
    name: str = Field(description="The tier's name, unique; routing rules, hints and logs use it.")
    deployments: tuple[DeploymentSettings, ...] = Field(
        min_length=1, description="Tried in order: the next when one fails or its breaker is open."
    )
    threshold: Fraction = Field(
        default=0.75,
        description="Confidence an answer needs to be served from this tier; below it the cascade"
        " escalates.",
    )
    timeout_s: float = Field(
        default=30.0, gt=0, description="Seconds per call to a deployment of this tier."
    )
    max_output_tokens: int | None = Field(
        default=None,
        gt=0,
        description="Caps the tokens a call of this tier may generate; null: the request's "
        "max_tokens.",
    )


class PriceSettings(_Strict):
    input: float = Field(ge=0, description="USD per 1M input tokens.")
    output: float = Field(ge=0, description="USD per 1M output tokens.")


class RetrySettings(_Strict):
    max_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Retries per deployment for retryable errors (timeout, 429, 5xx, reset).",
    )
    base_s: float = Field(
        default=0.1,
        gt=0,
        description="Backoff: a random sleep up to base_s × 2^retry (full jitter)...",
    )
    cap_s: float = Field(default=2.0, gt=0, description="...and never longer than cap_s.")
    # A Retry-After longer than this falls back to the next deployment at once.
    max_retry_after_s: float = Field(default=30.0, ge=0)


class BreakerSettings(_Strict):
    """One breaker per provider, opening on a failure rate over a sliding window (breaker.py)."""

    # Open when at least this share of the calls in the window failed...
    failure_rate: Fraction = 0.5
    # ...and the window holds at least this many calls (fewer say nothing about a rate).
    minimum_calls: int = Field(default=20, ge=1)
    window_s: float = Field(
        default=30.0,
        gt=0,
        description="Seconds of calls the failure rate is measured over (sliding).",
    )
    # Open this long, doubled on each reopening without a close in between, up to max_cooldown_s.
    cooldown_s: float = Field(default=15.0, ge=0)
    max_cooldown_s: float = Field(default=120.0, ge=0)
    # Calls let through half-open; it closes when enough succeed to stay below failure_rate.
    probes: int = Field(default=3, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _no_failure_count(cls, data: Any) -> Any:
        # A count of failures tripped busy sidecars on partial faults (issue #17); say what
        # replaced it rather than "extra fields not permitted".
        if isinstance(data, dict) and "failures" in data:
            raise ValueError(
                "cascade.breaker.failures: removed: breakers now open on a failure rate, "
                "not a count; set failure_rate (default 0.5) and minimum_calls (default 20) "
                "instead, e.g. {failure_rate: 0.5, minimum_calls: 20, window_s: 30}"
            )
        return data


class ConfidenceSettings(_Strict):
    # sigmoid(a·mean_logprob + b·min_logprob + c); fitted by `sluice eval routing`.
    a: float = 4.0
    b: float = 0.25
    c: float = 2.5
    # Used when the provider returns no logprobs.
    prior: Fraction = 0.8
    # A learned scorer (.npz from `sluice eval routing --save-confidence`) replaces a, b, c.
    learned_path: Path | None = None
    # One learned scorer per model, each fitted on that model's own answers (`sluice eval
    # routing --save-confidence DIR` writes them); a model not listed uses learned_path,
    # else a, b, c.
    learned_by_model: dict[str, Path] = Field(default_factory=dict)


class BaselineSettings(_Strict):
    provider: str = Field(description="A key under providers.")
    model: str = Field(description="The model whose price makes baseline_cost_usd.")


class CascadeSettings(_Strict):
    max_escalations: int = Field(
        default=3,
        ge=0,
        le=10,
        description="Escalations per request at most (cheap → medium → premium is 2).",
    )
    # What "always premium" means for savings; default: the last tier's first deployment.
    baseline: BaselineSettings | None = None
    # Used when the caller sets no gRPC deadline.
    default_deadline_s: float = Field(default=120.0, gt=0)
    retry: RetrySettings = Field(
        default_factory=RetrySettings,
        description="Retries of a failed call, with exponential backoff and full jitter.",
    )
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    confidence: ConfidenceSettings = Field(
        default_factory=ConfidenceSettings,
        description="How an answer is scored against its tier's threshold.",
    )
    # Share of the input price billed for provider-cached input tokens.
    cached_input_fraction: float = Field(default=0.5, ge=0, le=1)


class BudgetLimitSettings(_Strict):
    limit_usd: float = Field(ge=0, description="USD the namespace may spend per window.")
    window_s: float = Field(default=86400.0, gt=0, description="The window's length in seconds.")


class BudgetSettings(_Strict):
    # Applies to every namespace without its own entry; None: unlimited.
    default: BudgetLimitSettings | None = None
    namespaces: dict[str, BudgetLimitSettings] = Field(
        default_factory=dict, description="Budgets by namespace, instead of default."
    )
    # Past this share of the limit, traffic shifts to the cheapest affordable tier.
    soft_fraction: Fraction = 0.8
    # At the limit: answer RESOURCE_EXHAUSTED, or keep serving the cheapest tier.
    on_exhausted: Literal["reject", "cheapest"] = "reject"

    @field_validator("namespaces")
    @classmethod
    def _check_ns(cls, value: dict[str, BudgetLimitSettings]) -> dict[str, BudgetLimitSettings]:
        check_names(value)  # a misspelt key would be a budget no request ever meets
        return value


_FLEET_SCHEMES = ("redis://", "rediss://", "unix://")


class FleetSettings(_Strict):
    """Fleet mode (issue #20): every pod's sidecar shares its cache through one Redis.

    Off by default: the single-pod daemon needs no Redis. Redis is never on a lookup's
    path, and a Redis that is down or slow only makes the daemon `degraded: fleet`.
    """

    enabled: bool = Field(default=False, description="Share the cache through Redis.")
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="redis://host:port/db, rediss://host:port/db (TLS) or unix:///path; "
        "no password in it (fleet.password_file).",
    )
    password_file: Path | None = Field(
        default=None, description="A file holding the Redis password (AUTH); None: no AUTH."
    )
    tls_ca_file: Path | None = Field(
        default=None,
        description="CA bundle that signed the server's certificate (rediss:// only); "
        "None: the system's CAs.",
    )
    key_prefix: str = Field(
        default="sluice",
        pattern=r"^[A-Za-z0-9._-]{1,32}$",
        description="Every key starts with `<key_prefix>:`; two fleets may share one Redis.",
    )
    connect_timeout_ms: int = Field(
        default=500, ge=1, le=60_000, description="Bound on opening one Redis connection."
    )
    command_timeout_ms: int = Field(
        default=50, ge=1, le=10_000,
        description="Bound on every Redis command; past it the call is given up, local "
        "state decides, and the daemon is degraded until Redis answers again.",
    )  # fmt: skip
    expected_replicas: int = Field(
        default=1, ge=1, le=10_000,
        description="Pods in the fleet; a degraded pod's local share of a fleet limit is "
        "the limit divided by this.",
    )  # fmt: skip
    stream_max_len: int = Field(
        default=10_000, ge=100, le=10_000_000,
        description="Events the fill stream keeps (XADD MAXLEN ~); a pod further behind "
        "than this catches up from the index instead.",
    )  # fmt: skip
    max_entries: int = Field(
        default=100_000,
        ge=1,
        le=100_000_000,
        description="Entries Redis holds for the fleet; past it the oldest are deleted.",
    )
    catch_up_max_entries: int = Field(
        default=10_000, ge=0, le=10_000_000,
        description="Entries a starting pod copies (newest first) before it is SERVING.",
    )  # fmt: skip
    bandit_sync_interval_s: float = Field(
        default=5.0, ge=0.2, le=3600.0,
        description="Seconds between a pod's rounds of shared bandit learning: it writes "
        "what it learned (when that changed) and merges what the other pods wrote "
        "(fleet/learning.py). Feedback on one pod reaches the others within about this.",
    )  # fmt: skip

    @field_validator("redis_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(_FLEET_SCHEMES):
            raise ValueError(
                f"{value[:80]!r}: expected redis://host:port/db, rediss://host:port/db (TLS) "
                "or unix:///path/to/redis.sock"
            )
        authority = value.split("://", 1)[1].split("/", 1)[0]
        if ":" in authority.rpartition("@")[0]:
            # Never echo the URL here: it holds the password.
            raise ValueError(
                "the URL holds a password; put it in a file and set fleet.password_file "
                "(a config file is read by many, a secret file by the daemon)"
            )
        if value.startswith("unix://") and not value.removeprefix("unix://").startswith("/"):
            raise ValueError(f"{value[:80]!r}: a unix socket path must be absolute")
        return value


class Settings(_Strict):
    server: ServerSettings = Field(
        default_factory=ServerSettings, description="Listeners, access and HTTP limits."
    )
    embedding: EmbeddingSettings = Field(
        default_factory=EmbeddingSettings,
        description="The ONNX embedding model and its CPU budget.",
    )
    limits: LimitSettings = Field(default_factory=LimitSettings, description="Request size limits.")
    cache: CacheSettings = Field(
        default_factory=CacheSettings,
        description="The semantic cache: exact and vector layers, verifier, expiry, snapshots.",
    )
    logging: LoggingSettings = Field(
        default_factory=LoggingSettings, description="JSON log lines on stderr."
    )
    providers: dict[str, ProviderSettings] = Field(
        default_factory=dict,
        description="Provider endpoints by name; keys are read from a file or a variable and "
        "never logged.",
    )
    # Cheapest first: the cascade escalates from a tier to the next.
    tiers: tuple[TierSettings, ...] = ()
    cascade: CascadeSettings = Field(
        default_factory=CascadeSettings,
        description="Escalation, retries, breakers, confidence scoring and the savings baseline.",
    )
    budgets: BudgetSettings = Field(
        default_factory=BudgetSettings, description="Spending limits by namespace."
    )
    # USD per 1M tokens, by model name; merged over the built-in table.
    prices: dict[str, PriceSettings] = Field(default_factory=dict)
    # Routing policies (rules, classifier, bandit) and shadow / A-B / rollout per namespace.
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    # Fleet mode: several pods share one cache through Redis (off: standalone).
    fleet: FleetSettings = Field(default_factory=FleetSettings)

    @model_validator(mode="after")
    def _check_references(self) -> Settings:
        names = [t.name for t in self.tiers]
        if len(set(names)) != len(names):
            raise ValueError(f"tiers: duplicate tier names in {names}")
        for i, tier in enumerate(self.tiers):
            for j, dep in enumerate(tier.deployments):
                if dep.provider not in self.providers:
                    raise ValueError(
                        f"tiers[{i}].deployments[{j}].provider: {dep.provider!r} is not "
                        f"defined under providers (known: {sorted(self.providers)})"
                    )
        for key, tier_name in self.routing.tier_references():
            if tier_name not in names:
                raise ValueError(f"{key}: no tier {tier_name!r} (configured tiers: {names})")
        models = {dep.model for tier in self.tiers for dep in tier.deployments}
        for model in self.cascade.confidence.learned_by_model:
            if model not in models:
                raise ValueError(
                    f"cascade.confidence.learned_by_model.{model}: no tier deploys model "
                    f"{model!r} (configured: {sorted(models)})"
                )
        base = self.cascade.baseline
        if base is not None and base.provider not in self.providers:
            raise ValueError(f"cascade.baseline.provider: {base.provider!r} is not defined")
        for name, provider in self.providers.items():
            if provider.api_key_env and provider.api_key_file:
                raise ValueError(f"providers.{name}: set api_key_env or api_key_file, not both")
        return self


def _key_of(loc: tuple[int | str, ...], data: Any = None) -> str:
    """The key a user wrote, from pydantic's error location.

    Locations also hold union members and discriminator tags (`…by-rules.rules.rules[0]` for
    a rules policy's `rules[0]`): walking the input keeps only the parts that are in it.
    """
    key = ""
    node = data
    for part in loc:
        if node is not None:
            found = (isinstance(node, dict) and part in node) or (
                isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
            )
            if found:
                node = node[part]
            elif isinstance(node, dict | list):
                continue  # a tag or union member, not something the user wrote
            else:
                node = None
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key or "<root>"


def parse_settings(data: Any, source: str = "<config>") -> Settings:
    """Validate a mapping into Settings; the first error names its key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("<root>", f"{source}: expected a mapping at the top level")
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = _key_of(tuple(err["loc"]), data)
        msg = err["msg"].removeprefix("Value error, ")
        # Cross-field checks raise at the root and name their key first: "a.b[0].c: why".
        named = re.match(r"^([\w.\[\]-]+): (.*)$", msg, re.DOTALL)
        if named and (key == "<root>" or named.group(1).startswith(f"{key}.")):
            key, msg = named.group(1), named.group(2)
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(key, f"{msg}{more} in {source}") from None


def load_settings(path: Path | None) -> Settings:
    """Read and validate a YAML file, or return the embedded defaults."""
    if path is None:
        return Settings()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("<file>", f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError("<file>", f"{path} is not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError("<file>", f"{path} is not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError("<file>", f"{path} is nested too deeply to be a config") from None
    return parse_settings(data, str(path))


def with_overrides(settings: Settings, overrides: dict[str, dict[str, Any]]) -> Settings:
    """Apply CLI overrides (section → field → value) and validate again."""
    data = settings.model_dump(mode="python")
    for section, fields in overrides.items():
        data[section] = {**data[section], **fields}
    return parse_settings(data, "command-line flags")
