"""The `pass_rate` stage: annotate questions with the share of a policy's rollouts that solve them.

Inputs, in this order: the questions (e.g. the deduplicated RL set), then their scored
rollouts — the questions `distill`ed k times from the policy (ids `{question id}#k`) and
`verify`ed with `keep: all`, so every rollout carries `verify.acc`, right or wrong:

    - {id: rollouts, stage: distill, inputs: [rl], config: {teacher: ..., model: POLICY, n: 8}}
    - {id: scored, stage: verify, inputs: [rollouts], config: {keep: all}}
    - {id: rl_pass_rate, stage: pass_rate, inputs: [rl, scored]}

Each question gets meta `pass_rate` (mean `verify.acc` over its rollouts, in [0, 1]) and
`pass_rate.n` (how many rollouts were scored). Rates are never pooled across duplicates: a
question id that appears twice, or whose rollout ids repeat, stays unannotated (counted
`ambiguous_duplicate_ids`). Questions without rollouts (e.g. their
requests failed) are kept unannotated and counted (`no_rollouts`), never dropped: a
difficulty filter decides what to do with them.

Identify, then apply: `prepare()` aggregates the rollouts per question id with polars over
all their shards (streaming, bounded memory) into `pass_rates.parquet`; `process()` joins
one question shard at a time against it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from omr_data.records import update_meta
from omr_data.stage import ConfigError, Stage, StageContext, WorkUnit
from omr_data.store import DatasetDir

RATES = "pass_rates.parquet"
SAMPLE_SUFFIX = r"#\d+$"        # distill's `{id}#k`


@dataclass
class PassRateConfig:
    acc_key: str = field(default="verify.acc", metadata={
        "help": "meta key of the rollouts holding their accuracy in [0, 1] (verify writes "
                "verify.acc)"})

    def __post_init__(self):
        if not self.acc_key or "'" in self.acc_key:
            raise ValueError(f"acc_key {self.acc_key!r}: give a meta key such as verify.acc")


class PassRateStage(Stage):
    """Mean rollout accuracy per question, written to the question's meta."""

    name = "pass_rate"
    Config = PassRateConfig
    reads = "datasets"
    min_inputs = 2
    max_inputs = 2
    input_columns = ("id", "meta")
    keep_prepare_files: ClassVar[tuple[str, ...]] = (RATES,)

    def check_inputs(self, inputs: list[str]) -> None:
        super().check_inputs(inputs)
        manifest = DatasetDir(inputs[1]).manifest or {}
        keep = (manifest.get("config") or {}).get("keep")
        if manifest.get("stage") == "verify" and keep != "all":
            raise ConfigError(
                f"pass_rate: {inputs[1]} was verified with keep: {keep}, so its wrong rollouts "
                "were dropped and every pass rate would read 1.0; verify the rollouts with "
                "`keep: all` (omr-data verify --keep all)")

    def plan(self, inputs: list[str]) -> list[WorkUnit]:
        # the questions are the output; the rollouts are only read by prepare()
        return super().plan(inputs[:1])

    def rows_in(self, inputs: list[str]) -> int | None:
        return DatasetDir(inputs[0]).num_rows

    # -- identify: one row per question ------------------------------------------------
    def prepare(self, inputs: list[str], ctx: StageContext) -> None:

        import polars as pl
        questions, rollouts = DatasetDir(inputs[0]), DatasetDir(inputs[1])
        target = Path(ctx.workdir) / RATES
        if not rollouts.shards:
            _empty_rates().write_parquet(target)
            return
        scored = (pl.scan_parquet([str(s) for s in rollouts.shards])
                  .select("id", "meta")
                  .with_columns(
                      has_k=pl.col("id").str.contains(SAMPLE_SUFFIX),
                      qid=pl.col("id").str.replace(SAMPLE_SUFFIX, ""),
                      acc=pl.col("meta").str.json_path_match(f"$['{self.config.acc_key}']")
                      .cast(pl.Float64, strict=False)))
        counts = scored.select(
            rollouts=pl.len(),
            without_k=(~pl.col("has_k")).sum(),
            without_acc=(pl.col("has_k") & pl.col("acc").is_null()).sum(),
            out_of_range=(pl.col("acc") < 0).sum() + (pl.col("acc") > 1).sum(),
        ).collect().row(0, named=True)
        if counts["rollouts"] and counts["without_k"] == counts["rollouts"]:
            raise ConfigError(
                f"pass_rate: no id in {inputs[1]} ends in '#k', so it holds no rollouts; the "
                "inputs are [questions, scored rollouts] (distill, then verify keep: all)")
        if counts["rollouts"] and counts["without_acc"] == counts["rollouts"] - counts["without_k"]:
            raise ConfigError(
                f"pass_rate: no rollout in {inputs[1]} has meta {self.config.acc_key!r}; "
                "score the distilled rollouts with `verify` (keep: all) first")
        if counts["out_of_range"]:
            raise ConfigError(f"pass_rate: {counts['out_of_range']} rollout(s) have "
                              f"{self.config.acc_key} outside [0, 1]")
        rates = (scored.filter(pl.col("has_k") & pl.col("acc").is_not_null())
                 .group_by("qid")
                 .agg(pass_rate=pl.col("acc").mean(), n=pl.len().cast(pl.Int64)))
        # Never pool: a question id that is not unique, or a rollout id seen twice, cannot
        # say whose rollouts are whose, so those questions get no pass rate.
        ambiguous = (scored.group_by("id").agg(qid=pl.col("qid").first(), c=pl.len())
                     .filter(pl.col("c") > 1).select("qid"))
        if questions.shards:
            ambiguous = pl.concat([ambiguous, (
                pl.scan_parquet([str(s) for s in questions.shards]).group_by("id")
                .agg(c=pl.len()).filter(pl.col("c") > 1).select(qid="id"))])
        ambiguous = ambiguous.unique().collect()
        ctx.count("ambiguous_duplicate_ids", ambiguous.height)
        rates = rates.join(ambiguous.lazy(), on="qid", how="anti")
        if questions.shards:
            known = pl.scan_parquet([str(s) for s in questions.shards]).select(qid="id")
            orphans = rates.join(known, on="qid", how="anti").select(pl.len())
            ctx.count("rollouts_of_unknown_questions",
                      int(orphans.collect(engine="streaming").item()))
        tmp = target.with_suffix(".tmp")
        rates.sort("qid").sink_parquet(tmp)
        os.replace(tmp, target)
        ctx.count("rollouts", counts["rollouts"])
        ctx.count("rollouts_without_sample_index", counts["without_k"])
        ctx.count("rollouts_without_acc", counts["without_acc"])

    # -- apply: a join, one question shard at a time ------------------------------------
    def process(self, unit: WorkUnit, ctx: StageContext) -> Iterator[dict]:

        import polars as pl
        for batch in ctx.read_batches(unit):
            rows = batch.to_pylist()
            ids = [r["id"] for r in rows]
            rates = {r["qid"]: r for r in pl.scan_parquet(Path(ctx.workdir) / RATES)
                     .filter(pl.col("qid").is_in(ids)).collect().to_dicts()}
            for row in rows:
                rate = rates.get(row["id"])
                if rate is None:
                    ctx.count("no_rollouts")
                    yield row
                    continue
                ctx.count("annotated")
                yield update_meta(row, **{"pass_rate": rate["pass_rate"],
                                          "pass_rate.n": rate["n"]})

    def stats(self, manifest_stats: Mapping[str, Any], ctx: StageContext) -> dict:

        import polars as pl
        path = Path(ctx.workdir) / RATES
        if not path.exists():
            return {}
        summary = pl.scan_parquet(path).select(
            questions_with_rollouts=pl.len(), mean_pass_rate=pl.col("pass_rate").mean(),
            all_solved=(pl.col("pass_rate") >= 1).sum(),
            none_solved=(pl.col("pass_rate") <= 0).sum()).collect().row(0, named=True)
        return {f"pass_rate.{k}": v for k, v in summary.items()}


def _empty_rates():
    import polars as pl
    return pl.DataFrame(schema={"qid": pl.String, "pass_rate": pl.Float64, "n": pl.Int64})
