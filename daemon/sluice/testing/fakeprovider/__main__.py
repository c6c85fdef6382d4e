"""`python -m sluice.testing.fakeprovider`: print a JSON line with the port; serve until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from sluice.testing.fakeprovider.server import PROTOCOLS, FakeProviderServer, ModelBehaviour


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sluice.testing.fakeprovider",
        description="Fake OpenAI/Anthropic/Gemini server with injectable faults.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument(
        "--protocol", choices=[*PROTOCOLS, "all"], default="all", help="which API paths to serve"
    )
    parser.add_argument("--api-key", help="expected key; other keys get the protocol's 401")
    parser.add_argument("--answer", help="canned answer for every model (default: echo)")
    parser.add_argument("--logprob", type=float, default=-0.05, help="log-probability per token")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    protocols = PROTOCOLS if args.protocol == "all" else (args.protocol,)
    fake = FakeProviderServer(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        protocols=protocols,
        default=ModelBehaviour(answer=args.answer, logprob=args.logprob),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with fake:
        line = {
            "port": fake.port,
            "url": fake.url,
            "base_urls": {protocol: fake.base_url(protocol) for protocol in protocols},
        }
        if len(protocols) == 1:
            line["base_url"] = fake.base_url(protocols[0])
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(_serve(_parse_args(argv)))


if __name__ == "__main__":
    main()
