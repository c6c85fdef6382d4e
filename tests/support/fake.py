"""The fake LLM provider as a separate process, driven over its HTTP control API."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from typing import Any


class FakeProvider:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sluice.testing.fakeprovider", "--port", "0",
             "--protocol", "all"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        info = json.loads(self.proc.stdout.readline())
        self.port: int = info["port"]
        self.url = f"http://127.0.0.1:{self.port}"

    def _post(self, path: str, body: dict[str, Any]) -> None:
        req = urllib.request.Request(
            self.url + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            assert json.loads(r.read())["ok"]

    def fault(self, **fault: Any) -> None:
        self._post("/_fake/faults", fault)

    def model(self, model: str, **behaviour: Any) -> None:
        self._post("/_fake/models", {"model": model, **behaviour})

    def chaos(self, seed: int = 0, faults: list[dict[str, Any]] | None = None) -> None:
        """Random faults ({"probability", "kind", …} each); no faults: chaos off."""
        self._post("/_fake/chaos", {"seed": seed, "faults": faults} if faults else {})

    def reset(self) -> None:
        self._post("/_fake/reset", {})

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/_fake/calls", timeout=5) as r:
            data: dict[str, Any] = json.loads(r.read())
        return data

    def calls(self, model: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.state()["calls"] if model is None or c["model"] == model]

    def providers(self) -> dict[str, Any]:
        """A `providers:` config section: one name per wire protocol."""
        return {
            "oa": {"kind": "openai", "base_url": f"{self.url}/v1"},
            "an": {"kind": "anthropic", "base_url": self.url},
            "ge": {"kind": "gemini", "base_url": self.url},
        }

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
