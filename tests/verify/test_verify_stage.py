"""The verify stage end to end: keep/reject with reasons, meta, pass rates, gold checks."""

import pytest

from omr_data.distill.simulated import SimulatedServer
from omr_data.records import load_meta, make_record
from omr_data.runner import run_stage
from omr_data.stage import ConfigError
from omr_data.store import DatasetDir, write_dataset
from omr_data.verify.stage import VerifyConfig, VerifyStage, question_id

GOOD = "<think>Count them.</think><answer>{}</answer>"
OPTS = ["1", "2", "3"]


def trace(qid, k, answer, response, **kw):
    kw.setdefault("answer_type", "number")
    return make_record(source="s", source_id=f"{qid}#{k}", question=f"Question {qid}?",
                       answer=answer, response=response, **kw)


def rl_row(qid, answer, answer_type, choices=None):
    return make_record(source="s", source_id=qid, question=f"Question {qid}?", answer=answer,
                       answer_type=answer_type, choices=choices)


def run(tmp_path, *inputs, **config):
    dirs = []
    for i, rows in enumerate(inputs):
        write_dataset(tmp_path / f"in{i}", rows, max_rows=2)
        dirs.append(tmp_path / f"in{i}")
    config.setdefault("workers", 1)
    result = run_stage(VerifyStage(config), dirs, tmp_path / "out", progress=False)
    out = DatasetDir(tmp_path / "out")
    kept = {r["id"]: r for r in out.iter_rows()}
    rejected = {r["id"]: r for r in out.iter_rejects()}
    return kept, rejected, result


def test_correct_traces_are_kept_and_wrong_ones_rejected_with_reasons(tmp_path):
    rows = [trace("q1", 0, "4", GOOD.format("4")),
            trace("q1", 1, "4", GOOD.format("5")),
            trace("q1", 2, "4", "<answer>4</answer>"),
            trace("q1", 3, "4", "I think it is 4."),
            trace("q1", 4, "4", "")]
    kept, rejected, _ = run(tmp_path, rows)
    assert set(kept) == {"s/q1#0"}
    assert rejected["s/q1#1"]["reason"].startswith("wrong answer: pred='5' gold='4'")
    assert rejected["s/q1#2"]["reason"] == "bad format: does not start with <think>"
    assert rejected["s/q1#3"]["reason"].startswith("bad format:")
    assert rejected["s/q1#4"]["reason"] == "bad format: no final answer found"


def test_verify_keys_are_written_into_meta(tmp_path):
    kept, rejected, _ = run(tmp_path, [trace("q1", 0, "4", GOOD.format("4")),
                                      trace("q1", 1, "4", GOOD.format("5"))])
    meta = load_meta(kept["s/q1#0"])
    assert meta["verify.acc"] == 1.0 and meta["verify.format"] == 1.0
    assert meta["verify.score"] == 1.0 and meta["verify.pred"] == "4"
    assert meta["verify.decided_by"] == "rule:exact"
    assert load_meta(rejected["s/q1#1"])["verify.acc"] == 0.0


def test_pass_rate_counts_traces_of_a_question_across_shards_and_inputs(tmp_path):
    first = [trace("q1", 0, "4", GOOD.format("4")), trace("q2", 0, "B", GOOD.format("B"),
                                                          answer_type="choice", choices=OPTS),
             trace("q1", 1, "4", GOOD.format("5"))]
    second = [trace("q1", 2, "4", GOOD.format("4.0")), trace("q1", 3, "4", GOOD.format("3"))]
    kept, rejected, _ = run(tmp_path, first, second)
    meta = load_meta(kept["s/q1#0"])
    assert (meta["verify.pass_k"], meta["verify.pass_n"], meta["verify.pass_rate"]) == (2, 4, 0.5)
    assert load_meta(kept["s/q1#2"])["verify.pass_rate"] == 0.5
    assert load_meta(rejected["s/q1#3"])["verify.pass_rate"] == 0.5
    assert load_meta(kept["s/q2#0"])["verify.pass_rate"] == 1.0


def test_keep_all_keeps_wrong_traces_with_their_verdicts(tmp_path):
    kept, rejected, _ = run(tmp_path, [trace("q1", 0, "4", GOOD.format("4")),
                                      trace("q1", 1, "4", GOOD.format("5"))], keep="all")
    assert set(kept) == {"s/q1#0", "s/q1#1"} and not rejected
    assert load_meta(kept["s/q1#1"])["verify.acc"] == 0.0


def test_rows_without_response_are_checked_as_gold_answers(tmp_path):
    rows = [rl_row("r1", "B", "choice", OPTS), rl_row("r2", "12 cm", "number"),
            rl_row("r3", "a lot", "number"), rl_row("r4", "\\frac{\\sqrt{3}}{2}", "expression"),
            rl_row("r5", "maybe", "yes_no"), rl_row("r6", "\\frac{1}{", "expression")]
    kept, rejected, _ = run(tmp_path, rows)
    assert set(kept) == {"s/r1", "s/r2", "s/r4"}
    assert load_meta(kept["s/r1"])["verify.decided_by"] == "gold_check"
    assert rejected["s/r3"]["reason"].startswith("bad gold answer:")
    assert rejected["s/r5"]["reason"] == "bad gold answer: 'maybe' is not yes or no"
    assert rejected["s/r6"]["reason"].startswith("bad gold answer:")


def test_too_complex_answer_is_rejected_as_timeout(tmp_path):
    kept, rejected, result = run(tmp_path, [trace("q1", 0, "10^{10^{10^{9}}}",
                                                  GOOD.format("10^{10^{10^{10}}}"),
                                                  answer_type="expression")])
    assert rejected["s/q1#0"]["reason"].startswith("timeout:")
    assert result.manifest["stats"]["timeouts"] == 1


def test_manifest_counts_what_decided(tmp_path):
    _, _, result = run(tmp_path, [trace("q1", 0, "4", GOOD.format("4")),
                                  trace("q1", 1, "4", GOOD.format("\\log_2 16"))],
                       timeout_s=60.0)        # a fresh worker's first logarithm, busy machine
    stats = result.manifest["stats"]
    assert stats["traces"] == 2 and stats["traces_correct"] == 2
    assert stats["decided_by.rule:exact"] == 1 and stats["decided_by.math_verify"] == 1


def test_judge_decides_text_the_rules_cannot_and_rejects_with_its_reason(tmp_path):
    rows = [trace("q1", 0, "blue", GOOD.format("green"), answer_type="text"),
            trace("q1", 1, "blue", GOOD.format("Blue."), answer_type="text")]
    with SimulatedServer() as server:
        kept, rejected, _ = run(tmp_path, rows, judge="qwen3-235b-judge",
                                judge_base_url=server.base_url,
                                judge_cache=str(tmp_path / "judge.sqlite"),
                                judge_api_key_env="OMR_TEST_NO_KEY")
        assert server.requests == 1                 # "Blue." was decided by the rules
    assert set(kept) == {"s/q1#1"}
    assert rejected["s/q1#0"]["reason"].startswith("judge said no: pred='green' gold='blue'")


def test_rerun_resumes_from_the_verdicts_already_written(tmp_path):
    stage = VerifyStage({"workers": 1})
    write_dataset(tmp_path / "in", [trace("q1", 0, "4", GOOD.format("4"))])
    from omr_data.stage import StageContext
    ctx = StageContext(workdir=tmp_path / "work")
    (tmp_path / "work").mkdir()
    for unit in stage.prepare_units([str(tmp_path / "in")], ctx):
        stage.prepare_unit(unit, ctx)
    verdicts = sorted((tmp_path / "work" / "verdicts").glob("*.parquet"))
    stamp = verdicts[0].stat().st_mtime_ns
    for unit in stage.prepare_units([str(tmp_path / "in")], ctx):
        stage.prepare_unit(unit, StageContext(workdir=tmp_path / "work"))
    assert verdicts[0].stat().st_mtime_ns == stamp


def test_scoring_runs_in_executor_workers_with_the_inline_result(tmp_path):
    from omr_data.executors.local import LocalExecutor
    from omr_data.runner import run_stage
    rows = [trace(f"q{i}", k, "4", GOOD.format("4" if k % 2 else "5"))
            for i in range(6) for k in range(4)]
    src = write_dataset(tmp_path / "in", rows, max_rows=5)
    inline = run_stage(VerifyStage({"workers": 1}), [src.path], tmp_path / "a",
                       executor=LocalExecutor(1), progress=False)
    pooled = run_stage(VerifyStage({"workers": 1}), [src.path], tmp_path / "b",
                       executor=LocalExecutor(2), progress=False)
    assert inline.manifest["fingerprint"] == pooled.manifest["fingerprint"]
    assert pooled.manifest["rows"] == 12 and pooled.manifest["stats"]["traces"] == 24


def test_config_rejects_bad_values_with_a_fix():
    with pytest.raises(ValueError, match="unknown preset"):
        VerifyConfig(judge="gpt")
    with pytest.raises(ValueError, match="--judge"):
        VerifyConfig(judge_base_url="http://x/v1")
    with pytest.raises(ValueError, match="keep"):
        VerifyConfig(keep="some")
    with pytest.raises(ConfigError, match="format_weight"):
        VerifyStage({"format_weight": 2})


def test_stage_declares_its_contract():
    assert VerifyStage.name == "verify" and VerifyStage.reads == "datasets"
    assert {"response", "answer"} <= set(VerifyStage.input_columns)


def test_question_id_is_the_part_before_the_hash():
    assert question_id("virl39k/abc#3") == "virl39k/abc"
    assert question_id("virl39k/abc") == "virl39k/abc"


def test_a_trace_cut_off_at_max_tokens_earns_nothing(tmp_path):
    import json
    cut = trace("q1", 0, "4", GOOD.format("4"))
    cut["meta"] = json.dumps({"distill.finish_reason": "length"})
    done = trace("q1", 1, "4", GOOD.format("4"))
    done["meta"] = json.dumps({"distill.finish_reason": "stop"})
    kept, rejected, _ = run(tmp_path, [cut, done])
    assert set(kept) == {"s/q1#1"}
    assert rejected["s/q1#0"]["reason"].startswith("truncated:")
    assert load_meta(rejected["s/q1#0"])["verify.decided_by"] == "truncated"
