"""Tiny fixture writers for the source tests: images made with PIL, files in each source's
real on-disk shape (JSONL, JSON arrays, Parquet with HF image structs)."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from omr_data.records import load_meta

IMAGE_STRUCT = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def png(color=(200, 30, 30), size=(6, 5), fmt="PNG") -> bytes:
    from PIL import Image

    buf = BytesIO()
    Image.new("RGB", size, color).save(buf, format=fmt)
    return buf.getvalue()


def write_image(path: Path, color=(200, 30, 30), fmt="PNG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png(color, fmt=fmt))
    return path


def write_jsonl(path: Path, rows, *, extra_lines=()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r, ensure_ascii=False) for r in rows] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_json(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


def write_parquet(path: Path, rows, schema: pa.Schema | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, path)
    return path


def read(adapter_name: str, path, **kwargs):
    """(records, rejects) of one adapter read, records keyed by id."""
    from omr_data.sources import SOURCES

    rows = list(SOURCES[adapter_name].read(path, **kwargs))
    records = {r["id"]: r for r in rows if not r.get("reason")}
    rejects = [r for r in rows if r.get("reason")]
    return records, rejects


def meta(record) -> dict:
    return load_meta(record)
