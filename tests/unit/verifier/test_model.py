"""The committed verifier model: loads, checks itself, scores each pair on its own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from sluice.cli import default_verifier_dir
from sluice.errors import ConfigError
from sluice.verifier.model import OnnxVerifier, Verifier, unknown_id
from tests.support.issue4_pairs import ISSUE_LOOK_ALIKES, ISSUE_PARAPHRASES

QUERIES = [
    "How do I delete a file in Linux?",
    "How can I remove a file on Linux?",
    "How do I delete a directory in Linux?",
    "Flight from Paris to London",
    "Does this medication not cause drowsiness?",
    "Who is the author of War and Peace?",
    "Convert 100 Celsius to Fahrenheit",
    "A much longer question about the retention policy of object storage buckets when "
    "versioning is enabled and lifecycle rules are configured to expire noncurrent versions",
]


@pytest.fixture(scope="module")
def model() -> OnnxVerifier:
    return OnnxVerifier(default_verifier_dir())


def test_card_and_version(model: OnnxVerifier) -> None:
    card = json.loads((default_verifier_dir() / "verifier.json").read_text())
    assert model.version == card["version"]
    assert model.version.endswith(card["sha256"][:12])
    assert 0.5 <= model.card.default_min_probability < 1.0


def test_a_pair_scores_exactly_the_same_alone_and_among_others(model: OnnxVerifier) -> None:
    # The int8 model quantizes activations per call: only one pair per call keeps a pair's
    # score independent of its neighbours (a padded batch moves logits by up to ~1.7).
    query = "How do I delete a file in Linux?"
    together = model.logits(query, QUERIES)
    backwards = model.logits(query, QUERIES[::-1])[::-1]
    alone = np.array([model.logits(query, [c])[0] for c in QUERIES])
    assert np.array_equal(together, alone)
    assert np.array_equal(backwards, alone)
    probs = model.score(query, QUERIES)
    assert all(0.0 <= p <= 1.0 for p in probs)
    assert model.score(query, []) == []


def test_the_cache_face_times_itself(model: OnnxVerifier) -> None:
    scores, seconds = Verifier(model).score(QUERIES[0], QUERIES[1:3])
    assert len(scores) == 2
    assert seconds > 0
    assert scores == model.score(QUERIES[0], QUERIES[1:3])


def test_a_tampered_model_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    copy = tmp_path / "v"
    shutil.copytree(default_verifier_dir(), copy)
    with (copy / "model.onnx").open("ab") as f:
        f.write(b"\0")
    with pytest.raises(ConfigError) as err:
        OnnxVerifier(copy)
    assert err.value.key == "cache.verifier.model_dir"
    assert "sha256" in err.value.message


def test_a_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        OnnxVerifier(tmp_path / "nowhere")


@pytest.mark.parametrize(("cached", "query"), ISSUE_LOOK_ALIKES)
def test_the_issues_look_alikes_are_refused(model: OnnxVerifier, cached: str, query: str) -> None:
    assert model.score(query, [cached])[0] < model.card.default_min_probability


def test_the_issues_paraphrases_outscore_its_look_alikes(model: OnnxVerifier) -> None:
    paraphrases = [model.score(q, [c])[0] for c, q in ISSUE_PARAPHRASES]
    look_alikes = [model.score(q, [c])[0] for c, q in ISSUE_LOOK_ALIKES]
    assert min(paraphrases) > max(look_alikes)


# Paraphrases the shipped model serves although cosine is below 0.97: the issue's own, and
# three more at cosine 0.94–0.96. Not every one: "At what temperature does water boil?" for
# "What is the boiling point of water?" (cosine 0.84) scores 0.78 and is refused, a miss;
# docs/cache-eval.md lists each probe.
PARAPHRASES_SERVED = [
    *ISSUE_PARAPHRASES,
    ("What is the capital of France?", "Tell me the capital of France"),
    ("What is the tallest mountain in Africa?", "Which mountain is the highest in Africa?"),
    ("Summarize the plot of Hamlet", "Give me a summary of the plot of Hamlet"),
]


@pytest.mark.parametrize(("cached", "query"), PARAPHRASES_SERVED)
def test_paraphrases_below_the_cosine_threshold_are_accepted(
    model: OnnxVerifier, cached: str, query: str
) -> None:
    assert model.score(query, [cached])[0] >= model.card.default_min_probability


@pytest.mark.parametrize(
    ("query", "cached", "same"),
    [
        ("What is a Résumé?", "what is a  resume ?", True),  # case, accents, white space
        ("What is a resume?", "What is a resume", False),  # a piece less: the model decides
        ("Convert 100 Celsius", "Convert 10 Celsius", False),
        ("I love 🍕", "I love 🍣", False),  # both [UNK]: not known to be the same
        ("word " * 200, "word " * 200 + "more", False),  # cut at max_tokens: not all compared
    ],
)
def test_same_pieces_is_the_tokenizers_own_normalisation(
    model: OnnxVerifier, query: str, cached: str, same: bool
) -> None:
    assert model.same_pieces(query, [cached]) == [same]


def test_the_cache_face_checks_pieces(model: OnnxVerifier) -> None:
    same = Verifier(model).same_pieces("Who wrote it?", ["who wrote it ?", "who did"])
    assert same == [True, False]


def test_the_unknown_piece_is_found_whatever_the_vocabulary(model: OnnxVerifier) -> None:
    # A verifier on a SentencePiece vocabulary (a multilingual one, models/scripts/export_e5.py)
    # has no "[UNK]" token: asking for that name found nothing, so two texts whose only
    # difference was an unknown character had "the same pieces" and skipped the model.
    assert unknown_id(model.tokenizer) == model.tokenizer.token_to_id("[UNK]")
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(p, -1.0) for p in ("▁", "▁I", "▁love", "a", "b")]
    unigram = Tokenizer(models.Unigram(vocab, unk_id=3, byte_fallback=False))
    unigram.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    assert unknown_id(unigram) == 3
    assert 3 in unigram.encode("I love 🍕", add_special_tokens=False).ids
    assert unknown_id(Tokenizer(models.BPE())) is None
