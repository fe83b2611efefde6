"""The demo's published rows as a trainer reads them (load_dataset): every prompt carries the
instruction, every multiple-choice prompt shows every option, SFT prompts are what the
teacher saw, and the card reports diversity and says the teacher was simulated."""

import json

import pytest

from omr_data.prompts import DEFAULT_INSTRUCTION, instruction_sha256, user_text
from omr_data.records import load_meta, option_letters
from omr_data.store import DatasetDir


@pytest.fixture(scope="module")
def published(demo_workdir):
    import os

    import datasets

    work = demo_workdir[0]
    cwd = os.getcwd()
    os.chdir(work / "hub")
    try:
        sft = datasets.load_dataset("omr/sft-874k", split="train")
        rl = datasets.load_dataset("omr/rl-74k", split="train")
    finally:
        os.chdir(cwd)
    return work, sft, rl


def _text(turn):
    return "".join(c["text"] for c in turn["content"] if c["type"] == "text")


def test_every_prompt_starts_with_the_instruction(published):
    _, sft, rl = published
    for turns in [row["messages"] for row in sft] + [row["prompt"] for row in rl]:
        assert turns[0]["role"] == "system"
        assert _text(turns[0]) == DEFAULT_INSTRUCTION
        assert "<think>" in _text(turns[0]) and "<answer>" in _text(turns[0])
    assert [t["role"] for t in sft[0]["messages"]] == ["system", "user", "assistant"]
    assert [t["role"] for t in rl[0]["prompt"]] == ["system", "user"]


def test_every_multiple_choice_prompt_shows_every_option(published):
    _, sft, rl = published
    mc = [row for row in rl if row["choices"]]
    assert len(mc) >= 10
    for row in mc:
        text = _text(row["prompt"][1])
        for letter, choice in zip(option_letters(len(row["choices"])), row["choices"]):
            assert f"{letter}. {choice.strip()}" in text, (row["id"], letter)
    # SFT rows that answer with a letter show the options they choose from
    lettered = [row for row in sft
                if _text(row["messages"][2]).rstrip().endswith(("<answer>A</answer>",
                                                               "<answer>B</answer>",
                                                               "<answer>C</answer>"))]
    assert lettered
    for row in lettered:
        assert "\nA. " in _text(row["messages"][1]), row["id"]


def test_sft_prompts_are_what_the_teacher_saw(published):
    work, sft, _ = published
    traces = DatasetDir(work / "runs/demo/traces")
    distilled = {r["id"]: r for r in traces.iter_rows(
        columns=["id", "question", "choices", "meta"])}
    seen = 0
    for row in sft:
        record = distilled.get(row["id"])
        if record is None:      # mixed-in rows (MMR1, MiroMind) were not distilled here
            continue
        seen += 1
        assert _text(row["messages"][1]) == user_text(record["question"], record["choices"])
        assert load_meta(record)["distill.system_prompt_sha256"] == \
            instruction_sha256(_text(row["messages"][0]))
    assert seen >= 20


def test_card_reports_diversity_simulated_teacher_instruction_and_citations(published):
    work, _, _ = published
    readme = (work / "hub/omr/sft-874k/README.md").read_text()
    assert "SIMULATED teacher" in readme
    assert ":simulated` (" in readme                 # the model name the server reported
    assert "Answer diversity" in readme and "distinct verified traces" in readme
    assert "Questions with fewer than k = 8 distinct verified traces:" in readme
    assert instruction_sha256(DEFAULT_INSTRUCTION) in readme
    assert "@misc{zhang2025openmmreasoner" in readme and "2511.16334" in readme
    assert "xu2024llavacot" in readme                # a source's own citation
    front = readme.split("---")[1]
    assert "license: other" in front and "license_name:" in front and "license_link:" in front
    assert "language:" in front and "- en" in front
    provenance = json.loads((work / "hub/omr/sft-874k/provenance.json").read_text())
    diversity = provenance["configs"]["default"]["splits"]["train"]["diversity"]
    assert diversity["questions"] > 0 and diversity["identical_questions"] == 0
    rl_readme = (work / "hub/omr/rl-74k/README.md").read_text()
    assert "SIMULATED teacher" not in rl_readme      # no teacher wrote the RL set
