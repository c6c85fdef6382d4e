"""Runs in .venv/peers: LiteLLM's Router against the fake provider, beside a direct aiohttp call.

Prints one JSON object: p50/p99 in ms for the direct call and for Router.acompletion.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import aiohttp
from litellm import Router


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)  # http://127.0.0.1:PORT/v1
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    router = Router(model_list=[{
        "model_name": "cheap",
        "litellm_params": {"model": "openai/gpt-4o-mini", "api_base": args.base_url,
                           "api_key": "sk-bench-not-secret", "timeout": 10, "max_retries": 0},
    }])  # fmt: skip
    direct: list[float] = []
    routed: list[float] = []
    async with aiohttp.ClientSession() as session:
        for i in range(args.n + 20):
            body = {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": f"overhead question {i}"}],
            }
            started = time.perf_counter()
            async with session.post(
                f"{args.base_url}/chat/completions",
                json=body,
                headers={"Authorization": "Bearer sk-bench"},
            ) as r:
                await r.json()
            if i >= 20:  # warm-up excluded
                direct.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            await router.acompletion(model="cheap", messages=body["messages"])
            if i >= 20:
                routed.append((time.perf_counter() - started) * 1000)
    print(
        json.dumps(
            {
                "direct_p50": pct(direct, 50),
                "direct_p99": pct(direct, 99),
                "router_p50": pct(routed, 50),
                "router_p99": pct(routed, 99),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
