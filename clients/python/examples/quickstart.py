"""Talks to a running daemon:  python examples/quickstart.py [unix:///tmp/sluice.sock]"""

import sys

import sluice_client

target = sys.argv[1] if len(sys.argv) > 1 else "unix:///tmp/sluice.sock"
with sluice_client.Client(target, timeout=10) as client:
    print("healthy:", client.health())
    emb = client.embed(["What is a sluice?"])
    print(f"embedding: {emb.dimensions} dimensions from {emb.model}")
    try:
        answer = client.complete([("user", "What is a sluice?")])
        outcome = sluice_client.pb.CacheOutcome.Name(answer.cache.outcome)
        print(answer.message.content, "| cache:", outcome)
    except sluice_client.UnimplementedError as err:
        print("Complete is not built in this daemon yet:", err.message)
    except sluice_client.SluiceError as err:
        print(f"Complete failed with {err.code.name}: {err.message}")
