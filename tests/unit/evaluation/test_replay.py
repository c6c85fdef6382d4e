"""Replay files and the replay provider."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sluice.errors import ProviderError
from sluice.evaluation.replay_data import load_replay
from sluice.evaluation.replay_provider import NO_TEXT, ReplayProvider
from sluice.types import ChatMessage, ProviderRequest


def write_csv(path: Path) -> Path:
    path.write_text(
        "prompt,small,big,small_response,big_input_tokens,big_output_tokens,big_cost,note\n"
        "What is 2+2?,True,True,4,10,3,0.5,x\n"
        "Prove it,false,1,,20,30,,y\n"
        "Dropped,0,1,,,,,z\n"
    )
    (path.parent / "contaminated_prompts.jsonl").write_text(
        json.dumps({"eval_prompt": "Dropped"}) + "\n"
    )
    return path


def test_csv_columns_are_detected_and_contaminated_prompts_dropped(tmp_path: Path) -> None:
    data = load_replay(write_csv(tmp_path / "set_responses.csv"))
    assert data.name == "set"
    assert data.models == ("small", "big")
    assert data.dropped == 1
    first, second = data.rows
    assert first.quality == {"small": 1.0, "big": 1.0}
    assert second.quality == {"small": 0.0, "big": 1.0}
    assert first.response == {"small": "4"}
    assert first.cost == {"big": 0.5}
    assert first.tokens("big") == (10, 3)
    assert first.tokens("small") == (len("What is 2+2?") // 4 + 4, 1)  # estimated from the text
    assert second.tokens("small")[1] == 8  # no text: the default output length


def test_jsonl_with_numeric_quality_and_bad_values(tmp_path: Path) -> None:
    path = tmp_path / "scores.jsonl"
    path.write_text(json.dumps({"prompt": "p", "a": 0.25, "b": 1}) + "\n")
    assert load_replay(path).rows[0].quality == {"a": 0.25, "b": 1.0}
    path.write_text(json.dumps({"prompt": "p", "a": 7, "b": 1}) + "\n")
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        load_replay(path, ["a", "b"])


async def test_replay_provider_serves_the_recorded_answer(tmp_path: Path) -> None:
    data = load_replay(write_csv(tmp_path / "set.csv"))
    provider = ReplayProvider("replay", data.rows)

    def req(model: str, text: str) -> ProviderRequest:
        return ProviderRequest(model, (ChatMessage("user", text),))

    answer = await provider.complete(req("small", "What is 2+2?"))
    assert (answer.text, answer.model, answer.finish_reason) == ("4", "small", "stop")
    assert (await provider.complete(req("big", "What is 2+2?"))).usage.output_tokens == 3
    assert (await provider.complete(req("big", "Prove it"))).text == NO_TEXT
    events = [e async for e in provider.stream(req("small", "What is 2+2?"))]
    assert events[0].delta == "4"
    assert events[-1].done
    with pytest.raises(ProviderError, match="no recorded answer"):
        await provider.complete(req("small", "unknown prompt"))
    assert provider.calls == {"small": 2, "big": 2}
    await provider.aclose()


def test_mt_bench_layout(tmp_path: Path) -> None:
    (tmp_path / "question.jsonl").write_text(
        json.dumps({"question_id": 1, "turns": ["Write a poem", "Shorter"]}) + "\n"
    )
    judge = "[The Start of Assistant's Answer]\nRoses\n[The End of Assistant's Answer]"
    lines = [
        {"question_id": 1, "model": m, "turn": t, "score": s, "user_prompt": judge}
        for m, t, s in (("a", 1, 6), ("a", 2, 8), ("b", 1, 10), ("b", 2, 10))
    ]
    (tmp_path / "judgements.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    data = load_replay(tmp_path)
    (row,) = data.rows
    assert row.prompt == "Write a poem"
    assert row.quality == {"a": 0.7, "b": 1.0}
    assert row.response == {"a": "Roses", "b": "Roses"}


def test_mess_layout_reads_the_three_llama_tiers_and_not_their_labels(tmp_path: Path) -> None:
    path = tmp_path / "arc_easy.csv"
    head = "doc_id,input_text,benchmark_name"
    per_tier = ("label", "acc", "acc_norm", "energy_consumption", "inference_time")
    cols = [f"{c}_{t}" for t in ("small", "medium", "large") for c in per_tier]
    # acc and acc_norm disagree on purpose: ARC's accuracy is acc_norm.
    small, medium, large = ("1.0,0.0,1.0,139.5,1.0", "0.0,1.0,0.0,643.0,4.3",
                            "1.0,1.0,1.0,2590.6,10.5")  # fmt: skip
    path.write_text(
        ",".join([head, *cols]) + "\n"
        + f"0,Which gas do plants take in?,arc_easy,{small},{medium},{large}\n"
    )  # fmt: skip
    data = load_replay(path)
    assert data.models == (
        "Llama-3.2-1B-Instruct", "Llama-3.1-8B-Instruct", "Llama-3.3-70B-Instruct",
    )  # fmt: skip
    (row,) = data.rows
    assert row.prompt == "Which gas do plants take in?"
    assert row.quality == {
        "Llama-3.2-1B-Instruct": 1.0, "Llama-3.1-8B-Instruct": 0.0, "Llama-3.3-70B-Instruct": 1.0,
    }  # fmt: skip
    assert row.response == {}, "label_<tier> is correctness: never an answer text"
