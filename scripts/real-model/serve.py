"""Serve the small real model over the OpenAI API on loopback (issue #11).

    .venv/real-model/bin/python scripts/real-model/serve.py [--port 0] [--threads 1]

Runs llama.cpp's own C++ server in-process (the `xllamacpp` wheel), prints one JSON
line `{"port": N, "base_url": "http://127.0.0.1:N/v1", "model": ...}` on stdout once
the model is loaded and the port listens, and stops on SIGTERM or SIGINT.

Gemma 3 270M here is the *base* model and its GGUF carries no chat template, so the
`gemma` template is set explicitly (`<start_of_turn>user … <end_of_turn>`), with jinja
off: llama.cpp's built-in template, not one read from the file.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

import xllamacpp

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = ROOT / ".venv/real-model/models/gemma-3-270m-q4_k_m.gguf"
MODEL_NAME = "gemma-3-270m"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0: an unused port (default)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    # One: llama.cpp's threads spin at a barrier per matmul, and on a shared 2-core machine
    # two threads ran 20x slower than one (docs/real-model.md).
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for generation")
    parser.add_argument("--ctx", type=int, default=2048, help="context tokens per slot")
    parser.add_argument("--parallel", type=int, default=1, help="concurrent requests (slots)")
    parser.add_argument("--verbosity", type=int, default=1, help="llama.cpp log level 0–4")
    return parser.parse_args(argv)


def server_params(args: argparse.Namespace) -> xllamacpp.CommonParams:
    params = xllamacpp.CommonParams()
    params.model.path = str(args.model)
    params.model_alias = {MODEL_NAME}
    params.hostnames = ["127.0.0.1"]  # loopback only: no API key is set
    params.port = args.port
    params.use_jinja = False
    params.chat_template = "gemma"
    params.n_parallel = args.parallel
    params.n_ctx = args.ctx * args.parallel  # llama.cpp splits n_ctx across the slots
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.verbosity = args.verbosity
    return params


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.model.is_file():
        print(f"no model at {args.model}: run scripts/real-model/install.sh", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # Ctrl+C
    started = time.monotonic()
    server = xllamacpp.Server(server_params(args))  # returns once the model is loaded
    address: str = server.listening_address  # "http://127.0.0.1:PORT"
    port = int(address.rsplit(":", 1)[1])
    ready = {
        "port": port,
        "base_url": f"http://127.0.0.1:{port}/v1",
        "model": MODEL_NAME,
        "load_s": round(time.monotonic() - started, 2),
    }
    print(json.dumps(ready), flush=True)
    while not stop.wait(0.5):
        pass
    del server  # the destructor stops the HTTP loop and frees the model
    return 0


if __name__ == "__main__":
    sys.exit(main())
