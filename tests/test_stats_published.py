"""`omr-data stats` on a published repository, and answer diversity in stats and publish."""

import json
import subprocess
import sys

import pytest

from omr_data.diversity import Tally, final_answer, near_form, question_key
from omr_data.hub import publish, publish_release
from omr_data.publish import forms
from omr_data.publish.common import PublishError
from omr_data.records import make_record
from omr_data.stats import compute_stats, is_published_repo, write_plots
from omr_data.store import write_dataset


def _traces(questions: int, n: int, *, identical: bool = False) -> list[dict]:
    rows = []
    for q in range(questions):
        for k in range(n):
            step = 0 if identical else k
            rows.append(make_record(
                source="llava_cot", source_id=f"q{q}#{k}", question=f"What is {q} + 1?",
                answer=str(q + 1), answer_type="number",
                response=f"<think>{'then ' * step}{q} plus one</think><answer>{q + 1}</answer>",
                meta={"distill.k": k}))
    return rows


def _rl(n: int) -> list[dict]:
    return [make_record(source="virl39k", source_id=f"r{i}", question=f"Which is red? ({i})",
                        answer="A", answer_type="choice", choices=["apple", "sky"],
                        meta={"verify.pass_rate": 0.5}) for i in range(n)]


def test_diversity_normalizes_whitespace_and_numbers():
    assert question_key("src/q1#7") == "src/q1" and question_key("src/a#b") == "src/a#b"
    assert near_form("x =  12\n y=3.5") == near_form("x = 7 y=0.25")
    assert final_answer("<think>..</think><answer> 4\n</answer>") == "4"
    tally = Tally()
    for k, text in enumerate(["<answer>1</answer>", "<answer>1</answer>  ",
                              "a <answer>2</answer>", "b <answer>2</answer>"]):
        tally.add(f"s/q#{k}", text)
    summary = tally.summary(k=3)
    assert summary["distinct_traces"] == {"4": 1} and summary["distinct_near"] == {"3": 1}
    assert summary["distinct_answers"] == {"2": 1} and summary["share_below_k"] == 0.0


def test_stats_reads_a_published_repo_with_sft_and_rl_configs(tmp_path):
    hub = tmp_path / "hub"
    sft = write_dataset(tmp_path / "sft", _traces(3, 4))
    rl = write_dataset(tmp_path / "rl", _rl(5))
    publish_release([("sft", "train", [sft.path]), ("rl", "train", [rl.path])], "omr/x",
                    version="v1.0", hub_dir=hub)
    repo = hub / "omr/x"
    assert is_published_repo(repo)
    stats = compute_stats(repo)
    assert stats["published"] and stats["rows"] == 17
    assert stats["configs"] == {"sft/train": "sft", "rl/train": "rl"}
    assert stats["by_source"] == {"llava_cot": 12, "virl39k": 5}
    assert stats["by_answer_type"] == {"choice": 5}
    assert stats["with_response"] == 12 and stats["pass_rate"]["mean"] == 0.5
    assert stats["diversity"]["questions"] == 3
    assert stats["diversity"]["distinct_traces"] == {"4": 3}
    plots = {p.name for p in write_plots(stats, tmp_path / "plots")}
    assert "diversity.png" in plots and "question_tokens.png" in plots

    out = subprocess.run([sys.executable, "-m", "omr_data", "stats", str(repo), "--plots",
                          str(tmp_path / "cli"), "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "answer_type" not in out.stderr
    assert json.loads(out.stdout.rsplit("\nstats:", 1)[0])["rows"] == 17


def test_card_reports_identical_samples_and_diversity(tmp_path):
    hub = tmp_path / "hub"
    src = write_dataset(tmp_path / "sft", _traces(4, 3, identical=True))
    publish([src.path], "omr/y", version="v1.0", hub_dir=hub)
    provenance = json.loads((hub / "omr/y/provenance.json").read_text())
    diversity = provenance["configs"]["default"]["splits"]["train"]["diversity"]
    assert diversity["identical_questions"] == 4 and diversity["distinct_traces"] == {"1": 4}
    readme = (hub / "omr/y/README.md").read_text()
    assert "| 1 | 4 | 100.0% |" in readme          # every question: one distinct trace


def test_publish_refuses_traces_made_under_another_instruction(tmp_path):
    rows = _traces(1, 2)
    for row in rows:
        row["meta"] = json.dumps({"distill.k": 0, "distill.system_prompt_sha256": "0" * 64})
    src = write_dataset(tmp_path / "sft", rows)
    with pytest.raises(PublishError, match="system prompt"):
        publish([src.path], "omr/z", version="v1.0", hub_dir=tmp_path / "hub")


def test_prompts_are_identical_for_sft_and_rl_and_options_always_shown():
    record = make_record(source="t", source_id="a", question="Which is red?", answer="A",
                         answer_type="choice", choices=["apple", "sky"],
                         response="<think>x</think><answer>A</answer>")
    sft = forms.to_sft_row(record, "Be brief.")
    rl = forms.to_rl_row(record, "Be brief.")
    assert sft["messages"][:2] == rl["prompt"]
    assert rl["prompt"][0] == {"role": "system", "content": [{"type": "text",
                                                               "text": "Be brief."}]}
    assert rl["prompt"][1]["content"][-1]["text"] == \
        "Which is red?\n\nOptions:\nA. apple\nB. sky"
    # an empty instruction publishes no system turn
    assert [t["role"] for t in forms.to_rl_row(record, "")["prompt"]] == ["user"]
    # options already listed in the question are not repeated; bare substrings do not count
    listed = dict(record, question="Which is red?\nA. apple\nB. sky")
    assert forms.to_rl_row(listed)["prompt"][1]["content"][-1]["text"].count("apple") == 1
    digits = dict(record, question="Is 12 + 3 = 15?", choices=["1", "5"])
    assert "A. 1\nB. 5" in forms.to_rl_row(digits)["prompt"][1]["content"][-1]["text"]


def test_a_teacher_preset_served_by_the_simulated_server_is_labelled_simulated():
    from omr_data.publish import card

    node = {"fingerprint": "f", "name": "traces"}
    stats = {"distill.teacher": "qwen3-vl-235b",
             "distill.model": "Qwen/Qwen3-VL-235B-A22B-Instruct",
             "distill.n": 8,
             "distill.reported_model.Qwen/Qwen3-VL-235B-A22B-Instruct:simulated": 16}
    fact = card._teacher_fact(node, stats, {"teacher": "qwen3-vl-235b"}, set())
    assert fact["simulated"] and fact["reported"] == {
        "Qwen/Qwen3-VL-235B-A22B-Instruct:simulated": 16}
    real = dict(stats)
    del real["distill.reported_model.Qwen/Qwen3-VL-235B-A22B-Instruct:simulated"]
    real["distill.reported_model.Qwen/Qwen3-VL-235B-A22B-Instruct"] = 16
    assert not card._teacher_fact(node, real, {"teacher": "qwen3-vl-235b"}, set())["simulated"]
    real.update({"distill.identical_questions": 3, "distill.questions": 5})
    warning = card._teacher_fact(node, real, {"teacher": "qwen3-vl-235b"}, set())["warning"]
    assert warning.startswith("the teacher returned identical samples for 3 of 5 questions")


def test_simulated_server_names_itself_simulated_whatever_model_is_asked(tmp_path):
    from omr_data.distill import distill
    from omr_data.distill.simulated import SimulatedServer

    records = _rl(2)
    with SimulatedServer(seed=0) as srv:
        stats: dict = {}
        list(distill(records, {"teacher": "qwen3-vl-235b", "base_urls": [srv.base_url], "n": 2,
                               "progress": False, "max_tokens": 512}, tmp_path / "j.sqlite",
                     stats=stats))
    assert stats["distill.reported_model.Qwen/Qwen3-VL-235B-A22B-Instruct:simulated"] == 4
