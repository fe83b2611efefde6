"""Clustering with conflicts: no chain of weak matches joins two figures found different."""

import random
from collections import Counter

from omr_data.dedup.clusters import cluster_links
from omr_data.dedup.core import Edge, Rows


def _rows(ids):
    rows = Rows()
    rows.ids.extend(ids)
    return rows


def _partition(rows, uf):
    groups = {}
    for r in range(len(rows)):
        groups.setdefault(uf.find(r), set()).add(rows.ids[r])
    return {frozenset(g) for g in groups.values()}


def test_a_conflict_stops_a_chain_through_a_weak_copy():
    # 0 = original, 1 = its downscaled copy, 2 = the figure redrawn with another number:
    # the copy matches both (at its low resolution), the original and the redraw conflict
    rows = _rows(["orig", "small", "redrawn"])
    links = [Edge(0, 1, 2, 0.95, 1.0), Edge(1, 2, 4, 0.88, 1.0)]
    stats = Counter()
    uf = cluster_links(rows, links, {(0, 2)}, stats)
    assert _partition(rows, uf) == {frozenset({"orig", "small"}), frozenset({"redrawn"})}
    assert stats["links_refused_by_conflict"] == 1
    # without the conflict the chain joins all three
    uf = cluster_links(rows, links, set(), Counter())
    assert _partition(rows, uf) == {frozenset({"orig", "small", "redrawn"})}


def test_clusters_with_conflicts_do_not_depend_on_link_order():
    rng = random.Random(0)
    rows = _rows([f"r{i}" for i in range(8)])
    links = [Edge(a, b, 0, rng.uniform(0.85, 1.0), 1.0)
             for a in range(8) for b in range(a + 1, 8) if rng.random() < 0.5]
    conflicts = {(0, 7), (2, 5)}
    first = _partition(rows, cluster_links(rows, links, conflicts, Counter()))
    for _ in range(5):
        rng.shuffle(links)
        assert _partition(rows, cluster_links(rows, links, conflicts, Counter())) == first
    for a, b in conflicts:
        assert not any({f"r{a}", f"r{b}"} <= g for g in first)


def test_a_cluster_with_a_benchmark_match_is_contaminated_as_a_whole():
    from omr_data.dedup.clusters import spread_contamination
    bench_edge = Edge(0, 9, 0, 1.0, 1.0)               # row 0 matches benchmark row 9
    contaminated = {0: bench_edge}
    via = spread_contamination({0: [0, 1, 2], 3: [3, 4]}, contaminated,
                               ["a", "b", "c", "d", "e"] + ["x"] * 5)
    assert via == {1: 0, 2: 0}                           # its duplicates go too
    assert set(contaminated) == {0, 1, 2}                # the other cluster is untouched


def test_gpu_search_path_finds_the_same_pairs_as_the_range_search():
    """`knn_then_range` (the GPU path: k nearest, then an exact range search for queries
    whose k-th neighbour is still within the radius) gives the range search's pairs; run
    here with a CPU index standing in for the GPU one and a k small enough to overflow."""
    import faiss
    import numpy as np

    from omr_data.dedup.candidates import _packed, knn_then_range
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2**63, 40, dtype=np.uint64)
    flips = [np.uint64(1) << np.uint64(b) for b in rng.integers(0, 64, 400)]
    codes = np.array([base[i % 40] ^ flips[i] ^ flips[(7 * i) % 400] for i in range(400)],
                     dtype=np.uint64)          # 40 families of 10 codes a few bits apart
    packed = _packed(codes)
    index = faiss.IndexBinaryFlat(64)
    index.add(packed)
    lims, _, found = index.range_search(packed, 5)
    expected = {(q, int(j)) for q in range(400) for j in found[lims[q]:lims[q + 1]]}
    for k in (3, 8, 64):
        q, j = knn_then_range(index, index, packed, 4, k=k)
        assert set(zip(q.tolist(), j.tolist())) == expected, k


def test_device_cuda_without_a_gpu_is_refused_at_once():
    import pytest

    from omr_data.dedup.stage import DedupStage
    from omr_data.stage import ConfigError
    with pytest.raises(ConfigError, match="device cuda: no GPU"):
        DedupStage({"device": "cuda"}).check_inputs([])
