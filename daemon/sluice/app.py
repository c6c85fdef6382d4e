"""Composition root: builds every part from Settings, and owns start/stop order.

Start: listen (health NOT_SERVING) → load the model → restore the cache →
SERVING. Stop (SIGTERM/SIGINT): NOT_SERVING → drain in-flight calls within
the grace period → snapshot → close.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from sluice.auth import BearerToken, BearerTokenInterceptor, read_token
from sluice.cache.snapshot import Snapshotter
from sluice.cache.store import SemanticCache
from sluice.cache.tier import CacheTier
from sluice.config import ANY_LANGUAGE, CacheSettings, EmbeddingSettings, Settings, is_loopback
from sluice.embedding import language
from sluice.embedding.batcher import MicroBatcher
from sluice.embedding.model import OnnxEmbedder
from sluice.fleet.learning import FleetLearning, pod_id
from sluice.fleet.runtime import Fleet, start_fleet
from sluice.fleet.shared import FleetShared
from sluice.http import HttpListener, build_front_app, build_metrics_app
from sluice.models_path import build_model_path, build_providers
from sluice.pipeline import Pipeline, Runtime
from sluice.providers.base import Provider
from sluice.reload import MODEL_PATH_KEYS, ConfigWatcher
from sluice.routing.router import Router, build_router
from sluice.server import GrpcServer
from sluice.service import SluiceService
from sluice.sockets import METRICS, OPENAI, Where, group_id, raise_open_files_limit
from sluice.telemetry.logging import get_logger
from sluice.telemetry.metrics import Metrics
from sluice.verifier.model import OnnxVerifier, Verifier

log = get_logger("sluice.app")
# Settings, the provider keys by variable name, the shared session → providers by name.
ProviderBuilder = Callable[
    [Settings, Mapping[str, str], aiohttp.ClientSession], dict[str, Provider]
]


@dataclass
class App:
    settings: Settings
    model_dir: Path
    ready_file: Path | None = None
    # Provider keys by environment-variable name, read by the CLI.
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    # The file the settings came from (None: embedded defaults) and the CLI's overrides,
    # so a reload reads the file again and applies the same flags on top.
    config_path: Path | None = None
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The verifier model (None: semantic hits on cosine alone); the CLI resolves it.
    verifier_dir: Path | None = None
    # Builds the providers from the settings (at start and on reload); `--demo` passes
    # in-process fakes here (sluice.demo), everything else the real wire protocols.
    provider_builder: ProviderBuilder = build_providers

    def __post_init__(self) -> None:
        self.metrics = Metrics()
        self.service = SluiceService(self.metrics, self.settings.limits)
        server = self.settings.server
        interceptors = []
        # The same token guards gRPC over TCP and the OpenAI front (sluice.auth).
        self._token: BearerToken | None = None
        if server.auth_token_file is not None:
            token = read_token(server.auth_token_file)
            interceptors.append(BearerTokenInterceptor(token, self.metrics))
            self._token = BearerToken(token)
        self.grpc = GrpcServer(
            self.service,
            listen=server.listen,
            max_message_bytes=server.max_message_bytes,
            socket_mode=server.socket_mode,
            socket_group=server.socket_group,
            max_concurrent_rpcs=server.max_concurrent_rpcs,
            interceptors=interceptors,
        )
        self.serving = False
        self._stop = asyncio.Event()
        self._batcher: MicroBatcher | None = None
        self._cache: CacheTier | None = None
        # Fleet mode (settings.fleet.enabled): the Redis link and what runs over it.
        self._fleet: Fleet | None = None
        # Budgets, rate limits and provider health shared over the same link (fleet/shared.py).
        self._shared: FleetShared | None = None
        # The bandits' learning pooled over the same link (fleet/learning.py).
        self._learning: FleetLearning | None = None
        self._verifier: Verifier | None = None
        self._snapshotter: Snapshotter | None = None
        self._router: Router | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._metrics_http: HttpListener | None = None
        self._front: HttpListener | None = None
        self._session: aiohttp.ClientSession | None = None
        # Set by run() when the settings came from a file (reload on SIGHUP / change).
        self._watcher: ConfigWatcher | None = None

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        if self.config_path is not None:
            self._watcher = ConfigWatcher(
                self.config_path, self.overrides, lambda: self.settings, self._apply_settings
            )
            loop.add_signal_handler(signal.SIGHUP, self._watcher.request)
        try:
            await self._start()
            await self._stop.wait()
        finally:
            await self._shutdown()

    async def _start(self) -> None:
        files = raise_open_files_limit()
        log.info("open_files_limit", soft_was=files.before, soft=files.after, hard=files.hard)
        bound = await self.grpc.start()
        http_address, openai_address = await self._start_http()
        log.info(
            "listening", grpc=bound, http=http_address, openai=openai_address,
            model_dir=str(self.model_dir),
        )  # fmt: skip
        loading = asyncio.create_task(self._load())
        stopping = asyncio.create_task(self._stop.wait())
        done, _ = await asyncio.wait({loading, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if loading not in done:  # SIGTERM while loading: nothing to drain
            loading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loading
            return
        stopping.cancel()
        loading.result()
        await self.grpc.set_serving(True)
        self.serving = True
        self.metrics.ready.set(1)
        if self.ready_file is not None:
            payload = {
                "grpc": bound, "http": http_address, "openai": openai_address, "pid": os.getpid()
            }  # fmt: skip
            tmp = self.ready_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(payload))
            tmp.replace(self.ready_file)
        log.info("serving", model=self.service.pipeline.model_id)

    async def _start_http(self) -> tuple[str | None, str | None]:
        """The metrics listener and the OpenAI front; their bound addresses (None: off)."""
        server = self.settings.server
        http_address = openai_address = None
        if server.http is not None:
            self._metrics_http = self._listener(
                build_metrics_app(self.metrics, lambda: self.serving), server.http, METRICS
            )
            http_address = await self._metrics_http.start()
        if server.openai is not None:
            # A unix socket is guarded by its mode and group, as for gRPC: no token there.
            on_tcp = not server.openai.startswith("unix://")
            front = build_front_app(
                lambda: self.service.pipeline if self.serving else None,
                max_body_bytes=server.max_message_bytes,
                token=self._token if on_tcp else None,
                body_timeout_s=server.http_body_timeout_s,
            )  # fmt: skip
            self._front = self._listener(front, server.openai, OPENAI)
            openai_address = await self._front.start()
            if not is_loopback(server.openai):
                # Allowed with a token (config.py), but the token and prompts travel in clear.
                log.warning(
                    "openai_front_off_loopback", address=openai_address,
                    reason="plain HTTP: the bearer token and prompts cross the network "
                    "unencrypted unless a service mesh adds mTLS",
                )  # fmt: skip
        return http_address, openai_address

    def _listener(self, app: web.Application, address: str, where: Where) -> HttpListener:
        server = self.settings.server
        return HttpListener(
            app, address, where,
            idle_timeout_s=server.http_idle_timeout_s,
            max_connections=server.http_max_connections,
            shutdown_timeout_s=server.grace_period_s,
            socket_mode=server.socket_mode, socket_gid=group_id(server.socket_group),
        )  # fmt: skip

    async def _load(self) -> None:
        emb = self.settings.embedding
        embedder = await asyncio.to_thread(load_embedder, self.model_dir, emb)
        # One warm-up run allocates onnxruntime's buffers before the first caller pays for it.
        await asyncio.to_thread(embedder.embed, ["warm-up"] * 8)
        await load_languages(emb)
        self._batcher = await start_batcher(embedder, self.metrics, self.settings)
        cache_settings = self.settings.cache
        self._verifier = await load_verifier(self.verifier_dir)
        self._cache = build_cache(
            cache_settings, embedder.dimensions, self.metrics, verifier=self._verifier
        )
        if cache_settings.snapshot_dir is not None:
            self._snapshotter = Snapshotter(
                self._cache, cache_settings.snapshot_dir, embedder.model_id, self.metrics
            )
            # Restored before SERVING: a restarted sidecar serves yesterday's hits at once.
            await asyncio.to_thread(self._snapshotter.restore)
            self._tasks.append(asyncio.create_task(self._snapshot_loop(), name="snapshots"))
        self._tasks.append(asyncio.create_task(self._reap_loop(), name="reaper"))
        if self.settings.fleet.enabled:
            # After the snapshot, before SERVING: the fleet's newest entries are here too.
            self._fleet = await start_fleet(
                self.settings.fleet, self.metrics, self._cache, model_id=embedder.model_id
            )
        # One connection pool for every provider; keys stay inside the providers.
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None),
            connector=aiohttp.TCPConnector(limit=256, keepalive_timeout=30),
        )
        providers = self.provider_builder(self.settings, self.secrets, self._session)
        if self._fleet is not None:
            self._shared = FleetShared(self._fleet.link, self.settings)
            self._shared.start()
        models = build_model_path(self.settings, providers, self.metrics, shared=self._shared)
        self._router = build_router(
            self.settings.routing, models.catalogue, dimensions=embedder.dimensions,
            model_id=embedder.model_id,
        )  # fmt: skip
        if cache_settings.snapshot_dir is not None:  # learned bandit state lives beside the cache
            self._router.restore(cache_settings.snapshot_dir)
        if self._fleet is not None:  # after the restore: this pod's own learning is back
            self._learning = FleetLearning(
                self._fleet.link, self.metrics, prefix=self.settings.fleet.key_prefix,
                pod=pod_id(cache_settings.snapshot_dir),
                interval_s=self.settings.fleet.bandit_sync_interval_s,
            )  # fmt: skip
            self._learning.attach(self._router.shared())
            self._learning.start()
        replica = self._fleet.cache if self._fleet is not None else None
        pipeline = Pipeline(
            self.settings, self._batcher, self._cache, models, self.metrics,
            router=self._router, replica=replica,
        )  # fmt: skip
        self.service.attach(pipeline)
        if self._watcher is not None:
            self._tasks.append(asyncio.create_task(self._watcher.run(), name="config-watch"))

    def _apply_settings(self, new: Settings) -> None:
        """Swap in a validated config (ConfigWatcher); raises ConfigError and changes nothing."""
        pipeline = self.service.pipeline
        old = self.settings
        running = pipeline.runtime
        models = running.models
        if any(getattr(new, k) != getattr(old, k) for k in MODEL_PATH_KEYS):
            assert self._session is not None
            providers = self.provider_builder(new, self.secrets, self._session)
            shared = self._shared.bind(new) if self._shared is not None else None
            models = build_model_path(new, providers, self.metrics, shared=shared)
        router = running.router
        if new.routing != old.routing or models is not running.models:
            assert models is not None
            router = build_router(
                new.routing, models.catalogue, dimensions=pipeline.dimensions,
                model_id=pipeline.model_id,
            )  # fmt: skip
        # Nothing above raised: swap between two awaits. A request in flight keeps the
        # Runtime it read at its start (pipeline.py); the next one reads this one.
        self.settings = new
        assert self._cache is not None
        self._cache.configure(new.cache)
        pipeline.runtime = Runtime(new, models, router)
        self._router = router
        if self._learning is not None and router is not None:  # a rebuilt router re-attaches
            self._learning.attach(router.shared())

    async def _snapshot_loop(self) -> None:
        assert self._snapshotter is not None
        while True:
            await asyncio.sleep(self.settings.cache.snapshot_interval_s)
            try:
                await self._snapshotter.write()
                self._save_router()
            except OSError as exc:  # a full emptyDir must not take the daemon down
                log.warning("snapshot_failed", reason=str(exc))

    def _save_router(self) -> None:
        folder = self.settings.cache.snapshot_dir
        if self._router is not None and folder is not None:
            self._router.save(folder)

    async def _reap_loop(self) -> None:
        assert self._cache is not None
        interval = min(30.0, self.settings.cache.ttl_s / 10)
        while True:
            await asyncio.sleep(interval)
            self._cache.reap_expired()

    async def _close_fleet(self) -> None:
        if self._learning is not None:  # what the bandits learned since the last round
            await self._learning.aclose()
        if self._shared is not None:  # the settles of the last calls, then the link closes
            await self._shared.aclose()
        if self._fleet is not None:  # after the drain: the last Stores reach the fleet
            await self._fleet.close()

    async def _shutdown(self) -> None:
        self.serving = False
        self.metrics.ready.set(0)
        await self.grpc.set_serving(False)
        log.info("draining", grace_s=self.settings.server.grace_period_s)
        # In-flight front requests drain alongside gRPC calls (the front answers 503 to new
        # ones once `serving` is False), before the provider session closes under them.
        draining = [self.grpc.stop(self.settings.server.grace_period_s)]
        if self._front is not None:
            draining.append(self._front.cleanup())
        await asyncio.gather(*draining)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._snapshotter is not None:
            try:
                await self._snapshotter.write()
                self._save_router()
            except OSError as exc:
                log.warning("snapshot_failed", reason=str(exc))
        await self._close_fleet()
        if self._cache is not None:
            self._cache.close()
        if self._session is not None:
            await self._session.close()
        if self._batcher is not None:
            await self._batcher.stop()
        if self._metrics_http is not None:  # last: /healthz says NOT_SERVING until the end
            await self._metrics_http.cleanup()
        if self.ready_file is not None:
            self.ready_file.unlink(missing_ok=True)
        log.info("stopped")


def build_cache(
    settings: CacheSettings, dims: int, metrics: Metrics, *, verifier: Verifier | None
) -> CacheTier:
    """The daemon's cache tier: the one place it is chosen (docs/architecture.md)."""
    return SemanticCache(settings, dims, metrics, verifier=verifier)


def load_embedder(model_dir: Path, emb: EmbeddingSettings) -> OnnxEmbedder:
    """The embedding model as the settings ask (precision, CPU budget, token limit)."""
    return OnnxEmbedder(
        model_dir, threads=emb.threads, max_tokens=emb.max_tokens, precision=emb.precision
    )


async def start_batcher(
    embedder: OnnxEmbedder, metrics: Metrics, settings: Settings
) -> MicroBatcher:
    """The embedding lanes as the settings bound them (embedding.*, limits.*), started."""
    emb = settings.embedding
    batcher = MicroBatcher(
        embedder, metrics, max_batch=emb.max_batch, max_batch_tokens=emb.max_batch_tokens,
        max_queued_texts=settings.limits.max_queued_embed_texts, batching=emb.micro_batching,
        bulk_threads=emb.bulk_threads,
    )  # fmt: skip
    await batcher.start()
    return batcher


async def load_languages(settings: EmbeddingSettings) -> None:
    """The language identifier, loaded off the loop before SERVING when `embedding.languages`
    checks one, so the first question does not pay for it (["*"]: never loaded)."""
    if ANY_LANGUAGE not in settings.languages:
        await asyncio.to_thread(language.load)


async def load_verifier(model_dir: Path | None) -> Verifier | None:
    """The verifier, loaded and warmed up off the loop (None stays None)."""
    if model_dir is None:
        return None
    model = await asyncio.to_thread(OnnxVerifier, model_dir)
    await asyncio.to_thread(model.score, "warm-up", ["warm-up"])
    log.info("verifier_loaded", version=model.version,
             min_probability=model.card.default_min_probability)  # fmt: skip
    return Verifier(model)


@contextlib.asynccontextmanager
async def offline_pipeline(
    settings: Settings,
    model_dir: Path,
    *,
    providers: Mapping[str, Provider] | None = None,
    embedder: OnnxEmbedder | None = None,
    verifier_dir: Path | None = None,
) -> AsyncIterator[Pipeline[SemanticCache]]:
    """The serving pipeline without servers, for evaluations and benchmarks.

    With `providers` (e.g. a replay provider) the model path and the routing
    policies are built from `settings` as the daemon builds them.
    """
    emb = settings.embedding
    if embedder is None:
        embedder = await asyncio.to_thread(load_embedder, model_dir, emb)
    metrics = Metrics()
    await load_languages(emb)
    batcher = await start_batcher(embedder, metrics, settings)
    verifier = await load_verifier(verifier_dir)
    cache = SemanticCache(settings.cache, embedder.dimensions, metrics, verifier=verifier)
    models = router = None
    if providers is not None:
        models = build_model_path(settings, providers, metrics)
        router = build_router(
            settings.routing, models.catalogue, dimensions=embedder.dimensions,
            model_id=embedder.model_id,
        )  # fmt: skip
    try:
        yield Pipeline(settings, batcher, cache, models, metrics, router=router)
    finally:
        cache.close()
        await batcher.stop()
