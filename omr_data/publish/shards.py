"""Write one config's split as Hub-layout Parquet shards, streaming batch by batch.

Shards are named as `datasets.push_to_hub` names them,
`{data_dir}/{split}-{i:05d}-of-{n:05d}.parquet`; a shard closes once its Arrow size reaches
`max_shard_bytes` (push_to_hub sizes shards by the same in-memory estimate). The count `n`
is known only at the end, so shards are written under temporary names and renamed.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from omr_data.diversity import Tally
from omr_data.publish import forms
from omr_data.store import DatasetDir

DEFAULT_MAX_SHARD_BYTES = 500 * 1000 * 1000  # push_to_hub's default "500MB"


@dataclass
class ShardSet:
    """What was written for one config and split, and what the card needs to know about it."""

    files: list[str]  # paths in the repo, in order
    num_examples: int
    num_bytes: int  # Arrow (uncompressed) bytes, as push_to_hub reports `num_bytes`
    download_size: int  # bytes of the Parquet files
    sources: dict[str, int] = field(default_factory=dict)
    decided_by: dict[str, int] = field(default_factory=dict)
    pass_rate_known: int = 0
    pass_rate_sum: float = 0.0
    diversity: dict | None = None   # SFT: distinct traces per distilled question


def row_group_rows(form: str) -> int:
    """Rows per row group: what `datasets` uses for image datasets (small, for random access)."""
    try:
        from datasets.arrow_writer import get_writer_batch_size_from_features
        rows = get_writer_batch_size_from_features(forms.features(form))
    except ImportError:  # pragma: no cover - a datasets without the helper
        rows = None
    return int(rows) if rows else 100


def write_shards(inputs: Iterable[DatasetDir], form: str, root: Path, data_dir: str,
                 split: str, max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES, *,
                 instruction: str | None = None) -> ShardSet:
    """Convert the inputs' records to `form` and write them under `root/data_dir/`;
    `instruction` is the system turn of every prompt (None: the default, '': none)."""
    if max_shard_bytes <= 0:
        raise ValueError("max_shard_bytes must be positive")
    convert = forms.CONVERTERS[form]
    schema = forms.arrow_schema(form)
    batch_rows = row_group_rows(form)
    out_dir = root / data_dir
    out_dir.mkdir(parents=True, exist_ok=True)

    temp_files: list[Path] = []
    writer: pq.ParquetWriter | None = None
    shard_bytes = 0
    result = ShardSet(files=[], num_examples=0, num_bytes=0, download_size=0)
    sources: Counter[str] = Counter()
    decided: Counter[str] = Counter()
    tally = Tally()   # published (verified) traces of our distill step, per question

    def open_shard() -> pq.ParquetWriter:
        path = out_dir / f".{split}-part-{len(temp_files):05d}.parquet.tmp"
        temp_files.append(path)
        return pq.ParquetWriter(path, schema, compression="snappy")

    try:
        for dataset in inputs:
            for batch in dataset.iter_batches(columns=forms.RECORD_COLUMNS[form],
                                              batch_size=batch_rows):
                records = batch.to_pylist()
                rows = []
                for record in records:
                    rows.append(convert(record, instruction))
                    meta = forms._meta(record)
                    sources[record["source"]] += 1
                    how = forms.decided_by(meta)
                    if how is not None:
                        decided[how] += 1
                    if form == forms.SFT and "distill.k" in meta:
                        tally.add(record["id"], record["response"])
                    if form == forms.RL and rows[-1]["pass_rate"] is not None:
                        result.pass_rate_known += 1
                        result.pass_rate_sum += rows[-1]["pass_rate"]
                table = pa.Table.from_pylist(rows, schema=schema)
                per_row = max(1, table.nbytes // max(1, table.num_rows))
                offset = 0
                while offset < table.num_rows:
                    if writer is None:
                        writer, shard_bytes = open_shard(), 0
                    room = max(1, -(-(max_shard_bytes - shard_bytes) // per_row))
                    piece = table.slice(offset, room)
                    writer.write_table(piece, row_group_size=batch_rows)
                    offset += piece.num_rows
                    shard_bytes += piece.nbytes
                    result.num_bytes += piece.nbytes
                    result.num_examples += piece.num_rows
                    if shard_bytes >= max_shard_bytes:
                        writer.close()
                        writer = None
        if writer is not None:
            writer.close()
            writer = None
        if not temp_files:  # no rows: one valid empty shard, as push_to_hub writes
            open_shard().close()
    except BaseException:
        if writer is not None:
            writer.close()
        for path in temp_files:
            path.unlink(missing_ok=True)
        raise

    total = len(temp_files)
    for index, temp in enumerate(temp_files):
        name = f"{split}-{index:05d}-of-{total:05d}.parquet"
        os.replace(temp, out_dir / name)
        result.files.append(f"{data_dir}/{name}")
        result.download_size += (out_dir / name).stat().st_size
    result.sources = dict(sorted(sources.items()))
    result.decided_by = dict(sorted(decided.items()))
    result.diversity = tally.summary() if len(tally) else None
    return result
