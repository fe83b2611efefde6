"""A stage writes only where it may: never over its inputs, never over files it did not
write, one writer at a time; and a cache that checks its shards before saying `(cached)`."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from toy_stages import Uppercase, toy_records

from omr_data.cli import main
from omr_data.ownership import LOCK_NAME, FileLock, LockedError, OwnershipError
from omr_data.recipe import RecipeError, load_recipe
from omr_data.runner import is_cached, run_stage
from omr_data.store import DatasetDir, StoreError, write_dataset

ROOT = Path(__file__).resolve().parents[1]


def files_of(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes()
            for p in sorted(path.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------------------
# Ownership


def test_mix_into_its_own_input_is_refused_and_the_input_kept(tmp_path, capsys):
    d = write_dataset(tmp_path / "d", toy_records(8)).path
    before = files_of(d)
    assert main(["mix", str(d), str(d), "--no-progress"]) == 1
    assert "OUT is also an input" in capsys.readouterr().err
    assert files_of(d) == before
    assert DatasetDir(d).num_rows == 8


@pytest.mark.parametrize("where", ["out_inside_input", "input_inside_out"])
def test_nested_input_and_output_are_refused(tmp_path, where):
    if where == "out_inside_input":
        src = write_dataset(tmp_path / "in", toy_records(5)).path
        out = src / "sub"
    else:
        out = tmp_path / "out"
        src = write_dataset(out / "in", toy_records(5)).path
    before = files_of(src)
    with pytest.raises(OwnershipError, match="inside"):
        run_stage(Uppercase(), [src], out, progress=False)
    assert files_of(src) == before


def test_foreign_file_in_out_is_refused_and_kept(tmp_path, capsys):
    src = write_dataset(tmp_path / "in", toy_records(5)).path
    out = tmp_path / "out"
    (out / "data").mkdir(parents=True)
    (out / "data" / "thesis.txt").write_text("four years of work")
    with pytest.raises(OwnershipError, match=r"did not write \(data/thesis.txt\)"):
        run_stage(Uppercase(), [src], out, progress=False)
    assert (out / "data" / "thesis.txt").read_text() == "four years of work"
    # the CLI too, with a raw source (normalize), and --overwrite does not change that
    code = main(["normalize", "--source", "llava_cot", str(ROOT / "samples" / "llava_cot"),
                 str(out), "--no-progress", "--overwrite"])
    assert code == 1 and "data/thesis.txt" in capsys.readouterr().err
    assert (out / "data" / "thesis.txt").exists()


def test_folder_with_a_foreign_manifest_is_not_an_output(tmp_path):
    src = write_dataset(tmp_path / "in", toy_records(5)).path
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text('{"name": "someone else\'s"}')
    with pytest.raises(OwnershipError, match="manifest.json"):
        run_stage(Uppercase(), [src], out, progress=False)
    assert json.loads((out / "manifest.json").read_text()) == {"name": "someone else's"}


def test_output_of_another_stage_needs_overwrite(tmp_path):
    src = write_dataset(tmp_path / "in", toy_records(6)).path
    out = write_dataset(tmp_path / "out", toy_records(3), stage="write").path
    with pytest.raises(OwnershipError, match="stage 'write'.*--overwrite"):
        run_stage(Uppercase(), [src], out, progress=False)
    assert DatasetDir(out).num_rows == 3
    result = run_stage(Uppercase(), [src], out, progress=False, overwrite=True)
    assert result.manifest["rows"] == 6 and result.manifest["stage"] == "uppercase"
    # the same stage with another config replaces its own output without asking
    again = run_stage(Uppercase({"reject_word": "1"}), [src], out, progress=False)
    assert not again.cached and again.manifest["rejected"] == 1


def test_recipe_step_ids_are_names_not_paths(tmp_path):
    for bad in ("..", ".", "../x", "a/b", "/abs", ".hidden", "a..b"):
        recipe = tmp_path / "r.yaml"
        recipe.write_text(textwrap.dedent(f"""\
            name: r
            steps:
              - id: ok
                stage: mix
                inputs: [{tmp_path}]
              - id: "{bad}"
                stage: mix
                inputs: [ok]
            """))
        with pytest.raises(RecipeError, match=r"r\.yaml:6: step id"):
            load_recipe(recipe)
    recipe.write_text(recipe.read_text().replace(f'"{bad}"', "v1.2_final-x"))
    assert load_recipe(recipe).steps[1].id == "v1.2_final-x"


# ---------------------------------------------------------------------------------------
# Locks

HOLD = """
import sys, time
from omr_data.ownership import FileLock
with FileLock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def _env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}


def test_second_writer_gets_a_clear_error_naming_the_holder(tmp_path):
    src = write_dataset(tmp_path / "in", toy_records(5)).path
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out / LOCK_NAME)],
                              stdout=subprocess.PIPE, text=True, env=_env())
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockedError, match=f"another omr-data process .*pid {holder.pid}"):
            run_stage(Uppercase(), [src], out, progress=False)
    finally:
        holder.kill()
        holder.wait()
    # the holder was killed: its lock is stale and is taken over
    assert (out / LOCK_NAME).exists()
    result = run_stage(Uppercase(), [src], out, progress=False)
    assert result.manifest["rows"] == 5 and not (out / LOCK_NAME).exists()


def test_lock_file_of_a_dead_pid_is_taken_over_and_a_live_one_refused(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = tmp_path / "x" / LOCK_NAME
    path.parent.mkdir()
    path.write_text(json.dumps({"pid": dead.pid, "command": "omr-data mix"}))
    with FileLock(path):
        assert json.loads(path.read_text())["pid"] == os.getpid()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        path.write_text(str(sleeper.pid))
        with pytest.raises(LockedError, match=f"pid {sleeper.pid}"):
            FileLock(path).acquire()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_two_concurrent_cli_writers_one_wins_the_other_is_told(tmp_path):
    src = write_dataset(tmp_path / "in", toy_records(400), max_rows=20).path
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "omr_data", "filter", str(src), str(out), "--no-progress",
           "--max-samples", "1"]
    procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=_env())
             for _ in range(2)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    codes = [p.returncode for p in procs]
    assert 0 in codes, errors
    for code, err in zip(codes, errors):
        if code:
            assert "another omr-data process is writing here" in err, err
            assert "Errno" not in err
    assert DatasetDir(out).num_rows == 400


# ---------------------------------------------------------------------------------------
# A cache that checks


def test_deleted_shard_is_redone_not_cached(tmp_path, capsys):
    src = write_dataset(tmp_path / "in", toy_records(60), max_rows=20).path  # 3 units
    log = tmp_path / "units.log"
    first = run_stage(Uppercase({"log_path": str(log)}), [src], tmp_path / "out",
                      progress=False)
    assert set(first.manifest["files"]) >= {"data/part-00000.parquet", "data/part-00002.parquet"}
    (tmp_path / "out" / "data" / "part-00001.parquet").unlink()
    # the next stage refuses the damaged input instead of reading 40 of 60 rows
    with pytest.raises(StoreError, match="part-00001.parquet.*missing or changed"):
        run_stage(Uppercase(), [tmp_path / "out"], tmp_path / "next", progress=False)
    assert is_cached(tmp_path / "out", first.manifest["cache_key"]) is None
    log.write_text("")
    again = run_stage(Uppercase({"log_path": str(log)}), [src], tmp_path / "out",
                      progress=False)
    assert not again.cached and "missing or changed" in capsys.readouterr().err
    assert log.read_text().split() == ["unit-00001"]  # only the lost unit ran again
    assert again.manifest["fingerprint"] == first.manifest["fingerprint"]
    assert [r["id"] for r in DatasetDir(tmp_path / "out").iter_rows(columns=["id"])] == \
        [f"toy/{i}" for i in range(60)]
    assert run_stage(Uppercase(), [src], tmp_path / "out", progress=False).cached


def test_changed_shard_of_the_same_size_is_not_cached(tmp_path):
    src = write_dataset(tmp_path / "in", toy_records(20)).path
    first = run_stage(Uppercase(), [src], tmp_path / "out", progress=False)
    shard = tmp_path / "out" / "data" / "part-00000.parquet"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    again = run_stage(Uppercase(), [src], tmp_path / "out", progress=False)
    assert not again.cached and again.manifest["fingerprint"] == first.manifest["fingerprint"]
    assert pq.read_table(shard).num_rows == 20


def test_foreign_manifest_input_is_read_as_data_only(tmp_path, capsys):
    src = write_dataset(tmp_path / "in", toy_records(7)).path
    (src / "manifest.json").write_text(json.dumps({"generator": "other-tool", "rows": 7}))
    ds = DatasetDir(src)
    assert ds.manifest is None and ds.foreign_manifest and ds.num_rows == 7
    assert len(ds.fingerprint) == 64
    assert main(["mix", str(src), str(tmp_path / "mixed"), "--no-progress"]) == 0
    assert "mix: 7 in, 7 out" in capsys.readouterr().out
    from omr_data.publish.card import lineage
    (node,) = lineage(src)
    assert node["known"] is False and node["name"] == "in"
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "manifest.json").write_text("{}")
    with pytest.raises(StoreError, match="not omr-data's and no data"):
        DatasetDir(empty)
