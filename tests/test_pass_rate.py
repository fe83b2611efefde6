"""The pass_rate stage: k rollouts from a (simulated) policy → verify keep all → join."""

from collections import defaultdict

import pytest

from omr_data.distill.simulated import SimulatedServer
from omr_data.distill.stage import DistillStage
from omr_data.pass_rate import PassRateStage
from omr_data.records import load_meta, make_record
from omr_data.runner import run_stage
from omr_data.stage import ConfigError
from omr_data.store import DatasetDir, write_dataset
from omr_data.verify.stage import VerifyStage


def _questions(n=9):
    rows = []
    for i in range(n):
        if i % 3 == 0:
            rows.append(make_record(source="rl", source_id=f"q{i}", question=f"Pick {i}.",
                                    choices=["red", "green", "blue"], answer="B",
                                    answer_type="choice"))
        else:
            rows.append(make_record(source="rl", source_id=f"q{i}",
                                    question=f"What is {i} + 1?", answer=str(i + 1),
                                    answer_type="number"))
    return rows


@pytest.fixture(scope="module")
def annotated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pass_rate")
    questions = write_dataset(tmp / "questions", _questions(), max_rows=4)
    with SimulatedServer(accuracy=0.5, seed=3, oracle=questions.path) as srv:
        run_stage(DistillStage({"teacher": "simulated", "base_urls": [srv.base_url], "n": 4,
                                "progress": False, "request_timeout_s": 5.0}),
                  [questions.path], tmp / "rollouts", progress=False)
    # one question loses all its rollouts (as if its requests had failed)
    rollouts = [r for r in DatasetDir(tmp / "rollouts").iter_rows()
                if not r["id"].startswith("rl/q8#")]
    write_dataset(tmp / "rollouts_some", rollouts, max_rows=5)
    run_stage(VerifyStage({"keep": "all", "workers": 1}), [tmp / "rollouts_some"],
              tmp / "scored", progress=False)
    result = run_stage(PassRateStage(), [questions.path, tmp / "scored"], tmp / "out",
                       progress=False)
    return tmp, result


def test_pass_rate_is_the_mean_verify_acc_of_each_questions_rollouts(annotated):
    tmp, _ = annotated
    accs = defaultdict(list)
    for row in DatasetDir(tmp / "scored").iter_rows():
        accs[row["id"].rsplit("#", 1)[0]].append(load_meta(row)["verify.acc"])
    assert set(accs) == {f"rl/q{i}" for i in range(8)}
    out = {r["id"]: load_meta(r) for r in DatasetDir(tmp / "out").iter_rows()}
    for qid, values in accs.items():
        assert out[qid]["pass_rate"] == pytest.approx(sum(values) / len(values))
        assert out[qid]["pass_rate.n"] == 4
    rates = {m["pass_rate"] for q, m in out.items() if "pass_rate" in m}
    assert len(rates) > 1  # the simulated policy is right about half the time


def test_questions_without_rollouts_are_kept_and_counted(annotated):
    tmp, result = annotated
    out = {r["id"]: load_meta(r) for r in DatasetDir(tmp / "out").iter_rows()}
    assert len(out) == 9 and result.manifest["rejected"] == 0
    assert "pass_rate" not in out["rl/q8"]
    stats = result.manifest["stats"]
    assert stats["no_rollouts"] == 1 and stats["annotated"] == 8
    assert stats["rollouts"] == 32 and result.manifest["rows_in"] == 9


def test_rollouts_verified_with_keep_correct_are_refused(tmp_path):
    questions = write_dataset(tmp_path / "q", _questions(2))
    traces = [dict(r, id=r["id"] + "#0", response="<think>x</think><answer>B</answer>")
              for r in _questions(2)]
    write_dataset(tmp_path / "t", traces)
    run_stage(VerifyStage({"workers": 1}), [tmp_path / "t"], tmp_path / "scored",
              progress=False)
    with pytest.raises(ConfigError, match="keep: all"):
        run_stage(PassRateStage(), [questions.path, tmp_path / "scored"], tmp_path / "out",
                  progress=False)


def test_unscored_rollouts_are_refused(tmp_path):
    questions = write_dataset(tmp_path / "q", _questions(2))
    traces = [dict(r, id=r["id"] + "#0") for r in _questions(2)]
    write_dataset(tmp_path / "t", traces)
    with pytest.raises(ConfigError, match="verify"):
        run_stage(PassRateStage(), [questions.path, tmp_path / "t"], tmp_path / "out",
                  progress=False)


def test_inputs_in_the_wrong_order_are_refused(tmp_path):
    questions = write_dataset(tmp_path / "q", _questions(2))
    traces = [dict(r, id=r["id"] + "#0", meta='{"verify.acc": 1.0}') for r in _questions(2)]
    write_dataset(tmp_path / "t", traces)
    with pytest.raises(ConfigError, match="#k"):
        run_stage(PassRateStage(), [tmp_path / "t", questions.path], tmp_path / "out",
                  progress=False)


def test_pass_rates_are_never_pooled_across_duplicate_ids(tmp_path):
    qs = _questions(3)
    twin = dict(qs[1], question="A different question with the same id.")
    questions = write_dataset(tmp_path / "q", qs + [twin])
    scored = [dict(r, id=f"{r['id']}#{k}", meta=f'{{"verify.acc": {float(k % 2)}}}')
              for r in qs for k in range(2)]
    scored.append(dict(scored[0]))                     # a rollout id seen twice
    write_dataset(tmp_path / "s", scored)
    result = run_stage(PassRateStage(), [questions.path, tmp_path / "s"], tmp_path / "out",
                       progress=False)
    metas = [(r["id"], load_meta(r)) for r in DatasetDir(tmp_path / "out").iter_rows()]
    rated = {rid for rid, m in metas if "pass_rate" in m}
    assert rated == {"rl/q2"}                           # q0: repeated rollout; q1: two questions
    assert result.manifest["stats"]["ambiguous_duplicate_ids"] == 2
