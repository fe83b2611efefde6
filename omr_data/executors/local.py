"""The local executor: a stage's units in parallel processes on this machine.

Units are independent, so they run in a process pool (spawned, so heavy libraries in the
driver are not forked mid-state); each worker builds the stage once (`setup`) and runs
units until the stage run ends: one pool serves all of a stage's rounds (prepare rounds,
then the process units) and `close` (called by the runner) stops it. A unit's shards and
done marker are written by the worker; the driver only watches progress and, once every
unit is done, finalizes in plan order, so the output never depends on which worker
finished first.
"""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.util  # noqa: F401  (Finalize)
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from omr_data.executors.base import ProgressFn
from omr_data.stage import Stage, StageContext, WorkUnit
from omr_data.store import DatasetBuilder, UnitResult

PROGRESS_EVERY = 256  # rows between progress updates from a worker



def run_unit(stage: Stage, unit: WorkUnit, builder: DatasetBuilder, workdir: Path, seed: int,
             on_rows: Callable[[int], None] | None = None) -> UnitResult:
    """Run one unit to completion: rows to shards, then the done marker."""
    writer = builder.open_unit(unit.name)
    ctx = StageContext(workdir=workdir, seed=seed)
    pending = 0
    rows = stage.process(unit, ctx) if unit.info.get("phase") != "prepare" else \
        _prepare_unit(stage, unit, ctx)
    for row in rows:
        writer.add(row)
        pending += 1
        if on_rows is not None and pending >= PROGRESS_EVERY:
            on_rows(pending)
            pending = 0
    if on_rows is not None and pending:
        on_rows(pending)
    writer.stats.update(ctx.counters)
    result = writer.close()
    builder.mark_done(result)
    return result


def _prepare_unit(stage: Stage, unit: WorkUnit, ctx: StageContext):
    """A unit of the prepare phase: writes under ctx.workdir, yields no rows."""
    stage.prepare_unit(unit, ctx)
    return iter(())


class LocalExecutor:
    """Runs units in `workers` processes (1 = in this process, handy for debugging)."""

    name = "local"

    #: with workers unset, inputs smaller than this run in-process: starting a pool of
    #: spawned workers costs 1-2 s, more than small stages take
    INLINE_BELOW_BYTES = 16 * 1024 * 1024

    def __init__(self, workers: int | None = None):
        self.auto = workers is None
        self.workers = workers or max(1, min(os.cpu_count() or 1, 8))
        self._pool: ProcessPoolExecutor | None = None
        self._pool_key: tuple | None = None
        self._counter = None

    def run(self, stage: Stage, units: list[WorkUnit], builder: DatasetBuilder, workdir: Path,
            seed: int, progress: ProgressFn | None = None) -> None:
        if not units:
            return
        # small inputs run inline (a process pool costs seconds), unless the stage marked
        # its units as heavy: CPU-bound work whose input files are small (dedup's batches)
        small = self.auto and _input_bytes(units) < self.INLINE_BELOW_BYTES and \
            not any(u.info.get("heavy") for u in units)
        workers = min(self.workers, stage.max_workers or self.workers)
        if workers == 1 or len(units) == 1 or small:
            self._run_inline(stage, units, builder, workdir, seed, progress)
        else:
            self._run_pool(stage, units, builder, workdir, seed, progress)

    def _run_inline(self, stage, units, builder, workdir, seed, progress) -> None:
        rows = 0

        def on_rows(n: int) -> None:
            nonlocal rows
            rows += n
            if progress:
                progress(done, rows)

        done = 0
        stage.setup()
        try:
            for unit in units:
                run_unit(stage, unit, builder, workdir, seed, on_rows)
                done += 1
                if progress:
                    progress(done, rows)
        finally:
            stage.teardown()

    def _run_pool(self, stage, units, builder, workdir, seed, progress) -> None:
        pool, counter = self._pool_for(stage, builder, workdir, seed)
        with counter.get_lock():
            counter.value = 0          # rows of this call only
        futures = {pool.submit(_run_in_worker, unit): unit for unit in units}
        done = 0
        pending = set(futures)
        try:
            while pending:
                finished, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                for future in finished:
                    future.result()  # re-raise a worker's error here, naming the unit below
                    done += 1
                if progress:
                    progress(done, counter.value)
        except BaseException:
            self.close()             # lets the units already started finish, as before
            raise

    def _pool_for(self, stage, builder, workdir, seed):
        """The worker pool of this stage run, started on first use and kept across calls
        (a stage's prepare rounds and its process units), so each worker imports and sets
        up the stage (and loads its models) once per run, not once per round."""
        key = (id(stage), str(builder.path), builder.cache_key, str(workdir), seed)
        if self._pool is not None and self._pool_key != key:
            self.close()
        if self._pool is None:
            context = mp.get_context("spawn")
            counter = context.Value("q", 0)
            workers = min(self.workers, stage.max_workers or self.workers)
            # processes start on demand (spawn context): a round of one unit starts one
            self._pool = ProcessPoolExecutor(
                max_workers=workers, mp_context=context, initializer=_init_worker,
                initargs=(type(stage), stage.config, builder.path, builder.cache_key, workdir,
                          seed, counter))
            self._pool_key, self._counter = key, counter
        return self._pool, self._counter

    def close(self) -> None:
        """Stop the worker pool (each worker tears its stage down); the runner calls this
        when a stage run ends, failed or not. A later `run` starts a new pool."""
        pool, self._pool, self._pool_key, self._counter = self._pool, None, None, None
        if pool is not None:
            pool.shutdown(wait=True)


def _input_bytes(units: list[WorkUnit]) -> int:
    total = 0
    for unit in units:
        for path in unit.paths:
            try:
                total += os.path.getsize(path)
            except OSError:
                pass
    return total


# -- worker side -------------------------------------------------------------------------

_WORKER: dict = {}


def _init_worker(stage_cls, config, out_path, cache_key, workdir, seed, counter) -> None:
    stage = stage_cls(config)
    stage.setup()
    mp.util.Finalize(None, stage.teardown, exitpriority=10)  # runs when the worker exits
    builder = DatasetBuilder.attach(out_path, cache_key=cache_key)
    _WORKER.update(stage=stage, builder=builder, workdir=workdir, seed=seed, counter=counter)


def _run_in_worker(unit: WorkUnit) -> UnitResult:
    w = _WORKER

    def on_rows(n: int) -> None:
        with w["counter"].get_lock():
            w["counter"].value += n

    try:
        return run_unit(w["stage"], unit, w["builder"], w["workdir"], w["seed"], on_rows)
    except Exception as err:
        raise RuntimeError(f"unit {unit.name} ({', '.join(unit.paths)[:200]}): "
                           f"{type(err).__name__}: {err}") from err


def elapsed(start: float) -> float:
    return round(time.perf_counter() - start, 3)
