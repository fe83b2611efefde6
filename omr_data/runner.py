"""Run one stage (or a whole recipe) with caching, resume and progress.

`run_stage` is the one place that decides whether work is needed: the cache key hashes the
stage name and version, its config (minus endpoint-like fields) and the fingerprints of its
inputs. An output directory whose manifest carries the same key is reused as is; a
directory with an unfinished `.work/` of the same key resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from omr_data.executors import make_executor
from omr_data.ownership import LOCK_NAME, FileLock, OwnershipError, check_output
from omr_data.stage import Stage, StageContext
from omr_data.store import (
    DatasetBuilder,
    DatasetDir,
    StoreError,
    check_files,
    file_sha256,
    read_own_manifest,
)

if TYPE_CHECKING:
    from omr_data.executors import Executor


@dataclass
class StageResult:
    output: Path
    manifest: dict
    cached: bool
    seconds: float

    @property
    def summary(self) -> str:
        m = self.manifest
        rows_in = m.get("rows_in")
        head = f"{m['stage']}: " + (f"{rows_in} in, " if rows_in is not None else "")
        tail = " (cached)" if self.cached else f" in {self.seconds:.1f}s"
        reasons = sorted((m.get("reject_reasons") or {}).items(), key=lambda kv: -kv[1])[:3]
        why = (" (" + ", ".join(f"{count} {kind}" for kind, count in reasons) + ")"
               if reasons else "")
        return (f"{head}{m['rows']} out, {m['rejected']} rejected{why}{tail} -> {self.output}")

    @property
    def all_rejected(self) -> bool:
        """Rows came in and every one was rejected: nothing usable was made."""
        return self.manifest["rows"] == 0 and self.manifest["rejected"] > 0


def input_fingerprint(path: str | os.PathLike, reads: str, stage: Stage | None = None) -> str:
    """What a stage's input *is*: a dataset's content fingerprint, or raw files' content."""
    custom = stage.fingerprint_input(str(path)) if stage is not None else None
    if custom is not None:
        return custom
    if reads == "datasets":
        return DatasetDir(path).fingerprint
    return raw_fingerprint(Path(path), stage)


def raw_fingerprint(path: Path, stage: Stage | None = None) -> str:
    """Hash of raw source input: the bytes of the files a stage reads, and the names and
    sizes of everything else under a folder (images), so a 100 GB image folder is not read
    just to check a cache."""
    if not path.exists():
        raise StoreError(f"{path}: input not found")
    digest = hashlib.sha256(b"raw-input-v1")
    data_files = set()
    if stage is not None:
        for unit in stage.plan([str(path)]):
            data_files.update(Path(p).resolve() for p in unit.paths)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        rel = file.name if path.is_file() else file.relative_to(path).as_posix()
        if rel.startswith(".") or "/." in rel:
            continue
        digest.update(rel.encode())
        digest.update(str(file.stat().st_size).encode())
        if file.resolve() in data_files or path.is_file():
            digest.update(file_sha256(file).encode())
    return digest.hexdigest()


def finished_output(output: str | os.PathLike, cache_key: str) -> dict | None:
    """The manifest of a finished run with this cache key in `output` (its shards not
    checked: see `is_cached`)."""
    manifest = read_own_manifest(output)
    return manifest if manifest is not None and manifest.get("cache_key") == cache_key \
        else None


def is_cached(output: str | os.PathLike, cache_key: str) -> dict | None:
    """The manifest, when `output` holds a finished run with this cache key whose every
    listed shard still exists with its recorded size and hash."""
    manifest = finished_output(output, cache_key)
    if manifest is None or check_files(output, manifest):
        return None
    return manifest


def stage_cache_key(stage: Stage, inputs: list[str], seed: int = 0) -> tuple[str, list[dict]]:
    parents = [{"path": str(p), "fingerprint": input_fingerprint(p, stage.reads, stage)}
               for p in inputs]
    return stage.cache_key([p["fingerprint"] for p in parents], seed), parents


def run_stage(stage: Stage, inputs: list[str | os.PathLike], output: str | os.PathLike, *,
              executor: Executor | None = None, seed: int = 0, progress: bool = True,
              label: str | None = None, overwrite: bool = False) -> StageResult:
    """Run `stage` over `inputs` into `output`, unless an identical run already finished.

    `output` must be empty, or written by this stage before (`overwrite`: by any stage);
    it is never an input or inside one, and one process at a time writes it (a lock)."""
    start = time.perf_counter()
    inputs = [str(p) for p in inputs]
    output = Path(output)
    try:
        check_output(output, inputs, stage.name, overwrite=overwrite)
    except OwnershipError:
        if not (output / LOCK_NAME).exists():
            raise
        with FileLock(output / LOCK_NAME, what=str(output)):  # busy: say so, not "foreign"
            check_output(output, inputs, stage.name, overwrite=overwrite)
    stage.check_inputs(inputs)
    cache_key, parents = stage_cache_key(stage, inputs, seed)
    cached = is_cached(output, cache_key)  # a quick answer: reading needs no lock
    if cached is not None:
        return StageResult(output, cached, True, time.perf_counter() - start)
    with FileLock(output / LOCK_NAME, what=str(output)):
        check_output(output, inputs, stage.name, overwrite=overwrite)  # as it is now
        return _run_locked(stage, inputs, output, cache_key, parents, executor=executor,
                           seed=seed, progress=progress, label=label, start=start)


def _run_locked(stage: Stage, inputs: list[str], output: Path, cache_key: str,
                parents: list[dict], *, executor, seed: int, progress: bool,
                label: str | None, start: float) -> StageResult:

    cached = is_cached(output, cache_key)
    if cached is not None:  # another writer finished it while we waited for the lock
        return StageResult(output, cached, True, time.perf_counter() - start)
    damaged = finished_output(output, cache_key)
    if damaged is not None:
        print(f"{output}: {', '.join(check_files(output, damaged)[:3])} missing or changed "
              "since the run finished: not cached; redoing the units that wrote them",
              file=sys.stderr)
    builder = DatasetBuilder(output, cache_key=cache_key, repair=damaged,
                             extra_outputs=(stage.name,) if stage.keep_prepare_files else ())
    timings: dict[str, float] = {}
    t = time.perf_counter()
    units = stage.plan(inputs)
    timings["plan_s"] = round(time.perf_counter() - t, 3)

    workdir = builder.work / "prepare"
    ctx = StageContext(workdir=workdir, seed=seed)
    executor = executor or make_executor("local")
    try:
        if not (workdir / ".done").exists():
            t = time.perf_counter()
            workdir.mkdir(parents=True, exist_ok=True)
            _prepare(stage, inputs, ctx, builder, executor, progress, label)
            (workdir / "counters.json").write_text(json.dumps(dict(ctx.counters)))
            (workdir / ".done").touch()
            timings["prepare_s"] = round(time.perf_counter() - t, 3)
        prepare_counters = json.loads((workdir / "counters.json").read_text())

        done = builder.done_units()
        pending = [u for u in units if u.name not in done]
        rows_in = stage.rows_in(inputs)
        t = time.perf_counter()
        with _Progress(label or stage.name, total_units=len(units),
                       already=len(units) - len(pending), rows_total=rows_in,
                       enabled=progress) as bar:
            executor.run(stage, pending, builder, workdir, seed, progress=bar.update)
    finally:
        # an executor may keep its workers across a stage's rounds: they stop here
        close = getattr(executor, "close", None)
        if close is not None:
            close()
    timings["process_s"] = round(time.perf_counter() - t, 3)

    stats = dict(prepare_counters)
    stats.update(stage.stats(stats, ctx))
    _keep_prepare_files(stage, workdir, output)
    timings["total_s"] = round(time.perf_counter() - start, 3)
    manifest = builder.finalize(
        [u.name for u in units], stage=stage.name, config=stage.config_dict(), parents=parents,
        rows_in=rows_in, stats=stats, timings=timings)
    return StageResult(output, manifest, False, time.perf_counter() - start)


def _prepare(stage: Stage, inputs: list[str], ctx: StageContext, builder: DatasetBuilder,
             executor, progress: bool, label: str | None) -> None:
    """The global phase: `prepare` in the driver, or rounds of prepare units on the executor,
    each followed by `prepare_merge` (units already done in an interrupted run are not
    redone)."""
    units = stage.prepare_units(inputs, ctx)
    if units is None:
        stage.prepare(inputs, ctx)
        return
    rnd = 0
    while units is not None:
        prefix = "prepare" if rnd == 0 else f"prepare{rnd}"
        units = [replace(u, name=f"{prefix}-{i:05d}",
                         info={**u.info, "phase": "prepare", "round": rnd})
                 for i, u in enumerate(units)]
        done = builder.done_units()
        pending = [u for u in units if u.name not in done]
        # a round's bar is named by its units' "label" (dedup: scan, candidates, verify)
        phase = units[0].info.get("label", "prepare") if units else "prepare"
        title = f"{label or stage.name} ({phase})"
        with _Progress(title, total_units=len(units), already=len(units) - len(pending),
                       rows_total=None, enabled=progress) as bar:
            executor.run(stage, pending, builder, ctx.workdir, ctx.seed, progress=bar.update)
        done = builder.done_units()
        for unit in units:
            ctx.counters.update(done[unit.name].stats)
        ctx.prepare_round = rnd
        units = stage.prepare_merge(inputs, ctx)
        rnd += 1


def _keep_prepare_files(stage: Stage, workdir: Path, output: Path) -> None:

    for pattern in stage.keep_prepare_files:
        for path in sorted(workdir.glob(pattern)):
            target = output / stage.name / path.relative_to(workdir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


#: seconds between plain progress lines when stderr is not a terminal (logs, CI, nohup)
PLAIN_PROGRESS_S = 15.0


class _Progress:
    """Units and rows with rows/s and ETA: a rich bar on a terminal, else a plain line on
    stderr every `PLAIN_PROGRESS_S` (so a long run in a log is never silent)."""

    def __init__(self, label: str, *, total_units: int, already: int, rows_total: int | None,
                 enabled: bool):
        self.label, self.total, self.already = label, total_units, already
        self.rows_total = rows_total
        self.plain = enabled and not sys.stderr.isatty()
        self.enabled = enabled and not self.plain
        self._progress = None
        self._start = self._last_line = time.perf_counter()

    def __enter__(self):
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("units · {task.fields[rows]} rows · {task.fields[rate]} rows/s"),
                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                transient=False)
            self._progress.start()
            self._task = self._progress.add_task(
                self.label, total=self.total, completed=self.already, rows=0, rate="-")
        return self

    def update(self, units_done: int, rows: int) -> None:
        if self.plain:
            now = time.perf_counter()
            if now - self._last_line >= PLAIN_PROGRESS_S:
                self._last_line = now
                line = plain_progress(units_done, self.total - self.already, rows,
                                      now - self._start, self.already)
                print(f"{self.label}: {line}", file=sys.stderr, flush=True)
            return
        if self._progress is None:
            return
        seconds = max(1e-6, time.perf_counter() - self._start)
        self._progress.update(self._task, completed=self.already + units_done, rows=rows,
                              rate=f"{rows / seconds:,.0f}")

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()


def plain_progress(done: int, todo: int, rows: int, seconds: float, already: int = 0) -> str:
    """`3/8 units, 1,200 rows, 40 rows/s, ETA 2.1 min` (units done in this run over those
    it had to do; `already` finished before, e.g. by a killed run)."""
    seconds = max(seconds, 1e-6)
    parts = [f"{already + done}/{already + todo} units", f"{rows:,} rows",
             f"{rows / seconds:,.0f} rows/s"]
    if 0 < done < todo:
        parts.append(f"ETA {seconds / done * (todo - done) / 60:.1f} min")
    return ", ".join(parts)
