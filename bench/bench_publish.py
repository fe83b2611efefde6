"""Publish throughput against `datasets` writing the same rows as Parquet, in the same run.

    python bench/bench_publish.py [--rows 20000] [--image-kb 4]

Both sides start from the same dataset directory and end with Hub-layout Parquet shards:
omr-data's `publish --hub-dir` (convert records to the SFT form, write shards, card, git
commit and tag) against `datasets.Dataset.from_generator(...).to_parquet` of the already
converted rows (no conversion, no card, no git): the ratio shows what publishing adds.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_records(n: int, image_kb: int):
    from PIL import Image

    from omr_data.records import make_record

    rng = random.Random(0)
    side = max(8, int((image_kb * 1024 / 3) ** 0.5))
    for i in range(n):
        img = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
        buf = io.BytesIO()
        img.save(buf, "PNG")
        yield make_record(source="bench", source_id=str(i), question=f"question {i} " * 20,
                          answer=str(i), answer_type="number",
                          images=[{"bytes": buf.getvalue(), "path": None}],
                          response="<think>" + "step " * 200 + f"</think><answer>{i}</answer>")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--image-kb", type=int, default=4)
    args = parser.parse_args()

    import datasets

    from omr_data.hub import publish
    from omr_data.publish import forms
    from omr_data.store import write_dataset

    datasets.disable_progress_bars()
    work = Path(tempfile.mkdtemp(prefix="bench-publish-"))
    try:
        src = write_dataset(work / "in", make_records(args.rows, args.image_kb))
        size_mb = sum(p.stat().st_size for p in src.shards) / 1e6

        start = time.perf_counter()
        result = publish([src.path], "bench/sft", version="v1.0", hub_dir=work / "hub")
        ours = time.perf_counter() - start

        def rows():
            for record in src.iter_rows():
                yield forms.to_sft_row(record)

        start = time.perf_counter()
        ds = datasets.Dataset.from_generator(rows, features=forms.features("sft"),
                                             cache_dir=str(work / "cache"))
        (work / "theirs").mkdir()
        ds.to_parquet(str(work / "theirs" / "train-00000-of-00001.parquet"))
        theirs = time.perf_counter() - start

        print(f"rows={args.rows} input={size_mb:.1f} MB shards={len(result.files) - 2}")
        print(f"omr-data publish --hub-dir: {ours:.2f}s  {args.rows / ours:,.0f} rows/s  "
              f"{size_mb / ours:.1f} MB/s")
        print(f"datasets from_generator+to_parquet: {theirs:.2f}s  {args.rows / theirs:,.0f} "
              f"rows/s  {size_mb / theirs:.1f} MB/s")
        print(f"ratio (omr-data / datasets time): {ours / theirs:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
