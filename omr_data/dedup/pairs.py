"""Verifying candidate pairs, a batch at a time, in a unit that holds only that batch.

The driver writes each batch as two small files (`write_batch`): the pairs and the
signatures of the rows they touch. A unit (`verify_batch`) reads the images and texts it
still needs straight from the datasets (`RowReader`: only the row groups holding them),
computes fine image features and missing text embeddings, and decides each pair:

* images match when every image of one row pairs one-to-one with an image of the other
  (same bytes, or pHash within the radius *and* a fine score at the threshold);
* texts match when their normalized texts are equal, or their guards agree and their
  embeddings are close. Image rows need both; text-only rows a text match at
  `text_only_threshold`;
* two one-image rows with matching texts whose figures were compared and found clearly
  different become a cannot-link (`conflict`).

Each pair's verdict depends on the two rows only, so the batches can run anywhere, in any
order; the driver reads their verdicts back in batch order.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from omr_data.dedup import image as img_mod
from omr_data.dedup import text as text_mod
from omr_data.dedup.core import ALT_HASHES, Edge, Rows, Thresholds
from omr_data.store import DatasetDir

IMAGE_PAIRS_PER_BATCH = 512     # about 10 s of fine comparisons on one core
TEXT_PAIRS_PER_BATCH = 50_000   # a dot product each

BATCH_ROWS_SCHEMA = pa.schema([
    ("row", pa.int64()), ("ds", pa.int32()), ("pos", pa.int64()), ("tkey", pa.binary()),
    ("g_main", pa.binary()), ("g_letters", pa.binary()), ("n_images", pa.int32()),
    ("img_sha", pa.list_(pa.binary())), ("img_phash", pa.list_(pa.uint64())),   # null: undecodable
    ("img_alt", pa.list_(pa.uint64())),       # crop pHashes, image after image
    ("emb_slot", pa.int64()), ("bench", pa.bool_()),
])
BATCH_PAIRS_SCHEMA = pa.schema([("a", pa.int64()), ("b", pa.int64()), ("image", pa.bool_())])
VERDICT_SCHEMA = pa.schema([
    ("a", pa.int64()), ("b", pa.int64()), ("conflict", pa.bool_()),
    ("image_distance", pa.int32()), ("fine", pa.float64()), ("cosine", pa.float64()),
])


def texts_may_match(rows: Rows, a: int, b: int) -> bool:
    """False when the text guards alone rule the pair out (no embedding needed): such a
    pair can neither link nor conflict, so it never reaches a verification unit."""
    if rows.tkey[a] == rows.tkey[b]:
        return True
    if rows.g_main[a] != rows.g_main[b]:
        return False
    la, lb = rows.g_letters[a], rows.g_letters[b]
    return la is None or lb is None or la == lb


def image_pair_groups(pairs: Sequence[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """The pairs as connected components (each sorted), in order of their first pair: the
    pairs of one component go to one batch, where a pair already implied by strong links
    needs no fine comparison (see `decide_pairs`)."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for a, b in sorted(pairs):
        groups[find(a)].append((a, b))
    return sorted(groups.values(), key=lambda g: g[0])


def batches(image_pairs: Sequence[tuple[int, int]],
            text_pairs: Sequence[tuple[int, int]]) -> list[list[tuple[int, int, bool]]]:
    """Image pairs by connected component (a component stays in one batch unless it alone
    exceeds one), then sorted text pairs, cut into batches (the verdicts are read back in
    this order, which fixes the order of the edges)."""
    out: list[list[tuple[int, int, bool]]] = []
    batch: list[tuple[int, int, bool]] = []
    for group in image_pair_groups(image_pairs):
        if batch and len(batch) + len(group) > IMAGE_PAIRS_PER_BATCH:
            out.append(batch)
            batch = []
        for a, b in group:
            batch.append((a, b, True))
            if len(batch) >= IMAGE_PAIRS_PER_BATCH:
                out.append(batch)
                batch = []
    if batch:
        out.append(batch)
    pairs = sorted(text_pairs)
    for lo in range(0, len(pairs), TEXT_PAIRS_PER_BATCH):
        out.append([(a, b, False) for a, b in pairs[lo:lo + TEXT_PAIRS_PER_BATCH]])
    return out


def write_batch(directory: Path, name: str, pairs: list[tuple[int, int, bool]], rows: Rows,
                emb_slot: np.ndarray, n_inputs: int) -> None:
    involved = sorted({r for a, b, _ in pairs for r in (a, b)})
    table = pa.table({
        "row": involved, "ds": [rows.ds[r] for r in involved],
        "pos": [rows.pos[r] for r in involved], "tkey": [rows.tkey[r] for r in involved],
        "g_main": [rows.g_main[r] for r in involved],
        "g_letters": [rows.g_letters[r] for r in involved],
        "n_images": [rows.n_images[r] for r in involved],
        "img_sha": [[rows.img_sha[i] for i in rows.row_images[r]] for r in involved],
        "img_phash": [[rows.img_phash[i] if rows.img_phash[i] >= 0 else None
                       for i in rows.row_images[r]] for r in involved],
        "img_alt": [[c for i in rows.row_images[r] for c in
                     (rows.img_alt[i] or (0,) * ALT_HASHES)] for r in involved],
        "emb_slot": [int(emb_slot[r]) for r in involved],
        "bench": [rows.ds[r] >= n_inputs for r in involved],
    }, schema=BATCH_ROWS_SCHEMA)
    _write_atomic(table, directory / f"{name}.rows.parquet")
    a, b, image = zip(*pairs) if pairs else ((), (), ())
    _write_atomic(pa.table({"a": list(a), "b": list(b), "image": list(image)},
                           schema=BATCH_PAIRS_SCHEMA), directory / f"{name}.pairs.parquet")


def _write_atomic(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


class RowReader:
    """Rows by (dataset, position), reading only the row groups that hold them."""

    def __init__(self, datasets: Sequence[str]):
        self.datasets = list(datasets)
        self._layout: dict[int, list[tuple[Path, int, list[int]]]] = {}

    def _groups(self, d: int) -> list[tuple[Path, int, list[int]]]:
        """(shard, first row, first row of each row group) of dataset `d`."""
        if d not in self._layout:
            layout, start = [], 0
            for shard in DatasetDir(self.datasets[d]).shards:
                meta = pq.ParquetFile(shard).metadata
                starts, n = [], start
                for g in range(meta.num_row_groups):
                    starts.append(n)
                    n += meta.row_group(g).num_rows
                layout.append((Path(shard), start, starts + [n]))
                start = n
            self._layout[d] = layout
        return self._layout[d]

    def read(self, wanted: dict[int, tuple[int, int]], columns: list[str]
             ) -> Iterator[tuple[int, dict]]:
        """(key, row) for `wanted`: key -> (dataset, position)."""
        by_group: dict[tuple[int, int, int], list[tuple[int, int]]] = defaultdict(list)
        for key, (d, pos) in wanted.items():
            for s, (_, _, starts) in enumerate(self._groups(d)):
                if starts[0] <= pos < starts[-1]:
                    g = int(np.searchsorted(starts, pos, side="right")) - 1
                    by_group[(d, s, g)].append((pos - starts[g], key))
                    break
            else:
                raise IndexError(f"dedup: row {pos} is beyond {self.datasets[d]}; "
                                 "did the dataset change during the run?")
        for (d, s, g), hits in sorted(by_group.items()):
            shard = self._groups(d)[s][0]
            table = pq.ParquetFile(shard).read_row_group(g, columns=columns)
            hits.sort()
            picked = table.take(np.array([i for i, _ in hits])).to_pylist()
            for (_, key), row in zip(hits, picked):
                yield key, row


class FeatureStore:
    """Fine-comparison features of candidate images, on disk (raw array bytes with dtype and
    shape in SQLite: encoding them as PNG cost more than it saved) so memory stays bounded
    however many candidates there are; a small LRU keeps hot ones."""

    def __init__(self, path: Path, lru: int = 4096):
        path.unlink(missing_ok=True)
        self.db = sqlite3.connect(str(path))
        self.db.execute("CREATE TABLE f (img INTEGER PRIMARY KEY, dtype TEXT, shape TEXT, "
                        "data BLOB)")
        self.cache: dict[int, np.ndarray | None] = {}
        self.lru = lru

    def put_many(self, items: list[tuple[int, np.ndarray | None]]) -> None:
        rows = [(i, None, None, None) if arr is None else
                (i, arr.dtype.str, ",".join(map(str, arr.shape)),
                 np.ascontiguousarray(arr).tobytes()) for i, arr in items]
        self.db.executemany("INSERT OR REPLACE INTO f VALUES (?, ?, ?, ?)", rows)
        self.db.commit()

    def get(self, i: int) -> np.ndarray | None:
        if i in self.cache:
            return self.cache[i]
        row = self.db.execute("SELECT dtype, shape, data FROM f WHERE img = ?", (i,)).fetchone()
        arr = None if row is None or row[2] is None else \
            np.frombuffer(row[2], row[0]).reshape([int(n) for n in row[1].split(",")])
        if len(self.cache) >= self.lru:
            self.cache.pop(next(iter(self.cache)))
        self.cache[i] = arr
        return arr

    def close(self) -> None:
        self.db.close()


def image_distance(rows: Rows, i: int, j: int) -> int | None:
    """pHash bits between images i and j, wholes or a crop of either against the
    other's whole (`image.phash_distance`); None when either is undecodable."""
    pi, pj = rows.img_phash[i], rows.img_phash[j]
    if pi < 0 or pj < 0:
        return None
    return img_mod.phash_distance(pi, rows.img_alt[i], pj, rows.img_alt[j])


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
            d = image_distance(rows, i, j)
            if d is None or d > th.image:
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
    d = image_distance(rows, i, j)
    if d is None or d > th.image:
        return False
    score, decisive = fine_result(i, j)
    return decisive and score < th.conflict


def text_similarity(rows: Rows, emb: dict[int, np.ndarray], a: int, b: int) -> float | None:
    """Cosine of the two texts (1.0 when their normalized texts are equal), None when the
    guards disagree (different numbers, letters, antonyms or negations)."""
    if rows.tkey[a] == rows.tkey[b]:
        return 1.0
    if rows.g_main[a] != rows.g_main[b]:
        return None
    la, lb = rows.g_letters[a], rows.g_letters[b]
    if la is not None and lb is not None and la != lb:
        return None
    return float(np.dot(emb[a], emb[b]))


def verify_batch(directory: Path, name: str, datasets: Sequence[str], emb_path: Path,
                 th: Thresholds, embedder, stats: Counter) -> None:
    """Verdicts of one batch, written to `<name>.verdicts.parquet`: the duplicate links
    (a, b, evidence) and the cannot-links (conflict = true)."""
    t = time.perf_counter()
    table = pq.read_table(directory / f"{name}.rows.parquet", schema=BATCH_ROWS_SCHEMA)
    pairs = pq.read_table(directory / f"{name}.pairs.parquet", schema=BATCH_PAIRS_SCHEMA)
    cols = table.to_pydict()
    rows = Rows()     # this batch's rows, indexed locally
    rows.extend({"ds": cols["ds"], "pos": cols["pos"], "id": [str(r) for r in cols["row"]],
                 "source": [""] * len(cols["row"]), "n_images": cols["n_images"],
                 "length": [0] * len(cols["row"]), "tkey": cols["tkey"],
                 "g_main": cols["g_main"], "g_letters": cols["g_letters"],
                 "img_sha": cols["img_sha"],
                 "img_phash": cols["img_phash"], "img_alt": cols["img_alt"]})
    local = {g: k for k, g in enumerate(cols["row"])}
    todo = [(local[a], local[b], image) for a, b, image in zip(
        pairs.column("a").to_pylist(), pairs.column("b").to_pylist(),
        pairs.column("image").to_pylist())]

    # texts first: most image candidates fail on their text, and need no image features.
    # Text-only rows were embedded by the scan; rows with images are embedded here, only
    # those in a pair whose guards agree (at scale, a few percent of the rows: embedding
    # every row at the scan cost as much as decoding its image)
    emb: dict[int, np.ndarray] = {}
    slots = {k: s for k, s in enumerate(cols["emb_slot"]) if s >= 0}
    if slots:
        matrix = np.load(emb_path, mmap_mode="r")
        for k, s in slots.items():
            v = np.asarray(matrix[s], dtype=np.float32)
            emb[k] = v / (np.linalg.norm(v) + 1e-12)
    need_emb = {r for a, b, image in todo if image and rows.tkey[a] != rows.tkey[b]
                and rows.g_main[a] == rows.g_main[b] for r in (a, b) if r not in emb}
    reader = RowReader(datasets)
    if need_emb:
        texts = [(k, text_mod.row_text(row["question"] or "", row["choices"])) for k, row in
                 reader.read({k: (rows.ds[k], rows.pos[k]) for k in need_emb},
                             ["question", "choices"])]
        emb.update(embedder.embed_keyed(texts, stats))
    cosines = [text_similarity(rows, emb, a, b) for a, b, _ in todo]

    # fine features of the images that pairs with matching texts will compare
    need_fine: set[int] = set()
    for (a, b, image), cos in zip(todo, cosines):
        if not image or cos is None or cos < th.text:
            continue
        for i in rows.row_images[a]:
            for j in rows.row_images[b]:
                d = image_distance(rows, i, j)
                if rows.img_sha[i] != rows.img_sha[j] and d is not None and d <= th.image:
                    need_fine.update((i, j))
    store = FeatureStore(directory / f"{name}.fine.sqlite", lru=512)
    try:
        pending: list[tuple[int, np.ndarray | None]] = []
        fine_rows = {rows.img_row[i] for i in need_fine}
        for k, row in reader.read({k: (rows.ds[k], rows.pos[k]) for k in fine_rows}, ["images"]):
            for n, i in enumerate(rows.row_images[k]):
                if i in need_fine:
                    data = (row["images"] or [])[n].get("bytes") or b""
                    pending.append((i, img_mod.fine_features(data)))
            if len(pending) >= 128:
                store.put_many(pending)
                pending.clear()
        store.put_many(pending)
        stats["features_ms"] += int(1000 * (time.perf_counter() - t))

        t = time.perf_counter()
        verdicts = decide_pairs(rows, todo, cosines, store, th, stats, cols["bench"])
    finally:
        store.close()
        (directory / f"{name}.fine.sqlite").unlink(missing_ok=True)
    out: dict[str, list] = {k: [] for k in VERDICT_SCHEMA.names}
    for (a, b), (conflict, e) in verdicts:
        out["a"].append(cols["row"][a])
        out["b"].append(cols["row"][b])
        out["conflict"].append(conflict)
        out["image_distance"].append(None if e is None else e.image_distance)
        out["fine"].append(None if e is None else e.fine)
        out["cosine"].append(None if e is None else e.cosine)
    _write_atomic(pa.table(out, schema=VERDICT_SCHEMA), directory / f"{name}.verdicts.parquet")
    stats["verify_ms"] += int(1000 * (time.perf_counter() - t))


STRONG_FINE = 0.95   # an image link this sure makes further comparisons in its group redundant


def _pair_distance(rows: Rows, a: int, b: int) -> int:
    """The smallest pHash distance between an image of `a` and one of `b` (the order in
    which `decide_pairs` compares)."""
    best = 64
    for i in rows.row_images[a]:
        for j in rows.row_images[b]:
            if rows.img_sha[i] == rows.img_sha[j]:
                return 0
            d = image_distance(rows, i, j)
            if d is not None:
                best = min(best, d)
    return best


def decide_pairs(rows: Rows, todo: list[tuple[int, int, bool]], cosines: list[float | None],
                 store: FeatureStore, th: Thresholds, stats: Counter,
                 bench: Sequence[bool] | None = None
                 ) -> list[tuple[tuple[int, int], tuple[bool, Edge | None]]]:
    """((a, b), (conflict, edge)) for each pair that links or conflicts, in `todo` order;
    `cosines` are the pairs' `text_similarity`.

    Image pairs are compared closest pHash first, so the copies of one figure join through
    strong links (images at `STRONG_FINE` or more, or the same bytes; texts matching)
    before pairs across figures come up. Between input rows (not `bench`), a pair is not
    compared again when

    * strong links already join it: a group of k copies needs k - 1 fine comparisons, not
      k(k - 1)/2;
    * its two strong groups already hold a cannot-link (two figures found decisively
      different): the copies of one figure against the copies of another, a template
      question asked over both, need one comparison, not one per pair of copies (the
      clustering refuses a union across a cannot-link between any two of its members).

    A pair of an input row and a benchmark row is compared once per strong group: when one
    copy matched the benchmark row, the clustering contaminates every member of its
    cluster anyway (`clusters.spread_contamination`); when one copy was decisively
    different, so are the others.

    Weaker links imply nothing, so a figure redrawn with another number, linked by mistake
    to a degraded copy, is still compared with the others (and its conflicts found)."""
    fine_cache: dict[tuple[int, int], tuple[float, bool]] = {}
    strong: dict[int, int] = {}
    apart: set[tuple[int, int]] = set()     # strong-group roots with a cannot-link between
    bench_seen: set[tuple[int, int]] = set()  # (strong-group root, benchmark row) decided

    def root(x: int) -> int:
        while strong.get(x, x) != x:
            x = strong[x]
        return x

    def join(a: int, b: int) -> None:
        ra, rb = root(a), root(b)
        if ra == rb:
            return
        lo, hi = min(ra, rb), max(ra, rb)
        strong[hi] = lo
        for x, y in [p for p in apart if hi in p]:      # the cannot-links move to the root
            apart.discard((x, y))
            other = y if x == hi else x
            apart.add((min(lo, other), max(lo, other)))

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

    order = sorted(range(len(todo)), key=lambda k: (
        not todo[k][2], _pair_distance(rows, todo[k][0], todo[k][1]) if todo[k][2] else 0, k))
    verdict: dict[int, tuple[bool, Edge | None]] = {}
    for k in order:
        (a, b, image), cos = todo[k], cosines[k]
        if cos is None:
            stats["pairs_rejected_text_guard"] += 1
            continue
        if not image:
            if cos >= th.text_only:
                verdict[k] = (False, Edge(a, b, None, None, cos))
            continue
        if cos < th.text:
            stats["pairs_rejected_text_cosine"] += 1
            continue
        inputs = bench is None or not (bench[a] or bench[b])
        if inputs:
            ra, rb = root(a), root(b)
            if ra == rb:
                stats["pairs_implied_by_strong_links"] += 1
                continue
            if (min(ra, rb), max(ra, rb)) in apart:
                stats["pairs_implied_apart"] += 1
                continue
        else:
            seen_key = (root(b if bench[a] else a), a if bench[a] else b)
            if seen_key in bench_seen:
                stats["bench_pairs_implied"] += 1
                continue
        ok, d, f = images_match(rows, a, b, th, fine_of)
        if not ok:
            stats["pairs_rejected_image"] += 1
            if _images_conflict(rows, a, b, th, fine_result):
                verdict[k] = (True, None)
                if inputs:
                    ra, rb = root(a), root(b)
                    apart.add((min(ra, rb), max(ra, rb)))
                else:
                    bench_seen.add(seen_key)
            continue
        if not inputs:
            bench_seen.add(seen_key)
        if inputs and f >= STRONG_FINE:
            join(a, b)
        verdict[k] = (False, Edge(a, b, d, f, cos))
    return [((todo[k][0], todo[k][1]), verdict[k]) for k in sorted(verdict)]
