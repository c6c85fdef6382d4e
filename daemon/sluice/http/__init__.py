"""The daemon's HTTP listeners (aiohttp): metrics/health on one, the OpenAI front on another.

    server.http    `/metrics`, `/healthz`: may bind off loopback for Prometheus
    server.openai  `/v1/chat/completions`, `/v1/embeddings`, `/v1/models` (`sluice.openai`):
                   loopback or a unix socket, or off loopback only with a bearer token

    apps.py        the two aiohttp applications, the front's token and body-timeout checks
    listener.py    one application on one address: idle/slow-client timeout, connection cap

Every address error names its key and flag (`sluice.sockets`).
"""

from sluice.http.apps import build_front_app, build_metrics_app
from sluice.http.listener import HttpListener, start_http

__all__ = ["HttpListener", "build_front_app", "build_metrics_app", "start_http"]
