"""Who may write where: a stage writes only into an OUT that is empty or that omr-data
wrote before, never over its own inputs, and one writer at a time.

- `check_output(out, inputs, stage, overwrite)` refuses, before anything is touched, an OUT
  that is an input, lies inside one or holds one; an OUT holding files omr-data did not
  write (`data/thesis.txt`, a foreign `manifest.json`, a bare folder of Parquet files); and
  an OUT another stage wrote, unless `overwrite` (which then replaces only what the tool
  wrote: the files its manifest lists).
- `FileLock(path)` is one writer's claim: a POSIX record lock (released by the kernel when
  the process dies, not inherited by forked workers) on a file that names the holder, so
  the second writer is told who holds it, and a lock left by a killed process is taken over.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import sys
import time
from pathlib import Path

from omr_data.store import MANIFEST, StoreError, read_own_manifest

LOCK_NAME = ".omr-data.lock"
#: what a stage may leave in its OUT besides data/ and rejects/
_OWN_ENTRIES = {MANIFEST, LOCK_NAME, "stats", "journal.units", "journal.sqlite",
                "journal.sqlite-wal", "journal.sqlite-shm", "journal.sqlite-journal"}
_SHARD_NAME = re.compile(r"part-\d{5}\.parquet")


class OwnershipError(StoreError):
    """An OUT that this stage must not write into; the message says why and what to do."""


class LockedError(StoreError):
    """Another process holds the lock; the message names it."""


# ---------------------------------------------------------------------------------------
# Ownership


def check_output(output: str | os.PathLike, inputs: list[str], stage: str, *,
                 overwrite: bool = False) -> None:
    """Raise `OwnershipError` unless `stage` may write into `output` (see the module doc)."""
    out = Path(output)
    check_not_overlapping(out, inputs)
    if not out.exists():
        return
    if not out.is_dir():
        raise OwnershipError(f"{out}: exists and is not a folder; choose another OUT")
    if not any(out.iterdir()):
        return
    manifest = read_own_manifest(out)
    unfinished = (out / ".work" / "state.json").is_file()
    foreign = foreign_entries(out, manifest, stage, unfinished=unfinished)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3
                                          else "")
        raise OwnershipError(
            f"{out}: holds files omr-data did not write ({shown}); a stage writes only into "
            "an empty folder or one it wrote before: choose another OUT, or move them away")
    if manifest is not None and manifest.get("stage") != stage and not overwrite:
        raise OwnershipError(
            f"{out}: holds the output of stage {manifest.get('stage')!r}, not {stage!r}; "
            "choose another OUT, or pass --overwrite to replace it")


def check_not_overlapping(output: Path, inputs: list[str]) -> None:
    out = output.resolve()
    for item in inputs:
        path = Path(str(item))
        if not path.exists():
            continue  # a Hub id or a missing path: the stage reports it
        inp = path.resolve()
        if inp == out:
            raise OwnershipError(f"{output}: OUT is also an input; a stage never writes over "
                                 "what it reads: choose another OUT")
        if inp in out.parents:
            raise OwnershipError(f"{output}: OUT lies inside the input {item}; choose an OUT "
                                 "outside every input")
        if out in inp.parents:
            raise OwnershipError(f"{output}: the input {item} lies inside OUT; choose an OUT "
                                 "that holds no input")


def foreign_entries(out: Path, manifest: dict | None, stage: str, *,
                    unfinished: bool) -> list[str]:
    """Paths under `out` (relative, sorted) that omr-data did not write."""
    listed = set((manifest or {}).get("files") or {})
    own_dirs = {stage, str((manifest or {}).get("stage") or "")} - {""}
    foreign = []
    for entry in sorted(out.iterdir()):
        name = entry.name
        if name == MANIFEST:
            if manifest is None:
                foreign.append(name)
        elif name == ".work":
            if not unfinished:
                foreign.append(name)
        elif name in ("data", "rejects") and entry.is_dir():
            for file in sorted(entry.rglob("*")):
                rel = file.relative_to(out).as_posix()
                if file.is_dir():
                    continue
                # our shard names count as ours even without a manifest (a run that was
                # interrupted, or whose manifest was removed to force a rerun)
                if rel in listed or (file.parent == entry and _SHARD_NAME.fullmatch(file.name)):
                    continue
                foreign.append(rel)
        elif name in _OWN_ENTRIES or (name in own_dirs and entry.is_dir()):
            continue
        else:
            foreign.append(name + ("/" if entry.is_dir() else ""))
    return foreign


# ---------------------------------------------------------------------------------------
# Locks


class FileLock:
    """An exclusive, non-blocking claim on `path` (created if needed), naming its holder.

        with FileLock(out / ".omr-data.lock", what=f"{out}"):
            ...
    """

    def __init__(self, path: str | os.PathLike, *, what: str | None = None):
        self.path = Path(path)
        self.what = what or str(self.path.parent)
        self._fd: int | None = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self, wait_s: float = 0.0) -> None:
        """Take the lock, or raise `LockedError` naming the holder; with `wait_s`, wait up
        to that long for it (saying once, on stderr, whom we wait for)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + wait_s
        told = False
        for _ in range(1_000_000):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _describe(_read_holder(fd))
                os.close(fd)
                if time.monotonic() < deadline:
                    if not told:
                        print(f"{self.what}: waiting for {holder}", file=sys.stderr)
                        told = True
                    time.sleep(0.1)
                    continue
                raise LockedError(
                    f"{self.what}: another omr-data process is writing here ({holder}); "
                    f"wait for it to finish or stop it") from None
            if not _same_file(fd, self.path):  # released and removed while we opened it
                os.close(fd)
                continue
            holder = _read_holder(fd)
            if _alive_elsewhere(holder):  # a claim not made with this lock (another tool)
                os.close(fd)
                raise LockedError(
                    f"{self.what}: locked by {_describe(holder)} ({self.path}); wait for it "
                    "to finish, or remove the lock file if that process is not omr-data")
            # free, or left by a process that died: ours now
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(_me()).encode(), 0)
            self._fd = fd
            return
        raise LockedError(f"{self.what}: could not take the lock {self.path}")

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            if _same_file(self._fd, self.path):
                self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None


def _me() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": " ".join(os.path.basename(a) if i == 0 else a
                                for i, a in enumerate(sys.argv[:4]))}


def _read_holder(fd: int) -> dict:
    try:
        raw = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
    except OSError:
        return {}
    if raw.isdigit():
        return {"pid": int(raw)}
    try:
        data = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _describe(holder: dict) -> str:
    if not holder.get("pid"):
        return "holder unknown"
    where = f" on {holder['host']}" if holder.get("host") else ""
    what = f", {holder['command']}" if holder.get("command") else ""
    since = f", since {holder['started']}" if holder.get("started") else ""
    return f"pid {holder['pid']}{where}{what}{since}"


def _alive_elsewhere(holder: dict) -> bool:
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid <= 0 or pid == os.getpid():
        return False
    if holder.get("host") not in (None, socket.gethostname()):
        return False  # cannot tell; the kernel lock said it is free
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed process not yet reaped by its parent is a zombie: dead
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


__all__ = ["FileLock", "LOCK_NAME", "LockedError", "OwnershipError", "check_output",
           "check_not_overlapping", "foreign_entries"]
