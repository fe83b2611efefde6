"""The Ray executor: a stage's units as Ray Data work, on one machine or a cluster.

    omr-data run pipelines/sft_874k.yaml --executor ray --address ray://head:10001

Ray Data is the scheduler; the store stays the store. The pending units become a Ray
dataset (`ray.data.from_items`, one unit per row) mapped by a pool of actors
(`map_batches` with an `ActorPoolStrategy`). Each actor builds the stage once (`setup`)
and runs whole units with the local executor's `run_unit`, so a unit writes its shards and
done marker under `OUT/.work/units/<unit>/` through the store's `UnitWriter`, exactly as a
local worker does. The driver finalizes in plan order, so the output, its manifest and its
content fingerprint are the same as the local executor's, whichever actor finished first.

Rows are not re-blocked through Ray's `read_parquet`/`write_parquet`: the fingerprint hashes
each unit's shards in plan order and resume relies on per-unit done markers, and Ray's
writers choose their own blocks and file names. Data moves between the shared filesystem
and the actors; only unit descriptions and results travel through Ray's object store.

Failures:

* a worker that dies (killed, out of memory, a node lost) is restarted by Ray Data and its
  unit runs again from scratch (`open_unit` discards the half-written attempt); a unit that
  kills its worker `max_attempts` times fails the run with an error naming it;
* an exception in a unit fails the run with an error naming the unit and its input;
* a unit whose done marker exists is never redone (a retried task after the marker was
  written returns the recorded result).

How many actors, and with which config, is the stage's own call (`Stage.cluster_plan`):
by default `workers` actors, never more than `Stage.max_workers` or the number of units,
each building the stage from its config. A stage whose settings are run-wide budgets
overrides it: it may split a budget over the actors (in their config), give each unit its
own config (e.g. its own journal), and ask for a `SharedLimiter`, one rate budget for the
whole run that the executor starts as a Ray actor before the workers and kills when the
stage ends, failed or not (never restarted: a fresh bucket would forget the slots it has
booked). The executor knows no stage by name; distill's plan is described in
`omr_data/distill/stage.py`.

Requirements on a cluster: `omr-data[ray]` installed on every node (or shipped with
`runtime_env`), and the inputs and the output directory on a filesystem that every node
mounts at the same path (the driver's working directory too, when paths are relative).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import pickle
import queue
import sys
import threading
import time
from pathlib import Path
from typing import Any

import ray
import ray.data

from omr_data.executors.base import ProgressFn
from omr_data.executors.local import run_unit
from omr_data.llm.limits import NAMESPACE, Budget
from omr_data.stage import ClusterPlan, SharedLimiter, Stage, WorkUnit
from omr_data.store import DatasetBuilder, StoreError, UnitResult

ATTEMPTS_DIR = "ray-attempts"   # under OUT/.work: how often each unit was started


class RayStageError(RuntimeError):
    """A stage failed on a Ray worker; the message says where."""


class UnitFailed(RayStageError):
    """A unit raised (or killed its worker too often); the message names the unit."""


class SetupFailed(RayStageError):
    """A worker could not start: the stage's `setup()` raised or the output is not visible."""


class RayExecutor:
    """Runs units as Ray Data tasks on a pool of actors (one stage instance per actor).

    address: a Ray cluster (`auto`, `ray://host:10001`, `host:6379`); None starts a local
    Ray on this machine (bounded by `num_cpus`). An already initialised Ray is reused.
    workers: actors at once (default: the cluster's CPUs / `cpus_per_worker`), never more
    than the stage allows (`Stage.max_workers`) or than there are units.
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, *,
                 num_cpus: int | None = None, cpus_per_worker: float = 1.0,
                 max_attempts: int = 3, runtime_env: dict | None = None,
                 poll_s: float = 0.5, verbose: bool = False):
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if cpus_per_worker <= 0:
            raise ValueError(f"cpus_per_worker must be > 0, got {cpus_per_worker}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        if num_cpus is not None and address not in (None, "local"):
            raise ValueError("num_cpus bounds a local Ray; a cluster's size is its own "
                             "(drop num_cpus or the address)")
        self.address = None if address in (None, "", "local") else address
        self.workers = workers
        self.num_cpus = num_cpus
        self.cpus_per_worker = float(cpus_per_worker)
        self.max_attempts = max_attempts
        self.runtime_env = runtime_env
        self.poll_s = poll_s
        self.verbose = verbose
        self.last_plan: ClusterPlan | None = None   # for tests and logs
        self.last_limiter_stats: dict | None = None  # the shared limiter's, at its end

    # -- connecting --------------------------------------------------------------------
    def connect(self) -> None:
        """Join the cluster at `address`, or start a local Ray (no-op when initialised)."""
        if ray.is_initialized():
            return
        kwargs: dict[str, Any] = {"include_dashboard": False, "configure_logging": True,
                                  "logging_level": "WARNING"}
        runtime_env = dict(self.runtime_env or {})
        if self.address is None:
            kwargs["num_cpus"] = self.num_cpus
            # workers of a local Ray must import this checkout even when it is not installed
            package_root = str(Path(__file__).resolve().parents[2])
            if Path(package_root).name not in ("site-packages", "dist-packages"):
                env = dict(runtime_env.get("env_vars") or {})
                paths = [package_root] + [p for p in os.environ.get("PYTHONPATH", "").split(
                    os.pathsep) if p and p != package_root]
                env.setdefault("PYTHONPATH", os.pathsep.join(paths))
                runtime_env["env_vars"] = env
        if runtime_env:
            kwargs["runtime_env"] = runtime_env
        try:
            ray.init(address=self.address, **kwargs)
        except ConnectionError as err:
            raise RuntimeError(f"cannot reach the Ray cluster at {self.address!r}: {err}; "
                               "start it with `ray start --head` or check --address") from None

    def cluster_workers(self) -> int:
        cpus = ray.cluster_resources().get("CPU", 1.0)
        return max(1, int(cpus // self.cpus_per_worker))

    # -- running -----------------------------------------------------------------------
    def run(self, stage: Stage, units: list[WorkUnit], builder: DatasetBuilder, workdir: Path,
            seed: int, progress: ProgressFn | None = None) -> None:
        if not units:
            return
        self.connect()
        ray.data.DataContext.get_current().enable_progress_bars = False  # the runner shows ours
        if not self.verbose:   # Ray Data's per-dataset INFO lines; its warnings still show
            logging.getLogger("ray.data").setLevel(logging.WARNING)
            logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
        wanted = self.workers or self.cluster_workers()
        plan = stage.cluster_plan(wanted=wanted, units=len(units), output=builder.path)
        self.last_plan = plan
        if plan.notes and (self.verbose or sys.stderr.isatty()):   # beside the progress bar
            for note in plan.notes:
                print(f"{stage.name}: {note}", file=sys.stderr)
        attempts = builder.work / ATTEMPTS_DIR
        attempts.mkdir(parents=True, exist_ok=True)
        for unit in units:                     # a new run: every unit gets max_attempts again
            (attempts / f"{unit.name}.json").unlink(missing_ok=True)

        error = self._execute(stage, plan, units, builder, workdir, seed, progress)
        if error is not None:
            # raised here, after the dataset and its actor pool are out of scope: an error
            # kept alive by the caller must not hold the pool's CPUs for the next run
            gc.collect()
            _reap_unit_workers()
            raise error
        missing = sorted({u.name for u in units} - set(builder.done_units()))
        if missing:   # never finalize around a hole, whatever Ray reported
            raise StoreError(f"{builder.path}: Ray finished but units have no done marker: "
                             f"{missing[:5]}")

    def _execute(self, stage: Stage, plan: ClusterPlan, units: list[WorkUnit],
                 builder: DatasetBuilder, workdir: Path, seed: int,
                 progress: ProgressFn | None) -> BaseException | None:
        """Map the units on an actor pool; the error (named), or None when all finished."""
        self.last_limiter_stats = None
        limiter = _start_limiter(plan.shared_limiter) if plan.shared_limiter else None
        try:
            return self._map_units(stage, plan, units, builder, workdir, seed, progress)
        finally:
            if limiter is not None:
                self.last_limiter_stats = _stop_limiter(limiter)

    def _map_units(self, stage: Stage, plan: ClusterPlan, units: list[WorkUnit],
                   builder: DatasetBuilder, workdir: Path, seed: int,
                   progress: ProgressFn | None) -> BaseException | None:
        counter = _RowCounter.options(num_cpus=0).remote()
        items = [{"name": u.name, "unit": pickle.dumps(u)} for u in units]
        dataset = ray.data.from_items(items, override_num_blocks=len(items))
        dataset = dataset.map_batches(
            _UnitWorker,
            fn_constructor_kwargs={
                "stage_cls": type(stage), "config": plan.worker_config,
                "unit_config": plan.unit_config, "output": str(builder.path.resolve()),
                "cache_key": builder.cache_key, "workdir": str(Path(workdir).resolve()),
                "seed": seed, "counter": counter, "max_attempts": self.max_attempts,
                "cwd": os.getcwd()},
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=plan.workers,
                                               max_tasks_in_flight_per_actor=1),
            num_cpus=self.cpus_per_worker,
        )
        try:
            return self._consume(dataset, counter, progress)
        finally:
            ray.kill(counter)

    def _consume(self, dataset, counter, progress: ProgressFn | None) -> BaseException | None:
        """Iterate the results in a thread; report progress from the row counter meanwhile."""
        box: queue.Queue = queue.Queue()

        def consume() -> None:
            try:
                for row in dataset.iter_rows():
                    box.put(("row", row))
            except BaseException as err:  # noqa: BLE001 - handed to the driver thread
                box.put(("error", err))
            box.put(("end", None))

        thread = threading.Thread(target=consume, name="ray-units", daemon=True)
        thread.start()
        done = rows_done = 0   # rows_done is exact (the counter also sees retried attempts)
        last = 0.0
        while True:
            try:
                kind, value = box.get(timeout=self.poll_s)
            except queue.Empty:
                kind, value = "tick", None
            if kind == "error":
                thread.join()
                return _unit_error(value)
            if kind == "end":
                break
            if kind == "row":
                result = json.loads(value["result"])
                done += 1
                rows_done += result["rows"] + result["rejected"]
            if progress and (kind == "row" or time.monotonic() - last >= self.poll_s):
                last = time.monotonic()
                live = ray.get(counter.get.remote())
                progress(done, max(live, rows_done))
        thread.join()
        if progress:
            progress(done, rows_done)
        return None


# -- driver helpers ----------------------------------------------------------------------

def _unit_error(err: BaseException) -> BaseException:
    """Our own error (its one-line message) out of Ray's wrapping, else Ray's error."""
    seen = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        cause = getattr(current, "cause", None)
        if isinstance(cause, RayStageError):
            return type(cause)(str(cause.args[0]) if cause.args else str(cause))
        current = cause if isinstance(cause, BaseException) else (
            current.__cause__ or current.__context__)
    text = str(err)
    for cls in (UnitFailed, SetupFailed):   # Ray flattened the cause into its message
        marker = f"{cls.__name__}: "
        if marker in text:
            return cls(text[text.rindex(marker) + len(marker):].strip().splitlines()[0])
    return RuntimeError(f"Ray run failed: {type(err).__name__}: {text[-2000:]}")


def _reap_unit_workers(wait_s: float = 5.0) -> int:
    """After a failed run, make sure its actor pool is gone, so the next run gets the CPUs.

    Ray Data tears the pool down when the failed execution is garbage-collected, which can
    lag (reference cycles through the error's traceback); a rerun in the same driver would
    then wait for CPUs forever. So: wait up to `wait_s` for this job's unit workers to
    exit, then kill the ones left. Ray exposes no public call that lists actors without
    its dashboard, so this uses its private state API, best effort (on any error it gives
    up quietly). Returns the number of actors killed."""
    try:
        from ray._raylet import ActorID  # noqa: PLC0415 - private API: may move between versions
        job = ray.get_runtime_context().get_job_id()

        def alive() -> list[dict]:
            return [a for a in ray._private.state.actors().values()
                    if a["State"] != "DEAD" and a["JobID"] == job
                    and _UnitWorker.__name__ in a["ActorClassName"]]

        deadline = time.monotonic() + wait_s
        while alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        left = alive()
        core = ray._private.worker.global_worker.core_worker
        for actor in left:
            core.kill_actor(ActorID(bytes.fromhex(actor["ActorID"])), True)
        return len(left)
    except Exception:  # noqa: BLE001 - a private API may change; the rerun then just waits
        return 0


def _start_limiter(spec: SharedLimiter):
    """The run-wide rate limiter actor: owned by this driver (it dies with it), no CPU,
    never restarted (a fresh bucket would forget the slots it has booked)."""
    actor = ray.remote(Budget).options(name=spec.name, namespace=NAMESPACE, num_cpus=0,
                                       max_restarts=0).remote(spec.rpm, spec.tpm)
    ray.get(actor.stats.remote())   # started and registered before any worker looks it up
    return actor


def _stop_limiter(actor) -> dict | None:
    """Kill the limiter; its counters (None if it had died)."""
    try:
        stats = ray.get(actor.stats.remote(), timeout=10)
    except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
        stats = None
    ray.kill(actor)
    return stats


@ray.remote
class _RowCounter:
    """Rows written so far, summed over every worker (fire-and-forget adds)."""

    def __init__(self) -> None:
        self.rows = 0

    def add(self, n: int) -> None:
        self.rows += n

    def get(self) -> int:
        return self.rows


# -- worker side -------------------------------------------------------------------------

class _UnitWorker:
    """One Ray Data actor: the stage built once, then whole units, one at a time."""

    def __init__(self, *, stage_cls: type[Stage], config: Any, unit_config, output: str,
                 cache_key: str, workdir: str, seed: int, counter, max_attempts: int,
                 cwd: str):
        if os.path.isdir(cwd):
            os.chdir(cwd)   # relative input paths mean what they meant on the driver
        builder = DatasetBuilder.attach(output, cache_key=cache_key)
        if not (builder.work / "state.json").exists():
            raise SetupFailed(
                f"{output}: the output directory is not visible on this Ray node "
                f"({os.uname().nodename}); the ray executor needs the inputs and the output "
                "on a filesystem every node mounts at the same path")
        self.builder = builder
        self.workdir, self.seed = Path(workdir), seed
        self.counter, self.max_attempts = counter, max_attempts
        self.config, self.unit_config = config, unit_config
        self.stage = stage_cls(config)
        try:
            self.stage.setup()
        except Exception as err:  # noqa: BLE001 - named for the driver
            raise SetupFailed(f"stage {self.stage.name!r}: setup() failed on "
                              f"{os.uname().nodename}: {type(err).__name__}: {err}") from err
        self._closed = False

    def __call__(self, batch: dict) -> dict:
        names, results = [], []
        for blob in batch["unit"]:
            unit: WorkUnit = pickle.loads(blob)
            result = self._run(unit)
            names.append(unit.name)
            results.append(json.dumps(result.__dict__))
        return {"name": names, "result": results}

    def _run(self, unit: WorkUnit) -> UnitResult:
        marker = self.builder.work / "done" / f"{unit.name}.json"
        if marker.exists():     # a retried task whose unit already finished: nothing to redo
            return UnitResult(**json.loads(marker.read_text()))
        self._count_attempt(unit)
        if self.unit_config is not None:
            self.stage.config = self.unit_config(self.config, unit.name)
        counter = self.counter

        def on_rows(n: int) -> None:
            counter.add.remote(n)

        try:
            return run_unit(self.stage, unit, self.builder, self.workdir, self.seed, on_rows)
        except Exception as err:  # noqa: BLE001 - named and re-raised for the driver
            raise UnitFailed(f"unit {unit.name} ({', '.join(unit.paths)[:200]}): "
                             f"{type(err).__name__}: {err}") from err

    def _count_attempt(self, unit: WorkUnit) -> None:
        path = self.builder.work / ATTEMPTS_DIR / f"{unit.name}.json"
        started = json.loads(path.read_text())["started"] if path.exists() else 0
        if started >= self.max_attempts:
            raise UnitFailed(
                f"unit {unit.name} ({', '.join(unit.paths)[:200]}): its worker died "
                f"{started} time(s) while running it (out of memory, a native crash or a "
                "lost node? see the Ray worker logs); rerun to try again")
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps({"started": started + 1, "pid": os.getpid(),
                                   "node": os.uname().nodename}))
        os.replace(tmp, path)

    def __del__(self) -> None:   # Ray Data deletes the UDF when the pool shuts down
        if not getattr(self, "_closed", True):
            self._closed = True
            try:
                self.stage.teardown()
            except Exception:  # noqa: BLE001 - teardown at exit is best effort
                pass


__all__ = ["RayExecutor", "RayStageError", "SetupFailed", "UnitFailed"]
