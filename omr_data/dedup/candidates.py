"""Candidate pairs, never all pairs, searched in units that each hold a bounded slice.

* Images: every decodable image's 64-bit pHash, its crops' pHashes and its row go into one
  small file (`write_codes`: 56 bytes per image plus 5 bytes per row, so 10M images fit in
  about 600 MB). A unit searches one slice of query images (wholes and crops) against all
  wholes (`image_slice_pairs`): a faiss binary index, exact (a flat scan up to
  `FLAT_LIMIT` codes, multi-index hashing with enough bit flips for the radius beyond).
  On a GPU (faiss-gpu, the `gpu` extra) a k-nearest search on the GPU answers each query,
  and a query whose k-th neighbour is still within the radius is searched again exactly
  on the CPU, so the pairs are the same (`knn_then_range`).
  Equal image bytes pair through `key_group_pairs`.
* Text-only rows: one representative per distinct normalized text; their embeddings live in
  one memory-mapped matrix, and a unit compares one block of representatives with another
  (`text_tile_pairs`: an exact inner product, in slabs), so a unit holds two blocks, not the
  matrix. Rows with equal normalized text pair through `key_group_pairs`.

The union of all units' pairs does not depend on how the work was sliced: every unit is an
exact search over its slice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

# Above this many codes, multi-index hashing replaces the flat scan. Measured here (2-core
# machine, radius 12): a flat query costs about 0.7 ms per million codes and grows with
# them; a multi-hash query about 4 ms whatever the size (it probes 4 x 697 buckets), so
# the flat scan is faster below about 5M codes (at 300k codes: 0.22 vs 4.0 ms per query).
FLAT_LIMIT = 5_000_000
IMAGE_QUERY_CHUNK = 65_536  # query images per candidate unit
TEXT_BLOCK = 8_192        # representatives per block of a text tile unit
_SLAB = 1_024             # rows of a block multiplied at once (a 1024 x 8192 float32 slab)


def key_group_pairs(groups: Iterable[Sequence[int]], is_bench: Callable[[int], bool],
                    add: Callable[[int, int], None]) -> None:
    """Pairs for groups of equal keys: a chain through the inputs (enough for clusters) and
    every input member with every benchmark member (contamination is a direct match)."""
    for group in groups:
        inputs = [g for g in group if not is_bench(g)]
        bench = [g for g in group if is_bench(g)]
        for k in range(1, len(inputs)):
            add(inputs[k - 1], inputs[k])
        for b in bench:
            for i in inputs:
                add(i, b)


# -- images ------------------------------------------------------------------------------

def write_codes(path: Path, img_phash, img_row: Sequence[int],
                n_images: Sequence[int], is_bench: Sequence[bool], img_alt=None,
                texts=None) -> int:
    """The search's whole input: pHash (and crops' pHashes, `img_alt`) and row of every
    decodable image, images per row and whether a row is a benchmark row. `img_phash`: a
    `core.Hashes`, or ints (-1: undecodable); `img_alt`: a `core.AltHashes`, or tuples;
    `texts`: the rows' text key, main guard, letter guard (uint8 matrices) and whether
    the letter guard is set, so that a unit drops pairs whose texts cannot match (as
    `pairs.texts_may_match`) before they reach the driver. Returns the number of codes."""
    if hasattr(img_phash, "valid"):
        decodable = np.flatnonzero(img_phash.valid)
        codes = img_phash.codes[decodable]
    else:
        decodable = np.array([i for i, p in enumerate(img_phash) if p >= 0], dtype=np.int64)
        codes = np.array([img_phash[i] for i in decodable], dtype=np.uint64)
    if img_alt is None:
        alt = np.zeros((len(decodable), 0), dtype=np.uint64)
    elif hasattr(img_alt, "codes"):
        alt = img_alt.codes[decodable]
    else:
        alt = np.array([img_alt[i] for i in decodable], dtype=np.uint64).reshape(len(decodable), -1)
    extra = {}
    if texts is not None:
        extra = dict(zip(("tkey", "g_main", "g_letters", "g_letters_ok"), texts))
    np.savez(path, codes=codes.astype(np.uint64), alt=alt.astype(np.uint64),
             row=np.asarray(img_row, dtype=np.int64)[decodable],
             n_images=np.asarray(n_images, dtype=np.int32),
             bench=np.asarray(is_bench, dtype=bool), **extra)
    return int(decodable.size)


def _packed(codes: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(codes.astype(">u8")).view(np.uint8).reshape(-1, 8)


KNN_K = 256  # neighbours per query on the GPU (a query with more within the radius is redone)


def gpu_count() -> int:
    """GPUs faiss can use (0 with faiss-cpu)."""
    import faiss
    return faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0


def knn_then_range(index, knn, queries: np.ndarray, threshold: int, k: int = KNN_K
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(query offset, code) of every code within `threshold` bits of each query, as a
    range search on `index` gives them, from a k-nearest search on `knn` (any faiss binary
    index over the same codes, a GPU one say): a query whose k-th neighbour is within the
    radius may have more, and is searched again with `index.range_search`."""
    k = min(k, index.ntotal)
    if k == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    dist, ids = knn.search(queries, k)
    hit = (dist <= threshold) & (ids >= 0)
    full = hit[:, -1]
    qi, kj = np.nonzero(hit & ~full[:, None])
    found_q, found = [qi.astype(np.int64)], [ids[qi, kj].astype(np.int64)]
    again = np.flatnonzero(full)
    if again.size:
        lims, _, more = index.range_search(queries[again], threshold + 1)
        found_q.append(np.repeat(again, np.diff(lims).astype(np.int64)))
        found.append(more.astype(np.int64))
    return np.concatenate(found_q), np.concatenate(found)


def _gpu_index(packed: np.ndarray):
    """A faiss binary flat index of `packed` on GPU 0."""
    import faiss
    index = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, faiss.IndexBinaryFlat(64))
    index.add(packed)
    return index


def image_slice_pairs(codes_path: Path, start: int, stop: int, threshold: int,
                      device: str = "cpu") -> np.ndarray:
    """Row pairs (a < b, as an (n, 2) int64 array, sorted, unique) whose images i in
    [start, stop) and j of the codes file are within `threshold` bits (j > i), or where a
    crop's pHash of i is within `threshold` bits of j's whole (any j != i): same number of
    images per row, different rows, not both benchmark rows, and (where the file holds the
    rows' text guards) texts that may match. `device` "cuda" searches on the GPU (the same
    pairs, see `knn_then_range`)."""
    import faiss

    data = np.load(codes_path)
    codes, row, n_images, bench = data["codes"], data["row"], data["n_images"], data["bench"]
    alt = data["alt"] if "alt" in data else np.zeros((len(codes), 0), np.uint64)
    texts = [data[k] for k in ("tkey", "g_main", "g_letters", "g_letters_ok")] \
        if "tkey" in data else None
    packed = _packed(codes)
    if codes.size <= FLAT_LIMIT:
        index = faiss.IndexBinaryFlat(64)
    else:  # 4 tables of 16 bits: a pair within t bits differs in <= t // 4 bits in one table
        index = faiss.IndexBinaryMultiHash(64, 4, 16)
        index.nflip = max(0, threshold // 4)
    index.add(packed)
    knn = _gpu_index(packed) if device == "cuda" else None
    found_pairs = []
    for lo in range(start, stop, 4096):
        hi = min(stop, lo + 4096)
        queries = [(packed[lo:hi], True)] + [(_packed(alt[lo:hi, k]), False)
                                             for k in range(alt.shape[1])]
        for q, whole in queries:
            if knn is None:
                lims, _, found = index.range_search(q, threshold + 1)
                offset = np.repeat(np.arange(hi - lo, dtype=np.int64),
                                   np.diff(lims).astype(np.int64))
            else:
                offset, found = knn_then_range(index, knn, q, threshold)
            query = lo + offset
            found = found.astype(np.int64)
            # a whole against a whole: each pair once (j > i); a crop against a whole:
            # both directions, since either image may be the cropped copy
            other = found > query if whole else found != query
            a, b = row[query[other]], row[found[other]]
            keep = (a != b) & (n_images[a] == n_images[b]) & ~(bench[a] & bench[b])
            a, b = a[keep], b[keep]
            if texts is not None:
                ok = _texts_may_match(texts, a, b)
                a, b = a[ok], b[ok]
            found_pairs.append(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1))
    return _unique_pairs(found_pairs)


def _texts_may_match(texts, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`pairs.texts_may_match` for arrays of row pairs: equal text keys, or equal main
    guards and letter guards that agree where both are set."""
    tkey, g_main, g_letters, letters_ok = texts
    same_text = (tkey[a] == tkey[b]).all(axis=1)
    letters = ~letters_ok[a] | ~letters_ok[b] | (g_letters[a] == g_letters[b]).all(axis=1)
    return same_text | ((g_main[a] == g_main[b]).all(axis=1) & letters)


def image_units(n_codes: int) -> list[tuple[int, int]]:
    """Query slices of the codes, one per candidate unit."""
    return [(lo, min(n_codes, lo + IMAGE_QUERY_CHUNK))
            for lo in range(0, n_codes, IMAGE_QUERY_CHUNK)] if n_codes >= 2 else []


# -- text-only rows ----------------------------------------------------------------------

def text_groups(tkeys: Sequence[bytes], text_rows: Iterable[int]) -> list[list[int]]:
    """Text-only rows grouped by normalized-text key, groups in order of first appearance."""
    by_key: dict[bytes, list[int]] = defaultdict(list)
    for r in text_rows:
        by_key[tkeys[r]].append(r)
    return list(by_key.values())


def text_tiles(n_reps: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Pairs of representative ranges (block i <= block j) covering every pair."""
    blocks = [(lo, min(n_reps, lo + TEXT_BLOCK)) for lo in range(0, n_reps, TEXT_BLOCK)] \
        if n_reps >= 2 else []
    return [(blocks[i], blocks[j]) for i in range(len(blocks)) for j in range(i, len(blocks))]


def text_tile_pairs(emb_path: Path, rep_slots: np.ndarray, left: tuple[int, int],
                    right: tuple[int, int], threshold: float) -> np.ndarray:
    """Representative pairs (q < j, q in `left`, j in `right`: ranges of representatives)
    whose embeddings' inner product is at least `threshold`, read from the memory-mapped
    embedding matrix a block at a time."""
    emb = np.load(emb_path, mmap_mode="r")
    ai, aj = np.arange(*left), np.arange(*right)
    block = np.asarray(emb[rep_slots[aj]], dtype=np.float32)
    out = []
    for lo in range(0, ai.size, _SLAB):
        q = ai[lo:lo + _SLAB]
        slab = np.asarray(emb[rep_slots[q]], dtype=np.float32)
        hit_q, hit_j = np.nonzero(slab @ block.T >= threshold)
        gq, gj = q[hit_q], aj[hit_j]
        later = gq < gj
        out.append(np.stack([gq[later], gj[later]], axis=1))
    return _unique_pairs(out)


def _unique_pairs(parts: list[np.ndarray]) -> np.ndarray:
    parts = [p for p in parts if p.size]
    if not parts:
        return np.zeros((0, 2), dtype=np.int64)
    return np.unique(np.concatenate(parts).astype(np.int64), axis=0)


def save_pairs(path: Path, pairs: np.ndarray) -> None:
    """Write a unit's pairs atomically (a rerun of the unit replaces the file whole)."""
    tmp = path.with_name(path.stem + ".tmp.npy")
    np.save(tmp, pairs)
    tmp.replace(path)
