"""How a stage runs on many Ray actors at once: worker count, per-actor and per-unit config.

Most stages need nothing: `workers` actors, never more than `Stage.max_workers` or the
number of units, each building the stage from its config.

Distill needs two things the local executor gets from running it in one process:

* **Global budgets.** `concurrency`, `max_requests_per_minute` and
  `max_tokens_per_minute` are caps over the whole run (the reason its `max_workers` is 1).
  On Ray the budget is *split*: with W actors each gets `floor(budget / W)`, so the sum
  never exceeds the cap however units land, and W is lowered so that every actor keeps at
  least one slot (one request per minute). These fields are operational (not in the cache
  key), so the output does not change.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from omr_data.stage import Stage

#: config fields that are caps over the whole run, split across concurrently running actors
SHARED_BUDGETS = ("concurrency", "max_requests_per_minute", "max_tokens_per_minute")
UNIT_JOURNALS = "{stem}.units"


@dataclass
class ClusterPlan:
    """What the executor starts: `workers` actors built from `worker_config`, and per unit
    the config `unit_config(worker_config, unit_name)` (None: the worker config as is)."""

    workers: int
    worker_config: Any
    unit_config: Callable[[Any, str], Any] | None = None
    notes: tuple[str, ...] = ()


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
    limits = [getattr(config, f) for f in SHARED_BUDGETS if getattr(config, f, None)]
    workers = max(1, min([wanted, units, *limits]))
    split = {f: getattr(config, f) // workers for f in SHARED_BUDGETS
             if getattr(config, f, None)}
    worker_config = dataclasses.replace(config, progress=False, **split)
    journals = unit_journal_dir(config.journal, output)
    notes = (f"distill on {workers} actor(s): per actor " +
             ", ".join(f"{k}={v}" for k, v in split.items()),
             f"request journals: {journals}/<unit>.sqlite")
    return ClusterPlan(workers, worker_config,
                       functools.partial(_unit_journal_config, str(journals)), notes)


def unit_journal_dir(journal: str | None, output: Path) -> Path:
    """Where a Ray run keeps its per-unit journals: beside the journal the local run uses."""
    from omr_data.distill.stage import JOURNAL_NAME
    base = Path(journal) if journal else Path(output).resolve() / JOURNAL_NAME
    return base.with_name(UNIT_JOURNALS.format(stem=base.stem))


def unit_journal_path(journal: str | None, output: Path, unit: str) -> Path:
    return unit_journal_dir(journal, output) / f"{unit}.sqlite"


def _unit_journal_config(journals: str, config: Any, unit: str) -> Any:
    return dataclasses.replace(config, journal=str(Path(journals) / f"{unit}.sqlite"))


__all__ = ["ClusterPlan", "SHARED_BUDGETS", "cluster_plan", "distill_plan",
           "unit_journal_dir", "unit_journal_path"]
