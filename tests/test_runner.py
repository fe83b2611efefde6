import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from toy_stages import Uppercase, toy_records

from omr_data.executors.local import LocalExecutor
from omr_data.runner import run_stage
from omr_data.stage import ConfigError
from omr_data.store import DatasetDir, write_dataset


def test_stage_output_has_kept_plus_rejected_equal_input(toy_dataset, tmp_path):
    src = toy_dataset(100)
    result = run_stage(Uppercase({"reject_word": "9"}), [src.path], tmp_path / "out",
                       progress=False)
    m = result.manifest
    assert m["rows"] + m["rejected"] == m["rows_in"] == 100
    assert m["reject_reasons"] == {"contains word": 19}
    assert m["stats"]["uppercased"] == 81


def test_identical_rerun_is_a_full_cache_hit(toy_dataset, tmp_path):
    src = toy_dataset(50)
    log = tmp_path / "units.log"
    stage = Uppercase({"log_path": str(log)})
    first = run_stage(stage, [src.path], tmp_path / "out", progress=False)
    units_run = log.read_text().count("\n")
    second = run_stage(Uppercase({"log_path": str(log)}), [src.path], tmp_path / "out",
                       progress=False)
    assert not first.cached and second.cached
    assert log.read_text().count("\n") == units_run  # no unit ran again
    assert second.manifest["fingerprint"] == first.manifest["fingerprint"]


def test_cache_key_ignores_timestamps_and_output_path(toy_dataset, tmp_path):
    src = toy_dataset(20)
    a = run_stage(Uppercase(), [src.path], tmp_path / "a", progress=False)
    time.sleep(0.01)
    b = run_stage(Uppercase(), [src.path], tmp_path / "b", progress=False)
    assert a.manifest["cache_key"] == b.manifest["cache_key"]


def test_config_change_reruns(toy_dataset, tmp_path):
    src = toy_dataset(20)
    run_stage(Uppercase(), [src.path], tmp_path / "out", progress=False)
    again = run_stage(Uppercase({"reject_word": "1"}), [src.path], tmp_path / "out",
                      progress=False)
    assert not again.cached and again.manifest["rejected"] > 0


def test_input_change_reruns(tmp_path):
    write_dataset(tmp_path / "in", toy_records(10))
    run_stage(Uppercase(), [tmp_path / "in"], tmp_path / "out", progress=False)
    write_dataset(tmp_path / "in", toy_records(11))
    again = run_stage(Uppercase(), [tmp_path / "in"], tmp_path / "out", progress=False)
    assert not again.cached and again.manifest["rows"] == 11


def test_parallel_and_inline_runs_give_the_same_fingerprint(toy_dataset, tmp_path):
    src = toy_dataset(200, max_rows=20)
    inline = run_stage(Uppercase(), [src.path], tmp_path / "a", executor=LocalExecutor(1),
                       progress=False)
    parallel = run_stage(Uppercase(), [src.path], tmp_path / "b", executor=LocalExecutor(2),
                         progress=False)
    assert inline.manifest["fingerprint"] == parallel.manifest["fingerprint"]
    assert [r["id"] for r in DatasetDir(tmp_path / "b").iter_rows()] == \
        [f"toy/{i}" for i in range(200)]


def test_zero_input_rows_write_a_valid_empty_output(tmp_path):
    write_dataset(tmp_path / "in", [])
    result = run_stage(Uppercase(), [tmp_path / "in"], tmp_path / "out", progress=False)
    assert result.manifest["rows"] == 0
    assert DatasetDir(tmp_path / "out").shards


def test_missing_input_column_is_refused_before_running(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    (tmp_path / "in" / "data").mkdir(parents=True)
    pq.write_table(pa.table({"id": ["a"]}), tmp_path / "in" / "data" / "x.parquet")
    with pytest.raises(ConfigError, match="needs column"):
        run_stage(Uppercase(), [tmp_path / "in"], tmp_path / "out", progress=False)


def test_unknown_config_key_names_the_known_ones():
    with pytest.raises(ConfigError, match="unknown key.*reject_wrd.*known: .*reject_word"):
        Uppercase({"reject_wrd": "x"})


def test_config_type_error_names_the_key():
    with pytest.raises(ConfigError, match="sleep_s: expected a number"):
        Uppercase({"sleep_s": "slow"})


KILLABLE = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from toy_stages import Uppercase
    from omr_data.executors.local import LocalExecutor
    from omr_data.runner import run_stage
    r = run_stage(Uppercase({{"sleep_s": {sleep}, "log_path": {log!r}, "reject_word": "3"}}),
                  [{src!r}], {out!r}, executor=LocalExecutor({workers}), progress=False)
    print(r.manifest["fingerprint"])
""")


def _run_script(tmp_path, src, out, log, *, sleep, workers):
    script = KILLABLE.format(tests=str(Path(__file__).parent), src=str(src), out=str(out),
                             log=str(log), sleep=sleep, workers=workers)
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            text=True, start_new_session=True)


@pytest.mark.parametrize("workers", [1, 2])
def test_killed_run_resumes_to_the_same_fingerprint(toy_dataset, tmp_path, workers):
    src = toy_dataset(120, max_rows=10)  # 12 units
    reference = run_stage(Uppercase({"reject_word": "3"}), [src.path], tmp_path / "ref",
                          progress=False)
    out, log = tmp_path / "out", tmp_path / "units.log"
    proc = _run_script(tmp_path, src.path, out, log, sleep=0.3, workers=workers)
    deadline = time.time() + 60
    while time.time() < deadline:
        done = list((out / ".work" / "done").glob("*.json")) if (out / ".work").exists() else []
        if len(done) >= 3:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists()
    killed_units = log.read_text().split()
    done_before = {p.stem for p in (out / ".work" / "done").glob("*.json")}
    assert 3 <= len(done_before) < 12

    proc = _run_script(tmp_path, src.path, out, log, sleep=0.0, workers=workers)
    fingerprint = proc.communicate(timeout=120)[0].strip()
    assert proc.returncode == 0
    assert fingerprint == reference.manifest["fingerprint"]
    rerun_units = log.read_text().split()[len(killed_units):]
    assert not done_before & set(rerun_units)  # finished units were not redone
    ids = [r["id"] for r in DatasetDir(out).iter_rows()]
    assert len(ids) == len(set(ids)) == DatasetDir(tmp_path / "ref").num_rows


def test_prepare_units_run_on_the_executor_and_merge(toy_dataset, tmp_path):
    from toy_stages import ShardTotal

    from omr_data.records import load_meta

    src = toy_dataset(95, max_rows=10)
    inline = run_stage(ShardTotal(), [src.path], tmp_path / "a", executor=LocalExecutor(1),
                       progress=False)
    pooled = run_stage(ShardTotal(), [src.path], tmp_path / "b", executor=LocalExecutor(2),
                       progress=False)
    assert inline.manifest["fingerprint"] == pooled.manifest["fingerprint"]
    assert inline.manifest["stats"]["shards_counted"] == 10
    assert {load_meta(r)["toy.total"] for r in DatasetDir(tmp_path / "b").iter_rows()} == {95}


def test_finished_prepare_units_are_not_redone_after_a_failure(toy_dataset, tmp_path):
    from toy_stages import ShardTotal

    src = toy_dataset(50, max_rows=10)
    log = tmp_path / "prepare.log"
    with pytest.raises(RuntimeError, match="merge failed"):
        run_stage(ShardTotal({"log_path": str(log), "fail_merge": True}), [src.path],
                  tmp_path / "out", progress=False)
    assert len(log.read_text().split()) == 5
    result = run_stage(ShardTotal({"log_path": str(log)}), [src.path], tmp_path / "out",
                       progress=False)
    assert len(log.read_text().split()) == 5  # the five prepare units ran once
    assert result.manifest["rows"] == 50


def test_prepare_runs_rounds_of_units_and_resumes_in_the_last_round(toy_dataset, tmp_path):
    from toy_stages import ShardTotal, TwoRoundTotal

    from omr_data.records import load_meta

    src = toy_dataset(50, max_rows=10)
    log = tmp_path / "prepare.log"
    with pytest.raises(RuntimeError, match="merge failed"):
        run_stage(TwoRoundTotal({"log_path": str(log), "fail_merge": True}), [src.path],
                  tmp_path / "out", executor=LocalExecutor(2), progress=False)
    ran = log.read_text().split()
    assert sorted(ran) == [f"prepare-{i:05d}" for i in range(5)] + \
        [f"prepare1-{i:05d}" for i in range(5)]
    result = run_stage(TwoRoundTotal({"log_path": str(log)}), [src.path], tmp_path / "out",
                       executor=LocalExecutor(2), progress=False)
    assert log.read_text().split() == ran        # no unit of either round ran again
    assert result.manifest["stats"]["shards_counted"] == 5
    assert result.manifest["stats"]["counts_checked"] == 5
    assert {load_meta(r)["toy.total"] for r in DatasetDir(tmp_path / "out").iter_rows()} == {50}
    one_round = run_stage(ShardTotal(), [src.path], tmp_path / "one", progress=False)
    assert result.manifest["fingerprint"] == one_round.manifest["fingerprint"]
