"""The `distill` stage: n teacher traces per input record, one output record per trace.

Output rows are the input record with `id` = `{id}#k`, `response` = the teacher's text
verbatim and meta `distill.model`, `distill.k`, `distill.finish_reason`, `distill.usage`,
`distill.request_key` (plus `distill.system_fingerprint` / `distill.served_model` when
the server reports them, e.g. `omr-data-simulated`). Traces the teacher refused (400, 413,
422) go to rejects with its message; traces that got no answer before their deadline
(timeouts, 5xx, dropped connections) fail the unit instead, so the output is not cached and
a rerun sends only them. The manifest's stats name the resolved teacher model, the model
names the server reported (`distill.reported_model.*`), sampling settings, the system
prompt and its sha256, for the dataset card, and the traces' diversity per question
(`distill.diversity.*`, `distill.identical_questions`; identical samples also raise a
warning on stderr, and the card turns the count into a warning). With `until_distinct` a
question is sampled until it has that many distinct verified traces or `max_n` samples.

The journal lives outside the runner's unit directories (default `OUT/journal.sqlite`,
or `journal` in the config), so when the runner redoes a unit after a crash every trace
already received is reused and only the missing ones are sent. The cache key leaves out
the config fields marked operational (endpoints, concurrency, limits, timeouts, journal
path, prices): they change how traces are fetched, never what they are.

On a cluster (`cluster_plan`, used by the ray executor) distill needs three things the
local executor gets from running it in one process:

* **One rate budget for the run.** `max_requests_per_minute` and `max_tokens_per_minute`
  cap the whole run. When either is set, the plan asks the executor for one Ray actor, a
  `limits.Budget` (a token bucket over both rates), and every worker's config names it in
  `shared_limiter`. Before each attempt a worker asks it for a slot (`reserve(tokens)`
  books the earliest slot and answers how long to wait, so the actor never blocks) and
  sleeps locally; usage corrections are fire-and-forget. Each worker books one slot at a
  time, so busy workers share the rate equally and one whose units are done takes
  nothing: the others get the whole rate. The name travels in the worker config
  (operational, out of the cache key) because that config already reaches every actor; no
  process-global state or environment variable is needed. The executor creates the
  limiter per run under a unique name, owned by the driver (not detached: it goes away
  with a driver that dies), and kills it when the stage ends, failed or not; it is never
  restarted, so if it dies the workers' next request fails the run with an error that
  says so (a new bucket would forget the slots already booked). The cost is one actor
  call (about a millisecond) per attempt, only in runs with a cap.
* **A split `concurrency`.** Requests in flight stay a static split: each actor owns its
  connection pool and gets `floor(concurrency / W)` slots, so the sum never exceeds the
  cap, and an actor that dies cannot leak slots of a global counter. W is lowered so that
  every actor keeps at least one slot. These fields are operational (not in the cache key),
  so the output does not change.
* **One journal per unit.** SQLite is not safe when processes on different machines share
  one file over a network filesystem, and a unit's request keys are its own (a unit is a
  disjoint set of questions; a key hashes the question, the model and k). So each unit
  journals to `<journal>.units/<unit>.sqlite` (by default
  `OUT/journal.units/unit-00003.sqlite`), written by one process at a time: the actor
  running the unit, or its retry after that actor died. A retry or a rerun after the
  driver died reuses every trace already received and sends only the missing ones;
  nothing is sent twice by two workers, because no two workers ever run the same unit.
  `journal` is operational too, so moving it does not change the cache key.
"""

from __future__ import annotations

import dataclasses
import functools
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pyarrow.parquet as pq

from omr_data.distill.config import DistillConfig, resolve
from omr_data.distill.engine import adaptive_check, distill
from omr_data.prompts import instruction_sha256
from omr_data.stage import ClusterPlan, ConfigError, SharedLimiter, Stage, StageContext, WorkUnit

JOURNAL_NAME = "journal.sqlite"
#: config fields that cap the whole run and are split across a cluster's workers
SPLIT_BUDGETS = ("concurrency",)
#: config fields enforced for the whole run by one shared limiter actor
SHARED_RATES = ("max_requests_per_minute", "max_tokens_per_minute")
UNIT_JOURNALS = "{stem}.units"


class DistillStage(Stage):
    name = "distill"
    version = "1"
    Config = DistillConfig
    reads = "datasets"
    input_columns = ("id", "question", "images", "choices")
    #: one worker: `concurrency` is a cap over the whole run, and the work is network-bound
    #: (on a cluster, `cluster_plan` splits it over several)
    max_workers: ClassVar[int] = 1

    def check_inputs(self, inputs: list[str]) -> None:
        super().check_inputs(inputs)
        adaptive_check(self.config)   # a check that cannot load fails before any request

    def cache_config(self) -> dict:
        config = super().cache_config()
        if config.get("until_distinct") is None:
            config.pop("adaptive_check", None)   # never called without adaptive n
        return config

    def process(self, unit: WorkUnit, ctx: StageContext) -> Iterator[dict]:
        stats: dict = {}
        total = _unit_rows(unit) * resolve(self.config).max_samples
        yield from distill(ctx.read_rows(unit), self.config, journal_path(self.config, ctx),
                           total=total or None, stats=stats)
        failed = stats.get("distill.transient_failures", 0)
        if failed:
            # Not a result: the teacher never answered. Failing the unit keeps it out of the
            # cache, so a rerun (the server fixed) sends exactly these; the rest is journaled.
            raise RuntimeError(
                f"distill: {failed} trace(s) got no answer before the request deadline "
                f"(last error: {stats.get('distill.last_transient_error')}); every answer "
                "received is journaled: rerun to send only the missing ones")
        for key, value in stats.items():
            if isinstance(value, (int, float)):
                ctx.count(key, value)

    def stats(self, manifest_stats, ctx: StageContext) -> dict:
        """What a card needs to reproduce the traces: the resolved teacher and sampling, and
        the system prompt's sha256 (of its UTF-8 text; '' when none is sent)."""
        settings = resolve(self.config)
        out = {
            "distill.teacher": settings.teacher,
            "distill.model": settings.model,
            "distill.n": settings.n,
            "distill.system_prompt_sha256": instruction_sha256(settings.system_prompt),
            "distill.system_prompt": settings.system_prompt,
            "distill.sampling": {**settings.sampling, "max_tokens": settings.max_tokens},
        }
        if settings.adaptive:
            out["distill.until_distinct"] = settings.until_distinct
            out["distill.max_n"] = settings.max_samples
        return out


    def cluster_plan(self, *, wanted: int, units: int, output: Path) -> ClusterPlan:
        """Split `concurrency` over the workers, share the rates through one limiter
        actor, give each unit its own journal (see the module docstring)."""
        config = self.config
        limits = [getattr(config, f) for f in SPLIT_BUDGETS if getattr(config, f, None)]
        workers = max(1, min([wanted, units, *limits]))
        split: dict[str, Any] = {f: getattr(config, f) // workers for f in SPLIT_BUDGETS
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
    """Where a cluster run keeps its per-unit journals: beside the journal a local run uses."""
    base = Path(journal) if journal else Path(output).resolve() / JOURNAL_NAME
    return base.with_name(UNIT_JOURNALS.format(stem=base.stem))


def unit_journal_path(journal: str | None, output: Path, unit: str) -> Path:
    return unit_journal_dir(journal, output) / f"{unit}.sqlite"


def _unit_journal_config(journals: str, config: Any, unit: str) -> Any:
    return dataclasses.replace(config, journal=str(Path(journals) / f"{unit}.sqlite"))


def journal_path(config: DistillConfig, ctx: StageContext) -> Path:
    """`config.journal`, else OUT/journal.sqlite (OUT found from the context)."""
    if config.journal:
        return Path(config.journal)
    for name in ("out", "output", "output_dir"):
        out = getattr(ctx, name, None)
        if out:
            return Path(out) / JOURNAL_NAME
    workdir = Path(ctx.workdir).resolve()
    for parent in (workdir, *workdir.parents):
        if parent.name == ".work":
            return parent.parent / JOURNAL_NAME
    raise ConfigError("distill: cannot tell the output directory for the request journal; "
                      "set `journal` to a path that survives reruns")


def _unit_rows(unit: WorkUnit) -> int:
    try:
        return sum(pq.ParquetFile(p).metadata.num_rows for p in unit.paths)
    except (OSError, ValueError):
        return 0
