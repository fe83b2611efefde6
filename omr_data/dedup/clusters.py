"""Clusters from verified duplicate links, survivors, and contamination.

Union-find over the duplicate links among the inputs, strongest first, refusing any union
that would put two rows in one cluster whose texts match but whose figures were decisively
found different (a cannot-link: a redrawn figure must not join through a downscaled copy);
a survivor per cluster by `keep`; rows that match a benchmark row are contaminated, and so
is every other member of their cluster (a duplicate of a contaminated row would leak the
benchmark otherwise).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from omr_data.dedup.core import Edge, Rows


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

    def benchmark_row(self, e: Edge) -> int:
        """The benchmark end of a contamination link (a row contaminated through its
        cluster holds the link of the member that matched)."""
        return e.b if self.rows.ds[e.b] >= self.n_inputs else e.a

    def cluster_name(self, root: int) -> str:
        return min(self.rows.ids[m] for m in self.members[root])

    def reason(self, r: int) -> str | None:
        rows = self.rows
        if r in self.contaminated:
            e = self.contaminated[r]
            other = self.benchmark_row(e)
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


def cluster_decision(rows: Rows, edges: dict[tuple[int, int], Edge],
                     conflicts: set[tuple[int, int]], n_inputs: int, *, keep: str,
                     stats: Counter, t0: float | None = None) -> Decision:
    """The decision from verified links: benchmark links contaminate, the others cluster.
    `edges` must come in a fixed order (image pairs sorted, then text pairs sorted): a row's
    closest benchmark match is the first of the strongest."""
    t0 = time.perf_counter() if t0 is None else t0
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
