"""Finding duplicate clusters across datasets (and matches against benchmarks): the shared
pieces. The stage (`stage.py`) runs the work in rounds of units, each in bounded memory
(hashes, guards and embeddings are held; images never are, beyond one batch):

1. Scan (`scan_shard`, one unit per shard, written with `write_signatures`): per row its
   text key (hash of the normalized text), its text guards, and per image the SHA-1 of the
   bytes and the pHashes of the trimmed image and of a few crops; text-only rows also get
   their embedding (rows with images are embedded when verified, only if a candidate).
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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from omr_data.dedup import image as img_mod
from omr_data.dedup import text as text_mod
from omr_data.images import ImageError, image_bytes

SCAN_COLUMNS = ["id", "source", "images", "question", "choices", "response"]
ALT_HASHES = len(img_mod.ALT_CROPS)     # crop pHashes per image


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
    # pHashes of crops (image.ALT_CROPS)
    img_alt: list[tuple[int, ...]] = field(default_factory=list)
    row_images: list[list[int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def extend(self, sig: dict[str, list]) -> None:
        """Append one shard's signature columns (see `scan_shard`)."""
        alts = sig.get("img_alt") or [None] * len(sig["ds"])
        for d, pos, rid, source, n, length, tkey, g_main, g_letters, shas, phashes, alt in zip(
                sig["ds"], sig["pos"], sig["id"], sig["source"], sig["n_images"],
                sig["length"], sig["tkey"], sig["g_main"], sig["g_letters"], sig["img_sha"],
                sig["img_phash"], alts):
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
            k = ALT_HASHES
            for n_img, (digest, phash) in enumerate(zip(shas, phashes)):
                mine.append(len(self.img_row))
                self.img_row.append(r)
                self.img_sha.append(digest)
                self.img_phash.append(-1 if phash is None else phash)
                self.img_alt.append(tuple(alt[n_img * k:(n_img + 1) * k])
                                    if alt and phash is not None else ())
            self.row_images.append(mine)


class Strings:
    """Strings in one Arrow array (a few bytes each, not a Python object each)."""

    def __init__(self, array: pa.Array):
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, i) -> str:
        return self.array[int(i)].as_py()


class Digests:
    """Fixed-width digests as one (n, width) uint8 matrix; an item is its bytes, or None
    where `valid` is False."""

    def __init__(self, matrix: np.ndarray, valid: np.ndarray | None = None):
        self.matrix = matrix
        self.valid = valid

    def __len__(self) -> int:
        return len(self.matrix)

    def __getitem__(self, i) -> bytes | None:
        if self.valid is not None and not self.valid[i]:
            return None
        return self.matrix[i].tobytes()

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def groups(self) -> list[np.ndarray]:
        """Indices of equal digests, groups of two or more, in order of first index."""
        if not len(self.matrix):
            return []
        keys = np.ascontiguousarray(self.matrix).view(f"V{self.matrix.shape[1]}").ravel()
        _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        inverse = inverse.ravel()
        shared = np.flatnonzero(counts > 1)
        order = np.argsort(inverse, kind="stable")
        starts = np.concatenate([[0], np.cumsum(counts)])
        groups = [order[starts[g]:starts[g + 1]] for g in shared]
        return sorted(groups, key=lambda g: int(g[0]))


class Hashes:
    """64-bit pHashes as a uint64 array; an item is the int, or -1 where undecodable."""

    def __init__(self, codes: np.ndarray, valid: np.ndarray):
        self.codes, self.valid = codes, valid

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, i) -> int:
        return int(self.codes[i]) if self.valid[i] else -1


class AltHashes:
    """The crops' pHashes of each image as one (n, ALT_HASHES) uint64 matrix; an
    item is their tuple (empty where undecodable)."""

    def __init__(self, codes: np.ndarray, valid: np.ndarray):
        self.codes, self.valid = codes, valid

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, i) -> tuple[int, ...]:
        return tuple(int(c) for c in self.codes[i]) if self.valid[i] else ()


class RowImages:
    """The image indices of each row (images are numbered row by row)."""

    def __init__(self, n_images: np.ndarray):
        self.start = np.concatenate([[0], np.cumsum(n_images, dtype=np.int64)])

    def __len__(self) -> int:
        return len(self.start) - 1

    def __getitem__(self, r) -> range:
        return range(int(self.start[r]), int(self.start[r + 1]))


@dataclass
class Signatures:
    """`Rows` for the driver, as compact arrays: ids and sources in Arrow arrays, numbers in
    numpy arrays, digests in uint8 matrices (about 100 bytes a row with one image, instead
    of a Python object per field). Indexing gives what `Rows` gives."""

    ds: np.ndarray
    pos: np.ndarray
    ids: Strings
    sources: Strings
    n_images: np.ndarray
    length: np.ndarray
    tkey: Digests
    g_main: Digests
    g_letters: Digests
    img_row: np.ndarray
    img_sha: Digests
    img_phash: Hashes
    img_alt: AltHashes
    row_images: RowImages

    def __len__(self) -> int:
        return len(self.ds)

    def nbytes(self) -> int:
        arrays = [self.ds, self.pos, self.n_images, self.length, self.tkey.matrix,
                  self.g_main.matrix, self.g_letters.matrix, self.g_letters.valid,
                  self.img_row, self.img_sha.matrix, self.img_phash.codes,
                  self.img_phash.valid, self.img_alt.codes, self.row_images.start]
        return sum(a.nbytes for a in arrays) + self.ids.array.nbytes + self.sources.array.nbytes


def _fixed(column: pa.ChunkedArray | pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, width) uint8 matrix and validity of a binary column of `width`-byte values."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    fixed = pc.cast(column, pa.binary(width))
    n = len(fixed)
    if n == 0:
        return np.zeros((0, width), np.uint8), np.zeros(0, bool)
    data = np.frombuffer(fixed.buffers()[1], np.uint8)
    matrix = data[fixed.offset * width:(fixed.offset + n) * width].reshape(n, width).copy()
    valid = fixed.is_valid().to_numpy(zero_copy_only=False)
    matrix[~valid] = 0
    return matrix, valid


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
            sig["tkey"].append(text_mod.text_key(text_mod.normalize(text)))
            numbers, words, letters = text_mod.guards(text)
            sig["g_main"].append(_h([numbers, words]))
            sig["g_letters"].append(None if letters is None else _h(letters))
            sig["length"].append(len(row["question"] or "") + len(row["response"] or ""))
            images = row["images"] or []
            sig["n_images"].append(len(images))
            shas, phashes, alts = [], [], []
            for entry in images:
                try:   # bytes only: a path alone is never opened (normalize embeds them)
                    data = image_bytes(entry)
                except ImageError:
                    data = str(entry.get("path") or "").encode()   # compared by its name
                digest, phash, alt = img_mod.image_hashes(data or b"")
                if phash is None:
                    stats["images_undecodable"] += 1
                shas.append(digest)
                phashes.append(phash)
                alts.extend(alt or (0,) * ALT_HASHES)
            sig["img_sha"].append(shas)
            sig["img_phash"].append(phashes)
            sig["img_alt"].append(alts)
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
    ("img_alt", pa.list_(pa.uint64())),       # ALT_HASHES crop pHashes per image
    ("emb", pa.list_(pa.float32())),          # text-only rows: the text embedding
])


def write_signatures(path: Path, sig: dict[str, list]) -> None:
    """Write one shard's signatures atomically (a reader sees the whole file or none)."""
    table = pa.table({name: pa.array(sig[name], SIG_SCHEMA.field(name).type)
                      for name in SIG_SCHEMA.names}, schema=SIG_SCHEMA)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def read_signatures(paths: Sequence[Path], stats: Counter) -> Signatures:
    """All rows' signatures from the shard files, in the order given, as compact arrays (no
    embeddings: see `write_embeddings`)."""

    columns = [n for n in SIG_SCHEMA.names if n != "emb"]
    parts: dict[str, list] = {name: [] for name in (
        "ds", "pos", "n_images", "length", "id", "source", "tkey", "g_main", "g_main_ok",
        "g_letters", "g_letters_ok", "img_sha", "img_phash", "img_ok", "img_alt")}
    for path in paths:
        t = pq.read_table(path, columns=columns, schema=SIG_SCHEMA)
        for name in ("ds", "pos", "n_images", "length"):
            parts[name].append(t.column(name).to_numpy())
        parts["id"].append(t.column("id").combine_chunks())
        parts["source"].append(t.column("source").combine_chunks())
        parts["tkey"].append(_fixed(t.column("tkey"), 12)[0])
        parts["g_main"].append(_fixed(t.column("g_main"), 8)[0])
        letters, ok = _fixed(t.column("g_letters"), 8)
        parts["g_letters"].append(letters)
        parts["g_letters_ok"].append(ok)
        parts["img_sha"].append(_fixed(t.column("img_sha").combine_chunks().flatten(), 12)[0])
        phash = t.column("img_phash").combine_chunks().flatten()
        parts["img_ok"].append(phash.is_valid().to_numpy(zero_copy_only=False))
        parts["img_phash"].append(pc.fill_null(phash, 0).to_numpy(zero_copy_only=False)
                                  .astype(np.uint64))
        parts["img_alt"].append(t.column("img_alt").combine_chunks().flatten()
                                .to_numpy(zero_copy_only=False).astype(np.uint64)
                                .reshape(-1, ALT_HASHES))

    def cat(name, dtype, shape=(0,)):
        return np.concatenate(parts[name]).astype(dtype, copy=False) if parts[name] \
            else np.zeros(shape, dtype)

    n_images = cat("n_images", np.int32)
    img_row = np.repeat(np.arange(len(n_images), dtype=np.int64), n_images)
    rows = Signatures(
        ds=cat("ds", np.int32), pos=cat("pos", np.int64),
        ids=Strings(pa.concat_arrays(parts["id"]) if parts["id"] else pa.array([], pa.string())),
        sources=Strings(pa.concat_arrays(parts["source"]).dictionary_encode()
                        if parts["source"] else pa.array([], pa.string())),
        n_images=n_images, length=cat("length", np.int64),
        tkey=Digests(cat("tkey", np.uint8, (0, 12))),
        g_main=Digests(cat("g_main", np.uint8, (0, 8))),
        g_letters=Digests(cat("g_letters", np.uint8, (0, 8)), cat("g_letters_ok", bool)),
        img_row=img_row, img_sha=Digests(cat("img_sha", np.uint8, (0, 12))),
        img_phash=Hashes(cat("img_phash", np.uint64), cat("img_ok", bool)),
        img_alt=AltHashes(cat("img_alt", np.uint64, (0, ALT_HASHES)), cat("img_ok", bool)),
        row_images=RowImages(n_images))
    undecodable = int((~rows.img_phash.valid).sum())
    if undecodable:
        stats["images_undecodable"] += undecodable
    return rows


def write_embeddings(paths: Sequence[Path], rows: Rows, out: Path) -> np.ndarray:
    """Copy the text-only rows' embeddings from the shard files into one float16 matrix on
    disk (`out`, a .npy the units memory-map; float16 is what the embedding cache stores,
    so nothing is lost), a file at a time. Returns each row's slot in it (-1: none)."""
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
                    out, mode="w+", dtype=np.float16, shape=(int(text_only.sum()), flat.shape[1]))
            targets = slot[base + valid]
            if (targets < 0).any():
                raise RuntimeError(f"{path}: an embedding for a row with images")
            matrix[targets] = flat
        base += len(vectors)
    if matrix is None:
        np.save(out, np.zeros((0, 1), dtype=np.float16))
    else:
        matrix.flush()
        del matrix
    return slot
