import subprocess
import sys
import textwrap

import pytest

from omr_data import registry
from omr_data.cli import main


def test_version_prints_and_exits_zero(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("omr-data ")


def test_every_command_has_help_with_examples():
    from omr_data.cli import EXAMPLES, build_parser
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, sub in commands.items():
        assert name in EXAMPLES, f"{name} has no examples"
        assert "examples:" in sub.format_help()


def test_help_does_not_import_heavy_libraries():
    code = ("import sys; from omr_data.cli import build_parser; build_parser(); "
            "print(any(m in sys.modules for m in ('torch', 'datasets', 'pyarrow', 'polars')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False"


def test_error_is_one_line_and_nonzero(capsys, tmp_path):
    code = main(["stats", str(tmp_path / "missing")])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err.count("\n") == 0 and "no such dataset directory" in err


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(Exception, match="no such dataset directory"):
        main(["--debug", "stats", str(tmp_path / "missing")])


def test_stats_prints_counts_and_writes_plots(toy_dataset, tmp_path, capsys):
    src = toy_dataset(20, with_images=True)
    assert main(["stats", str(src.path), "--plots", str(tmp_path / "plots")]) == 0
    out = capsys.readouterr().out
    assert "20 rows" in out and "answer type: number=20" in out
    assert (tmp_path / "plots" / "by_source.png").exists()
    assert (tmp_path / "plots" / "stats.json").exists()


def test_run_reports_summary_and_caches(monkeypatch, toy_dataset, tmp_path, capsys):
    monkeypatch.setitem(registry.STAGES, "uppercase", "toy_stages:Uppercase")
    src = toy_dataset(10)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(textwrap.dedent(f"""
        name: toy
        workdir: {tmp_path}/runs
        steps:
          - {{id: up, stage: uppercase, inputs: [{src.path}], config: {{reject_word: "7"}}}}
    """))
    assert main(["run", str(recipe), "--no-progress"]) == 0
    assert main(["run", str(recipe), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "recipe toy: 1 steps (0 cached), 1 rows rejected" in out
    assert "recipe toy: 1 steps (1 cached)" in out


def test_run_check_validates_without_running(monkeypatch, tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("steps:\n  - {id: a, stage: nope, inputs: []}\n")
    assert main(["run", str(recipe), "--check"]) == 1
    assert "unknown stage 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("argv, new", [
    (["run", "r.yaml", "--dry-run"], "--check"),
    (["filter", "IN", "OUT", "--max-tokens", "5"], "--max-response-tokens"),
])
def test_a_flag_that_meant_something_else_fails_naming_the_new_one(argv, new, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and err.count("\n") == 0 and new in err


def test_mix_command_parses_specs(toy_dataset, tmp_path, capsys):
    a = toy_dataset(40, name="a", source="a")
    b = toy_dataset(40, name="b", source="b")
    assert main(["mix", f"{a.path}:0.25", f"{b.path}:5", str(tmp_path / "out"),
                 "--no-progress"]) == 0
    assert "mix: 80 in, 15 out, 65 rejected" in capsys.readouterr().out


def test_mix_takes_inputs_then_output_and_never_writes_into_an_input(toy_dataset, tmp_path,
                                                                      capsys):
    a = toy_dataset(10, name="a", source="a")
    b = toy_dataset(10, name="b", source="b")
    before = sorted(p.name for p in b.path.rglob("*"))
    # `mix A B` (once: OUT=A, overwriting an input) mixes A into B, which another stage
    # wrote: refused, B kept
    assert main(["mix", str(a.path), str(b.path), "--no-progress"]) == 1
    assert sorted(p.name for p in b.path.rglob("*")) == before
    assert "error" in capsys.readouterr().err


def test_filter_command_runs_max_samples(toy_dataset, tmp_path, capsys):
    src = toy_dataset(10)
    assert main(["filter", str(src.path), str(tmp_path / "out"), "--max-samples", "2",
                 "--no-progress"]) == 0
    assert "filter: 10 in, 10 out, 0 rejected" in capsys.readouterr().out


def test_publish_command_writes_a_loadable_local_repo(toy_dataset, tmp_path, capsys,
                                                      monkeypatch):
    src = toy_dataset(12, with_images=True)
    hub = tmp_path / "hub"
    assert main(["publish", str(src.path), "--repo", "omr/toy", "--hub-dir", str(hub),
                 "--version", "v0.1"]) == 0
    assert "published 12 RL rows to omr/toy" in capsys.readouterr().out
    import datasets
    monkeypatch.chdir(hub)
    loaded = datasets.load_dataset("omr/toy", split="train")
    assert len(loaded) == 12 and loaded[0]["images"][0].size == (8, 8)


def test_killed_omr_data_run_resumes_to_the_uninterrupted_fingerprint(toy_dataset, tmp_path):
    import json
    import os
    import signal
    import time
    from pathlib import Path

    src = toy_dataset(120, max_rows=10)  # 12 units
    recipe = tmp_path / "r.yaml"

    def write_recipe(workdir, sleep):
        recipe.write_text(textwrap.dedent(f"""
            name: toy
            workdir: {workdir}
            steps:
              - {{id: up, stage: uppercase, inputs: [{src.path}],
                  config: {{reject_word: "3", sleep_s: {sleep}}}}}
              - {{id: down, stage: uppercase, inputs: [up], config: {{reject_word: "Q"}}}}
        """))

    # the real CLI, with the toy stage registered (the registry is an explicit dict)
    launcher = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
                "from omr_data import registry; "
                "registry.STAGES['uppercase'] = 'toy_stages:Uppercase'; "
                "from omr_data.cli import main; sys.exit(main(sys.argv[1:]))")

    def run_cli():
        return subprocess.Popen([sys.executable, "-c", launcher, "run", str(recipe),
                                 "--no-progress", "--workers", "1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)

    write_recipe(tmp_path / "ref", 0)
    assert run_cli().wait(timeout=120) == 0
    write_recipe(tmp_path / "runs", 0.3)
    proc = run_cli()
    done_dir = tmp_path / "runs" / "up" / ".work" / "done"
    deadline = time.time() + 60
    while time.time() < deadline and len(list(done_dir.glob("*.json"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "runs" / "up" / "manifest.json").exists()
    proc = run_cli()  # sleep_s is left out of the cache key: the same run resumes
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    for step in ("up", "down"):
        ref = json.loads((tmp_path / "ref" / step / "manifest.json").read_text())
        got = json.loads((tmp_path / "runs" / step / "manifest.json").read_text())
        assert got["fingerprint"] == ref["fingerprint"]
        assert got["rows"] + got["rejected"] == got["rows_in"]
