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
warning on stderr, and the card turns the count into a warning). With `until_distinct` a question is sampled
until it has that many distinct verified traces or `max_n` samples.

The journal lives outside the runner's unit directories (default `OUT/journal.sqlite`,
or `journal` in the config), so when the runner redoes a unit after a crash every trace
already received is reused and only the missing ones are sent. The cache key leaves out
the config fields marked operational (endpoints, concurrency, limits, timeouts, journal
path, prices): they change how traces are fetched, never what they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Iterator

from omr_data.distill.config import DistillConfig, resolve
from omr_data.distill.engine import adaptive_check, distill
from omr_data.prompts import instruction_sha256
from omr_data.stage import ConfigError, Stage, StageContext, WorkUnit

JOURNAL_NAME = "journal.sqlite"


class DistillStage(Stage):
    name = "distill"
    version = "1"
    Config = DistillConfig
    reads = "datasets"
    input_columns = ("id", "question", "images", "choices")
    #: one worker: `concurrency` is a cap over the whole run, and the work is network-bound
    #: (the ray executor runs several, see executors/ray_adapters.py)
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
    import pyarrow.parquet as pq
    try:
        return sum(pq.ParquetFile(p).metadata.num_rows for p in unit.paths)
    except (OSError, ValueError):
        return 0
