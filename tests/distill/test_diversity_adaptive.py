"""Answer diversity in distill (identical-sample warning, manifest counts) and adaptive n."""

import logging
from collections import Counter

import pytest
from distill_helpers import config, make_records

from omr_data.distill import distill
from omr_data.distill.config import DistillConfig
from omr_data.distill.simulated import SimulatedServer
from omr_data.records import load_meta


def accept_all(responses, record):
    return [True] * len(responses)


def _run(records, cfg, journal, stats=None):
    rows = list(distill(records, cfg, journal, stats=stats))
    return [r for r in rows if not r.get("reason")]


def test_greedy_teacher_is_reported_as_identical_samples(tmp_path, caplog):
    records = make_records(4)
    stats: dict = {}
    with SimulatedServer(greedy=True, seed=3) as srv, \
            caplog.at_level(logging.WARNING, logger="omr_data.distill"):
        kept = _run(records, config(srv, n=4), tmp_path / "j.sqlite", stats)
    assert len(kept) == 16
    assert len({r["response"] for r in kept[:4]}) == 1
    assert stats["distill.identical_questions"] == 4
    assert stats["distill.diversity.distinct_traces.1"] == 4
    assert any("identical samples" in r.message for r in caplog.records)


def test_sampling_teacher_gives_distinct_traces_and_reports_its_model(server, tmp_path):
    stats: dict = {}
    kept = _run(make_records(3), config(server, n=4), tmp_path / "j.sqlite", stats)
    assert stats["distill.identical_questions"] == 0
    assert not any(k.startswith("distill.diversity.distinct_traces.1") for k in stats)
    # the model the server named (the simulated teacher says so), not only the preset's
    assert stats["distill.reported_model.omr-data/simulated-teacher:simulated"] == 12
    meta = load_meta(kept[0])
    assert len(meta["distill.system_prompt_sha256"]) == 64


def test_adaptive_n_stops_at_k_distinct_verified_and_caps_at_max_n(tmp_path):
    records = make_records(9)
    oracle = [dict(r) for r in records]
    stats: dict = {}
    with SimulatedServer(accuracy=1.0, oracle=oracle, seed=1) as srv:
        kept = _run(records, config(srv, until_distinct=2, max_n=6), tmp_path / "j.sqlite",
                    stats)
    # an always-right teacher: 2 samples give 2 distinct verified traces, nothing more
    assert len(kept) == 18 and stats["distill.sent_traces"] == 18
    assert all(load_meta(r)["distill.verified"] for r in kept)

    with SimulatedServer(accuracy=0.0, oracle=oracle, seed=1) as srv:
        kept = _run(records, config(srv, until_distinct=2, max_n=5), tmp_path / "j2.sqlite",
                    stats)
    # a never-right teacher: every question is sampled up to max_n, ids #0..#4
    assert len(kept) == 45
    assert {r["id"] for r in kept} == {f"{rec['id']}#{k}" for rec in records for k in range(5)}
    assert not any(load_meta(r)["distill.verified"] for r in kept)

    # one request per sample, replies out of order: rounds grow k by k, nothing sent twice
    with SimulatedServer(accuracy=0.5, oracle=oracle, seed=4, latency_s=0.01,
                         latency_jitter_s=0.02) as srv:
        kept = _run(records, config(srv, until_distinct=3, max_n=6, use_n_param="no"),
                    tmp_path / "j3.sqlite", stats)
        assert srv.requests == len(kept) == stats["distill.sent_traces"]
    per_question = Counter(r["id"].rsplit("#", 1)[0] for r in kept)
    assert all(3 <= n <= 6 for n in per_question.values())
    for rec in records:
        ks = sorted(int(r["id"].rsplit("#", 1)[1]) for r in kept
                    if r["id"].startswith(rec["id"] + "#"))
        assert ks == list(range(len(ks)))


def test_adaptive_n_resumes_from_the_same_journal(tmp_path):
    records = make_records(6)
    oracle = [dict(r) for r in records]
    with SimulatedServer(accuracy=0.5, oracle=oracle, seed=2) as srv:
        cfg = config(srv, until_distinct=3, max_n=8)
        first = _run(records, cfg, tmp_path / "j.sqlite")
        before = srv.requests
        again = _run(records, cfg, tmp_path / "j.sqlite")
        assert srv.requests == before          # everything came from the journal
    assert [r["id"] for r in again] == [r["id"] for r in first]
    assert [r["response"] for r in again] == [r["response"] for r in first]
    # a fixed-n run over the same journal reuses the adaptive run's samples
    with SimulatedServer(accuracy=0.5, oracle=oracle, seed=2) as srv:
        stats: dict = {}
        _run(records, config(srv, n=3), tmp_path / "j.sqlite", stats)
        assert stats["distill.reused"] == 18 and srv.requests == 0


def test_adaptive_n_config_is_checked():
    with pytest.raises(ValueError, match="until_distinct"):
        DistillConfig(teacher="simulated", max_n=4)
    with pytest.raises(ValueError, match="until_distinct must be"):
        DistillConfig(teacher="simulated", until_distinct=0)


def test_a_real_greedy_server_is_flagged_and_named_as_it_reports(transformers_server,
                                                                 tmp_path, caplog):
    srv = transformers_server         # `transformers serve`: ignores temperature and n
    config = {"teacher": "simulated", "model": srv.model, "base_urls": [srv.base_url],
              "n": 3, "max_tokens": 8, "concurrency": 4, "progress": False,
              "request_timeout_s": 120.0}
    stats: dict = {}
    with caplog.at_level(logging.WARNING, logger="omr_data.distill"):
        rows = _run(make_records(2), config, tmp_path / "j.sqlite", stats)
    assert len(rows) == 6
    assert stats["distill.identical_questions"] == 2
    assert any("identical samples" in r.message for r in caplog.records)
    reported = [k for k in stats if k.startswith("distill.reported_model.")]
    assert reported and not any("simulated" in k for k in reported)


def test_cli_adaptive_flags_reach_the_config(tmp_path, monkeypatch):
    from omr_data import cli

    seen = {}
    monkeypatch.setattr(cli, "_run_stage_command",
                        lambda name, inputs, output, config, args: seen.update(config) or 0)
    assert cli.main(["distill", "IN", str(tmp_path / "out"), "--teacher", "simulated",
                     "--until-distinct", "4", "--max-n", "8"]) == 0
    assert seen["until_distinct"] == 4 and seen["max_n"] == 8
    DistillConfig(**seen)                                  # a valid config


def test_adaptive_n_does_not_count_truncated_traces_as_verified(tmp_path):
    records = make_records(2)
    with SimulatedServer(accuracy=1.0, oracle=[dict(r) for r in records], seed=1) as srv:
        # a check that accepts everything: only the finish_reason can refuse a trace
        kept = _run(records, config(srv, until_distinct=1, max_n=3, max_tokens=8,
                                    adaptive_check=f"{__name__}:accept_all"),
                    tmp_path / "j.sqlite")
    # every trace is cut at max_tokens, so none counts as verified and each question is
    # sampled up to max_n
    assert all(load_meta(r)["distill.finish_reason"] == "length" for r in kept)
    assert not any(load_meta(r)["distill.verified"] for r in kept)
    assert len(kept) == 6


def test_adaptive_check_is_named_in_the_config_and_fails_before_any_request():
    from omr_data.distill.engine import adaptive_check
    from omr_data.stage import ConfigError
    from omr_data.verify import rule_verdicts

    assert adaptive_check(DistillConfig(until_distinct=2)) is rule_verdicts
    assert adaptive_check(DistillConfig()) is None          # no adaptive n: nothing loaded
    with pytest.raises(ConfigError, match="adaptive_check 'nowhere:check': cannot import"):
        adaptive_check(DistillConfig(until_distinct=2, adaptive_check="nowhere:check"))


def test_the_adaptive_check_enters_the_cache_key_only_with_adaptive_n():
    from omr_data.distill.stage import DistillStage

    def key(**cfg):
        return DistillStage(DistillConfig(**cfg)).cache_key(["p"])
    assert key() == key(adaptive_check=f"{__name__}:accept_all")
    assert key(until_distinct=2) != key(until_distinct=2, adaptive_check=f"{__name__}:accept_all")
