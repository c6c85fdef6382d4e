"""The OpenAI-compatible front, on its own listener `server.openai` (issues #9, #17).

Apps that speak the OpenAI API adopt Sluice by changing one base URL
(`http://127.0.0.1:9091/v1`). The same pipeline as the gRPC `Complete` serves
it: cache, routing, cascade, fallback, accounting. The listener, its token and its
slow-client limits are `sluice.http`'s.

    POST /v1/chat/completions   `model: "sluice-auto"` routes; a configured model pins it;
                                `stream: true` answers in OpenAI's SSE chunk format
    POST /v1/embeddings         the daemon's ONNX model
    GET  /v1/models             sluice-auto, the configured tiers' models, the embedding model

    chat.py, embeddings.py   request bodies → domain values (validate.py's checks, shared with gRPC)
    controls.py              x-sluice-* headers and the `sluice` body object
    replies.py               domain results → OpenAI shapes, x-sluice-* response headers
    errors.py                the status table: gRPC code → HTTP status and error type
    routes.py                the aiohttp handlers
"""

from sluice.openai.routes import PipelineGetter, add_routes

__all__ = ["PipelineGetter", "add_routes"]
