"""The HTTP port (aiohttp): Prometheus `/metrics`, `/healthz`, and the OpenAI-compatible front.

The front (`/v1/chat/completions`, `/v1/embeddings`, `/v1/models`) lives in `sluice.openai`.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sluice.openai import PipelineGetter, add_routes
from sluice.telemetry.metrics import Metrics


def build_http_app(
    metrics: Metrics,
    is_serving: Callable[[], bool],
    pipeline: PipelineGetter = lambda: None,
    max_body_bytes: int = 1024**2,
) -> web.Application:
    """`pipeline` is None while the model loads or the daemon drains: the front answers 503."""

    async def metrics_handler(_request: web.Request) -> web.Response:
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_request: web.Request) -> web.Response:
        if is_serving():
            return web.json_response({"status": "SERVING"})
        return web.json_response({"status": "NOT_SERVING"}, status=503)

    app = web.Application(client_max_size=max_body_bytes)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/healthz", healthz)
    add_routes(app, pipeline)
    return app


async def start_http(app: web.Application, address: str) -> tuple[web.AppRunner, str]:
    """Start serving; returns the runner and the bound host:port (port 0 resolved)."""
    host, _, port = address.rpartition(":")
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host.strip("[]"), int(port))
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    bound_port = sockets[0].getsockname()[1] if sockets else int(port)
    return runner, f"{host}:{bound_port}"
