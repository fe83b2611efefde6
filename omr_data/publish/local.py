"""A local Hub-layout dataset repository: `HUB_DIR/org/name` as a git repository.

One commit and one annotated tag per version. With HUB_DIR as the working directory,
`datasets.load_dataset("org/name")` reads the checked-out (latest) version; older versions
come back with `checkout_version` (load_dataset ignores `revision=` for local folders).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Iterator

from omr_data.publish.common import PublishError, check_repo, check_version

AUTHOR_NAME = "omr-data"
AUTHOR_EMAIL = "omr-data@localhost"
_GIT_FLAGS = ["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false",
              "-c", "core.hooksPath=/dev/null", "-c", "core.autocrlf=false",
              # shards are Parquet with compressed pages and PNGs: zlib would only cost time
              "-c", "core.looseCompression=0",
              "-c", f"user.name={AUTHOR_NAME}", "-c", f"user.email={AUTHOR_EMAIL}"]


def _git(path: Path, *args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "GIT_AUTHOR_NAME": AUTHOR_NAME, "GIT_AUTHOR_EMAIL": AUTHOR_EMAIL,
           "GIT_COMMITTER_NAME": AUTHOR_NAME, "GIT_COMMITTER_EMAIL": AUTHOR_EMAIL,
           "GIT_TERMINAL_PROMPT": "0"}
    try:
        proc = subprocess.run(["git", "-C", str(path), *_GIT_FLAGS, *args], env=env,
                              capture_output=True, **kwargs)
    except FileNotFoundError:
        raise PublishError("--hub-dir needs the `git` command; install git") from None
    if check and proc.returncode != 0:
        err = proc.stderr.decode(errors="replace") if isinstance(proc.stderr, bytes) \
            else proc.stderr
        raise PublishError(f"git {args[0]} failed in {path}: {err.strip() or proc.returncode}")
    return proc


def _out(path: Path, *args: str) -> str:
    return _git(path, *args, text=True).stdout.strip()


class LocalRepo:
    """The git repository behind `--hub-dir`; created on first publish."""

    def __init__(self, hub_dir: str | os.PathLike, repo: str):
        self.repo = check_repo(repo)
        self.path = Path(hub_dir) / repo
        if self.path.exists() and not (self.path / ".git").exists():
            if any(self.path.iterdir()):
                raise PublishError(f"{self.path} exists and is not a git repository; choose "
                                   "another --hub-dir or move it away")
        if not (self.path / ".git").exists():
            self.path.mkdir(parents=True, exist_ok=True)
            _git(self.path, "init", "-q", "-b", "main")
        dirty = _out(self.path, "status", "--porcelain", "--untracked-files=all")
        if dirty:
            first = dirty.splitlines()[0].strip()
            raise PublishError(
                f"{self.path} has uncommitted changes ({first}); publishing commits the whole "
                f"tree: commit or discard them first (git -C {self.path} status)")
        self.head = self._head()

    @property
    def location(self) -> str:
        return str(self.path)

    def _head(self) -> str | None:
        proc = _git(self.path, "rev-parse", "-q", "--verify", "HEAD^{commit}", check=False,
                    text=True)
        return proc.stdout.strip() if proc.returncode == 0 else None

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A scratch folder on the same file system (inside .git, invisible to load_dataset)."""
        root = Path(tempfile.mkdtemp(prefix="omr-staging-", dir=self.path / ".git"))
        try:
            yield root
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def has_tag(self, version: str) -> bool:
        return _git(self.path, "rev-parse", "-q", "--verify", f"refs/tags/{version}",
                    check=False).returncode == 0

    def same_content(self, version: str, prefix: str, root: Path, files: list[str]) -> bool:
        """Do the files under `prefix` at `version` equal the staged `files` byte for byte?"""
        listing = _out(self.path, "ls-tree", "-r", f"refs/tags/{version}", "--",
                       prefix.rsplit("/", 1)[0] + "/")
        tagged = {}
        for line in listing.splitlines():
            meta, path = line.split("\t", 1)
            if path.startswith(prefix):
                tagged[path] = meta.split()[2]
        staged = {f: _out(self.path, "hash-object", str(root / f)) for f in files}
        return tagged == staged

    def read_text(self, name: str) -> str | None:
        if self.head is None:
            return None
        proc = _git(self.path, "show", f"HEAD:{name}", check=False)
        return proc.stdout.decode("utf-8") if proc.returncode == 0 else None

    def list_files(self) -> list[str]:
        return _out(self.path, "ls-files", "-z").split("\0") if self.head else []

    def commit_and_tag(self, root: Path, files: list[str], deletions: list[str], *,
                       version: str, message: str) -> str:
        """Apply the staged files and deletions, commit, tag; the tree is restored on failure."""
        try:
            for name in deletions:
                (self.path / name).unlink(missing_ok=True)
            for name in files:
                dest = self.path / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(root / name, dest)
            _remove_empty_dirs(self.path)
            _git(self.path, "add", "-A")
            _git(self.path, "commit", "-q", "--allow-empty", "-m", message)
            _git(self.path, "tag", "-a", version, "-m", message)
        except BaseException:
            self._restore()
            raise
        return _out(self.path, "rev-parse", "HEAD")

    def _restore(self) -> None:
        if self.head is None:
            _git(self.path, "rm", "-rq", "--cached", "--ignore-unmatch", ".", check=False)
            for child in self.path.iterdir():
                if child.name != ".git":
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
        else:
            _git(self.path, "reset", "-q", "--hard", self.head, check=False)
            _git(self.path, "clean", "-qfd", check=False)


def _remove_empty_dirs(root: Path) -> None:
    for directory in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        if ".git" in directory.relative_to(root).parts:
            continue
        if not any(directory.iterdir()):
            directory.rmdir()


def list_versions(hub_dir: str | os.PathLike, repo: str) -> list[str]:
    """The version tags of a local hub repository, oldest first."""
    path = _existing_repo(hub_dir, repo)
    tags = _out(path, "tag", "--list").split()
    return sorted(tags, key=lambda t: [int(x) for x in re.findall(r"\d+", t)])


def checkout_version(hub_dir: str | os.PathLike, repo: str, version: str,
                     dest: str | os.PathLike) -> Path:
    """Extract `version` of `repo` to `dest/org/name` and return that path.

    `load_dataset(str(path))`, or `load_dataset("org/name")` with `dest` as the working
    directory, then reads that version. The hub repository itself is left untouched.
    """
    check_version(version)
    path = _existing_repo(hub_dir, repo)
    if _git(path, "rev-parse", "-q", "--verify", f"refs/tags/{version}",
            check=False).returncode != 0:
        known = ", ".join(list_versions(hub_dir, repo)) or "none"
        raise PublishError(f"{repo}: no version {version} (versions: {known})")
    target = Path(dest) / repo
    if target.exists() and any(target.iterdir()):
        raise PublishError(f"{target} exists and is not empty; choose another destination")
    target.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(["git", "-C", str(path), "archive", "--format=tar",
                             f"refs/tags/{version}"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    with tarfile.open(fileobj=proc.stdout, mode="r|") as archive:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4 / 3.10.12
            archive.extractall(target, filter="data")
        else:  # pragma: no cover - our own git archive of a repo we wrote
            archive.extractall(target)
    stderr = proc.stderr.read().decode(errors="replace")
    if proc.wait() != 0:
        raise PublishError(f"git archive failed in {path}: {stderr.strip()}")
    return target


def _existing_repo(hub_dir: str | os.PathLike, repo: str) -> Path:
    path = Path(hub_dir) / check_repo(repo)
    if not (path / ".git").exists():
        raise PublishError(f"{path}: no published repository here (publish with --hub-dir first)")
    return path
