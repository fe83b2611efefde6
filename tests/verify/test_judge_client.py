"""The judge on the shared LLM client: the same limits, one client across calls, a request
journal as its cache (older caches imported), and no event-loop trouble for callers."""

import asyncio
import dataclasses
import sqlite3
import time

import pytest

from omr_data.distill.simulated import SimulatedServer
from omr_data.verify.judge import Judge, JudgeRequest, build_messages
from omr_data.verify.stage import VerifyStage


@pytest.fixture(scope="module")
def server():
    with SimulatedServer(seed=0) as srv:
        yield srv


def _judge(server, tmp_path, **kw):
    return Judge(base_url=server.base_url, api_key_env="OMR_TEST_NO_KEY",
                 cache_path=tmp_path / "judge.sqlite", **kw)


def test_requests_per_minute_pace_the_judge_across_calls(server, tmp_path):
    with _judge(server, tmp_path, max_requests_per_minute=300) as judge:   # 0.2 s apart
        start = time.monotonic()
        values = [judge.judge(f"Q{i}?", "blue", c).value
                  for i, c in enumerate(("blue", "red", "Blue"))]
        elapsed = time.monotonic() - start
    assert values == [1, 0, 1]
    assert elapsed >= 2 * 0.2 - 0.02      # one budget for the judge's life, not per call


def test_replies_are_journaled_with_usage_and_reused_by_another_judge(server, tmp_path):
    with _judge(server, tmp_path) as judge:
        assert not judge.judge("Sky?", "blue", "azure").cached
        entry = next(iter(judge.cache.lookup([judge._key(build_messages(
            JudgeRequest("Sky?", "blue", "azure")))]).values()))
        assert entry.status == "ok" and entry.completion_tokens is not None
    before = server.requests
    with _judge(server, tmp_path) as again:
        assert again.judge("Sky?", "blue", "azure").cached
    assert server.requests == before


def test_a_cache_written_before_the_journal_still_answers(server, tmp_path):
    """The judge's earlier cache: one `replies` table of key -> reply."""
    path = tmp_path / "judge.sqlite"
    with _judge(server, tmp_path / "probe") as probe:
        key = probe._key(build_messages(JudgeRequest("Capital?", "Paris", "Lyon")))
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE replies (key TEXT PRIMARY KEY, model TEXT NOT NULL, "
               "reply TEXT NOT NULL, created REAL NOT NULL)")
    db.execute("INSERT INTO replies VALUES (?, 'm', '1', 0)", (key,))   # not the live answer
    db.commit()
    db.close()
    before = server.requests
    with _judge(server, tmp_path) as judge:
        verdict = judge.judge("Capital?", "Paris", "Lyon")
    assert (verdict.value, verdict.cached, server.requests) == (1, True, before)
    tables = {r[0] for r in sqlite3.connect(path).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "imported_replies" in tables and "replies" not in tables     # kept aside
    with _judge(server, tmp_path / "probe") as probe:
        other = probe._key(build_messages(JudgeRequest("Capital?", "Rome", "Milan")))
    with sqlite3.connect(path) as db:      # an older omr-data opened the file again
        db.execute("CREATE TABLE replies (key TEXT PRIMARY KEY, model TEXT NOT NULL, "
                   "reply TEXT NOT NULL, created REAL NOT NULL)")
        db.execute("INSERT INTO replies VALUES (?, 'm', '1', 0)", (other,))
    before = server.requests
    with _judge(server, tmp_path) as judge:
        assert judge.judge("Capital?", "Paris", "Lyon").cached
        assert judge.judge("Capital?", "Rome", "Milan").value == 1
    assert server.requests == before


def test_judge_many_works_from_inside_a_running_event_loop(server, tmp_path):
    with _judge(server, tmp_path) as judge:
        async def caller():
            return judge.judge_many([JudgeRequest("Q?", "cat", c) for c in ("cat", "dog")])
        assert [v.value for v in asyncio.run(caller())] == [1, 0]


def test_verify_shares_the_judge_rates_over_a_cluster_run(tmp_path):
    cfg = {"judge": "qwen3-235b-judge", "judge_max_requests_per_minute": 60,
           "judge_max_tokens_per_minute": 6000}
    stage = VerifyStage(cfg)
    plan = stage.cluster_plan(wanted=4, units=10, output=tmp_path)
    limiter = plan.shared_limiter
    assert plan.workers == 4 and (limiter.rpm, limiter.tpm) == (60, 6000)
    assert plan.worker_config.judge_shared_limiter == limiter.name
    assert stage.cache_key(["p"]) == VerifyStage(
        dataclasses.asdict(plan.worker_config)).cache_key(["p"])
    plain = VerifyStage({"judge": "qwen3-235b-judge"}).cluster_plan(wanted=4, units=2,
                                                                    output=tmp_path)
    assert plain.shared_limiter is None and plain.workers == 2
