"""The Ray executor against the local one: same outputs and fingerprints, worker deaths
retried without loss or duplicates, distill with faults and a killed worker.

One local Ray (2 CPUs) serves the whole module; skipped when the [ray] extra is absent.
"""

from __future__ import annotations

import asyncio
import bisect
import os
import shutil
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="the ray executor needs the [ray] extra: "
                                  "pip install 'omr-data[ray]'")
pytest.importorskip("ray.data", reason="the ray executor needs Ray Data: "
                                       "pip install 'ray[data]'")

import ray  # noqa: E402
from ray_stages import DistillProbe, Explode, KillingDistill, OneWorker  # noqa: E402
from toy_stages import Uppercase, toy_records  # noqa: E402

from omr_data.distill.simulated import SimulatedServer  # noqa: E402
from omr_data.distill.stage import DistillStage  # noqa: E402
from omr_data.executors.local import LocalExecutor  # noqa: E402
from omr_data.executors.ray import RayExecutor, UnitFailed  # noqa: E402
from omr_data.llm.client import KEY_HEADER  # noqa: E402
from omr_data.llm.limits import NAMESPACE  # noqa: E402
from omr_data.mix import MixStage  # noqa: E402
from omr_data.records import make_record  # noqa: E402
from omr_data.runner import run_stage  # noqa: E402
from omr_data.sources.stage import NormalizeStage  # noqa: E402
from omr_data.store import DatasetDir, write_dataset  # noqa: E402
from omr_data.verify.stage import VerifyStage  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


@pytest.fixture(scope="module")
def cluster():
    # the workers inherit PYTHONPATH from the local Ray's raylet, started by ray.init: a
    # job runtime_env would do the same but makes every actor start slower (each stage run
    # starts a new actor pool, ~20% of this module's time)
    paths = [str(ROOT), str(ROOT / "tests"), str(HERE)]
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(paths + ([before] if before else []))
    try:
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before
    yield RayExecutor()
    ray.shutdown()


def same_output(a: Path, b: Path, *, stats: bool = True) -> None:
    ma, mb = DatasetDir(a).manifest, DatasetDir(b).manifest
    assert ma["fingerprint"] == mb["fingerprint"]
    for key in ("rows", "rejected", "rows_in", "shards", "reject_reasons"):
        assert ma[key] == mb[key], key
    if stats:   # distill's stats are about the run (retries, reuse), not the output
        assert ma["stats"] == mb["stats"]


class Recorder:
    """An executor that forwards to another and keeps its progress calls."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def run(self, stage, units, builder, workdir, seed, progress=None):
        self.inner.run(stage, units, builder, workdir, seed,
                       progress=lambda done, rows: self.calls.append((done, rows)))


def test_toy_stage_matches_local_with_progress(cluster, tmp_path):
    src = write_dataset(tmp_path / "in", toy_records(120, with_images=True), max_rows=20)
    stage_cfg = {"reject_word": "7"}
    run_stage(Uppercase(stage_cfg), [src.path], tmp_path / "local",
              executor=LocalExecutor(workers=1), progress=False)
    recorder = Recorder(cluster)
    result = run_stage(Uppercase(stage_cfg), [src.path], tmp_path / "ray", executor=recorder,
                       progress=False)
    same_output(tmp_path / "local", tmp_path / "ray")
    assert result.manifest["reject_reasons"] == {"contains word": 21}
    assert cluster.last_plan.workers == 2
    assert recorder.calls[-1] == (6, 120)          # 6 units, every row counted
    assert [d for d, _ in recorder.calls] == sorted(d for d, _ in recorder.calls)
    assert not (tmp_path / "ray" / ".work").exists()
    # the cache key does not depend on the executor: a local rerun is a cache hit
    again = run_stage(Uppercase(stage_cfg), [src.path], tmp_path / "ray", progress=False)
    assert again.cached


def test_prepare_units_run_on_ray_with_the_local_result(cluster, tmp_path):
    from toy_stages import ShardTotal
    src = write_dataset(tmp_path / "in", toy_records(60), max_rows=10)
    local = run_stage(ShardTotal(), [src.path], tmp_path / "local",
                      executor=LocalExecutor(workers=1), progress=False)
    remote = run_stage(ShardTotal(), [src.path], tmp_path / "ray", executor=cluster,
                       progress=False)
    assert remote.manifest["fingerprint"] == local.manifest["fingerprint"]
    assert remote.manifest["stats"]["shards_counted"] == 6


def _split_llava(tmp_path: Path) -> Path:
    """The LLaVA-CoT sample, its train.jsonl cut into three files (three units)."""
    folder = tmp_path / "llava"
    shutil.copytree(ROOT / "samples" / "llava_cot", folder)
    lines = (folder / "train.jsonl").read_text().splitlines(keepends=True)
    (folder / "train.jsonl").unlink()
    for i in range(3):
        (folder / f"part{i}.jsonl").write_text("".join(lines[i::3]))
    return folder


def test_normalize_verify_mix_match_local(cluster, tmp_path):
    raw = _split_llava(tmp_path)
    steps = [
        ("norm", lambda: NormalizeStage({"source": "llava_cot"}), lambda d: [raw]),
        ("verify", lambda: VerifyStage({"keep": "correct", "workers": 1}),
         lambda d: [d / "norm"]),
        ("mix", lambda: MixStage({"weights": ["0.5", "1"]}),
         lambda d: [d / "norm", d / "verify"]),
    ]
    for name, make, inputs in steps:
        local, remote = tmp_path / "local", tmp_path / "ray"
        run_stage(make(), inputs(local), local / name, executor=LocalExecutor(workers=1),
                  progress=False, seed=3)
        run_stage(make(), inputs(remote), remote / name, executor=cluster, progress=False,
                  seed=3)
        same_output(local / name, remote / name)
    norm = DatasetDir(tmp_path / "ray" / "norm")
    assert len(norm.shards) == 3 and norm.num_rows > 0 and norm.num_rejects > 0
    assert DatasetDir(tmp_path / "ray" / "verify").num_rows > 0


def test_killed_worker_is_retried_without_loss_or_duplicates(cluster, tmp_path):
    """One worker (the stage's max_workers): it dies in unit-00002, a new one takes over."""
    src = write_dataset(tmp_path / "in", toy_records(100), max_rows=20)
    run_stage(Uppercase(), [src.path], tmp_path / "local", progress=False)
    pid_log, marker = tmp_path / "pids.log", tmp_path / "killed"
    stage = OneWorker({"kill_unit": "unit-00002", "marker": str(marker),
                       "pid_log": str(pid_log)})
    run_stage(stage, [src.path], tmp_path / "ray", executor=cluster, progress=False)
    assert marker.exists() and cluster.last_plan.workers == 1
    log = [line.split() for line in pid_log.read_text().splitlines()]
    starts = Counter(unit for unit, _ in log)
    assert starts["unit-00002"] == 2 and all(starts[f"unit-0000{i}"] == 1 for i in (0, 1, 3, 4))
    pids = [pid for _, pid in log]
    switch = pids.index(pids[-1])            # never two workers at once: one pid, then another
    assert len(pids) == 6 and len(set(pids)) == 2
    assert set(pids[:switch]) == {pids[0]} and set(pids[switch:]) == {pids[-1]}
    assert log[switch - 1][0] == log[switch][0] == "unit-00002"   # the killed unit, redone
    same_output(tmp_path / "local", tmp_path / "ray")
    ids = [r["id"] for r in DatasetDir(tmp_path / "ray").iter_rows(columns=["id"])]
    assert len(ids) == len(set(ids)) == 100


def test_unit_that_keeps_killing_its_worker_fails_the_run(cluster, tmp_path):
    src = write_dataset(tmp_path / "in", toy_records(40), max_rows=20)
    stage = OneWorker({"kill_unit": "unit-00001", "marker": str(tmp_path / "killed"),
                       "every_time": True})
    with pytest.raises(UnitFailed, match=r"unit unit-00001 .*its worker died 1 time\(s\)"):
        run_stage(stage, [src.path], tmp_path / "out", executor=RayExecutor(max_attempts=1),
                  progress=False)


def test_unit_error_names_the_unit_and_a_rerun_resumes(cluster, tmp_path):
    src = write_dataset(tmp_path / "in", toy_records(80), max_rows=20)      # 4 units
    log = tmp_path / "units.log"
    with pytest.raises(UnitFailed, match=r"unit unit-00001 \(.*part-00001.parquet\): "
                                         r"ValueError: cannot handle toy/20") as failed:
        run_stage(Explode({"log_path": str(log)}), [src.path], tmp_path / "out",
                  executor=cluster, progress=False)
    assert not (tmp_path / "out" / "manifest.json").exists()
    done = {p.stem for p in (tmp_path / "out" / ".work" / "done").glob("*.json")}
    assert "unit-00001" not in done
    log.unlink()
    # the error is still referenced (`failed`): it must not keep the failed run's actors,
    # or this rerun would wait for CPUs forever
    result = run_stage(Explode({"bad_unit": "", "log_path": str(log)}), [src.path],
                       tmp_path / "out", executor=cluster, progress=False)
    assert failed.value is not None
    assert sorted(log.read_text().split()) == sorted({f"unit-0000{i}" for i in range(4)} - done)
    assert result.manifest["rows"] == 80
    assert DatasetDir(tmp_path / "out").read_table().to_pylist() == \
        src.read_table().to_pylist()                            # every row, once, in order


def _questions(n: int) -> list[dict]:
    return [make_record(source="t", source_id=f"q{i}", question=f"What is {i} + 2?",
                        answer=str(i + 2), answer_type="number") for i in range(n)]


def test_distill_with_faults_and_a_killed_worker_loses_and_duplicates_nothing(cluster,
                                                                              tmp_path):
    src = write_dataset(tmp_path / "in", _questions(48), max_rows=12)     # 4 units
    with SimulatedServer(fault_rate=0.2, seed=11, retry_after_s=0.02, slow_s=0.1,
                         latency_s=0.02, faults=("429", "500", "503", "drop", "slow")) as srv:
        base = {"teacher": "simulated", "base_urls": [srv.base_url], "n": 2,
                "concurrency": 8, "max_tokens": 4096, "progress": False,
                "request_timeout_s": 1.0, "use_n_param": "no"}
        run_stage(DistillStage(base), [src.path], tmp_path / "local", progress=False)
        srv.reset_counters()
        marker = tmp_path / "killed"
        stage = KillingDistill({**base, "kill_unit": "unit-00001", "kill_after": 6,
                                "marker": str(marker)})
        out = tmp_path / "ray"
        run_stage(stage, [src.path], out, executor=cluster, progress=False)

        assert marker.exists(), "the worker running unit-00001 should have been killed"
        plan = cluster.last_plan
        assert plan.workers == 2 and plan.worker_config.concurrency == 4
        assert srv.max_in_flight <= 8                     # the global cap held
        assert set(srv.faults_sent) >= {"429", "500", "503", "drop"}
        assert len(srv.ok_by_key) == 96                   # every trace delivered ...
        wasted = sum(c - 1 for c in srv.ok_by_key.values())
        assert wasted <= 4                                # ... at most the killed worker's
        ds = DatasetDir(out)                              # requests in flight twice
        ids = [r["id"] for r in ds.iter_rows(columns=["id"])]
        assert ds.num_rejects == 0
        assert sorted(ids) == sorted(f"t/q{i}#{k}" for i in range(48) for k in range(2))
        same_output(tmp_path / "local", out, stats=False)  # the same traces, in order

        journals = sorted(p.name for p in (out / "journal.units").glob("*.sqlite"))
        assert journals == [f"unit-0000{i}.sqlite" for i in range(4)]
        assert not (out / "journal.sqlite").exists()
        for i in range(4):                                # each unit owns its keys
            with sqlite3.connect(out / "journal.units" / f"unit-0000{i}.sqlite") as db:
                owners = {r[0].split("/q")[1] for r in db.execute(
                    "SELECT record_id FROM samples WHERE status='ok'")}
            assert owners == {str(q) for q in range(12 * i, 12 * i + 12)}

        # the driver goes away and the stage is run again: every trace comes from the
        # unit journals, nothing is sent
        (out / "manifest.json").unlink()
        srv.reset_counters()
        run_stage(DistillStage(base), [src.path], out, executor=cluster, progress=False)
        assert srv.requests == 0
        same_output(tmp_path / "local", out, stats=False)


class TimedServer(SimulatedServer):
    """The simulated teacher, noting when each request arrived (monotonic seconds) and the
    journal key it carries."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.arrivals: list[tuple[float, str]] = []

    async def _handle_chat(self, request):
        self.arrivals.append((time.monotonic(), request.headers.get(KEY_HEADER, "")))
        return await super()._handle_chat(request)


def _limiter_gone(name: str) -> bool:
    for _ in range(50):   # ray.kill is asynchronous
        try:
            ray.get_actor(name, namespace=NAMESPACE)
        except ValueError:
            return True
        time.sleep(0.1)
    return False


RPM = 600   # 10 requests a second for the whole run


def test_distill_rate_cap_holds_over_all_actors_and_a_finished_actor_leaves_its_share(
        cluster, tmp_path):
    """Two actors, one unit of 40 questions and one of 8: the server never sees more than
    the run's cap, both actors draw on it at once, and once the small unit is done the big
    one gets the whole rate, finishing faster than the old static split (RPM / 2 per
    actor) would allow."""
    questions = _questions(48)
    big = write_dataset(tmp_path / "big", questions[:40], max_rows=40)      # unit-00000
    small = write_dataset(tmp_path / "small", questions[40:], max_rows=40)  # unit-00001
    out = tmp_path / "out"
    with TimedServer(latency_s=0.02) as srv:
        cfg = {"teacher": "simulated", "base_urls": [srv.base_url], "n": 1,
               "concurrency": 8, "max_tokens": 4096, "progress": False,
               "use_n_param": "no", "max_requests_per_minute": RPM,
               "start_together": str(tmp_path / "started")}
        run_stage(DistillProbe(cfg), [big.path, small.path], out, executor=cluster,
                  progress=False)
    plan = cluster.last_plan
    assert plan.workers == 2 and plan.worker_config.concurrency == 4
    assert plan.worker_config.max_requests_per_minute == RPM          # not split any more
    assert plan.worker_config.shared_limiter == plan.shared_limiter.name
    assert _limiter_gone(plan.shared_limiter.name)                    # killed at the end
    assert DatasetDir(out).num_rows == 48 and DatasetDir(out).num_rejects == 0

    unit_of = {}
    for unit in ("unit-00000", "unit-00001"):
        with sqlite3.connect(out / "journal.units" / f"{unit}.sqlite") as db:
            unit_of.update({key: unit for (key,) in db.execute("SELECT key FROM samples")})
    arrivals = sorted(srv.arrivals)
    # every request took its slot from the one budget
    assert len(arrivals) == 48 == cluster.last_limiter_stats["requests"]
    times = [t for t, _ in arrivals]
    for w in (1.0, 3.0):   # rate * w + 1 (no burst) + one late send per actor
        worst = max(bisect.bisect_left(times, t + w) - i for i, t in enumerate(times))
        assert worst <= RPM / 60 * w + 1 + plan.workers, (w, worst)
    big_t = [t for t, key in arrivals if unit_of[key] == "unit-00000"]
    small_t = [t for t, key in arrivals if unit_of[key] == "unit-00001"]
    assert len(big_t) == 40 and len(small_t) == 8
    assert big_t[0] < small_t[-1] and small_t[0] < big_t[-1]          # both at once
    static_split_s = (len(big_t) - 1) * 60 / (RPM // 2)               # 7.8 s at RPM / 2
    assert big_t[-1] - big_t[0] < 0.8 * static_split_s


def test_distill_fails_clearly_when_the_shared_limiter_dies(cluster, tmp_path):
    one = RayExecutor(workers=1)     # unit-00000 runs, then unit-00001 kills the limiter
    src = write_dataset(tmp_path / "in", _questions(24), max_rows=12)      # 2 units
    with SimulatedServer(latency_s=0.01) as srv:
        cfg = {"teacher": "simulated", "base_urls": [srv.base_url], "n": 1,
               "concurrency": 4, "max_tokens": 4096, "progress": False,
               "max_requests_per_minute": 6000, "kill_limiter_in": "unit-00001"}
        with pytest.raises(UnitFailed, match=r"LLMError: the run's shared rate limiter "
                                             r"\(Ray actor 'distill-limiter-[0-9a-f]+'\) "
                                             r"(died|does not exist).*rerun the stage"):
            run_stage(DistillProbe(cfg), [src.path], tmp_path / "out", executor=one,
                      progress=False)
    assert one.last_limiter_stats is None                             # it was dead at the end


def test_distill_limiter_is_killed_when_a_unit_fails(cluster, tmp_path):
    one = RayExecutor(workers=1)
    src = write_dataset(tmp_path / "in", _questions(24), max_rows=12)      # 2 units
    with SimulatedServer(latency_s=0.01) as srv:
        cfg = {"teacher": "simulated", "base_urls": [srv.base_url], "n": 1,
               "concurrency": 4, "max_tokens": 4096, "progress": False,
               "max_tokens_per_minute": 10 ** 7, "fail_unit": "unit-00001"}
        with pytest.raises(UnitFailed, match="ValueError: unit-00001 cannot go on"):
            run_stage(DistillProbe(cfg), [src.path], tmp_path / "out", executor=one,
                      progress=False)
    name = one.last_plan.shared_limiter.name
    assert one.last_limiter_stats["requests"] == 12                  # alive until the end
    assert _limiter_gone(name)


def test_ray_limiter_proxy_paces_and_reports_a_dead_actor(cluster):
    from omr_data.llm.errors import LLMError
    from omr_data.llm.limits import Budget, RayLimiter
    actor = ray.remote(Budget).options(name="distill-limiter-test", namespace=NAMESPACE,
                                       num_cpus=0, max_restarts=0).remote(1200, 100_000)
    ray.get(actor.stats.remote())
    limiter = RayLimiter("distill-limiter-test")

    async def six() -> float:
        start = time.monotonic()
        await asyncio.gather(*(limiter.acquire(1000) for _ in range(6)))
        return time.monotonic() - start

    assert asyncio.run(six()) >= 5 * 60 / 1200 - 0.01                # 50 ms apart
    limiter.correct(-500)
    assert ray.get(actor.stats.remote())["tokens"] == 5500
    ray.kill(actor)
    assert _limiter_gone("distill-limiter-test")                     # the kill has landed
    with pytest.raises(LLMError, match=r"\(Ray actor 'distill-limiter-test'\) died"):
        asyncio.run(limiter.acquire(1))
    with pytest.raises(LLMError, match="does not exist"):
        RayLimiter("distill-limiter-test")


def _dedup_rows(n: int, copies: int) -> list[dict]:
    """Rows with their own noise image; `copies` of them appear twice (exact copies)."""
    import random
    from io import BytesIO

    from PIL import Image
    rng = random.Random(0)
    rows = []
    for i in range(n):
        buf = BytesIO()
        Image.frombytes("L", (16, 16), rng.randbytes(256)).save(buf, format="PNG")
        rows.append(make_record(source="d", source_id=str(i), question=f"Find x in figure {i}.",
                                answer=str(i), answer_type="number",
                                images=[{"bytes": buf.getvalue(), "path": None}]))
    for i in range(copies):
        rows.append({**rows[i * 3], "id": f"d/copy{i}"})
    return rows


def test_dedup_scan_runs_in_prepare_units_on_ray_with_local_decisions(cluster, tmp_path):
    """Signatures (hashes, pHashes, text embeddings) of every input and benchmark shard are
    computed in prepare units on the Ray workers; decisions, fingerprint, rows and rejects
    and the clusters found (exact image copies, text-only copies, a contaminated row)
    equal those of LocalExecutor(1). (LocalExecutor(2) against (1): tests/dedup/test_stage.py;
    the demo's local run, on two workers, against Ray: test_demo_recipe_matches_local.)"""
    import pyarrow.parquet as pq

    from omr_data.dedup.stage import DedupStage
    rows = _dedup_rows(90, 6) + _questions(12) + [
        {**q, "id": f"t/again{i}"} for i, q in enumerate(_questions(3))]   # text-only copies
    src = write_dataset(tmp_path / "in", rows, max_rows=30)                 # 4 shards
    bench = write_dataset(tmp_path / "bench", [_questions(12)[5]], max_rows=30)
    make = lambda: DedupStage({"cache_dir": "none", "against": [str(bench.path)]})  # noqa: E731
    outs = {"local1": LocalExecutor(workers=1), "ray": cluster}
    results = {name: run_stage(make(), [src.path], tmp_path / name, executor=ex,
                               progress=False) for name, ex in outs.items()}
    same_output(tmp_path / "local1", tmp_path / "ray", stats=False)
    decisions = {name: pq.read_table(tmp_path / name / "dedup" / "decisions.parquet")
                 for name in outs}
    assert decisions["ray"].equals(decisions["local1"])
    m = results["ray"].manifest
    assert m["rejected"] == 6 + 3 + 1 and m["stats"]["dedup.rows_scanned"] == 90 + 6 + 15 + 1
    assert m["rows"] == 90 + 12 - 1                  # every original but the contaminated one
    assert m["stats"]["dedup.texts_embedded"] > 0
    assert m["stats"]["dedup_clusters"] == 6 + 3 == \
        results["local1"].manifest["stats"]["dedup_clusters"]


# the demo's steps that run on Ray below, one of each stage kind, chained where the demo
# allows (traces -> verified -> sft; mathvista -> rl); the other steps are copied from the
# local run. Each kind also has its own Ray test above.
DEMO_STEPS_ON_RAY = {"mathvista": "normalize", "traces": "distill", "verified": "verify",
                     "sft": "mix", "rl": "dedup"}


@pytest.mark.slow  # the demo recipe on Ray: about a minute on 2 cores
def test_demo_recipe_matches_local(cluster, demo_workdir, tmp_path, monkeypatch):
    """The demo recipe with executor=ray: one step of each stage kind (normalize, distill
    with the teacher service, verify with the judge, mix, dedup against benchmarks) runs on
    Ray and every step's fingerprint is the local run's. The local run is the session's
    `demo_workdir`; the Ray run starts from its outputs of the other steps (cache hits: the
    cache key does not depend on the executor), as each stage run on Ray costs a new actor
    pool (several seconds on 2 cores)."""
    from omr_data.recipe import load_recipe, run_recipe
    local_work, local_reports = demo_workdir
    local = {r.step.id: r for r in local_reports if r.result is not None}
    assert len(local) >= 20
    assert {step: local[step].result.manifest["stage"] for step in DEMO_STEPS_ON_RAY} == \
        DEMO_STEPS_ON_RAY
    work = tmp_path / "ray"
    shutil.copytree(ROOT / "samples", work / "samples")
    shutil.copytree(ROOT / "pipelines", work / "pipelines")
    for step in set(local) - set(DEMO_STEPS_ON_RAY):
        shutil.copytree(local_work / "runs" / "demo" / step, work / "runs" / "demo" / step)
    monkeypatch.chdir(work)
    reports = run_recipe(load_recipe("pipelines/demo.yaml"), executor=cluster,
                         progress=False, echo=lambda s: None)
    remote = {r.step.id: r for r in reports if r.result is not None}
    assert {step for step, r in remote.items() if not r.result.cached} == set(DEMO_STEPS_ON_RAY)
    assert {s: r.result.manifest["fingerprint"] for s, r in remote.items()} == \
        {s: r.result.manifest["fingerprint"] for s, r in local.items()}
    assert [r.step.id for r in reports if r.publish is not None] == ["publish_sft", "publish_rl"]


def test_options_are_checked():
    with pytest.raises(ValueError, match="workers"):
        RayExecutor(workers=0)
    with pytest.raises(ValueError, match="num_cpus"):
        RayExecutor(address="ray://head:10001", num_cpus=2)
    from omr_data.executors import make_executor
    ex = make_executor("ray", address="auto", workers=3)
    assert isinstance(ex, RayExecutor) and ex.address == "auto" and ex.workers == 3


def test_unit_journal_paths():
    from omr_data.distill.stage import unit_journal_path
    assert unit_journal_path(None, Path("/data/out"), "unit-00003") == \
        Path("/data/out/journal.units/unit-00003.sqlite")
    assert unit_journal_path("/j/run.sqlite", Path("/data/out"), "unit-00000") == \
        Path("/j/run.units/unit-00000.sqlite")
