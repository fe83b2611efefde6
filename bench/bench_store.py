"""Store write/read throughput against plain pyarrow.parquet, measured in the same run.

    python bench/bench_store.py [--rows 20000] [--image-kb 8]

Prints MB/s for omr-data's UnitWriter (validation, shard rolling, atomic rename, content
hashing) and DatasetDir reader, beside `pq.write_table` / `pq.read_table` on the same rows,
and the ratio (ours / plain; 1.0 = as fast as bare pyarrow).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from omr_data.records import RECORD_SCHEMA, make_record, to_table
from omr_data.store import COMPRESSION, DatasetDir, write_dataset


def make_rows(n: int, image_kb: int) -> list[dict]:
    # incompressible and distinct per row, like real JPEG/PNG bytes
    return [make_record(source="bench", source_id=str(i), question=f"What is {i} + {i}? " * 4,
                        answer=str(2 * i), answer_type="number",
                        images=[{"bytes": os.urandom(image_kb * 1024), "path": None}],
                        response="<think>" + "step " * 40 + f"</think><answer>{2 * i}</answer>",
                        meta={"k": i})
            for i in range(n)]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--image-kb", type=int, default=8)
    args = parser.parse_args()
    rows = make_rows(args.rows, args.image_kb)
    tmp = Path(tempfile.mkdtemp(prefix="bench-store-"))
    try:
        def plain_write():
            table = to_table(rows, RECORD_SCHEMA)
            (tmp / "plain").mkdir()
            for i in range(0, table.num_rows, 10_000):
                pq.write_table(table.slice(i, 10_000), tmp / "plain" / f"part-{i}.parquet",
                               compression=COMPRESSION, row_group_size=1_000)

        plain_w = timed(plain_write)
        ours_w = timed(lambda: write_dataset(tmp / "ours", rows))
        size_mb = sum(p.stat().st_size for p in (tmp / "ours" / "data").glob("*.parquet")) / 2**20
        plain_r = timed(lambda: [pq.read_table(p) for p in sorted((tmp / "plain").glob("*"))])
        ours_r = timed(lambda: sum(b.num_rows for b in DatasetDir(tmp / "ours").iter_batches()))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"store bench: {args.rows} rows, {size_mb:.1f} MB on disk")
    print(f"  write  plain pyarrow {size_mb / plain_w:8.1f} MB/s   omr-data {size_mb / ours_w:8.1f}"
          f" MB/s   ratio {plain_w / ours_w:.2f}")
    print(f"  read   plain pyarrow {size_mb / plain_r:8.1f} MB/s   omr-data {size_mb / ours_r:8.1f}"
          f" MB/s   ratio {plain_r / ours_r:.2f}")


if __name__ == "__main__":
    main()
