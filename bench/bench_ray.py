"""Local vs Ray executor on this machine: rows/s of normalize and dedup, same outputs.

    python bench/bench_ray.py [--rows 100000] [--files 8] [--workers 2] [--dedup-rows 100000]
                              [--dup-every 100] [--skip-normalize]

normalize: `--rows` generated LLaVA-CoT rows (the shape of bench_normalize.py: train.jsonl
lines with small PNG charts on disk) cut into `--files` files, i.e. that many units, run by
the local executor (`--workers` processes) and by the Ray executor (a local Ray with
`--workers` CPUs, `--workers` actors). dedup: `--dedup-rows` records, each with its own
small smooth random image and a text, in shards of 10k rows; every `--dup-every`-th row repeats the
previous row's question over its image rescaled 1.25x (a near duplicate: a candidate pair that
needs a fine comparison). Prints seconds and rows/s per phase, checks that both executors
wrote the same content fingerprint, and the driver's peak memory (the OS's figure for child
processes counts the driver's pages at fork, so workers are not reported).

Dedup's identify phase runs as three rounds of prepare units on the executor (scan,
candidate search, verification); the driver only joins their results. Ray's own start
(`ray.init`) is timed apart from the stage.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _bench_normalize():
    spec = importlib.util.spec_from_file_location("bench_normalize",
                                                  ROOT / "bench" / "bench_normalize.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_llava(folder: Path, rows: int, files: int, images: int) -> None:
    gen = _bench_normalize()
    paths = gen.make_images(folder, images)
    whole = folder / "all.jsonl.tmp"
    gen.make_rows(whole, rows, paths)
    outs = [open(folder / f"part{i:02d}.jsonl", "w", encoding="utf-8") for i in range(files)]
    with open(whole, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            outs[i * files // rows].write(line)
    for out in outs:
        out.close()
    whole.unlink()


def dedup_records(n: int, dup_every: int = 0):
    from PIL import Image

    from omr_data.records import make_record

    rng = random.Random(0)
    img = None
    for i in range(n):
        near_dup = dup_every and i % dup_every == dup_every - 1 and img is not None
        if near_dup:   # the previous figure, rescaled, under the previous question
            img = img.resize((160, 160), Image.BICUBIC)
        else:          # a smooth random figure (noise blown up), its own pHash
            img = Image.frombytes("L", (8, 8), rng.randbytes(64)).resize((128, 128),
                                                                         Image.BICUBIC)
            question = f"In figure {i}, what is the value of x + {i % 97}?"
        buf = BytesIO()
        img.save(buf, format="PNG", compress_level=1)
        yield make_record(source=("a", "b")[i % 2], source_id=str(i), question=question,
                          answer=str(i % 13), answer_type="number",
                          images=[{"bytes": buf.getvalue(), "path": None}])


def _peak_mb(who) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def timed(stage_factory, inputs, out, executor, seed=0):
    from omr_data.runner import run_stage
    t = time.perf_counter()
    result = run_stage(stage_factory(), inputs, out, executor=executor, progress=False,
                       seed=seed)
    return time.perf_counter() - t, result.manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=100_000, help="normalize rows")
    p.add_argument("--files", type=int, default=8, help="input files = units")
    p.add_argument("--workers", type=int, default=2, help="processes / actors (and Ray CPUs)")
    p.add_argument("--images", type=int, default=2_000, help="distinct chart images")
    p.add_argument("--dedup-rows", type=int, default=100_000,
                   help="dedup rows (0 skips dedup)")
    p.add_argument("--dup-every", type=int, default=100,
                   help="every n-th dedup row is a near duplicate of the previous (0: none)")
    p.add_argument("--skip-normalize", action="store_true",
                   help="only dedup (the driver's peak memory is then dedup's own)")
    args = p.parse_args(argv)

    import ray

    from omr_data.executors.local import LocalExecutor
    from omr_data.executors.ray import RayExecutor
    from omr_data.sources.stage import NormalizeStage
    from omr_data.store import write_dataset

    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    results = []
    try:
        if not args.skip_normalize:
            t = time.perf_counter()
            make_llava(work / "llava", args.rows, args.files, args.images)
            print(f"generated {args.rows:,} LLaVA-CoT rows in {args.files} files "
                  f"({time.perf_counter() - t:.1f}s); {os.cpu_count()} CPUs here, "
                  f"{args.workers} workers")
            norm = lambda: NormalizeStage({"source": "llava_cot"})  # noqa: E731
            local_s, local_m = timed(norm, [work / "llava"], work / "norm-local",
                                     LocalExecutor(workers=args.workers))
        t = time.perf_counter()
        ray.init(num_cpus=args.workers, include_dashboard=False, logging_level="WARNING",
                 runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
        init_s = time.perf_counter() - t
        print(f"ray.init (local Ray, {args.workers} CPUs): {init_s:.1f}s")
        executor = RayExecutor(workers=args.workers)
        if not args.skip_normalize:
            ray_s, ray_m = timed(norm, [work / "llava"], work / "norm-ray", executor)
            same = local_m["fingerprint"] == ray_m["fingerprint"]
            results.append(("normalize", args.rows, local_s, ray_s, None, None, same))

        if args.dedup_rows:
            from omr_data.dedup.stage import DedupStage
            t = time.perf_counter()
            src = write_dataset(work / "dedup-in",
                                dedup_records(args.dedup_rows, args.dup_every),
                                max_rows=10_000)
            print(f"generated {args.dedup_rows:,} dedup rows with images "
                  f"({time.perf_counter() - t:.1f}s)")
            dd = lambda: DedupStage({"cache_dir": "none"})  # noqa: E731
            before = _peak_mb(resource.RUSAGE_SELF)
            dl_s, dl_m = timed(dd, [src.path], work / "dedup-local",
                               LocalExecutor(workers=args.workers))
            c = dl_m["stats"]["dedup_report"]["counters"]
            print(f"dedup (local): {c.get('image_candidate_pairs')} candidate pairs, "
                  f"{c.get('fine_comparisons', 0)} fine comparisons, {c.get('duplicates')} "
                  f"duplicates; rounds scan {c.get('scan_s')}s, candidates "
                  f"{c.get('candidates_s')}s, verify {c.get('verify_s')}s; driver peak RSS "
                  f"{_peak_mb(resource.RUSAGE_SELF):,.0f} MB (before dedup {before:,.0f} MB)")
            dr_s, dr_m = timed(dd, [src.path], work / "dedup-ray", executor)
            results.append(("dedup", args.dedup_rows, dl_s, dr_s,
                            dl_m["timings"], dr_m["timings"],
                            dl_m["fingerprint"] == dr_m["fingerprint"]))
    finally:
        if ray.is_initialized():
            ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"{'stage':<10} {'rows':>8} {'local s':>8} {'local r/s':>10} {'ray s':>8} "
          f"{'ray r/s':>10} {'ray/local':>9}  same fingerprint")
    for name, rows, ls, rs, lt, rt, same in results:
        print(f"{name:<10} {rows:>8,} {ls:>8.1f} {rows / ls:>10,.0f} {rs:>8.1f} "
              f"{rows / rs:>10,.0f} {ls / rs:>9.2f}  {same}")
        if lt is not None:
            lp, rp = lt.get("prepare_s", 0.0), rt.get("prepare_s", 0.0)
            lr, rr = lt.get("process_s", 0.0), rt.get("process_s", 0.0)
            print(f"{'  identify':<10} {rows:>8,} {lp:>8.1f} {rows / lp:>10,.0f} {rp:>8.1f} "
                  f"{rows / rp:>10,.0f} {lp / rp:>9.2f}  (3 rounds of units)")
            print(f"{'  remove':<10} {rows:>8,} {lr:>8.1f} {rows / lr:>10,.0f} {rr:>8.1f} "
                  f"{rows / rr:>10,.0f} {lr / rr:>9.2f}  (on the executor)")
    if not all(r[-1] for r in results):
        print("bench: local and Ray outputs differ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
