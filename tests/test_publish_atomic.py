"""A local publish switches versions whole: a publish killed inside `git commit` (a `git`
shim on PATH) leaves readers the old version and is cleaned up by the next publish;
publishes to one repository are serialized and never drop a version from the history."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from test_hub import REPO, git, load, sft_records

from omr_data.hub import PublishError, list_versions, publish
from omr_data.store import write_dataset

ROOT = Path(__file__).resolve().parents[1]


def git_shim(folder: Path, kill_on: str, who: str) -> dict:
    """A `git` that, when run as `git ... <kill_on> ...`, SIGKILLs `who` ("parent": the
    publisher, mid-command; "self": only git), and otherwise runs the real git."""
    real = shutil.which("git")
    folder.mkdir()
    shim = folder / "git"
    victim = "$PPID" if who == "parent" else "$$"
    shim.write_text(f"""#!/bin/sh
for arg in "$@"; do
  if [ "$arg" = "{kill_on}" ]; then kill -9 {victim}; kill -9 $$; fi
done
exec {real} "$@"
""")
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": str(ROOT)}


def publish_cli(src: Path, hub: Path, version: str, env: dict | None = None):
    return subprocess.run(
        [sys.executable, "-m", "omr_data", "publish", str(src), "--repo", REPO,
         "--hub-dir", str(hub), "--version", version],
        capture_output=True, text=True, env=env or {**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300)


def rows_read(hub: Path, cache: Path) -> int:
    return load(str(hub / REPO), split="train", cache=cache).num_rows


@pytest.mark.parametrize("kill_on", ["commit", "reset"])
def test_publish_killed_mid_way_leaves_a_whole_version_and_is_finished_next_time(
        tmp_path, kill_on):
    hub = tmp_path / "hub"
    v1 = write_dataset(tmp_path / "v1", sft_records(8)).path
    v2 = write_dataset(tmp_path / "v2", sft_records(12)).path
    publish([v1], REPO, version="v1.0", hub_dir=hub)

    killed = publish_cli(v2, hub, "v1.1", env=git_shim(tmp_path / "shim", kill_on, "parent"))
    assert killed.returncode == -9, killed.stderr
    # readers see the old version whole: the checked-out files are those of v1.0
    assert rows_read(hub, tmp_path / "c1") == 8
    if kill_on == "commit":
        assert list_versions(hub, REPO) == ["v1.0"]

    # the next publish finishes or undoes the interrupted one by itself, then goes on
    v3 = write_dataset(tmp_path / "v3", sft_records(5)).path
    result = publish([v3], REPO, version="v1.2", hub_dir=hub)
    assert result.rows == 5 and rows_read(hub, tmp_path / "c2") == 5
    repo = hub / REPO
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    assert not list((repo / ".git").glob("omr-staging-*"))
    assert not (repo / ".git" / "omr-data-publish.json").exists()
    history = [v["version"] for v in json.loads((repo / "provenance.json").read_text())
               ["versions"]]
    if kill_on == "commit":  # nothing was committed: v1.1 never happened
        assert list_versions(hub, REPO) == ["v1.0", "v1.2"] and history == ["v1.0", "v1.2"]
    else:  # committed before the kill: rolled forward, tagged, kept in the history
        assert list_versions(hub, REPO) == ["v1.0", "v1.1", "v1.2"]
        assert history == ["v1.0", "v1.1", "v1.2"]
        assert git(repo, "rev-parse", "v1.1^{commit}") == git(repo, "rev-parse", "HEAD~1")


def test_git_dying_inside_commit_fails_the_publish_cleanly(tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    v1 = write_dataset(tmp_path / "v1", sft_records(8)).path
    v2 = write_dataset(tmp_path / "v2", sft_records(12)).path
    publish([v1], REPO, version="v1.0", hub_dir=hub)
    with monkeypatch.context() as patch:
        patch.setenv("PATH", git_shim(tmp_path / "shim", "commit", "self")["PATH"])
        with pytest.raises(PublishError, match="git commit failed"):
            publish([v2], REPO, version="v1.1", hub_dir=hub)
    repo = hub / REPO
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    assert list_versions(hub, REPO) == ["v1.0"] and rows_read(hub, tmp_path / "c") == 8
    assert publish([v2], REPO, version="v1.1", hub_dir=hub).rows == 12
    assert rows_read(hub, tmp_path / "c2") == 12


def test_concurrent_publishes_are_serialized_and_keep_every_version(tmp_path):
    hub = tmp_path / "hub"
    base = write_dataset(tmp_path / "base", sft_records(3)).path
    publish([base], REPO, version="v1.0", hub_dir=hub)
    sources = [write_dataset(tmp_path / f"s{i}", sft_records(4 + i)).path for i in range(2)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen(
        [sys.executable, "-m", "omr_data", "publish", str(src), "--repo", REPO, "--hub-dir",
         str(hub), "--version", f"v1.{i + 1}"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env) for i, src in enumerate(sources)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    repo = hub / REPO
    history = {v["version"] for v in json.loads((repo / "provenance.json").read_text())
               ["versions"]}
    assert history == {"v1.0", "v1.1", "v1.2"}
    assert set(list_versions(hub, REPO)) == history
    assert git(repo, "rev-list", "--count", "HEAD") == "3"  # one line of history, no loss
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
