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
