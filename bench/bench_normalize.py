"""Normalize throughput: 100k LLaVA-CoT rows (real train.jsonl shape, small PNG images on
disk) through the `llava_cot` adapter and through the whole `normalize` stage.

Prints rows/s and the ratio against a plain baseline measured in the same run: `json.loads`
of each line plus building a record-shaped dict (no cleanup, no image reading). The ratio
says what the cleanup of docs/sources.md §0, option/answer parsing, trace conversion, image
reading and PIL verification cost on top of parsing.

    python bench/bench_normalize.py [--rows 100000] [--images 2000]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TRACE = ("<SUMMARY> I will identify the answer from the image. </SUMMARY>\n\n<CAPTION> The "
         "image shows a chart with {n} bars. </CAPTION>\n\n<REASONING> Counting the bars and "
         "comparing them with the options, the tallest bar is option {letter}. </REASONING>\n\n"
         "<CONCLUSION> The tallest bar is {text}. The answer is {letter}. </CONCLUSION>")


def make_images(folder: Path, count: int) -> list[str]:
    from PIL import Image

    rng = random.Random(0)
    paths = []
    for i in range(count):
        rel = f"chartqa/train/{i:05d}.png"
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        img = Image.new("RGB", (24, 24), (rng.randrange(256), rng.randrange(256), i % 256))
        buf = BytesIO()
        img.save(buf, format="PNG")
        (folder / rel).write_bytes(buf.getvalue())
        paths.append(rel)
    return paths


def make_rows(path: Path, rows: int, images: list[str]) -> None:
    rng = random.Random(1)
    colors = ["red", "blue", "green", "orange", "purple"]
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(rows):
            opts = rng.sample(colors, 4)
            k = rng.randrange(4)
            letter = "ABCD"[k]
            if i % 10 == 9:   # open-ended rows, like ShareGPT4V / ChartQA
                human = (f"<image>\nHow many bars are taller than {i % 7}?\n"
                         "Answer the question using a single word or phrase.")
                gpt = TRACE.format(n=i % 9, letter="x", text="x").replace(
                    "The answer is x.", f"The answer is {i % 9}.")
            else:
                human = ("Which bar is the tallest?\nContext: N/A\nOptions: " +
                         " ".join(f"({'ABCD'[j]}) {o}" for j, o in enumerate(opts)))
                gpt = TRACE.format(n=4, letter=letter, text=opts[k])
            row = {"id": f"{i:08x}-bench", "image": images[i % len(images)],
                   "conversations": [{"from": "human", "value": human},
                                     {"from": "gpt", "value": gpt}]}
            fh.write(json.dumps(row) + "\n")


def baseline(path: Path) -> int:
    """json.loads + a record-shaped dict per line: the floor any adapter pays."""
    n = 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            conv = row["conversations"]
            record = {"id": f"llava_cot/{row['id']}", "source": "llava_cot",
                      "images": [{"bytes": None, "path": row["image"]}],
                      "question": conv[0]["value"], "choices": None,
                      "answer": conv[1]["value"], "answer_type": "text",
                      "response": conv[1]["value"], "meta": "{}"}
            n += bool(record)
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--images", type=int, default=2_000,
                        help="distinct image files the rows cycle through")
    args = parser.parse_args()

    from omr_data.runner import run_stage
    from omr_data.sources import SOURCES
    from omr_data.sources.stage import NormalizeStage

    work = Path(tempfile.mkdtemp(prefix="bench-normalize-"))
    try:
        t = time.perf_counter()
        images = make_images(work / "src", args.images)
        make_rows(work / "src/train.jsonl", args.rows, images)
        print(f"generated {args.rows:,} rows, {args.images:,} images in "
              f"{time.perf_counter() - t:.1f}s")

        t = time.perf_counter()
        n_base = baseline(work / "src/train.jsonl")
        base_s = time.perf_counter() - t

        t = time.perf_counter()
        kept = rejected = 0
        for row in SOURCES["llava_cot"].read(work / "src/train.jsonl", image_root=work / "src"):
            if row.get("reason"):
                rejected += 1
            else:
                kept += 1
        adapter_s = time.perf_counter() - t

        t = time.perf_counter()
        result = run_stage(NormalizeStage({"source": "llava_cot"}), [work / "src"],
                           work / "out", progress=False)
        stage_s = time.perf_counter() - t

        rate = lambda n, s: n / s if s else float("inf")  # noqa: E731
        print(f"baseline json.loads + dict : {rate(n_base, base_s):>10,.0f} rows/s")
        print(f"llava_cot adapter          : {rate(args.rows, adapter_s):>10,.0f} rows/s "
              f"({kept:,} records, {rejected:,} rejects)  ratio vs baseline "
              f"{rate(args.rows, adapter_s) / rate(n_base, base_s):.3f}")
        print(f"normalize stage (+parquet) : {rate(args.rows, stage_s):>10,.0f} rows/s "
              f"({result.manifest['rows']:,} rows, {result.manifest['rejected']:,} rejected)"
              f"  ratio vs baseline {rate(args.rows, stage_s) / rate(n_base, base_s):.3f}")
        if kept != args.rows or result.manifest["rows"] != args.rows:
            raise SystemExit("bench: expected every generated row to normalize")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
