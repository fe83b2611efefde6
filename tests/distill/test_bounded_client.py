"""The teacher client is bounded: empty, malformed and huge 200s are failed attempts, a
dead endpoint stops the run quickly naming its (masked) URL, and a transient failure is
never a cached result."""

import time

import pytest
from distill_helpers import make_records
from fake_openai import FakeOpenAI, completion, free_port

from omr_data.distill import distill
from omr_data.distill.simulated import SimulatedServer
from omr_data.llm.errors import LLMError
from omr_data.registry import stage_class
from omr_data.runner import run_stage
from omr_data.store import DatasetDir, write_dataset


def cfg(url, **kw):
    base = {"teacher": "simulated", "base_urls": [url], "n": 1, "concurrency": 4,
            "max_tokens": 64, "progress": False, "request_timeout_s": 5.0,
            "request_deadline_s": 0.8}
    base.update(kw)
    return base


def run(records, config, journal):
    rows = list(distill(records, config, journal))
    return [r for r in rows if not r.get("reason")], [r for r in rows if r.get("reason")]


@pytest.mark.parametrize("body, reason", [
    (b'{"id": "x", "choices": []}', "reply has no choices"),
    (b"<html>502 from a proxy, with status 200</html>", "reply is not JSON"),
    (b'{"choices": [{"message": null}]}', "malformed choice"),
    (b"[" * 2000 + b"]" * 2000, "reply is not"),
])
def test_an_unusable_200_is_a_failed_attempt_bounded_by_the_deadline(tmp_path, body, reason):
    with FakeOpenAI(lambda _: (200, body, True)) as srv:
        kept, rejects = run(make_records(2), cfg(srv.base_url), tmp_path / "j.sqlite")
    assert not kept and len(rejects) == 2
    assert rejects[0]["reason"].startswith("teacher request failed: deadline passed")
    assert reason in rejects[0]["reason"]
    assert srv.requests < 30       # backoff, not a loop (it was ~7,600 in 90 s)


@pytest.mark.parametrize("with_length", [True, False])
def test_a_20_mb_reply_is_refused_without_reading_it_whole(tmp_path, with_length):
    huge = completion("x" * (20 * 1024 * 1024))
    stats = {}
    with FakeOpenAI(lambda _: (200, huge, with_length)) as srv:
        rows = list(distill(make_records(1), cfg(srv.base_url, request_deadline_s=1.0),
                            tmp_path / "j.sqlite", stats=stats))
    assert rows[0]["reason"].startswith("teacher request failed")
    assert stats["distill.errors.malformed reply"] >= 1 and stats["distill.responses"] == 0


def test_a_server_that_ignores_n_still_gives_exactly_n_traces(tmp_path):
    with FakeOpenAI(lambda body: (200, completion(), True)) as srv:
        kept, rejects = run(make_records(3), cfg(srv.base_url, n=4, use_n_param="auto"),
                            tmp_path / "j.sqlite")
    assert not rejects and len(kept) == 12
    assert sorted(r["id"][-2:] for r in kept) == sorted(["#0", "#1", "#2", "#3"] * 3)
    # after the first short answer, one request per trace
    assert srv.requests <= 3 + 3 * 4


def test_a_dead_endpoint_stops_the_run_naming_the_masked_url(tmp_path):
    port = free_port()
    url = f"http://user:hunter2@127.0.0.1:{port}/v1?api_key=SECRET"
    start = time.monotonic()
    with pytest.raises(LLMError) as err:
        run(make_records(3), cfg(url, request_deadline_s=3600, unreachable_after_s=1.0),
            tmp_path / "j.sqlite")
    assert time.monotonic() - start < 30
    message = str(err.value)
    assert f"127.0.0.1:{port}" in message and "cannot reach the teacher" in message
    assert "hunter2" not in message and "SECRET" not in message


def _stage(url, **kw):
    return stage_class("distill")(cfg(url, **kw))


def test_dead_teacher_fails_the_stage_and_the_fixed_rerun_sends(tmp_path):
    data = write_dataset(tmp_path / "in", make_records(3)).path
    out = tmp_path / "out"
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(LLMError, match="cannot reach the teacher"):
        run_stage(_stage(dead, request_deadline_s=3600, unreachable_after_s=0.5), [data], out,
                  progress=False)
    with SimulatedServer(latency_s=0.001) as srv:
        result = run_stage(_stage(srv.base_url), [data], out, progress=False)
        assert not result.cached and srv.requests == 3
    assert len(list(DatasetDir(out).iter_rows())) == 3


def test_transient_failures_are_not_cached_results(tmp_path):
    data = write_dataset(tmp_path / "in", make_records(2)).path
    out = tmp_path / "out"
    with SimulatedServer(fault_rate=1.0, faults=("500",)) as srv:
        with pytest.raises(RuntimeError, match="no answer before the request deadline"):
            run_stage(_stage(srv.base_url, request_deadline_s=0.3), [data], out,
                      progress=False)
        srv.fault_rate = 0.0
        result = run_stage(_stage(srv.base_url), [data], out, progress=False)
    assert not result.cached
    rows = list(DatasetDir(out).iter_rows())
    assert len(rows) == 2 and all(r["response"] for r in rows)


def test_connect_timeouts_count_toward_an_unreachable_teacher():
    """A host that drops packets never refuses: its connect timeouts count as down."""
    import asyncio

    import openai

    from omr_data.llm.client import EndpointPool, httpx

    async def check():
        pool = EndpointPool(["http://me:pw@10.0.0.1:9/v1"], api_key="k", concurrency=1,
                           request_timeout_s=1, request_deadline_s=60,
                           unreachable_after_s=0.01)
        ep = pool.endpoints[0]
        request = httpx.Request("POST", "http://10.0.0.1:9/v1/chat/completions")
        for attempt in range(1, 4):
            err = openai.APITimeoutError(request=request)
            err.__cause__ = httpx.ConnectTimeout("connect timed out")
            assert pool._classify(err, ep, 1, attempt)[0] == "connect timeout"
        await asyncio.sleep(0.02)
        with pytest.raises(LLMError, match=r"cannot reach the teacher at http://\*\*\*@"):
            pool._check_reachable("connect timeout")
        await pool.close()

    asyncio.run(check())
