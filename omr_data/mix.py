"""The mix stage: concatenate datasets with per-input fractions or caps.

Selection is seeded and order-independent: every row gets a hash of (seed, id) and, within
each stratum (input × source), the rows with the smallest hashes are kept. Taking a
fraction of each source keeps the source mix of an input as it was. Never oversamples: a
fraction is at most 1 and a cap above an input's size keeps the whole input. Rows not
sampled and rows whose id was already taken from an earlier input go to `rejects/` (id,
source and reason only, so a 10 % sample of a big set does not copy its images twice).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from omr_data.records import make_reject
from omr_data.stage import ConfigError, Stage, StageContext, WorkUnit
from omr_data.store import DatasetDir


@dataclass
class MixConfig:
    weights: list[str] = field(default_factory=list, metadata={
        "cli": "positional",   # omr-data mix IN:weight … OUT
        "help": "one spec per input, in order: '' or 'all' (every row), a fraction in (0, 1] "
                "('0.25'), or a cap as an integer row count ('5000'). With `total`, fractions "
                "are relative weights, normalized."})
    total: int | None = field(default=None, metadata={
        "help": "target size of the mix: inputs get total × weight / Σweights rows each "
                "(never more than they have)"})
    stratify: bool = field(default=True, metadata={
        "help": "sample each source of an input by the same fraction"})

    def __post_init__(self):
        for spec in self.weights:
            _parse_spec(spec)
        if self.total is not None and self.total <= 0:
            raise ValueError("total must be a positive row count (or omit it)")


def _parse_spec(spec: str | float | int) -> tuple[str, float]:
    """('all', 1) | ('fraction', f) | ('cap', n); a clear error for anything else."""
    text = str(spec).strip().lower()
    if text in ("", "all"):
        return "all", 1.0
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"mix spec {spec!r}: use a fraction like 0.5, a row cap like "
                          "5000, or 'all'") from None
    if value <= 0:
        raise ConfigError(f"mix spec {spec!r}: must be positive")
    if value <= 1 and "." in text:
        return "fraction", value
    if value != int(value):
        raise ConfigError(f"mix spec {spec!r}: fractions are at most 1 (no oversampling); "
                          "a cap must be a whole number of rows")
    return "cap", value


def row_rank(seed: int, row_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}:{row_id}".encode(), digest_size=8).digest(),
                          "big")


class MixStage(Stage):
    """Concatenate inputs with fractions or caps, seeded and stratified by source."""

    name = "mix"
    Config = MixConfig
    input_columns = ("id", "source")

    def check_inputs(self, inputs: list[str]) -> None:
        super().check_inputs(inputs)
        if self.config.weights and len(self.config.weights) != len(inputs):
            raise ConfigError(f"mix: {len(self.config.weights)} weight spec(s) for "
                              f"{len(inputs)} input(s); give one per input")

    def prepare(self, inputs: list[str], ctx: StageContext) -> None:
        specs = [_parse_spec(s) for s in (self.config.weights or ["all"] * len(inputs))]
        strata = [self._strata(path, ctx.seed) for path in inputs]
        sizes = [sum(len(rows) for rows in s.values()) for s in strata]
        targets = self._targets(specs, sizes)
        taken: set[str] = set()
        for i, (stratum_rows, target) in enumerate(zip(strata, targets)):
            keep = self._select(stratum_rows, target, sizes[i])
            decisions = {}
            for row_id in keep:
                if row_id in taken:
                    decisions[row_id] = "duplicate id: already taken from an earlier input"
                else:
                    taken.add(row_id)
                    decisions[row_id] = ""
            pq.write_table(pa.table({"id": list(decisions), "reason": list(decisions.values())}),
                           ctx.workdir / f"input-{i:03d}.parquet")
            ctx.count(f"input_{i}_selected", sum(1 for r in decisions.values() if not r))
        (ctx.workdir / "plan.json").write_text(json.dumps(
            {"specs": [list(s) for s in specs], "sizes": sizes, "targets": targets}))

    def _strata(self, path: str, seed: int) -> dict[str, list[tuple[int, str]]]:
        strata: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for batch in DatasetDir(path).iter_batches(columns=["id", "source"], batch_size=65536):
            for row_id, source in zip(batch.column("id").to_pylist(),
                                      batch.column("source").to_pylist()):
                key = source if self.config.stratify else ""
                strata[key].append((row_rank(seed, row_id), row_id))
        return strata

    def _targets(self, specs: list[tuple[str, float]], sizes: list[int]) -> list[int]:
        if self.config.total is None:
            return [size if kind == "all" else
                    min(size, round(size * value)) if kind == "fraction" else
                    min(size, int(value)) for (kind, value), size in zip(specs, sizes)]
        weights = [value if kind != "cap" else 1.0 for kind, value in specs]
        norm = sum(weights)
        return [min(size, round(self.config.total * w / norm)) for w, size in zip(weights, sizes)]

    @staticmethod
    def _select(strata: dict[str, list[tuple[int, str]]], target: int, size: int) -> list[str]:
        if size == 0 or target <= 0:
            return []
        fraction = target / size
        # per-stratum quotas by largest remainder, so they add up to exactly `target`
        quotas = {k: fraction * len(rows) for k, rows in strata.items()}
        counts = {k: math.floor(q) for k, q in quotas.items()}
        short = target - sum(counts.values())
        for k in sorted(quotas, key=lambda k: (counts[k] - quotas[k], k))[:short]:
            counts[k] += 1
        keep = []
        for key in sorted(strata):
            keep.extend(row_id for _, row_id in sorted(strata[key])[:counts[key]])
        return keep

    def process(self, unit: WorkUnit, ctx: StageContext):
        decisions = pq.read_table(ctx.workdir / f"input-{unit.info['input']:03d}.parquet")
        decided = dict(zip(decisions.column("id").to_pylist(),
                           decisions.column("reason").to_pylist()))
        plan = json.loads((ctx.workdir / "plan.json").read_text())
        spec = plan["specs"][unit.info["input"]]
        for row in ctx.read_rows(unit):
            reason = decided.get(row["id"])
            if reason == "":
                yield row
            elif reason:
                yield make_reject(reason, id=row["id"], source=row["source"])
            else:
                yield make_reject(
                    f"not sampled: input {unit.info['input']} mixed at {spec[0]} {spec[1]:g}",
                    id=row["id"], source=row["source"])

    def stats(self, manifest_stats, ctx):
        return {"mix_plan": json.loads((Path(ctx.workdir) / "plan.json").read_text())}
