"""Finding duplicate clusters across datasets (and matches against benchmarks): the shared
pieces. The stage (`stage.py`) runs the work in rounds of units, each in bounded memory
(hashes, guards and embeddings are held; images never are, beyond one batch):

1. Scan (`scan_shard`, one unit per shard, written with `write_signatures`): per row its
   text key (hash of the normalised text), its text guards, and per image the SHA-1 of the
   bytes and the pHash of the trimmed image; text-only rows also get their embedding.
   `read_signatures` loads the signatures back in plan order, `write_embeddings` moves the
   embeddings into one memory-mapped matrix.
2. Candidates, never all pairs (`candidates.py`): image pHashes within `image_threshold`
   bits, a slice of query images per unit; text-only rows by equal text key or close
   embeddings, a tile of two blocks per unit.
3. Verification (`pairs.py`): batches of candidate pairs, each a unit that reads just the
   images and texts it needs.
4. Clusters (`clusters.py`): union-find with cannot-links, survivors, contamination.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from omr_data.dedup import image as img_mod
from omr_data.dedup import text as text_mod
from omr_data.images import ImageError, image_bytes

SCAN_COLUMNS = ["id", "source", "images", "question", "choices", "response"]


@dataclass
class Thresholds:
    image: int = 12            # pHash hamming distance (of 64 bits) for an image candidate
    fine: float = 0.85          # fine_score for an image match
    text: float = 0.8          # cosine for a text match when the images match (guards agree)
    text_only: float = 0.95    # cosine for a text match between text-only rows
    conflict: float = 0.55     # fine_score this low: evidence that two figures differ


@dataclass
class Rows:
    """Per-row and per-image signatures of all scanned rows (inputs, then benchmarks)."""

    ds: list[int] = field(default_factory=list)           # dataset index (benchmarks after inputs)
    pos: list[int] = field(default_factory=list)          # row position within its dataset
    ids: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    n_images: list[int] = field(default_factory=list)
    length: list[int] = field(default_factory=list)       # question + response characters
    tkey: list[bytes] = field(default_factory=list)
    g_main: list[bytes] = field(default_factory=list)     # numbers + guard words
    g_letters: list[bytes | None] = field(default_factory=list)
    img_row: list[int] = field(default_factory=list)
    img_sha: list[bytes] = field(default_factory=list)
    img_phash: list[int] = field(default_factory=list)    # -1: undecodable
    row_images: list[list[int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def extend(self, sig: dict[str, list]) -> None:
        """Append one shard's signature columns (see `scan_shard`)."""
        for d, pos, rid, source, n, length, tkey, g_main, g_letters, shas, phashes in zip(
                sig["ds"], sig["pos"], sig["id"], sig["source"], sig["n_images"],
                sig["length"], sig["tkey"], sig["g_main"], sig["g_letters"], sig["img_sha"],
                sig["img_phash"]):
            r = len(self.ids)
            self.ds.append(d)
            self.pos.append(pos)
            self.ids.append(rid)
            self.sources.append(source)
            self.n_images.append(n)
            self.length.append(length)
            self.tkey.append(tkey)
            self.g_main.append(g_main)
            self.g_letters.append(g_letters)
            mine = []
            for digest, phash in zip(shas, phashes):
                mine.append(len(self.img_row))
                self.img_row.append(r)
                self.img_sha.append(digest)
                self.img_phash.append(-1 if phash is None else phash)
            self.row_images.append(mine)


@dataclass
class Edge:
    a: int
    b: int
    image_distance: int | None
    fine: float | None
    cosine: float


def _h(value) -> bytes:
    return hashlib.blake2b(json.dumps(value).encode(), digest_size=8).digest()


def scan_shard(batches: Iterable, dataset: int, offset: int, stats: Counter) -> dict[str, list]:
    """The signatures of one shard's rows (dataset index, row position from `offset`), as
    columns (see `SIG_SCHEMA`), plus `text`: the row text of text-only rows (None for rows
    with images), for embedding. Reads each image once; keeps hashes only."""
    sig: dict[str, list] = {name: [] for name in (*SIG_SCHEMA.names, "text")}
    pos = offset
    for batch in batches:
        for row in batch.to_pylist():
            sig["ds"].append(dataset)
            sig["pos"].append(pos)
            pos += 1
            sig["id"].append(row["id"])
            sig["source"].append(row["source"])
            text = text_mod.row_text(row["question"] or "", row["choices"])
            sig["tkey"].append(text_mod.text_key(text_mod.normalise(text)))
            numbers, words, letters = text_mod.guards(text)
            sig["g_main"].append(_h([numbers, words]))
            sig["g_letters"].append(None if letters is None else _h(letters))
            sig["length"].append(len(row["question"] or "") + len(row["response"] or ""))
            images = row["images"] or []
            sig["n_images"].append(len(images))
            shas, phashes = [], []
            for entry in images:
                try:   # bytes only: a path alone is never opened (normalize embeds them)
                    data = image_bytes(entry)
                except ImageError:
                    data = str(entry.get("path") or "").encode()   # compared by its name
                digest, phash = img_mod.image_signature(data or b"")
                if phash is None:
                    stats["images_undecodable"] += 1
                shas.append(digest)
                phashes.append(phash)
            sig["img_sha"].append(shas)
            sig["img_phash"].append(phashes)
            sig["text"].append(None if images else text)
            sig["emb"].append(None)
    return sig


# ---------------------------------------------------------------------------------------
# signature files: one per shard, written by the prepare units, read by the merge

SIG_SCHEMA = pa.schema([
    ("ds", pa.int32()), ("pos", pa.int64()), ("id", pa.string()), ("source", pa.string()),
    ("n_images", pa.int32()), ("length", pa.int64()), ("tkey", pa.binary()),
    ("g_main", pa.binary()), ("g_letters", pa.binary()),
    ("img_sha", pa.list_(pa.binary())),
    ("img_phash", pa.list_(pa.uint64())),     # null: undecodable
    ("emb", pa.list_(pa.float32())),          # text-only rows: the text embedding
])


def write_signatures(path: Path, sig: dict[str, list]) -> None:
    """Write one shard's signatures atomically (a reader sees the whole file or none)."""
    table = pa.table({name: pa.array(sig[name], SIG_SCHEMA.field(name).type)
                      for name in SIG_SCHEMA.names}, schema=SIG_SCHEMA)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def read_signatures(paths: Sequence[Path], stats: Counter) -> Rows:
    """All rows' signatures from the shard files, in the order given (no embeddings: see
    `write_embeddings`)."""
    rows = Rows()
    for path in paths:
        columns = [n for n in SIG_SCHEMA.names if n != "emb"]
        rows.extend(pq.read_table(path, columns=columns, schema=SIG_SCHEMA).to_pydict())
    undecodable = sum(1 for p in rows.img_phash if p < 0)
    if undecodable:
        stats["images_undecodable"] += undecodable
    return rows


def write_embeddings(paths: Sequence[Path], rows: Rows, out: Path) -> np.ndarray:
    """Copy the text-only rows' embeddings from the shard files into one matrix on disk
    (`out`, a .npy the units memory-map), a file at a time. Returns each row's slot in it
    (-1: no embedding)."""
    text_only = np.asarray(rows.n_images, dtype=np.int64) == 0
    slot = np.full(len(rows), -1, dtype=np.int64)
    slot[text_only] = np.arange(int(text_only.sum()))
    matrix = None
    base = 0
    for path in paths:
        vectors = pq.read_table(path, columns=["emb"], schema=SIG_SCHEMA).column("emb")
        vectors = vectors.combine_chunks()
        valid = np.flatnonzero(vectors.is_valid().to_numpy(zero_copy_only=False))
        if valid.size:
            flat = vectors.flatten().to_numpy().reshape(valid.size, -1)
            if matrix is None:
                matrix = np.lib.format.open_memmap(
                    out, mode="w+", dtype=np.float32, shape=(int(text_only.sum()), flat.shape[1]))
            targets = slot[base + valid]
            if (targets < 0).any():
                raise RuntimeError(f"{path}: an embedding for a row with images")
            matrix[targets] = flat
        base += len(vectors)
    if matrix is None:
        np.save(out, np.zeros((0, 1), dtype=np.float32))
    else:
        matrix.flush()
        del matrix
    return slot
