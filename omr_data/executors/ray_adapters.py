"""How a stage runs on many Ray actors at once: worker count, per-actor and per-unit config.

Most stages need nothing: `workers` actors, never more than `Stage.max_workers` or the
number of units, each building the stage from its config.

Distill needs three things the local executor gets from running it in one process:

* **One rate budget for the run.** `max_requests_per_minute` and `max_tokens_per_minute`
  cap the whole run. When either is set, the executor starts one Ray actor for the stage,
  a `limits.Budget` (a token bucket over both rates, `SharedLimiter` below names it), and
  every worker's config names it in `shared_limiter`. Before each attempt a worker asks
  it for a slot (`reserve(tokens)` books the earliest slot and answers how long to wait,
  so the actor never blocks) and sleeps locally; usage corrections are fire-and-forget.
  Each worker books one slot at a time, so busy workers share the rate equally and one
  whose units are done takes nothing: the others get the whole rate. The name travels in
  the worker config (operational, out of the cache key) because that config already
  reaches every actor; no process-global state or environment variable is needed. The
  limiter is created per run under a unique name, owned by the driver (not detached: it
  goes away with a driver that dies), killed when the stage ends, failed or not; it is
  never restarted, so if it dies the workers' next request fails the run with an error
  that says so (a new bucket would forget the slots already booked). The cost is one
  actor call (about a millisecond) per attempt, only in runs with a cap.
* **A split `concurrency`.** Requests in flight stay a static split: each actor owns its
  connection pool and gets `floor(concurrency / W)` slots, so the sum never exceeds the
  cap, and an actor that dies cannot leak slots of a global counter. W is lowered so that
  every actor keeps at least one slot. These fields are operational (not in the cache key),
  so the output does not change.
* **One journal per unit.** SQLite is not safe when processes on different machines share
  one file over a network filesystem, and a unit's request keys are its own (a unit is a
  disjoint set of questions; a key hashes the question, the model and k). So each unit
  journals to `<journal>.units/<unit>.sqlite` — by default `OUT/journal.units/unit-00003.sqlite`
  — written by one process at a time: the actor running the unit, or its retry after that
  actor died. A retry or a rerun after the driver died reuses every trace already
  received and sends only the missing ones; nothing is sent twice by two workers, because
  no two workers ever run the same unit. `journal` is operational too, so moving it does
  not change the cache key.
"""

from __future__ import annotations

import dataclasses
import functools
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from omr_data.stage import Stage

#: distill config fields that cap the whole run and are split across the actors
SPLIT_BUDGETS = ("concurrency",)
#: distill config fields enforced for the whole run by one shared limiter actor
SHARED_RATES = ("max_requests_per_minute", "max_tokens_per_minute")
UNIT_JOURNALS = "{stem}.units"


@dataclass(frozen=True)
class SharedLimiter:
    """The run-wide rate limiter actor to start: a `limits.Budget(rpm, tpm)` named `name`
    in the `limits.NAMESPACE` Ray namespace."""

    name: str
    rpm: int | None
    tpm: int | None


@dataclass
class ClusterPlan:
    """What the executor starts: `workers` actors built from `worker_config`, and per unit
    the config `unit_config(worker_config, unit_name)` (None: the worker config as is);
    `shared_limiter`, when set, before the actors, killed when the stage ends."""

    workers: int
    worker_config: Any
    unit_config: Callable[[Any, str], Any] | None = None
    notes: tuple[str, ...] = ()
    shared_limiter: SharedLimiter | None = None


def cluster_plan(stage: Stage, *, wanted: int, units: int, output: Path) -> ClusterPlan:
    if _is_distill(stage):
        return distill_plan(stage, wanted=wanted, units=units, output=output)
    cap = stage.max_workers or wanted
    return ClusterPlan(max(1, min(wanted, cap, units)), stage.config)


# -- distill -----------------------------------------------------------------------------

def _is_distill(stage: Stage) -> bool:
    try:
        from omr_data.distill.stage import DistillStage
    except ImportError:   # pragma: no cover - the distill package is part of omr-data
        return False
    return isinstance(stage, DistillStage)


def distill_plan(stage: Stage, *, wanted: int, units: int, output: Path) -> ClusterPlan:
    config = stage.config
    limits = [getattr(config, f) for f in SPLIT_BUDGETS if getattr(config, f, None)]
    workers = max(1, min([wanted, units, *limits]))
    split = {f: getattr(config, f) // workers for f in SPLIT_BUDGETS
             if getattr(config, f, None)}
    rpm, tpm = (getattr(config, f, None) for f in SHARED_RATES)
    limiter = None
    if rpm or tpm:
        limiter = SharedLimiter(f"distill-limiter-{uuid.uuid4().hex[:12]}", rpm, tpm)
        split["shared_limiter"] = limiter.name
    worker_config = dataclasses.replace(config, progress=False, **split)
    journals = unit_journal_dir(config.journal, output)
    notes = [f"distill on {workers} actor(s): per actor concurrency={split['concurrency']}"]
    if limiter is not None:
        notes.append("rate caps for the whole run (one shared limiter actor): " + ", ".join(
            f"{f}={getattr(config, f)}" for f in SHARED_RATES if getattr(config, f)))
    notes.append(f"request journals: {journals}/<unit>.sqlite")
    return ClusterPlan(workers, worker_config,
                       functools.partial(_unit_journal_config, str(journals)), tuple(notes),
                       limiter)


def unit_journal_dir(journal: str | None, output: Path) -> Path:
    """Where a Ray run keeps its per-unit journals: beside the journal the local run uses."""
    from omr_data.distill.stage import JOURNAL_NAME
    base = Path(journal) if journal else Path(output).resolve() / JOURNAL_NAME
    return base.with_name(UNIT_JOURNALS.format(stem=base.stem))


def unit_journal_path(journal: str | None, output: Path, unit: str) -> Path:
    return unit_journal_dir(journal, output) / f"{unit}.sqlite"


def _unit_journal_config(journals: str, config: Any, unit: str) -> Any:
    return dataclasses.replace(config, journal=str(Path(journals) / f"{unit}.sqlite"))


__all__ = ["ClusterPlan", "SHARED_RATES", "SPLIT_BUDGETS", "SharedLimiter", "cluster_plan",
           "distill_plan", "unit_journal_dir", "unit_journal_path"]
