"""A local Hub-layout dataset repository: `HUB_DIR/org/name` as a git repository.

One commit and one annotated tag per version. With HUB_DIR as the working directory,
`datasets.load_dataset("org/name")` reads the checked-out (latest) version; older versions
come back with `checkout_version` (load_dataset ignores `revision=` for local folders).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from omr_data.ownership import FileLock
from omr_data.publish.common import PublishError, check_repo, check_version

PUBLISH_LOCK = "omr-data-publish.lock"  # in .git/: one publisher per repository
PUBLISH_WAIT_S = 3600.0                 # a second publisher waits this long for the first
JOURNAL = "omr-data-publish.json"       # in .git/: what an interrupted publish was doing
SCRATCH_PREFIX = "omr-staging-"         # in .git/: scratch trees (and their index files)
AUTHOR_NAME = "omr-data"
AUTHOR_EMAIL = "omr-data@localhost"
_GIT_FLAGS = ["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false",
              "-c", "core.hooksPath=/dev/null", "-c", "core.autocrlf=false",
              # shards are Parquet with compressed pages and PNGs: zlib would only cost time
              "-c", "core.looseCompression=0",
              "-c", f"user.name={AUTHOR_NAME}", "-c", f"user.email={AUTHOR_EMAIL}"]


def _git(path: Path, *args: str, check: bool = True, env_extra: dict | None = None,
         **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "GIT_AUTHOR_NAME": AUTHOR_NAME, "GIT_AUTHOR_EMAIL": AUTHOR_EMAIL,
           "GIT_COMMITTER_NAME": AUTHOR_NAME, "GIT_COMMITTER_EMAIL": AUTHOR_EMAIL,
           "GIT_TERMINAL_PROMPT": "0", **(env_extra or {})}
    try:
        proc = subprocess.run(["git", "-C", str(path), *_GIT_FLAGS, *args], env=env,
                              capture_output=True, **kwargs)
    except FileNotFoundError:
        raise PublishError("--hub-dir needs the `git` command; install git") from None
    if check and proc.returncode != 0:
        err = proc.stderr.decode(errors="replace") if isinstance(proc.stderr, bytes) \
            else proc.stderr
        command = next((a for a in args if not a.startswith("-")), args[0])
        raise PublishError(f"git {command} failed in {path}: {err.strip() or proc.returncode}")
    return proc


def _out(path: Path, *args: str) -> str:
    return _git(path, *args, text=True).stdout.strip()


class LocalRepo:
    """The git repository behind `--hub-dir`; created on first publish.

    A version is built off to the side and switched in at the end, so a reader of the
    folder (`load_dataset`) sees the old version or the new one, never a half:

    1. under a lock (one publisher per repository; the next one waits), finish or undo
       whatever an interrupted publish left (see `_recover`);
    2. the new files are staged in a scratch tree inside `.git/` and committed from there
       with their own index (`git commit` with GIT_INDEX_FILE/GIT_WORK_TREE): the checked
       out files and the index of the repository are not touched;
    3. tag, then bring the checked-out files to the new commit (`git reset --hard`).

    A journal (`.git/omr-data-publish.json`) written before the commit tells the next
    publish whether the commit happened (then it tags and checks out, rolling forward) or
    not (then the scratch tree is simply removed).
    """

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
        self.git_dir = self.path / ".git"
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
        """The publish session: the repository lock is held throughout (reading the card,
        writing, committing), and the yielded scratch folder lives inside .git (on the same
        file system, invisible to load_dataset)."""
        lock = FileLock(self.git_dir / PUBLISH_LOCK, what=f"{self.path} (publishing)")
        lock.acquire(wait_s=PUBLISH_WAIT_S)
        try:
            self._recover()
            dirty = _out(self.path, "status", "--porcelain", "--untracked-files=all")
            if dirty:
                first = dirty.splitlines()[0].strip()
                raise PublishError(
                    f"{self.path} has uncommitted changes ({first}); publishing commits the "
                    f"whole tree: commit or discard them first (git -C {self.path} status)")
            self.head = self._head()
            root = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=self.git_dir))
            try:
                yield root
            finally:
                shutil.rmtree(root, ignore_errors=True)
                Path(f"{root}.index").unlink(missing_ok=True)
        finally:
            lock.release()

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
        if not self.head:
            return []
        return _out(self.path, "ls-tree", "-r", "-z", "--name-only", self.head).split("\0")

    def commit_and_tag(self, root: Path, files: list[str], deletions: list[str], *,
                       version: str, message: str) -> str:
        """Commit the staged files (and deletions) on top of HEAD from the scratch tree, tag,
        then switch the checked-out files; an interruption is finished by the next publish."""
        side = {"GIT_INDEX_FILE": f"{root}.index"}
        _atomic_json(self.git_dir / JOURNAL, {"old": self.head, "version": version,
                                                "message": message})
        try:
            if self.head:
                self._side_git(root, side, "read-tree", self.head)
            if deletions:
                self._side_git(root, side, "rm", "-q", "--cached", "--ignore-unmatch", "--",
                               *deletions)
            self._side_git(root, side, "add", "-f", "--", *files)
            self._side_git(root, side, "commit", "-q", "--allow-empty", "-m", message)
        except BaseException:
            self._recover()
            raise
        self._recover()  # the commit exists: tag it and check it out
        return _out(self.path, "rev-parse", "HEAD")

    def _side_git(self, root: Path, env: dict, *args: str) -> None:
        """git on the repository with the scratch tree as work tree and its own index."""
        _git(root, f"--git-dir={self.git_dir}", f"--work-tree={root}", *args, env_extra=env)

    def _recover(self) -> None:
        """Finish or undo an interrupted publish, as its journal says; drop scratch trees."""
        journal_path = self.git_dir / JOURNAL
        if journal_path.exists():
            try:
                journal = json.loads(journal_path.read_text())
            except ValueError:
                journal = {}
            head = self._head()
            if head and head != journal.get("old"):  # committed: roll forward
                version = journal.get("version")
                if version and not self.has_tag(version):
                    _git(self.path, "tag", "-a", version, head, "-m",
                         journal.get("message") or f"Publish {version}")
                _git(self.path, "reset", "-q", "--hard", head)
            journal_path.unlink()
        for leftover in self.git_dir.glob(f"{SCRATCH_PREFIX}*"):
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        self.head = self._head()


def _atomic_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


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
