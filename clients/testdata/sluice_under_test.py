"""Runs the real daemon for the client test suites in every language.

    python sluice_under_test.py --workdir DIR -- [sluice serve arguments...]

Each language's test helper makes a temp dir, picks the socket path and the ready file, starts
this script with the venv's Python and waits for the ready file; SIGTERM stops everything.
This script only adds what is the same for all languages: the fake LLM provider (when the
daemon ships one) and a config whose tier points at it. Output goes to DIR/*.log.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import signal
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FAKE_PROVIDER = "sluice.testing.fakeprovider"


def start_fake_provider(workdir: Path) -> tuple[subprocess.Popen[str] | None, str | None]:
    if (
        importlib.util.find_spec("sluice.testing") is None
        or importlib.util.find_spec(FAKE_PROVIDER) is None
    ):
        return None, None
    log = (workdir / "fakeprovider.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", FAKE_PROVIDER, "--port", "0", "--protocol", "openai"],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the fake prints one JSON line with its port first
    info = json.loads(line)
    return proc, info.get("base_url") or f"http://127.0.0.1:{info['port']}/v1"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("serve_args", nargs=argparse.REMAINDER)
    ns = parser.parse_args()
    workdir: Path = ns.workdir
    serve_args = [a for a in ns.serve_args if a != "--"]

    fake, url = start_fake_provider(workdir)
    if url is not None:
        config = workdir / "config.yaml"
        key_file = workdir / "fake.key"
        key_file.write_text("sk-test-not-a-secret\n")
        config.write_text(
            (HERE / "daemon-config.yaml").read_text().replace("${FAKE_PROVIDER_URL}", url)
            .replace("${FAKE_PROVIDER_KEY_FILE}", str(key_file))
        )
        serve_args += ["--config", str(config)]
    sluice = Path(sys.executable).with_name("sluice")
    cmd = [
        str(sluice),
        "serve",
        "--http",
        "127.0.0.1:0",
        "--snapshot-dir",
        str(workdir / "snapshots"),
        *serve_args,
    ]
    with (workdir / "daemon.log").open("w") as log:
        daemon = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)

    def forward(signum: int, _frame: object) -> None:
        daemon.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    rc = daemon.wait()
    if fake is not None:
        fake.terminate()
        fake.wait(timeout=10)
    return rc


if __name__ == "__main__":
    sys.exit(main())
