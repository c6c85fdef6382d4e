"""Fake OpenAI, Anthropic and Gemini servers with injectable faults, for tests and demos.

In process::

    async with FakeProviderServer(api_key="sk-fake") as fake:
        fake.set_fault(Fault(FaultKind.RATE_LIMIT, model="m", times=1, retry_after_s=2))
        ... OpenAIProvider(session, base_url=fake.base_url("openai"), ...)

Out of process (tests in other languages)::

    python -m sluice.testing.fakeprovider --port 0 --protocol openai
    → {"port": 12345, "url": "http://127.0.0.1:12345", "base_url": "http://127.0.0.1:12345/v1"}

then drive it over HTTP (`POST /_fake/faults`, `/_fake/chaos`, `/_fake/models`, `/_fake/reset`,
`GET /_fake/calls`; see `server.py`). It serves until SIGTERM or SIGINT.
"""

from sluice.testing.fakeprovider.faults import Chaos, Fault, FaultKind
from sluice.testing.fakeprovider.server import (
    PROTOCOLS,
    FakeProviderServer,
    ModelBehaviour,
    RecordedCall,
)

__all__ = [
    "PROTOCOLS",
    "Chaos",
    "FakeProviderServer",
    "Fault",
    "FaultKind",
    "ModelBehaviour",
    "RecordedCall",
]
