"""Dedup at scale: realistic images, end to end, against the cost of decoding and hashing
each image once (used by `bench_dedup.py --scale-rows N`).

Rows carry one figure each, 512-1,024 px, half PNG and half JPEG (a chart-like drawing:
bars, grid lines, labels, a title), a question with its own numbers; 1 % of rows are near
duplicates of an earlier row (resized, re-encoded as JPEG, sometimes padded; same question).
The inputs are written by worker processes, `--workers` datasets.

Two timings on the same inputs and the same number of processes:

* decode+hash: every image read from the Parquet shards, decoded, trimmed, pHashed and
  SHA-1'd once (`image.image_signature`), the least any image dedup must do;
* dedup: the stage end to end (scan, candidates, verification, decision, output), in a
  fresh process whose peak RSS is the driver's.

Both are reported as wall time and as CPU time (the process and all its workers): on a
machine shared with other work the wall times mostly measure the neighbours, the CPU times
what each run cost. Generating 100k figures takes longer than either run, so `--data DIR`
keeps the inputs there and reuses them (same rows, parts and seed) on the next run:

    python bench/dedup_scale.py --rows 100000 --data /tmp/scale100k
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import random
import resource
import time
from pathlib import Path

DUP_RATE = 0.01


def _figure(rng: random.Random, i: int):
    from PIL import Image, ImageDraw, ImageFont

    w, h = rng.randrange(512, 1025), rng.randrange(512, 1025)
    img = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=max(14, w // 40))
    for y in range(h // 8, h - h // 8, max(20, h // 12)):
        draw.line([(w // 10, y), (w - w // 20, y)], fill=(225, 225, 225))
    n = rng.randrange(3, 9)
    slot = (w * 0.8) / n
    colour = tuple(rng.randrange(40, 220) for _ in range(3))
    for k in range(n):
        v = rng.uniform(0.1, 0.9)
        x0 = w // 10 + k * slot + slot * 0.15
        draw.rectangle([x0, h * (0.9 - 0.75 * v), x0 + slot * 0.7, h * 0.9], fill=colour,
                       outline=(0, 0, 0))
        draw.text((x0, h * (0.9 - 0.75 * v) - font.size - 4), f"{v * 100:.0f}",
                  fill=(0, 0, 0), font=font)
        draw.text((x0, h * 0.9 + 4), f"{2000 + k}", fill=(0, 0, 0), font=font)
    draw.text((w // 10, h // 30), f"Figure {i}: sales by year", fill=(0, 0, 0), font=font)
    return img


def _encode(img, fmt: str, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.convert("RGB").save(buf, format="JPEG", quality=quality)
    else:
        img.save(buf, format="PNG", compress_level=1)   # decodes like level 6, writes faster
    return buf.getvalue()


def _records(part: int, n: int, seed: int):
    from PIL import Image, ImageOps

    from omr_data.records import make_record

    rng = random.Random(seed * 1000 + part)
    recent: list = []
    for k in range(n):
        i = part * n + k
        if recent and rng.random() < DUP_RATE:   # a near duplicate of an earlier row
            img, question = rng.choice(recent)
            f = rng.uniform(0.6, 0.9)
            copy = img.resize((int(img.size[0] * f), int(img.size[1] * f)), Image.LANCZOS)
            if rng.random() < 0.5:
                copy = ImageOps.expand(copy, border=rng.randrange(4, 24), fill="white")
            data = _encode(copy, "JPEG", rng.randrange(40, 90))
        else:
            img = _figure(rng, i)
            question = (f"In figure {i}, by how much do the sales of {2000 + i % 7} exceed "
                        f"those of {2001 + i % 7}? Give the answer to {1 + i % 3} digits.")
            data = _encode(img, "PNG" if rng.random() < 0.5 else "JPEG")
            recent = (recent + [(img, question)])[-20:]
        yield make_record(source=f"part{part}", source_id=str(k), question=question,
                          answer="1", answer_type="number",
                          images=[{"bytes": data, "path": None}])


def _write_part(args) -> str:
    from omr_data.store import write_dataset
    root, part, n, seed = args
    return str(write_dataset(Path(root) / f"in{part}", _records(part, n, seed),
                             max_rows=2_000).path)


def write_inputs(root: Path, rows: int, parts: int, seed: int = 0) -> list[str]:
    """The inputs under `root`, generated unless a finished earlier run left the same ones."""
    marker = root / "inputs.json"
    wanted = {"rows": rows, "parts": parts, "seed": seed, "dup_rate": DUP_RATE}
    if marker.exists():
        done = json.loads(marker.read_text())
        if done["spec"] == wanted:
            return done["inputs"]
        raise SystemExit(f"{root} holds inputs of another spec ({done['spec']}); "
                         f"use another --data directory")
    per = max(1, rows // parts)
    with mp.get_context("spawn").Pool(parts) as pool:
        inputs = pool.map(_write_part, [(str(root), p, per, seed) for p in range(parts)])
    marker.write_text(json.dumps({"spec": wanted, "inputs": inputs}))
    return inputs


def _cpu(who) -> float:
    use = resource.getrusage(who)
    return use.ru_utime + use.ru_stime


def _hash_shard(shard: str) -> int:
    import pyarrow.parquet as pq

    from omr_data.dedup.image import image_signature
    n = 0
    for batch in pq.ParquetFile(shard).iter_batches(columns=["images"], batch_size=256):
        for images in batch.column("images").to_pylist():
            for entry in images or []:
                image_signature(entry["bytes"])
                n += 1
    return n


def decode_and_hash(inputs: list[str], workers: int) -> tuple[float, float, int]:
    """(seconds, CPU seconds, images) to decode and hash every image once, in `workers`
    processes."""
    from omr_data.store import DatasetDir
    shards = [str(s) for path in inputs for s in DatasetDir(path).shards]
    t, cpu = time.perf_counter(), _cpu(resource.RUSAGE_CHILDREN)
    with mp.get_context("spawn").Pool(workers) as pool:
        n = sum(pool.map(_hash_shard, shards, chunksize=1))
    return time.perf_counter() - t, _cpu(resource.RUSAGE_CHILDREN) - cpu, n


def _dedup_child(inputs: list[str], out: str, workers: int, queue) -> None:
    import faiss  # noqa: F401  (what the driver imports anyway, before the baseline)
    import pyarrow.parquet  # noqa: F401

    from omr_data.dedup import candidates, clusters, core, pairs  # noqa: F401
    from omr_data.dedup.stage import DedupStage
    from omr_data.executors.local import LocalExecutor
    from omr_data.runner import run_stage
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu0 = _cpu(resource.RUSAGE_SELF) + _cpu(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    result = run_stage(DedupStage({"cache_dir": "none"}), inputs, out,
                       executor=LocalExecutor(workers=workers), progress=False)
    seconds = time.perf_counter() - t
    # the workers have exited (the executor shuts its pool down): their CPU is counted
    cpu = _cpu(resource.RUSAGE_SELF) + _cpu(resource.RUSAGE_CHILDREN) - cpu0
    counters = result.manifest["stats"]["dedup_report"]["counters"]
    queue.put((seconds, cpu, base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               counters, result.manifest["stats"]["dedup_removed_duplicates"]))


def run_dedup(inputs: list[str], out: Path, workers: int):
    """(seconds, CPU seconds of the driver and its workers, driver RSS before the run in MB,
    driver peak RSS in MB, counters, removed),
    the stage run in a fresh process so its peak RSS is the driver's own."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_dedup_child, args=(inputs, str(out), workers, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def report(root: Path, rows: int, workers: int, seed: int = 0) -> None:
    import shutil
    t = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    inputs = write_inputs(root, rows, workers, seed)
    n_rows = rows // workers * workers
    print(f"scale: {n_rows:,} rows with 512-1,024 px PNG/JPEG figures, "
          f"{DUP_RATE:.0%} near duplicates, in {len(inputs)} inputs "
          f"({time.perf_counter() - t:.0f}s to generate or find)", flush=True)
    hash_s, hash_cpu, n_images = decode_and_hash(inputs, workers)
    print(f"  decode+hash once: {hash_s:.1f}s for {n_images:,} images "
          f"({n_images / hash_s:,.0f}/s, {workers} processes); CPU {hash_cpu:.0f}s", flush=True)
    shutil.rmtree(root / "out", ignore_errors=True)     # a finished output would be reused
    seconds, cpu, base, peak, counters, removed = run_dedup(inputs, root / "out", workers)
    shutil.rmtree(root / "out", ignore_errors=True)
    print(f"  dedup end to end: {seconds:.1f}s ({n_rows / seconds:,.0f} rows/s, {workers} "
          f"workers): {seconds / hash_s:.2f} x decode+hash; CPU {cpu:.0f}s: "
          f"{cpu / hash_cpu:.2f} x decode+hash's CPU")
    print(f"  {removed} duplicates removed, "
          f"{counters.get('image_candidate_pairs')} image candidate pairs (texts may match), "
          f"{counters.get('fine_comparisons', 0)} fine comparisons; rounds: scan "
          f"{counters.get('scan_s')}s, candidates {counters.get('candidates_s')}s, verify "
          f"{counters.get('verify_s')}s")
    # what grows with the rows is the signatures (and the candidate pairs); the rest of the
    # driver's peak is fixed: imports, and units run inline when a round has just one (a
    # verification unit then loads the text model into the driver)
    sig_mb = float(counters.get("signatures_mb", 0.0))
    per_row = sig_mb * 2**20 / n_rows
    print(f"  driver peak RSS {peak:,.0f} MB ({base:,.0f} MB after imports); signatures "
          f"{sig_mb:.1f} MB ({per_row:.0f} bytes a row); at 1M rows the signatures take "
          f"{per_row * 1e6 / 2**20:,.0f} MB, so the driver about "
          f"{peak + per_row * (1e6 - n_rows) / 2**20:,.0f} MB (this peak + the signatures "
          f"of the added rows)")


def main(argv=None) -> int:
    import os
    import sys
    import tempfile
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--workers", type=int, default=2, help="processes (and input datasets)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default="", help="keep the generated inputs here and reuse them "
                                              "(default: a temporary directory)")
    args = p.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    if args.data:
        report(Path(args.data), args.rows, args.workers, args.seed)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            report(Path(tmp), args.rows, args.workers, args.seed)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
