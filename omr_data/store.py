"""Dataset directories: sharded Parquet + manifest, fingerprints, resume.

Layout of a dataset directory written by a stage::

    DIR/data/part-00000.parquet ...     kept records (bounded rows/bytes per shard)
    DIR/rejects/part-00000.parquet ...  removed rows, with `reason` (and `raw`)
    DIR/manifest.json                   counts, fingerprint, stage, config, parents, stats
    DIR/.work/                          only while a stage runs: per-unit shards + done markers

A stage's work is split into *units* (usually one per input shard). Each unit writes its
shards under `.work/units/<unit>/` (temp file + rename, so a killed run never leaves half a
shard) and then a done marker. A rerun skips units with a marker and redoes the others, so
nothing is lost or duplicated. `finalize` links the unit shards into `data/` and `rejects/`
in unit order and writes the manifest last: a directory with a manifest is complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from omr_data.privacy import mask_secrets
from omr_data.records import (
    RECORD_SCHEMA,
    REJECT_SCHEMA,
    SCHEMA_VERSION,
    RecordError,
    check_table_schema,
    is_reject,
    record_features,
    to_table,
    validate_record,
)

MANIFEST = "manifest.json"
DEFAULT_MAX_ROWS = 10_000
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
ROW_GROUP_ROWS = 1_000
COMPRESSION = "zstd"


class StoreError(RuntimeError):
    """A dataset directory that cannot be read or written; the message names the path."""


#: keys every manifest omr-data writes has; a manifest.json without them is another tool's
_OWN_MANIFEST_KEYS = ("schema_version", "stage", "cache_key", "fingerprint", "rows")


def is_own_manifest(manifest: Any) -> bool:
    return isinstance(manifest, dict) and all(k in manifest for k in _OWN_MANIFEST_KEYS)


def read_own_manifest(path: str | os.PathLike) -> dict | None:
    """The manifest omr-data wrote in dataset dir `path`; None when absent or another
    tool's (a foreign manifest.json is not ours to trust or to replace)."""
    manifest_path = Path(path) / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return None
    return manifest if is_own_manifest(manifest) else None


# ---------------------------------------------------------------------------------------
# Reading


class DatasetDir:
    """A dataset directory to read: ours (with a manifest) or any `data/*.parquet` folder."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_dir():
            raise StoreError(f"{self.path}: no such dataset directory")
        self.manifest: dict | None = None
        # a manifest.json another tool wrote says nothing we can use: the folder is then
        # read as data only, like one without a manifest
        self.foreign_manifest = False
        manifest_path = self.path / MANIFEST
        if manifest_path.exists():
            try:
                manifest = json.loads(manifest_path.read_text())
            except json.JSONDecodeError as err:
                raise StoreError(f"{manifest_path}: unreadable manifest ({err.msg})") from None
            if is_own_manifest(manifest):
                self.manifest = manifest
            else:
                self.foreign_manifest = True
        self.shards = sorted((self.path / "data").glob("*.parquet"))
        self.reject_shards = sorted((self.path / "rejects").glob("*.parquet"))
        if not self.shards and self.manifest is None:
            what = ("its manifest.json is not omr-data's" if self.foreign_manifest
                    else "no manifest.json")
            raise StoreError(
                f"{self.path}: not a dataset directory ({what} and no data/*.parquet)")
        if self.manifest is not None:
            damaged = check_files(self.path, self.manifest, deep=False)
            if damaged:
                raise StoreError(
                    f"{self.path}: incomplete dataset, {_listing(damaged)} listed in its "
                    "manifest is missing or changed; rerun the stage that wrote it (it redoes "
                    "only what is missing)")

    def __repr__(self) -> str:
        return f"DatasetDir({str(self.path)!r}, rows={self.num_rows})"

    @property
    def num_rows(self) -> int:
        if self.manifest is not None:
            return int(self.manifest["rows"])
        return sum(pq.ParquetFile(p).metadata.num_rows for p in self.shards)

    @property
    def num_rejects(self) -> int:
        if self.manifest is not None:
            return int(self.manifest.get("rejected", 0))
        return sum(pq.ParquetFile(p).metadata.num_rows for p in self.reject_shards)

    @property
    def fingerprint(self) -> str:
        """Content fingerprint: the manifest's, or a hash of the Parquet bytes for foreign dirs."""
        if self.manifest is not None:
            return self.manifest["fingerprint"]
        digest = hashlib.sha256(b"foreign-dataset-v1")
        for shard in self.shards + self.reject_shards:
            digest.update(shard.relative_to(self.path).as_posix().encode())
            digest.update(file_sha256(shard).encode())
        return digest.hexdigest()

    def check_schema(self) -> None:
        for shard in self.shards:
            check_table_schema(pq.read_schema(shard), where=str(shard))

    def iter_batches(self, columns: list[str] | None = None,
                     batch_size: int = ROW_GROUP_ROWS) -> Iterator[pa.RecordBatch]:
        for shard in self.shards:
            yield from iter_shard_batches(shard, columns=columns, batch_size=batch_size)

    def iter_rows(self, columns: list[str] | None = None) -> Iterator[dict]:
        for batch in self.iter_batches(columns=columns):
            yield from batch.to_pylist()

    def iter_rejects(self) -> Iterator[dict]:
        for shard in self.reject_shards:
            for batch in iter_shard_batches(shard):
                yield from batch.to_pylist()

    def read_table(self, columns: list[str] | None = None) -> pa.Table:
        """The whole dataset in memory: for small data and tests."""
        tables = [pq.read_table(p, columns=columns) for p in self.shards]
        if not tables:
            return RECORD_SCHEMA.empty_table() if columns is None else \
                RECORD_SCHEMA.empty_table().select(columns)
        return pa.concat_tables(tables, promote_options="permissive")


def open_dataset(path: str | os.PathLike) -> DatasetDir:
    return DatasetDir(path)


def iter_shard_batches(shard: Path, columns: list[str] | None = None,
                       batch_size: int = ROW_GROUP_ROWS) -> Iterator[pa.RecordBatch]:
    try:
        parquet = pq.ParquetFile(shard)
    except (OSError, pa.ArrowInvalid) as err:
        raise StoreError(f"{shard}: cannot read Parquet ({err})") from None
    yield from parquet.iter_batches(batch_size=batch_size, columns=columns)


# ---------------------------------------------------------------------------------------
# Writing one unit


@dataclass
class UnitResult:
    """What one unit wrote; stored as its done marker and merged into the manifest."""

    unit: str
    data_files: list[str] = field(default_factory=list)
    reject_files: list[str] = field(default_factory=list)
    data_hashes: list[str] = field(default_factory=list)
    reject_hashes: list[str] = field(default_factory=list)
    rows: int = 0
    rejected: int = 0
    bytes: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


class _ShardSeries:
    """Rolling Parquet shards of one schema, each written to a temp file and renamed."""

    def __init__(self, directory: Path, prefix: str, schema: pa.Schema,
                 max_rows: int, max_bytes: int):
        self.directory, self.prefix, self.schema = directory, prefix, _with_hf_metadata(schema)
        self.max_rows, self.max_bytes = max_rows, max_bytes
        self.files: list[str] = []
        self.hashes: list[str] = []
        self.rows = 0
        self.bytes = 0
        self._writer: pq.ParquetWriter | None = None
        self._tmp: Path | None = None
        self._hash = None
        self._shard_rows = 0
        self._shard_bytes = 0

    def write(self, table: pa.Table) -> None:
        offset = 0
        while offset < table.num_rows:
            if self._writer is None:
                self._open()
            room = self.max_rows - self._shard_rows
            if table.nbytes:
                per_row = max(1, table.nbytes // max(1, table.num_rows))
                room = min(room, max(1, (self.max_bytes - self._shard_bytes) // per_row))
            piece = table.slice(offset, max(1, room))
            self._writer.write_table(piece, row_group_size=ROW_GROUP_ROWS)
            self._hash.update(_ipc_bytes(piece))
            self._shard_rows += piece.num_rows
            self._shard_bytes += piece.nbytes
            self.rows += piece.num_rows
            offset += piece.num_rows
            if self._shard_rows >= self.max_rows or self._shard_bytes >= self.max_bytes:
                self._close_shard()

    def close(self, *, ensure_one: bool = False) -> None:
        if self._writer is None and ensure_one and not self.files:
            self._open()
        if self._writer is not None:
            self._close_shard()

    def _open(self) -> None:
        name = f"{self.prefix}-{len(self.files):05d}.parquet"
        self._tmp = self.directory / f".{name}.tmp"
        self._writer = pq.ParquetWriter(self._tmp, self.schema, compression=COMPRESSION)
        self._hash = hashlib.sha256()
        self._shard_rows = self._shard_bytes = 0

    def _close_shard(self) -> None:
        self._writer.close()
        final = self._tmp.with_name(self._tmp.name[1:-len(".tmp")])
        os.replace(self._tmp, final)
        self.files.append(final.name)
        self.hashes.append(self._hash.hexdigest())
        self.bytes += final.stat().st_size
        self._writer = None


class UnitWriter:
    """Collects one unit's rows: records go to data shards, rows with `reason` to rejects."""

    def __init__(self, directory: Path, unit: str, *, max_rows: int = DEFAULT_MAX_ROWS,
                 max_bytes: int = DEFAULT_MAX_BYTES, validate: bool = True):
        self.directory = directory
        self.unit = unit
        self.validate = validate
        directory.mkdir(parents=True, exist_ok=True)
        self._data = _ShardSeries(directory, "data", RECORD_SCHEMA, max_rows, max_bytes)
        self._rejects = _ShardSeries(directory, "rejects", REJECT_SCHEMA, max_rows, max_bytes)
        self._pending: list[dict] = []
        self._pending_rejects: list[dict] = []
        self._pending_bytes = 0
        self.reasons: Counter[str] = Counter()
        self.stats: Counter[str] = Counter()
        self._start = time.perf_counter()

    def add(self, row: Mapping[str, Any]) -> None:
        if is_reject(row):
            self._pending_rejects.append(dict(row))
            self.reasons[reason_kind(row["reason"])] += 1
            if len(self._pending_rejects) >= ROW_GROUP_ROWS:
                self._flush_rejects()
            return
        self._pending.append(row if isinstance(row, dict) else dict(row))
        self._pending_bytes += _approx_size(row)
        if len(self._pending) >= ROW_GROUP_ROWS or self._pending_bytes >= 64 * 1024 * 1024:
            self._flush_records()

    def add_all(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.add(row)

    def add_table(self, table: pa.Table) -> None:
        """Fast path for stages that produce Arrow tables in the record schema."""
        self._flush_records()
        self._data.write(table.select(RECORD_SCHEMA.names).cast(RECORD_SCHEMA))

    def count(self, key: str, n: int = 1) -> None:
        self.stats[key] += n

    def close(self) -> UnitResult:
        self._flush_records()
        self._flush_rejects()
        self._data.close()
        self._rejects.close()
        return UnitResult(
            unit=self.unit,
            data_files=self._data.files, reject_files=self._rejects.files,
            data_hashes=self._data.hashes, reject_hashes=self._rejects.hashes,
            rows=self._data.rows, rejected=self._rejects.rows,
            bytes=self._data.bytes + self._rejects.bytes,
            reasons=dict(self.reasons), stats=dict(self.stats),
            seconds=round(time.perf_counter() - self._start, 4),
        )

    def _flush_records(self) -> None:
        if not self._pending:
            return
        if self.validate:
            for row in self._pending:
                validate_record(row)
        self._data.write(to_table(self._pending, RECORD_SCHEMA))
        self._pending, self._pending_bytes = [], 0

    def _flush_rejects(self) -> None:
        if self._pending_rejects:
            self._rejects.write(to_table(self._pending_rejects, REJECT_SCHEMA))
            self._pending_rejects = []


def reason_kind(reason: str) -> str:
    """Rejects are counted by the part of the reason before the first ':'."""
    return reason.split(":", 1)[0].strip() or reason


# ---------------------------------------------------------------------------------------
# Writing a whole stage output, resumably


class DatasetBuilder:
    """The output directory of one stage run: resumable units, then an atomic finalize."""

    def __init__(self, path: str | os.PathLike, *, cache_key: str,
                 extra_outputs: tuple[str, ...] = (),
                 repair: Mapping[str, Any] | None = None):
        self.path = Path(path)
        self.cache_key = cache_key
        self.extra_outputs = extra_outputs  # other folders a rerun replaces (e.g. "dedup")
        self.work = self.path / ".work"
        #: (kept units, units to redo) when `repair` (the manifest of a finished run of the
        #: same key whose shards were damaged) was resumed from its intact units
        self.repaired: tuple[list[str], list[str]] | None = None
        self._prepare(repair)

    @classmethod
    def attach(cls, path: str | os.PathLike, *, cache_key: str) -> DatasetBuilder:
        """The builder of a directory the driver already prepared, for a worker that writes
        units into it: checks and changes nothing (the driver resumes, repairs, replaces)."""
        builder = cls.__new__(cls)
        builder.path, builder.cache_key = Path(path), cache_key
        builder.extra_outputs, builder.repaired = (), None
        builder.work = builder.path / ".work"
        return builder

    def _prepare(self, repair: Mapping[str, Any] | None) -> None:
        state_path = self.work / "state.json"
        if state_path.exists():
            state = json.loads(state_path.read_text())
            if state.get("cache_key") == self.cache_key:
                return  # resume
            shutil.rmtree(self.work)
        elif repair is not None and repair.get("cache_key") == self.cache_key:
            (self.work / "done").mkdir(parents=True, exist_ok=True)
            (self.work / "units").mkdir(parents=True, exist_ok=True)
            self.repaired = self.salvage(repair)
            _atomic_write_json(state_path, {"cache_key": self.cache_key})
            return
        elif self.path.exists() and any(self.path.iterdir()):
            # Output of another config or another tool: replaced, never mixed.
            for child in ("data", "rejects", MANIFEST, "stats", *self.extra_outputs):
                _remove(self.path / child)
        (self.work / "done").mkdir(parents=True, exist_ok=True)
        (self.work / "units").mkdir(parents=True, exist_ok=True)
        _atomic_write_json(state_path, {"cache_key": self.cache_key})

    def done_units(self) -> dict[str, UnitResult]:
        results = {}
        for marker in (self.work / "done").glob("*.json"):
            result = UnitResult(**json.loads(marker.read_text()))
            results[result.unit] = result
        return results

    def unit_dir(self, unit: str) -> Path:
        return self.work / "units" / unit

    def open_unit(self, unit: str, **kwargs: Any) -> UnitWriter:
        """A fresh writer for `unit`; leftovers of an interrupted attempt are discarded."""
        directory = self.unit_dir(unit)
        _remove(directory)
        return UnitWriter(directory, unit, **kwargs)

    def mark_done(self, result: UnitResult) -> None:
        _atomic_write_json(self.work / "done" / f"{result.unit}.json", result.__dict__)

    def finalize(self, units: list[str], *, stage: str, config: Mapping[str, Any],
                 parents: list[Mapping[str, Any]], rows_in: int | None = None,
                 stats: Mapping[str, Any] | None = None,
                 timings: Mapping[str, float] | None = None) -> dict:
        """Link unit shards into data/ and rejects/ in unit order and write the manifest."""
        done = self.done_units()
        missing = [u for u in units if u not in done]
        if missing:
            raise StoreError(f"{self.path}: cannot finalize, units not done: {missing[:5]}")
        for sub in ("data", "rejects"):
            _remove(self.path / sub)
            (self.path / sub).mkdir(parents=True)
        data_hashes, reject_hashes = [], []
        n_data = n_rejects = 0
        unit_files = []
        for unit in units:
            result = done[unit]
            placed: dict[str, str] = {}  # unit file name -> path in OUT
            for name, digest in zip(result.data_files, result.data_hashes):
                placed[name] = f"data/part-{n_data:05d}.parquet"
                _link(self.unit_dir(unit) / name, self.path / placed[name])
                data_hashes.append(digest)
                n_data += 1
            for name, digest in zip(result.reject_files, result.reject_hashes):
                placed[name] = f"rejects/part-{n_rejects:05d}.parquet"
                _link(self.unit_dir(unit) / name, self.path / placed[name])
                reject_hashes.append(digest)
                n_rejects += 1
            unit_files.append({"result": result.__dict__, "placed": placed})
        if n_data == 0:  # a stage that kept nothing still writes a valid, empty dataset
            writer = UnitWriter(self.work / "empty", "empty")
            writer._data.close(ensure_one=True)
            empty = writer.close()
            _link(self.work / "empty" / empty.data_files[0],
                  self.path / "data" / "part-00000.parquet")
            data_hashes = empty.data_hashes
        results = [done[u] for u in units]
        reasons: Counter[str] = Counter()
        unit_stats: Counter[str] = Counter()
        for r in results:
            reasons.update(r.reasons)
            unit_stats.update({k: v for k, v in r.stats.items() if isinstance(v, (int, float))})
        rows = sum(r.rows for r in results)
        rejected = sum(r.rejected for r in results)
        files = {f"{sub}/{p.name}": _file_record(p) for sub in ("data", "rejects")
                 for p in sorted((self.path / sub).glob("*.parquet"))}
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "stage": stage,
            "config": mask_secrets(dict(config)),
            "cache_key": self.cache_key,
            "parents": list(parents),
            "rows": rows,
            "rejected": rejected,
            "rows_in": rows_in if rows_in is not None else rows + rejected,
            "bytes": sum(f.stat().st_size for f in (self.path / "data").glob("*.parquet")),
            "shards": len(data_hashes),
            "fingerprint": content_fingerprint(data_hashes, reject_hashes),
            "reject_reasons": dict(sorted(reasons.items())),
            "stats": {**dict(sorted(unit_stats.items())), **dict(stats or {})},
            "timings": dict(timings or {}),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            # every shard with its size and hash, and which unit wrote it: the cache trusts
            # the output only while they all check, and redoes just the units whose do not
            "files": files,
            "units": unit_files,
        }
        _atomic_write_json(self.path / MANIFEST, manifest)
        shutil.rmtree(self.work)
        return manifest


    def salvage(self, manifest: Mapping[str, Any]) -> tuple[list[str], list[str]]:
        """Resume a finished output whose shards were damaged: units whose files all still
        check are put back as done (their shards linked into `.work/`), the others are left
        to redo. Returns (kept units, units to redo)."""
        damaged = set(check_files(self.path, manifest))
        kept, redo = [], []
        for entry in manifest.get("units") or []:
            result = UnitResult(**entry["result"])
            placed = entry.get("placed") or {}
            if any(path in damaged for path in placed.values()):
                redo.append(result.unit)
                continue
            directory = self.unit_dir(result.unit)
            _remove(directory)
            directory.mkdir(parents=True)
            for name, path in placed.items():
                _link(self.path / path, directory / name)
            self.mark_done(result)
            kept.append(result.unit)
        return kept, redo


def check_files(path: str | os.PathLike, manifest: Mapping[str, Any], *,
                deep: bool = True) -> list[str]:
    """The shards a manifest lists that are missing or changed (size, or content hash when
    the modification time moved; `deep=False` checks existence and size only). A manifest
    from before shards were recorded lists none: its data/ must hold `shards` files."""
    root = Path(path)
    files = manifest.get("files")
    if files is None:
        have = len(list((root / "data").glob("*.parquet")))
        return [] if have >= int(manifest.get("shards") or 0) else ["data/"]
    damaged = []
    for rel, record in files.items():
        try:
            st = (root / rel).stat()
        except OSError:
            damaged.append(rel)
            continue
        if st.st_size != record.get("bytes"):
            damaged.append(rel)
        elif deep and st.st_mtime_ns != record.get("mtime_ns") and \
                file_sha256(root / rel) != record.get("sha256"):
            damaged.append(rel)
    return damaged


def _file_record(path: Path) -> dict:
    st = path.stat()
    return {"bytes": st.st_size, "sha256": file_sha256(path), "mtime_ns": st.st_mtime_ns}


def _listing(paths: list[str]) -> str:
    return ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")


def content_fingerprint(data_hashes: list[str], reject_hashes: list[str]) -> str:
    """Hash of the rows (and rejects) in order: equal content gives an equal fingerprint."""
    digest = hashlib.sha256(f"omr-data/v{SCHEMA_VERSION}".encode())
    for part in ("data", *data_hashes, "rejects", *reject_hashes):
        digest.update(part.encode())
    return digest.hexdigest()


def write_dataset(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]], *,
                  stage: str = "write", config: Mapping[str, Any] | None = None,
                  max_rows: int = DEFAULT_MAX_ROWS) -> DatasetDir:
    """Write rows (records and rejects) as a finished dataset directory in one go."""
    config = dict(config or {})
    builder = DatasetBuilder(path, cache_key=hashlib.sha256(
        json.dumps([stage, config], sort_keys=True, default=str).encode()).hexdigest())
    writer = builder.open_unit("unit-00000", max_rows=max_rows)
    writer.add_all(rows)
    builder.mark_done(writer.close())
    builder.finalize(["unit-00000"], stage=stage, config=config, parents=[])
    return DatasetDir(path)


# ---------------------------------------------------------------------------------------
# helpers


def _with_hf_metadata(schema: pa.Schema) -> pa.Schema:
    """Embed HF features in the Parquet schema so `datasets` decodes images without a card."""
    if schema is not RECORD_SCHEMA:
        return schema
    return schema.with_metadata({"huggingface": json.dumps(
        {"info": {"features": record_features().to_dict()}})})


def _ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema.remove_metadata()) as stream:
        stream.write_table(table.combine_chunks(), max_chunksize=1 << 30)
    return sink.getvalue().to_pybytes()


def _approx_size(row: Mapping[str, Any]) -> int:
    size = 0
    for img in row.get("images") or ():
        data = img.get("bytes") if isinstance(img, Mapping) else None
        size += len(data) if data else 0
    return size + len(row.get("response") or "") + len(row.get("question") or "")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _atomic_write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


def _link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


__all__ = [
    "DatasetBuilder", "DatasetDir", "MANIFEST", "RecordError", "StoreError", "UnitResult",
    "UnitWriter", "check_files", "content_fingerprint", "is_own_manifest", "open_dataset",
    "read_own_manifest", "reason_kind", "write_dataset",
]
