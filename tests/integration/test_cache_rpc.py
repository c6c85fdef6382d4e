"""Lookup / Store / Invalidate / GetStats against the real daemon, and restarts."""

from __future__ import annotations

import json
import signal
import time
import zlib
from pathlib import Path

import grpc
import pytest

from sluice.cli import default_verifier_dir
from sluice.v1 import sluice_pb2 as pb
from tests.support.daemon import Daemon
from tests.support.issue4_pairs import COSINE_LOOK_ALIKES

pytestmark = pytest.mark.integration
DEFAULT_MIN_PROBABILITY = json.loads((default_verifier_dir() / "verifier.json").read_text())[
    "default_min_probability"
]


def user(text: str) -> pb.Message:
    return pb.Message(role=pb.ROLE_USER, content=text)


def store(daemon: Daemon, question: str, answer: str, ns: str = "", **kw) -> pb.StoreResponse:  # type: ignore[no-untyped-def]
    return daemon.stub().Store(
        pb.StoreRequest(
            messages=[*kw.pop("history", []), user(question)], namespace=ns,
            answer=pb.Message(role=pb.ROLE_ASSISTANT, content=answer), model="gpt-4o-mini",
            usage=pb.Usage(input_tokens=12, output_tokens=30), **kw,
        ),
        timeout=10,
    )  # fmt: skip


def lookup(daemon: Daemon, question: str, ns: str = "", **kw) -> pb.LookupResponse:  # type: ignore[no-untyped-def]
    history = kw.pop("history", [])
    return daemon.stub().Lookup(
        pb.LookupRequest(messages=[*history, user(question)], namespace=ns, **kw), timeout=10
    )


def test_store_then_exact_and_semantic_hits(shared_daemon: Daemon) -> None:
    stored = store(shared_daemon, "How do I delete a file in Linux?", "Use rm FILE.", ns="t1")
    exact = lookup(shared_daemon, "how do I delete a file in linux?", ns="t1")
    assert exact.hit
    assert exact.cache.outcome == pb.CACHE_OUTCOME_EXACT
    assert exact.entry.id == stored.entry_id
    assert exact.entry.answer.content == "Use rm FILE."
    # The issue's paraphrase (#4): cosine 0.90, below what cosine alone needs (0.97), above
    # the recall threshold (0.80); the verifier decides it means the same.
    semantic = lookup(shared_daemon, "How can I remove a file on Linux?", ns="t1")
    assert semantic.hit
    assert semantic.cache.outcome == pb.CACHE_OUTCOME_SEMANTIC
    assert semantic.entry.answer.content == "Use rm FILE."
    assert 0.80 <= semantic.cache.similarity < 0.97
    assert semantic.cache.age.ToNanoseconds() >= 0
    assert semantic.cache.verifier_score >= DEFAULT_MIN_PROBABILITY
    assert semantic.cache.verifier_version.startswith("sluice-verifier@")
    # "delete a file" must never answer "delete a directory".
    other = lookup(shared_daemon, "How do I delete a directory in Linux?", ns="t1")
    assert not other.hit
    assert other.cache.outcome == pb.CACHE_OUTCOME_MISS
    # Cosine 0.789: below the recall threshold, so the verifier is not even asked.
    assert not other.cache.HasField("verifier_score")
    assert "recall threshold 0.8" in other.cache.reason


@pytest.mark.parametrize(("stored", "asked"), COSINE_LOOK_ALIKES)
def test_the_verifier_refuses_look_alikes_that_cosine_would_serve(
    shared_daemon: Daemon, stored: str, asked: str
) -> None:
    ns = f"look-{COSINE_LOOK_ALIKES.index((stored, asked))}"
    store(shared_daemon, stored, "the answer to the stored question", ns=ns)
    result = lookup(shared_daemon, asked, ns=ns)
    assert result.cache.similarity >= 0.97, "cosine alone would have served it"
    assert not result.hit
    if asked in ORDER_SWAPS:
        # Issue #18: the order guard refuses an exchange before the model runs.
        assert result.cache.reason.startswith(f"order guard: {ORDER_SWAPS[asked]}")
        assert not result.cache.HasField("verifier_score")
        return
    assert result.cache.verifier_score < DEFAULT_MIN_PROBABILITY
    assert "verifier: P(same meaning)" in result.cache.reason


@pytest.mark.parametrize(
    ("stored", "asked"),
    [  # bench/verifier_probes.tsv: the retrained model served these at P 0.972 / 0.975
        ("Order #88213 has not arrived yet", "Order #88214 has not arrived yet"),
        (
            "Ticket 4521: the login page returns error 500",
            "Ticket 4522: the login page returns error 500",
        ),
        # Hand probes (#18): numbers in words were served at P 0.999 / 0.994 / 0.994.
        ("Explain the first law of thermodynamics", "Explain the second law of thermodynamics"),
        ("Summarize chapter one of the book", "Summarize chapter two of the book"),
        (
            "What was the revenue in the first quarter?",
            "What was the revenue in the second quarter?",
        ),
        # ... spans of time at 0.995 / 0.999, and quantifiers at 0.977.
        ("Do all employees get health insurance?", "Do some employees get health insurance?"),
        (
            "What is the price of the Pro plan per month?",
            "What is the price of the Pro plan per year?",
        ),
        (
            "What is the refund policy for annual plans?",
            "What is the refund policy for monthly plans?",
        ),
    ],
)
def test_the_number_guard_refuses_another_order_or_ticket_number(
    shared_daemon: Daemon, stored: str, asked: str
) -> None:
    ns = f"num-{zlib.crc32(stored.encode())}"
    store(shared_daemon, stored, "the answer to the stored question", ns=ns)
    result = lookup(shared_daemon, asked, ns=ns)
    assert not result.hit
    assert result.cache.reason.startswith("number guard: the two questions carry different numbers")
    assert not result.cache.HasField("verifier_score")  # refused before the model ran
    assert "882" not in result.cache.reason
    assert "452" not in result.cache.reason
    # The same numbers in other words: the guard lets the model decide.
    same = lookup(
        shared_daemon, stored.replace(" of ", " from ").replace("has not", "hasn't"), ns=ns
    )
    assert not same.cache.reason.startswith("number guard")


def test_the_substitution_guard_when_switched_on_refuses_another_audience(start_daemon) -> None:  # type: ignore[no-untyped-def]
    # Issue #18: the shipped model serves "…for kids" for "…for adults" at P 0.999.
    daemon = start_daemon({"cache": {"verifier": {"substitution_guard": True}}})
    store(daemon, "What is the best laptop for kids?", "A rugged Chromebook.", ns="aud")
    store(daemon, "Which credit card is best for travelers?", "One without FX fees.", ns="aud")
    for asked, word in (("What is the best laptop for adults?", "adults"),
                        ("Which credit card is best for homeowners?", "homeowners")):  # fmt: skip
        result = lookup(daemon, asked, ns="aud")
        assert not result.hit
        assert result.cache.reason.startswith(f"substitution guard: '{word}' stands where")
        # The cached question's words stay unsaid.
        assert "kids" not in result.cache.reason
        assert "travelers" not in result.cache.reason
        assert not result.cache.HasField("verifier_score")  # refused before the model ran
    # An inflection is the same word; a rewrite goes to the model.
    assert lookup(daemon, "what's the best laptop for a kid", ns="aud").hit
    reworded = lookup(daemon, "Which laptop is best for kids?", ns="aud")
    assert not reworded.cache.reason.startswith("substitution guard")


# The look-alikes that exchange two words, and what the order guard reports.
ORDER_SWAPS = {
    "Flight from Paris to London": "'paris' and 'london' exchanged",
    "Convert 100 Celsius to Fahrenheit": "'celsius' and 'fahrenheit' exchanged",
}


def test_verifier_decisions_reach_the_metrics(shared_daemon: Daemon) -> None:
    store(shared_daemon, "What is the boiling point of water?", "100 °C", ns="vm")
    # Other word pieces than the stored question's (no "?"): the model decides.
    lookup(shared_daemon, "What is the boiling point of water", ns="vm")
    text = shared_daemon.metrics()
    assert 'sluice_cache_verifier_decisions_total{decision="accept"}' in text
    assert "sluice_cache_verifier_seconds_count" in text
    assert 'sluice_cache_verifier_info{version="sluice-verifier@' in text


def test_namespaces_and_history_isolate(shared_daemon: Daemon) -> None:
    store(shared_daemon, "What is the capital of France?", "Paris", ns="tenant-a")
    assert not lookup(shared_daemon, "What is the capital of France?", ns="tenant-b").hit
    tcp = [user("What is TCP?"), pb.Message(role=pb.ROLE_ASSISTANT, content="A protocol.")]
    dns = [user("What is DNS?"), pb.Message(role=pb.ROLE_ASSISTANT, content="Names.")]
    store(shared_daemon, "Can you explain more?", "TCP details", ns="t2", history=tcp)
    assert lookup(shared_daemon, "Can you explain more?", ns="t2", history=tcp).hit
    assert not lookup(shared_daemon, "Can you explain more?", ns="t2", history=dns).hit
    assert not lookup(shared_daemon, "Can you explain more?", ns="t2").hit


def test_text_the_model_does_not_cover_uses_the_exact_layer_only(shared_daemon: Daemon) -> None:
    store(shared_daemon, "Как удалить файл в Linux?", "rm", ns="ru")
    assert lookup(shared_daemon, "Как удалить файл в Linux?", ns="ru").hit
    other = lookup(shared_daemon, "Как удалить папку в Linux?", ns="ru")
    assert not other.hit
    assert other.cache.outcome == pb.CACHE_OUTCOME_SKIPPED
    assert "not covered" in other.cache.reason
    stats = shared_daemon.stub().GetStats(pb.GetStatsRequest(namespace="ru"), timeout=5)
    assert stats.cache.unsupported_text >= 1


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        # Issue #18: words that fell apart into letters plus one two-letter piece (`##ии`)
        # counted as covered, so this reached the verifier and was served (P 0.971).
        ("Какая столица Франции?", "Какая столица Германии?"),
        # Russian with English terms: the model reads only the terms, not what is asked.
        ("Как настроить Kubernetes ingress?", "Как удалить Kubernetes ingress?"),
    ],
)
def test_text_in_a_script_the_model_only_spells_is_never_served_semantically(
    shared_daemon: Daemon, stored: str, asked: str
) -> None:
    store(shared_daemon, stored, "the stored answer", ns="ru-spelled")
    other = lookup(shared_daemon, asked, ns="ru-spelled")
    assert not other.hit
    assert other.cache.outcome == pb.CACHE_OUTCOME_SKIPPED
    assert "not covered" in other.cache.reason


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        # Issue #18: Latin-script languages passed the coverage check, and the English
        # verifier, which cannot read "weniger" or "mniej", served these (P 0.996, 0.997;
        # STS-B's translations, docs/cache-eval.md "Languages the models do not read").
        (
            "Haben Sie etwas, um es weniger überzeugend zu machen oder nicht?",
            "Haben Sie etwas, um es noch überzeugender zu machen?",
        ),
        (
            "czy masz coś, co sprawi, że będzie mniej przekonujące, czy nie?",
            "Czy masz coś, co sprawi, że będzie to bardziej przekonujące?",
        ),
    ],
)
def test_a_language_the_models_do_not_read_uses_the_exact_layer_only(
    shared_daemon: Daemon, stored: str, asked: str
) -> None:
    store(shared_daemon, stored, "the stored answer", ns="latin-other")
    assert lookup(shared_daemon, stored, ns="latin-other").hit
    other = lookup(shared_daemon, asked, ns="latin-other")
    assert not other.hit
    assert other.cache.outcome == pb.CACHE_OUTCOME_SKIPPED
    assert "reads as language" in other.cache.reason
    assert "embedding.languages" in other.cache.reason


def test_invalidate_and_stats(shared_daemon: Daemon) -> None:
    ns = "inv"
    first = store(shared_daemon, "question one", "1", ns=ns)
    store(shared_daemon, "question two", "2", ns=ns)
    store(shared_daemon, "question one", "kept", ns="inv-other")
    stub = shared_daemon.stub()
    assert stub.Invalidate(pb.InvalidateRequest(entry_id=first.entry_id), timeout=5).removed == 1
    with pytest.raises(grpc.RpcError) as info:
        stub.Invalidate(pb.InvalidateRequest(entry_id=first.entry_id), timeout=5)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert stub.Invalidate(pb.InvalidateRequest(namespace=ns), timeout=5).removed == 1
    assert lookup(shared_daemon, "question one", ns="inv-other").hit
    stats = stub.GetStats(pb.GetStatsRequest(namespace=ns), timeout=5)
    assert stats.cache.entries == 0
    assert stats.cache.stores == 2
    assert stats.cache.invalidations == 2
    assert stats.model.startswith("all-MiniLM-L6-v2@") or "@" in stats.model


@pytest.mark.parametrize(
    ("request_", "fragment"),
    [
        (pb.LookupRequest(messages=[user("x")], threshold=1.5), "threshold"),
        (pb.LookupRequest(messages=[user("x")], threshold=0.5), "floor"),
        (pb.LookupRequest(messages=[user("x")], namespace="bad ns!"), "namespace"),
        (pb.LookupRequest(messages=[pb.Message(role=99, content="x")]), "messages[0].role"),
        (
            pb.LookupRequest(messages=[user("x"), pb.Message(role=pb.ROLE_ASSISTANT, content="y")]),
            "last message",
        ),
        (pb.LookupRequest(messages=[user("")]), "content"),
    ],
)
def test_lookup_bad_input(shared_daemon: Daemon, request_: pb.LookupRequest, fragment: str) -> None:
    with pytest.raises(grpc.RpcError) as info:
        shared_daemon.stub().Lookup(request_, timeout=5)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in info.value.details()


def test_store_bad_input(shared_daemon: Daemon) -> None:
    stub = shared_daemon.stub()
    cases = [
        (pb.StoreRequest(messages=[user("q")], answer=pb.Message(content="")), "answer.content"),
        (pb.StoreRequest(messages=[user("q")], answer=pb.Message(content="a"),
                         ttl={"seconds": -5}), "ttl"),
        (pb.StoreRequest(messages=[user("q")], answer=pb.Message(role=pb.ROLE_USER, content="a")),
         "answer.role"),
        (pb.StoreRequest(messages=[user("q")], answer=pb.Message(content="a"),
                         usage=pb.Usage(input_tokens=-1)), "usage"),
    ]  # fmt: skip
    for request_, fragment in cases:
        with pytest.raises(grpc.RpcError) as info:
            stub.Store(request_, timeout=5)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, fragment
        assert fragment in info.value.details()
    with pytest.raises(grpc.RpcError) as info:
        stub.Invalidate(pb.InvalidateRequest(all=False), timeout=5)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_ttl_expiry_over_grpc(shared_daemon: Daemon) -> None:
    store(shared_daemon, "short lived", "soon gone", ns="ttl", ttl={"nanos": 300_000_000})
    assert lookup(shared_daemon, "short lived", ns="ttl").hit
    time.sleep(0.5)
    assert not lookup(shared_daemon, "short lived", ns="ttl").hit


def _config(snapshots: Path, interval: float = 60.0) -> dict[str, object]:
    return {"cache": {"snapshot_dir": str(snapshots), "snapshot_interval_s": interval}}


def test_graceful_restart_serves_yesterdays_hits(start_daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    daemon = start_daemon(_config(tmp_path / "snap"))
    store(daemon, "How many legs does a spider have?", "Eight.")
    assert daemon.stop() == 0
    again = start_daemon(_config(tmp_path / "snap"))
    # Other word pieces (no "?"), so the verifier, not the pieces, decides.
    hit = lookup(again, "How many legs does a spider have")
    assert hit.hit
    assert hit.entry.answer.content == "Eight."
    assert hit.cache.outcome == pb.CACHE_OUTCOME_SEMANTIC
    # The snapshot kept the question text, so the verifier could check the restored entry.
    assert hit.cache.verifier_version


def test_kill_9_loses_at_most_what_came_after_the_last_snapshot(
    start_daemon, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    daemon = start_daemon(_config(tmp_path / "snap", interval=0.2))
    store(daemon, "before the snapshot", "kept")
    time.sleep(1.0)  # a few snapshot intervals
    daemon.stop(signal.SIGKILL)
    again = start_daemon(_config(tmp_path / "snap"))
    assert lookup(again, "before the snapshot").hit


def test_corrupt_snapshot_starts_empty_with_a_warning(start_daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    snaps = tmp_path / "snap"
    daemon = start_daemon(_config(snaps))
    store(daemon, "will be corrupted", "x")
    daemon.stop()
    current = snaps / (snaps / "CURRENT").read_text().strip()
    entries = current / "entries.jsonl"
    entries.write_bytes(entries.read_bytes()[:-3])
    again = start_daemon(_config(snaps))
    assert not lookup(again, "will be corrupted").hit
    assert any(line.get("event") == "snapshot_skipped" for line in again.log_lines())


def _embedded(daemon: Daemon) -> float:
    for line in daemon.metrics().splitlines():
        if line.startswith("sluice_embed_texts_total "):
            return float(line.split()[1])
    raise AssertionError("sluice_embed_texts_total is not exposed")


def test_a_store_after_a_missed_lookup_does_not_embed_the_question_again(
    shared_daemon: Daemon,
) -> None:
    question = "What is the boiling point of water at the top of Mount Everest?"
    before = _embedded(shared_daemon)
    assert not lookup(shared_daemon, question, ns="handoff").hit
    assert _embedded(shared_daemon) == before + 1
    store(shared_daemon, question, "About 70 degrees Celsius.", ns="handoff")
    assert _embedded(shared_daemon) == before + 1  # the Lookup's vector, handed over
    # ...and it is the question's own: the vector layer finds the entry by it.
    hit = lookup(shared_daemon, question[:-1] + " ?", ns="handoff")
    assert hit.cache.outcome == pb.CACHE_OUTCOME_SEMANTIC
    assert hit.cache.similarity > 0.999
    # A Store no miss came before embeds its question (nothing to hand over).
    store(shared_daemon, "How far is the Moon from the Earth?", "About 384,400 km.", ns="handoff")
    assert _embedded(shared_daemon) == before + 3


def _verifier_runs(daemon: Daemon) -> float:
    for line in daemon.metrics().splitlines():
        if line.startswith("sluice_cache_verifier_seconds_count "):
            return float(line.split()[1])
    return 0.0


def test_the_same_word_pieces_are_served_without_the_verifier(shared_daemon: Daemon) -> None:
    store(shared_daemon, "Who painted the Mona Lisa?", "Leonardo da Vinci.", ns="pieces")
    runs = _verifier_runs(shared_daemon)
    # Case, accents and spacing as the uncased WordPiece folds them: the same question.
    hit = lookup(shared_daemon, "who  painted the MONA LÍSA ?", ns="pieces")
    assert hit.cache.outcome == pb.CACHE_OUTCOME_SEMANTIC
    assert hit.entry.answer.content == "Leonardo da Vinci."
    # Reported as decided: by the word pieces, with no verifier score (the model never ran).
    assert "same word pieces" in hit.cache.reason
    assert not hit.cache.HasField("verifier_score")
    assert _verifier_runs(shared_daemon) == runs
    assert 'sluice_cache_verifier_decisions_total{decision="same_pieces"}' in (
        shared_daemon.metrics()
    )
