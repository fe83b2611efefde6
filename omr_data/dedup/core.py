"""Finding duplicate clusters across datasets (and matches against benchmarks).

The work, in bounded memory (hashes, guards and embeddings are held; images never are):

1. Scan (`scan_shard`, one shard at a time: the stage runs it in parallel prepare units
   and writes each shard's result with `write_signatures`; `scan` does it all in-process):
   per row keep its text key (hash of the normalised text), its text guards, and per image
   the SHA-1 of the bytes and the pHash of the trimmed image. `read_signatures` loads them
   back in plan order; `decide` does steps 2-4.
2. Candidates, never all pairs: images within `image_threshold` bits through a faiss binary
   index (multi-index hashing beyond `FLAT_LIMIT` images); text-only rows through equal text
   keys and a faiss inner-product index over their embeddings.
3. Verify each candidate pair: images match when every image of one row pairs with an
   image of the other (same bytes, or pHash close *and* `fine_score` high); texts match
   when their normalised texts are equal, or their guards agree and their embeddings are
   close. Image rows need both; text-only rows need a text match at `text_only_threshold`.
4. Union-find over the duplicate pairs among the inputs, strongest first, refusing any
   union that would put two rows in one cluster whose texts match but whose figures were
   decisively found different (a cannot-link: a redrawn figure must not join through a
   downscaled copy); a survivor per cluster by `keep`; rows that match a benchmark row are
   contaminated, and so is every other member of their cluster (a duplicate of a
   contaminated row would leak the benchmark otherwise).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from omr_data.dedup import image as img_mod
from omr_data.dedup import text as text_mod
from omr_data.store import DatasetDir, iter_shard_batches

FLAT_LIMIT = 200_000     # above this many vectors, approximate indexes replace exact search
TEXT_NEIGHBOURS = 16     # neighbours per text-only row searched in the approximate index
SCAN_COLUMNS = ["id", "source", "images", "question", "choices", "response"]


@dataclass
class Thresholds:
    image: int = 12            # pHash hamming distance (of 64 bits) for an image candidate
    fine: float = 0.85          # fine_score for an image match
    text: float = 0.9          # cosine for a text match when the images match
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
                data = entry.get("bytes")
                if data is None and entry.get("path"):
                    try:
                        data = Path(entry["path"]).read_bytes()
                    except OSError:
                        data = entry["path"].encode()
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


def scan(datasets: Sequence[DatasetDir], stats: Counter) -> Rows:
    """Signatures of every row of `datasets`, in order, in this process."""
    rows = Rows()
    for d, ds in enumerate(datasets):
        offset = 0
        for shard in ds.shards:
            sig = scan_shard(iter_shard_batches(shard, columns=SCAN_COLUMNS, batch_size=256),
                             d, offset, stats)
            rows.extend(sig)
            offset += len(sig["id"])
    return rows


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


def read_signatures(paths: Sequence[Path], stats: Counter) -> tuple[Rows, dict[int, np.ndarray]]:
    """All rows' signatures from the shard files, in the order given, and the embeddings
    the files carry (row index -> unit vector)."""
    rows = Rows()
    emb: dict[int, np.ndarray] = {}
    for path in paths:
        table = pq.read_table(path, schema=SIG_SCHEMA)
        base = len(rows)
        vectors = table.column("emb").combine_chunks()
        valid = np.flatnonzero(vectors.is_valid().to_numpy(zero_copy_only=False))
        if valid.size:
            flat = vectors.flatten().to_numpy()
            mat = flat.reshape(valid.size, -1)
            for k, r in enumerate(valid):
                emb[base + int(r)] = mat[k]
        rows.extend(table.drop_columns(["emb"]).to_pydict())
    undecodable = sum(1 for p in rows.img_phash if p < 0)
    if undecodable:
        stats["images_undecodable"] += undecodable
    return rows, emb


# ---------------------------------------------------------------------------------------
# candidates


def image_candidates(rows: Rows, threshold: int, n_inputs: int) -> set[tuple[int, int]]:
    """Row pairs with at least one pair of images within `threshold` bits or equal bytes."""
    import faiss

    pairs: set[tuple[int, int]] = set()

    def add(i: int, j: int) -> None:
        a, b = rows.img_row[i], rows.img_row[j]
        if a == b or rows.n_images[a] != rows.n_images[b]:
            return
        if rows.ds[a] >= n_inputs and rows.ds[b] >= n_inputs:
            return  # benchmark against benchmark: not our business
        pairs.add((a, b) if a < b else (b, a))

    by_sha: dict[bytes, list[int]] = defaultdict(list)
    for i, digest in enumerate(rows.img_sha):
        by_sha[digest].append(i)
    for group in by_sha.values():
        _link_group(group, lambda i: rows.ds[rows.img_row[i]] >= n_inputs, add)
    decodable = np.array([i for i, p in enumerate(rows.img_phash) if p >= 0], dtype=np.int64)
    if decodable.size < 2:
        return pairs
    codes = np.array([rows.img_phash[i] for i in decodable], dtype=np.uint64)
    packed = codes.astype(">u8").view(np.uint8).reshape(-1, 8)
    if decodable.size <= FLAT_LIMIT:
        index = faiss.IndexBinaryFlat(64)
    else:  # multi-index hashing: 4 tables of 16 bits, flips enough for the radius
        index = faiss.IndexBinaryMultiHash(64, 4, 16)
        index.nflip = max(0, threshold // 4)
    index.add(packed)
    chunk = 4096
    for start in range(0, decodable.size, chunk):
        lims, _, found = index.range_search(packed[start:start + chunk], threshold + 1)
        for q in range(min(chunk, decodable.size - start)):
            i = int(decodable[start + q])
            for j in found[lims[q]:lims[q + 1]]:
                j = int(decodable[j])
                if j > i:
                    add(i, j)
    return pairs


def _link_group(group: list[int], is_bench, add) -> None:
    """Pairs for a group of equal keys: a chain through the inputs (enough for clusters) and
    every input member with every benchmark member (contamination is a direct match)."""
    inputs = [g for g in group if not is_bench(g)]
    bench = [g for g in group if is_bench(g)]
    for k in range(1, len(inputs)):
        add(inputs[k - 1], inputs[k])
    for b in bench:
        for i in inputs:
            add(i, b)


def text_candidates(rows: Rows, emb: dict[int, np.ndarray], threshold: float,
                    n_inputs: int) -> set[tuple[int, int]]:
    """Text-only row pairs: equal normalised text, or embeddings within `threshold`."""
    import faiss

    text_rows = [r for r in range(len(rows)) if rows.n_images[r] == 0]
    pairs: set[tuple[int, int]] = set()

    def add(a: int, b: int) -> None:
        if a != b and not (rows.ds[a] >= n_inputs and rows.ds[b] >= n_inputs):
            pairs.add((a, b) if a < b else (b, a))

    by_key: dict[bytes, list[int]] = defaultdict(list)
    for r in text_rows:
        by_key[rows.tkey[r]].append(r)
    for group in by_key.values():
        _link_group(group, lambda r: rows.ds[r] >= n_inputs, add)
    # one representative per distinct text keeps the embedding index small
    reps = [group[0] for group in by_key.values()]
    if len(reps) < 2:
        return pairs
    mat = np.stack([emb[r] for r in reps]).astype(np.float32)
    members = {group[0]: group for group in by_key.values()}
    dim = mat.shape[1]
    if len(reps) <= FLAT_LIMIT:
        index = faiss.IndexFlatIP(dim)
        index.add(mat)
        found_pairs = []
        for start in range(0, len(reps), 4096):
            lims, _, found = index.range_search(mat[start:start + 4096], threshold)
            for q in range(min(4096, len(reps) - start)):
                for j in found[lims[q]:lims[q + 1]]:
                    found_pairs.append((start + q, int(j)))
    else:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = 64
        index.add(mat)
        sims, found = index.search(mat, TEXT_NEIGHBOURS)
        found_pairs = [(q, int(j)) for q in range(len(reps))
                       for s, j in zip(sims[q], found[q]) if j >= 0 and s >= threshold]
    for q, j in found_pairs:
        if q < j:
            for a in members[reps[q]]:
                for b in members[reps[j]]:
                    add(a, b)
    return pairs


# ---------------------------------------------------------------------------------------
# pass 2: embeddings and fine image features, only for rows that need them


def read_rows(datasets: Sequence[DatasetDir], rows: Rows, wanted: set[int],
              columns: list[str]) -> Iterator[tuple[int, dict]]:
    """(row index, row) for the wanted rows, streaming each dataset once."""
    by_ds: dict[int, dict[int, int]] = defaultdict(dict)
    for r in wanted:
        by_ds[rows.ds[r]][rows.pos[r]] = r
    for d, positions in sorted(by_ds.items()):
        pos = 0
        for batch in datasets[d].iter_batches(columns=columns, batch_size=256):
            n = batch.num_rows
            hits = [p for p in range(pos, pos + n) if p in positions]
            if hits:
                table = batch.take(np.array([p - pos for p in hits]))
                for p, row in zip(hits, table.to_pylist()):
                    yield positions[p], row
            pos += n


class FeatureStore:
    """Fine-comparison thumbnails of candidate images, on disk (PNG in SQLite) so memory
    stays bounded however many candidates there are; a small LRU keeps hot ones decoded."""

    def __init__(self, path: Path, lru: int = 4096):
        path.unlink(missing_ok=True)
        self.db = sqlite3.connect(str(path))
        self.db.execute("CREATE TABLE f (img INTEGER PRIMARY KEY, png BLOB)")
        self.cache: dict[int, np.ndarray | None] = {}
        self.lru = lru

    def put_many(self, items: list[tuple[int, np.ndarray | None]]) -> None:
        from PIL import Image
        rows = []
        for i, arr in items:
            if arr is None:
                rows.append((i, None))
                continue
            buf = io.BytesIO()
            Image.fromarray(arr).save(buf, format="PNG", compress_level=1)
            rows.append((i, buf.getvalue()))
        self.db.executemany("INSERT OR REPLACE INTO f VALUES (?, ?)", rows)
        self.db.commit()

    def get(self, i: int) -> np.ndarray | None:
        if i in self.cache:
            return self.cache[i]
        from PIL import Image
        row = self.db.execute("SELECT png FROM f WHERE img = ?", (i,)).fetchone()
        arr = None if row is None or row[0] is None else np.asarray(Image.open(io.BytesIO(row[0])))
        if len(self.cache) >= self.lru:
            self.cache.pop(next(iter(self.cache)))
        self.cache[i] = arr
        return arr

    def close(self) -> None:
        self.db.close()


# ---------------------------------------------------------------------------------------
# verification


class UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def images_match(rows: Rows, a: int, b: int, th: Thresholds, fine_of) -> tuple[bool, int, float]:
    """Every image of `a` pairs one-to-one with an image of `b` (order may differ)."""
    left, right = rows.row_images[a], rows.row_images[b]
    used: set[int] = set()
    worst_d, worst_f = 0, 1.0
    for i in left:
        best = None
        for j in right:
            if j in used:
                continue
            if rows.img_sha[i] == rows.img_sha[j]:
                best = (j, 0, 1.0)
                break
            pi, pj = rows.img_phash[i], rows.img_phash[j]
            if pi < 0 or pj < 0:
                continue
            d = img_mod.hamming(pi, pj)
            if d > th.image:
                continue
            f = fine_of(i, j)
            if f >= th.fine and (best is None or f > best[2]):
                best = (j, d, f)
        if best is None:
            return False, worst_d, worst_f
        used.add(best[0])
        worst_d, worst_f = max(worst_d, best[1]), min(worst_f, best[2])
    return True, worst_d, worst_f


def _images_conflict(rows: Rows, a: int, b: int, th: Thresholds, fine_result) -> bool:
    """Two one-image rows whose figures were compared and found clearly different: a
    cannot-link, so that no chain of weaker matches (through a downscaled copy, say) puts
    them in one cluster."""
    if len(rows.row_images[a]) != 1 or len(rows.row_images[b]) != 1:
        return False
    i, j = rows.row_images[a][0], rows.row_images[b][0]
    pi, pj = rows.img_phash[i], rows.img_phash[j]
    if pi < 0 or pj < 0 or img_mod.hamming(pi, pj) > th.image:
        return False
    score, decisive = fine_result(i, j)
    return decisive and score < th.conflict


def cluster_links(rows: Rows, links: list[Edge], conflicts: set[tuple[int, int]],
                  stats: Counter) -> UnionFind:
    """Union-find over the duplicate links, strongest first, never joining two clusters
    between which a conflict (a cannot-link) exists. The order depends on the evidence and
    the row ids only, so the clusters do not depend on the order of inputs or rows."""
    uf = UnionFind(len(rows))
    members: dict[int, set[int]] = {}
    against: dict[int, set[int]] = defaultdict(set)
    for a, b in conflicts:
        against[a].add(b)
        against[b].add(a)

    def strength(e: Edge):
        lo, hi = sorted((rows.ids[e.a], rows.ids[e.b]))
        return (-(e.fine if e.fine is not None else 1.0), -e.cosine, lo, hi)

    for e in sorted(links, key=strength):
        ra, rb = uf.find(e.a), uf.find(e.b)
        if ra == rb:
            continue
        ma, mb = members.get(ra, {ra}), members.get(rb, {rb})
        if against and any(against[m] & mb for m in ma if m in against):
            stats["links_refused_by_conflict"] += 1
            continue
        uf.union(ra, rb)
        root = uf.find(ra)
        members.pop(ra, None)
        members.pop(rb, None)
        members[root] = ma | mb
    stats["image_conflicts"] = len(conflicts)
    return uf


def text_similarity(rows: Rows, emb: dict[int, np.ndarray], a: int, b: int) -> float | None:
    """Cosine of the two texts (1.0 when their normalised texts are equal), None when the
    guards disagree (different numbers, letters, antonyms or negations)."""
    if rows.tkey[a] == rows.tkey[b]:
        return 1.0
    if rows.g_main[a] != rows.g_main[b]:
        return None
    la, lb = rows.g_letters[a], rows.g_letters[b]
    if la is not None and lb is not None and la != lb:
        return None
    return float(np.dot(emb[a], emb[b]))


def spread_contamination(members: dict[int, list[int]], contaminated: dict[int, Edge],
                         ids: list[str]) -> dict[int, int]:
    """Every member of a cluster holding a benchmark match is contaminated too (through the
    member with the smallest id); `contaminated` is extended in place. Returns row → that
    member."""
    via: dict[int, int] = {}
    for ms in members.values():
        hits = sorted((m for m in ms if m in contaminated), key=lambda m: ids[m])
        for m in ms if hits else ():
            if m not in contaminated:
                contaminated[m], via[m] = contaminated[hits[0]], hits[0]
    return via


@dataclass
class Decision:
    """Rows to drop (and why) and the cluster of every row in a cluster of two or more."""

    rows: Rows
    n_inputs: int
    cluster_of: dict[int, int]            # row -> cluster root (inputs only)
    members: dict[int, list[int]]         # root -> member rows
    survivor: dict[int, int | None]       # root -> kept row (None: every member contaminated)
    edges: dict[tuple[int, int], Edge]
    contaminated: dict[int, Edge]         # row -> its closest benchmark match
    stats: Counter
    # row -> the member of its cluster that matches a benchmark: a duplicate of a
    # contaminated row is contaminated too (else its cluster would keep a copy)
    contaminated_via: dict[int, int] = field(default_factory=dict)

    def cluster_name(self, root: int) -> str:
        return min(self.rows.ids[m] for m in self.members[root])

    def reason(self, r: int) -> str | None:
        rows = self.rows
        if r in self.contaminated:
            e = self.contaminated[r]
            other = e.b if e.a == r else e.a
            via = self.contaminated_via.get(r)
            through = f" via {rows.ids[via]}" if via is not None else ""
            return f"contaminated: matches {rows.ids[other]}{through} ({_evidence(e)})"
        root = self.cluster_of.get(r)
        if root is None or self.survivor[root] in (None, r):
            return None
        keep = self.survivor[root]
        e = self.edges.get((min(r, keep), max(r, keep)))
        via = ""
        if e is None:  # joined the cluster through another member: cite that link
            e = max((x for k, x in self.edges.items() if r in k and
                     self.cluster_of.get(k[0]) == root and self.cluster_of.get(k[1]) == root),
                    key=lambda x: (x.fine or 1.0) + x.cosine)
            other = e.b if e.a == r else e.a
            via = f" via {rows.ids[other]}"
        return f"duplicate of {rows.ids[keep]}{via}: {_evidence(e)}"


def _evidence(e: Edge) -> str:
    if e.image_distance is None:
        return f"text cosine {e.cosine:.3f}"
    return f"image distance {e.image_distance}, fine {e.fine:.2f}, text cosine {e.cosine:.3f}"


KEEP_RULES = ("first", "most_images", "longest")


def survivor_order(rows: Rows, r: int, keep: str) -> tuple:
    base = (rows.ds[r], rows.pos[r])
    if keep == "most_images":
        return (-rows.n_images[r], *base)
    if keep == "longest":
        return (-rows.length[r], *base)
    return base


def find_duplicates(inputs: Sequence[DatasetDir], against: Sequence[DatasetDir], th: Thresholds,
                    *, keep: str = "first", embedder: text_mod.TextEmbedder,
                    workdir: Path) -> Decision:
    """Scan every row in this process, then `decide` (the stage scans in prepare units)."""
    stats: Counter = Counter()
    t0 = time.perf_counter()
    datasets = list(inputs) + list(against)
    rows = scan(datasets, stats)
    stats["rows_scanned"] = len(rows)
    stats["images_scanned"] = len(rows.img_row)
    stats["scan_s"] = round(time.perf_counter() - t0, 3)
    return decide(rows, datasets, len(inputs), th, keep=keep, embedder=embedder,
                  workdir=workdir, stats=stats, t0=t0)


def decide(rows: Rows, datasets: Sequence[DatasetDir], n_inputs: int, th: Thresholds, *,
           keep: str, embedder: text_mod.TextEmbedder, workdir: Path, stats: Counter,
           emb: dict[int, np.ndarray] | None = None, t0: float | None = None) -> Decision:
    """Candidates, verification and clusters over scanned rows. `emb` holds embeddings
    already computed (e.g. of text-only rows, by the prepare units); the rest of those
    needed are embedded here, reading only the rows that need them."""
    t0 = time.perf_counter() if t0 is None else t0
    emb = {} if emb is None else emb
    t = time.perf_counter()
    img_pairs = image_candidates(rows, th.image, n_inputs)
    stats["image_candidate_pairs"] = len(img_pairs)
    # embeddings: every text-only row (for search) and image-candidate rows whose texts differ
    need_emb = {r for r in range(len(rows)) if rows.n_images[r] == 0}
    for a, b in img_pairs:
        if rows.tkey[a] != rows.tkey[b] and rows.g_main[a] == rows.g_main[b]:
            need_emb.update((a, b))
    need_fine: set[int] = set()
    for a, b in img_pairs:
        for i in rows.row_images[a]:
            for j in rows.row_images[b]:
                if rows.img_sha[i] != rows.img_sha[j] and rows.img_phash[i] >= 0 and \
                        rows.img_phash[j] >= 0 and \
                        img_mod.hamming(rows.img_phash[i], rows.img_phash[j]) <= th.image:
                    need_fine.update((i, j))
    stats["candidates_s"] = round(time.perf_counter() - t, 3)

    need_emb.difference_update(emb)
    t = time.perf_counter()
    store = FeatureStore(workdir / "fine.sqlite")
    fine_rows = {rows.img_row[i] for i in need_fine}
    pending_text: list[tuple[int, str]] = []
    pending_img: list[tuple[int, np.ndarray | None]] = []

    def flush_text() -> None:
        if pending_text:
            vecs = embedder.embed([s for _, s in pending_text])
            for (r, _), v in zip(pending_text, vecs):
                emb[r] = v
            pending_text.clear()

    for r, row in read_rows(datasets, rows, need_emb | fine_rows,
                            ["images", "question", "choices"]):
        if r in need_emb:
            pending_text.append((r, text_mod.row_text(row["question"] or "", row["choices"])))
            if len(pending_text) >= 4 * embedder.batch_size:
                flush_text()
        if r in fine_rows:
            for k, i in enumerate(rows.row_images[r]):
                if i in need_fine:
                    data = (row["images"] or [])[k].get("bytes") or b""
                    pending_img.append((i, img_mod.fine_features(data)))
            if len(pending_img) >= 256:
                store.put_many(pending_img)
                pending_img.clear()
    flush_text()
    store.put_many(pending_img)
    stats["texts_embedded"] = embedder.computed
    stats["texts_from_cache"] = embedder.cached
    stats["features_s"] = round(time.perf_counter() - t, 3)

    t = time.perf_counter()
    text_pairs = text_candidates(rows, emb, th.text_only, n_inputs)
    stats["text_candidate_pairs"] = len(text_pairs)

    fine_cache: dict[tuple[int, int], tuple[float, bool]] = {}

    def fine_result(i: int, j: int) -> tuple[float, bool]:
        key = (min(i, j), max(i, j))
        if key not in fine_cache:
            a, b = store.get(key[0]), store.get(key[1])
            fine_cache[key] = (0.0, False) if a is None or b is None else \
                img_mod.fine_compare(a, b)
            stats["fine_comparisons"] += 1
        return fine_cache[key]

    def fine_of(i: int, j: int) -> float:
        return fine_result(i, j)[0]

    edges: dict[tuple[int, int], Edge] = {}
    conflicts: set[tuple[int, int]] = set()  # same text, clearly different figures
    for a, b in sorted(img_pairs):
        cos = text_similarity(rows, emb, a, b)
        if cos is None:
            stats["pairs_rejected_text_guard"] += 1
            continue
        if cos < th.text:
            stats["pairs_rejected_text_cosine"] += 1
            continue
        ok, d, f = images_match(rows, a, b, th, fine_of)
        if not ok:
            stats["pairs_rejected_image"] += 1
            if _images_conflict(rows, a, b, th, fine_result):
                conflicts.add((a, b))
            continue
        edges[(a, b)] = Edge(a, b, d, f, cos)
    for a, b in sorted(text_pairs):
        cos = text_similarity(rows, emb, a, b)
        if cos is None:
            stats["pairs_rejected_text_guard"] += 1
            continue
        if cos < th.text_only:
            continue
        edges[(a, b)] = Edge(a, b, None, None, cos)
    store.close()
    (workdir / "fine.sqlite").unlink(missing_ok=True)
    stats["verify_s"] = round(time.perf_counter() - t, 3)

    contaminated: dict[int, Edge] = {}
    links = []
    for (a, b), e in edges.items():
        bench_a, bench_b = rows.ds[a] >= n_inputs, rows.ds[b] >= n_inputs
        if bench_a or bench_b:
            r = b if bench_a else a
            old = contaminated.get(r)
            if old is None or e.cosine + (e.fine or 1.0) > old.cosine + (old.fine or 1.0):
                contaminated[r] = e
        else:
            links.append(e)
    uf = cluster_links(rows, links, conflicts, stats)
    members: dict[int, list[int]] = defaultdict(list)
    for r in range(len(rows)):
        if rows.ds[r] < n_inputs:
            members[uf.find(r)].append(r)
    members = {root: ms for root, ms in members.items() if len(ms) > 1}
    cluster_of = {r: root for root, ms in members.items() for r in ms}
    contaminated_via = spread_contamination(members, contaminated, rows.ids)
    stats["contaminated_via_cluster"] = len(contaminated_via)
    survivor = {}
    for root, ms in members.items():
        clean = [m for m in ms if m not in contaminated]
        survivor[root] = min(clean, key=lambda m: survivor_order(rows, m, keep)) if clean else None
    stats["clusters"] = len(members)
    stats["duplicates"] = sum(1 for root, ms in members.items() for m in ms
                              if m != survivor[root] and m not in contaminated)
    stats["contaminated"] = len(contaminated)
    stats["total_s"] = round(time.perf_counter() - t0, 3)
    return Decision(rows, n_inputs, cluster_of, members, survivor, edges, contaminated, stats,
                    contaminated_via)
