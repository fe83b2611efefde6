"""Dedup on a generated labelled set: rows/s and pair precision/recall beside two baselines.

    python bench/bench_dedup.py [--base 200] [--seed 0] [--harder] [--workers 2]
                                [--scale-rows 100000] [--scale-data DIR]

The set (see `dedup_labelled.py` beside this file) holds near-duplicates by resizing, re-encoding,
crops, borders, brightness/contrast and grayscale, with reworded texts; hard negatives (same
figure with another question, same question over another figure, the same chart or table
redrawn with one number changed, near-miss questions) and benchmark overlaps. Baselines on
the same rows: exact hashes (normalized text + image bytes) and plain pHash <= 8 bits with
text cosine >= 0.9 (no border trim, no fine comparison, no text guards).

With `--scale-rows N` it then runs dedup on N rows of realistic 512-1,024 px figures (1 %
near duplicates) and prints its time (wall and CPU) as a multiple of decoding and hashing
every image once, and the driver's peak RSS with its extrapolation to 1M rows (see
`dedup_scale.py`; `--scale-data DIR` keeps the generated rows for the next run).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import dedup_labelled as L
import numpy as np


def _cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (the pool workers)."""
    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def baselines(ls: L.LabelledSet, embed) -> dict[str, set]:
    import hashlib
    import io

    import imagehash
    from PIL import Image

    from omr_data.dedup.text import normalize, row_text
    rows = [r for rs in ls.inputs.values() for r in rs]
    ids = [r["id"] for r in rows]
    exact_key = {}
    for r in rows:
        img = b"".join(hashlib.sha1(i["bytes"]).digest() for i in r["images"])
        key = (normalize(row_text(r["question"], r["choices"])), img)
        exact_key.setdefault(key, []).append(r["id"])
    exact = {tuple(sorted(p)) for g in exact_key.values() for p in combinations(g, 2)}
    # plain pHash (untrimmed, first image) and cosine of the raw question text
    ph = np.array([int(str(imagehash.phash(Image.open(io.BytesIO(r["images"][0]["bytes"])))), 16)
                   if r["images"] else 0 for r in rows], dtype=np.uint64)
    has = np.array([bool(r["images"]) for r in rows])
    vec = embed([r["question"] + " " + " ".join(r["choices"] or []) for r in rows])
    sims = vec @ vec.T
    plain = set()
    for i in range(len(rows)):
        x = ph[i] ^ ph[i + 1:]
        dist = np.array([int(v).bit_count() for v in x])
        ok = (sims[i, i + 1:] >= 0.9) & (has[i + 1:] == has[i]) & ((dist <= 8) | ~has[i + 1:])
        for j in np.flatnonzero(ok):
            plain.add(tuple(sorted((ids[i], ids[i + 1 + j]))))
    return {"exact hashes": exact, "pHash<=8 & cosine>=0.9": plain}


def fine_ms(ls: L.LabelledSet, n: int = 200) -> float:
    """Mean time of one fine comparison over pairs of rows of one group (as candidates are)."""
    from omr_data.dedup.image import fine_compare, fine_features
    groups: dict[str, list[bytes]] = {}
    for rows in ls.inputs.values():
        for r in rows:
            if r["images"]:
                groups.setdefault(ls.group[r["id"]], []).append(r["images"][0]["bytes"])
    pairs = [(g[0], x) for g in groups.values() for x in g[1:]][:n]
    feats = [(fine_features(a), fine_features(b)) for a, b in pairs]
    t = time.perf_counter()
    for a, b in feats:
        fine_compare(a, b)
    return 1000 * (time.perf_counter() - t) / max(1, len(feats))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", type=int, default=200, help="base items (about 9 rows each)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--harder", action="store_true",
                   help="add a stronger compound edit per base item (dedup_labelled's "
                        "HARD_COMPOUND_TRANSFORMS), template negatives redrawn through them too")
    p.add_argument("--workers", type=int, default=2, help="local worker processes")
    p.add_argument("--scale-rows", type=int, default=100_000,
                   help="rows of the realistic-image run (0 skips it; 100k takes about an "
                        "hour on 2 cores, most of it generating the images)")
    p.add_argument("--scale-data", default="",
                   help="keep the scale run's generated inputs here and reuse them")
    args = p.parse_args(argv)
    import os
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    from omr_data.dedup.stage import DedupStage
    from omr_data.dedup.text import TextEmbedder
    from omr_data.executors.local import LocalExecutor
    from omr_data.runner import run_stage

    t = time.perf_counter()
    ls = L.build_labelled_set(args.base, seed=args.seed, harder=args.harder)
    n_rows = sum(len(v) for v in ls.inputs.values())
    n_bench = sum(len(v) for v in ls.against.values())
    print(f"labelled set: {n_rows} rows in {len(ls.inputs)} inputs, {n_bench} benchmark rows, "
          f"{len(ls.hard_negatives)} hard negatives ({time.perf_counter() - t:.1f}s to build)")
    with tempfile.TemporaryDirectory() as tmp:
        inputs, against = L.write_inputs(ls, tmp)
        stage = DedupStage({"against": against, "cache_dir": str(Path(tmp) / "cache")})
        from omr_data.dedup.text import load_model
        load_model(stage.config.embedding_model, stage.config.device)  # not dedup work
        t, cpu = time.perf_counter(), _cpu_seconds()
        result = run_stage(stage, inputs, Path(tmp) / "out",
                           executor=LocalExecutor(workers=args.workers), progress=False)
        seconds, cpu = time.perf_counter() - t, _cpu_seconds() - cpu
        cluster, reasons, kept = L.read_outcome(Path(tmp) / "out")
        counters = result.manifest["stats"]["dedup_report"]["counters"]
    truth = ls.true_pairs()
    pred = L.pairs_from_clusters(cluster)
    pr, rc = L.precision_recall(pred, truth)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"dedup stage: {n_rows + n_bench} rows scanned in {seconds:.1f}s = "
          f"{(n_rows + n_bench) / seconds:,.0f} rows/s ({args.workers} worker(s); "
          f"peak RSS of the driver {rss:,.0f} MB)")
    # on a shared machine the wall time mostly measures the neighbours: the CPU time of the
    # driver and its workers says what the run itself cost
    print(f"  CPU time (driver + workers): {cpu:.1f}s = {(n_rows + n_bench) / cpu:,.1f} rows "
          f"per CPU-second, {(n_rows + n_bench) / cpu * args.workers:,.0f} rows/s on "
          f"{args.workers} otherwise idle cores")
    print(f"  rounds (wall): scan {counters.get('scan_s')}s, candidates "
          f"{counters.get('candidates_s')}s, verify {counters.get('verify_s')}s; "
          f"{counters.get('image_candidate_pairs')} image candidate pairs (texts may match), "
          f"{counters.get('fine_comparisons', 0)} fine comparisons (skipped: "
          f"{counters.get('pairs_implied_by_strong_links', 0)} implied by strong links, "
          f"{counters.get('pairs_implied_apart', 0)} across a cannot-link), "
          f"{counters.get('texts_embedded', 0)} texts embedded")
    busy = counters.get("verify_ms", 0)
    print(f"  fine comparison: {fine_ms(ls):.1f} ms per pair (features cached, 1 thread); "
          f"verification units spent {busy / max(1, counters.get('fine_comparisons', 0)):.1f} ms "
          f"per fine comparison (+ {counters.get('features_ms', 0) / 1000:.1f}s on features); "
          f"{counters.get('image_conflicts', 0)} image conflicts, "
          f"{counters.get('links_refused_by_conflict', 0)} links refused by them")
    contaminated = ls.contaminated()
    pred_cont = {rid for rid, why in reasons.items() if why.startswith("contaminated")}
    cp, cr = L.precision_recall(pred_cont, set(contaminated))
    neg_ok = sum(1 for a, b, _ in ls.hard_negatives if cluster.get(a) != cluster.get(b))
    embedder = TextEmbedder(cache_dir=None)
    base = baselines(ls, embedder.embed)
    print(f"{'method':28s} {'pairs':>6s} {'precision':>9s} {'recall':>7s}")
    print(f"{'truth':28s} {len(truth):6d}")
    print(f"{'dedup stage (this)':28s} {len(pred):6d} {pr:9.3f} {rc:7.3f}")
    for name, pairs in base.items():
        bp, br = L.precision_recall(pairs, truth)
        print(f"{name:28s} {len(pairs):6d} {bp:9.3f} {br:7.3f}")
    print(f"hard negatives kept apart: {neg_ok}/{len(ls.hard_negatives)}; "
          f"decontamination precision {cp:.3f} recall {cr:.3f} ({len(contaminated)} true)")
    missed = sorted(truth - pred)
    wrong = sorted(pred - truth)
    for title, items in (("missed", missed), ("wrong", wrong)):
        for a, b in items[:8]:
            print(f"  {title}: {a} [{ls.kind[a]}] ~ {b} [{ls.kind[b]}]")
    for title, kinds in (("compound-edit", L.COMPOUND_TRANSFORMS),
                         ("hard compound-edit", L.HARD_COMPOUND_TRANSFORMS)):
        compound = {p for p in truth if any(ls.kind[r].split(":")[-1].split("+")[0]
                                            in kinds for r in p)}
        if compound:
            print(f"{title} pairs: {len(compound)}, recall "
                  f"{len(compound & pred) / len(compound):.3f}")
    if args.scale_rows:
        import dedup_scale
        if args.scale_data:
            dedup_scale.report(Path(args.scale_data), args.scale_rows, args.workers, args.seed)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                dedup_scale.report(Path(tmp), args.scale_rows, args.workers, args.seed)
        print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
