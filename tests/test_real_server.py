"""distill and the judge against a real server: `transformers serve` (tests/conftest.py).
It ignores `n` (one choice per request) and decodes greedily, so exactly-n-traces must come
from n separate requests, and the judge must read a real server's replies."""

from omr_data.distill import distill
from omr_data.records import load_meta, make_record
from omr_data.verify.judge import Judge


def _records(count):
    return [make_record(source="t", source_id=f"q{i}", question=f"What is {i} + 1?",
                        answer=str(i + 1), answer_type="number") for i in range(count)]


def test_distill_gets_exactly_n_traces_from_a_server_that_ignores_n(transformers_server,
                                                                     tmp_path):
    srv = transformers_server
    config = {"teacher": "simulated", "model": srv.model, "base_urls": [srv.base_url],
              "n": 3, "max_tokens": 8, "concurrency": 4, "progress": False,
              "use_n_param": "auto", "request_timeout_s": 120.0}
    stats = {}
    rows = list(distill(_records(2), config, tmp_path / "j.sqlite", stats=stats))
    assert [r["id"] for r in rows] == [f"t/q{i}#{k}" for i in range(2) for k in range(3)]
    assert all(not r.get("reason") and r["response"] for r in rows)
    meta = load_meta(rows[0])
    assert meta["distill.usage"]["completion_tokens"] >= 1
    assert stats["distill.sent_traces"] == 6
    # greedy: the server's n traces of one question are identical (temperature is ignored)
    assert len({r["response"] for r in rows[:3]}) == 1
    again = list(distill(_records(2), config, tmp_path / "j.sqlite", stats=stats))
    assert [r["response"] for r in again] == [r["response"] for r in rows]
    assert stats["distill.sent_traces"] == 0          # all reused from the journal


def test_the_judge_reads_a_real_servers_replies(transformers_server, tmp_path):
    srv = transformers_server
    judge = Judge(base_url=srv.base_url, model=srv.model, cache_path=tmp_path / "j.sqlite")
    verdict = judge.judge("What is 2 + 3?", "5", "five")
    assert verdict.reply and not verdict.cached
    assert verdict.value in (0, 1, None)               # a random model: a reply, maybe no verdict
    assert judge.judge("What is 2 + 3?", "5", "five").cached
    assert judge.requests_sent == 1
