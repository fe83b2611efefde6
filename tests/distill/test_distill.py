"""distill() against the simulated teacher over real HTTP."""

import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from distill_helpers import config, make_records
from PIL import Image

from omr_data.distill import distill, estimate
from omr_data.distill.simulated import SimulatedServer
from omr_data.llm.errors import LLMError
from omr_data.llm.journal import Entry, Journal
from omr_data.records import load_meta, make_record, validate_record

TRACE = re.compile(r"^<think>.*</think>\s*<answer>(.*)</answer>$", re.S)


def run(records, cfg, journal):
    rows = list(distill(records, cfg, journal))
    return [r for r in rows if not r.get("reason")], [r for r in rows if r.get("reason")]


def test_n_traces_per_question_with_ids_meta_and_verbatim_text(server, tmp_path):
    records = make_records(6)
    kept, rejects = run(records, config(server, n=3), tmp_path / "j.sqlite")
    assert not rejects
    assert [r["id"] for r in kept] == [f"{rec['id']}#{k}" for rec in records for k in range(3)]
    for row in kept:
        validate_record(row)
        meta = load_meta(row)
        assert meta["distill.model"] == "omr-data/simulated-teacher"
        assert meta["distill.finish_reason"] == "stop"
        assert meta["distill.system_fingerprint"] == "omr-data-simulated"
        assert meta["distill.usage"]["prompt_tokens"] > 0
        assert TRACE.match(row["response"])
    journal = Journal(tmp_path / "j.sqlite")
    entry = journal.lookup([load_meta(kept[0])["distill.request_key"]])
    journal.close()
    assert list(entry.values())[0].response == kept[0]["response"]
    # the 3 traces of one question differ (one request with n=3)
    assert len({r["response"] for r in kept[:3]}) > 1
    assert server.requests == 6


def test_twenty_percent_faults_lose_nothing_and_duplicate_nothing(tmp_path):
    records = make_records(40)
    with SimulatedServer(fault_rate=0.2, seed=11, retry_after_s=0.02, hang_s=30,
                         slow_s=0.1) as srv:
        kept, rejects = run(records, config(srv, n=2, request_timeout_s=0.5, use_n_param="no"),
                            tmp_path / "j.sqlite")
        assert not rejects
        assert len(kept) == 80 and len({r["id"] for r in kept}) == 80
        assert set(srv.faults_sent) >= {"429", "500", "503", "drop", "hang"}
        assert max(srv.ok_by_key.values()) == 1 and len(srv.ok_by_key) == 80


def test_sigkilled_run_resumes_without_duplicates(tmp_path):
    records = make_records(60)
    (tmp_path / "records.json").write_text(json.dumps(records))
    concurrency = 4
    with SimulatedServer(fault_rate=0.2, seed=5, latency_s=0.02, retry_after_s=0.02,
                         hang_s=30, slow_s=0.1) as srv:
        cfg = config(srv, n=2, concurrency=concurrency, use_n_param="no",
                     request_timeout_s=0.5)
        child = subprocess.Popen(
            [sys.executable, os.path.join(os.path.dirname(__file__), "_resume_child.py"),
             str(tmp_path / "records.json"), json.dumps(cfg), str(tmp_path / "j.sqlite")],
            env={**os.environ, "PYTHONPATH": os.getcwd()})
        deadline = time.time() + 30
        while srv.ok < 40 and time.time() < deadline:
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait()
        first_ok = srv.ok
        assert 40 <= first_ok < 120, "the child should be killed mid-run"
        kept, rejects = run(records, cfg, tmp_path / "j.sqlite")
        assert not rejects
        ids = [r["id"] for r in kept]
        assert len(ids) == 120 and len(set(ids)) == 120
        assert Counter(i.split("#")[0] for i in ids) == {r["id"]: 2 for r in records}
        wasted = sum(c - 1 for c in srv.ok_by_key.values())
        assert wasted <= concurrency
        assert len(srv.ok_by_key) == 120


def test_raising_max_tokens_resends_only_truncated_traces(server, tmp_path):
    records = make_records(20)
    kept, _ = run(records, config(server, n=2, max_tokens=80), tmp_path / "j.sqlite")
    cut = {load_meta(r)["distill.request_key"] for r in kept
           if load_meta(r)["distill.finish_reason"] == "length"}
    assert 0 < len(cut) < len(kept)
    server.reset_counters()
    kept2, _ = run(records, config(server, n=2, max_tokens=100_000), tmp_path / "j.sqlite")
    assert set(server.received_by_key) == cut
    assert all(load_meta(r)["distill.finish_reason"] == "stop" for r in kept2)
    for a, b in zip(kept, kept2):  # finished traces are reused as they were
        if load_meta(a)["distill.request_key"] not in cut:
            assert a["response"] == b["response"]
    server.reset_counters()
    run(records, config(server, n=2, max_tokens=100_000), tmp_path / "j.sqlite")
    assert server.requests == 0


@pytest.mark.parametrize("change", [{"system_prompt": "Answer briefly."},
                                    {"model": "another-teacher"}, {"temperature": 0.6}])
def test_changing_prompt_model_or_sampling_never_reuses_traces(server, tmp_path, change):
    records = make_records(5)
    first, _ = run(records, config(server), tmp_path / "j.sqlite")
    server.reset_counters()
    second, _ = run(records, config(server, **change), tmp_path / "j.sqlite")
    assert server.requests == 5
    keys1 = {load_meta(r)["distill.request_key"] for r in first}
    keys2 = {load_meta(r)["distill.request_key"] for r in second}
    assert not keys1 & keys2


def test_separate_requests_when_the_endpoint_refuses_n(tmp_path):
    with SimulatedServer(supports_n=False) as srv:
        kept, rejects = run(make_records(4), config(srv, n=3), tmp_path / "j.sqlite")
        assert not rejects and len(kept) == 12
        assert len({r["response"] for r in kept}) > 4  # seeds differ per sample
        assert srv.ok == 12


def test_several_endpoints_share_the_load_under_a_hard_cap(tmp_path):
    with SimulatedServer(latency_s=0.05) as a, SimulatedServer(latency_s=0.05) as b:
        cfg = config(a, base_urls=[a.base_url, b.base_url], concurrency=6, n=1)
        kept, _ = run(make_records(40), cfg, tmp_path / "j.sqlite")
        assert len(kept) == 40
        assert a.ok > 8 and b.ok > 8
        assert a.max_in_flight + b.max_in_flight <= 6 + 6
        assert max(a.max_in_flight, b.max_in_flight) <= 6


def test_images_travel_as_data_urls_and_are_downscaled(server, tmp_path):
    def png(w, h):
        buf = io.BytesIO()
        Image.new("RGB", (w, h), "blue").save(buf, format="PNG")
        return buf.getvalue()
    small, large = png(40, 30), png(400, 300)
    records = [make_record(source="t", source_id="img", question="What is 1 + 1?",
                           answer="2", answer_type="number",
                           images=[{"bytes": small, "path": None},
                                   {"bytes": large, "path": None}])]
    kept, _ = run(records, config(server, n=1, max_image_pixels=10_000), tmp_path / "j.sqlite")
    sent = server.log[-1]["images"]
    assert sent[0] == hashlib.sha256(small).hexdigest()
    assert sent[1] != hashlib.sha256(large).hexdigest()
    assert kept[0]["images"][1]["bytes"] == large  # the record keeps the original
    assert load_meta(kept[0])["distill.usage"]["prompt_tokens"] > 2


def test_unreadable_image_becomes_a_reject(server, tmp_path):
    record = make_record(source="t", source_id="bad", question="Q?", answer="1",
                         answer_type="number", images=[{"bytes": b"not an image", "path": None}])
    kept, rejects = run([record], config(server), tmp_path / "j.sqlite")
    assert not kept and rejects[0]["reason"].startswith("unreadable image")
    assert server.requests == 0


def test_failures_past_the_deadline_become_rejects_and_a_rerun_retries(tmp_path):
    records = make_records(3)
    with SimulatedServer(fault_rate=1.0, faults=("500",)) as srv:
        kept, rejects = run(records, config(srv, request_deadline_s=0.3), tmp_path / "j.sqlite")
        assert not kept and len(rejects) == 6
        assert rejects[0]["reason"].startswith("teacher request failed: deadline passed")
        assert rejects[0]["id"].endswith("#0")
        srv.fault_rate = 0.0
        kept, rejects = run(records, config(srv), tmp_path / "j.sqlite")
        assert len(kept) == 6 and not rejects


def test_bad_api_key_stops_the_run_with_a_clear_error(tmp_path):
    with SimulatedServer(api_key="secret") as srv:
        with pytest.raises(LLMError, match="API key"):
            run(make_records(2), config(srv), tmp_path / "j.sqlite")
        os.environ["OMR_TEST_KEY"] = "secret"
        kept, _ = run(make_records(2), config(srv, api_key_env="OMR_TEST_KEY"),
                      tmp_path / "j.sqlite")
        assert len(kept) == 4


def test_requests_per_minute_are_paced(server, tmp_path):
    start = time.monotonic()
    run(make_records(8), config(server, n=1, max_requests_per_minute=1200), tmp_path / "j.sqlite")
    assert time.monotonic() - start >= 7 * 0.05 * 0.9


def test_dry_run_counts_what_would_be_sent(server, tmp_path):
    records = make_records(4)
    assert estimate(records, config(server, n=3))["traces_to_send"] == 12
    run(records[:2], config(server, n=3), tmp_path / "j.sqlite")
    report = estimate(records, config(server, n=3), tmp_path / "j.sqlite")
    assert report["reused_traces"] == 6 and report["traces_to_send"] == 6


def test_journal_never_overwrites_a_trace_with_a_failure(tmp_path):
    with Journal(tmp_path / "j.sqlite") as journal:
        ok = Entry(key="k", prompt_hash="p", record_id="r", k=0, model="m", status="ok",
                   response="<think>x</think><answer>1</answer>", finish_reason="stop",
                   completion_tokens=10, max_tokens=100)
        journal.write_sync([ok])
        journal.write_sync([Entry(key="k", prompt_hash="p", record_id="r", k=0, model="m",
                                  status="failed", error="boom")])
        entry = journal.lookup(["k"])["k"]
    assert entry.status == "ok" and entry.response == ok.response
    assert entry.reusable(100) and not entry.reusable(5)


def test_stopping_early_like_ctrl_c_keeps_what_arrived(tmp_path):
    records = make_records(30)
    with SimulatedServer(latency_s=0.02) as srv:
        cfg = config(srv, n=1, concurrency=4)
        rows = distill(records, cfg, tmp_path / "j.sqlite")
        for i, _ in enumerate(rows):
            if i == 5:
                break
        rows.close()  # what a KeyboardInterrupt in the consuming loop does
        before = srv.ok
        srv.reset_counters()
        kept, _ = run(records, cfg, tmp_path / "j.sqlite")
        assert len(kept) == 30
        assert srv.ok <= 30 - before + 4  # only responses in flight at the stop are re-sent
        assert srv.ok <= 30 - 6
