"""The dedup stage end to end on a generated labelled set (see bench/dedup_labelled.py)."""

import random

import dedup_labelled as L
import pytest

from omr_data.dedup.stage import DedupStage
from omr_data.executors.local import LocalExecutor
from omr_data.records import make_record
from omr_data.runner import run_stage
from omr_data.stage import ConfigError
from omr_data.store import DatasetDir, write_dataset


def run(inputs, out, **config):
    stage = DedupStage(config)
    return run_stage(stage, inputs, out, executor=LocalExecutor(workers=1), progress=False)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    root = tmp_path_factory.mktemp("dedup")
    ls = L.build_labelled_set(15, seed=7, redrawn_negatives=False)
    inputs, against = L.write_inputs(ls, root, max_rows=40)
    cache = str(root / "cache")
    result = run(inputs, root / "out", against=against, cache_dir=cache)
    return ls, inputs, against, cache, root, result


def test_every_input_row_is_kept_or_rejected(labelled):
    ls, inputs, _, _, root, result = labelled
    cluster, reasons, kept = L.read_outcome(root / "out")
    ids = [r["id"] for rows in ls.inputs.values() for r in rows]
    assert sorted(kept | set(reasons)) == sorted(ids)
    assert not kept & set(reasons)
    assert result.manifest["rows"] + result.manifest["rejected"] == len(ids)


def test_reasons_name_the_duplicate_and_the_evidence(labelled):
    _, _, _, _, root, _ = labelled
    rejects = list(DatasetDir(root / "out").iter_rejects())
    dup = [r["reason"] for r in rejects if r["reason"].startswith("duplicate of ")]
    cont = [r["reason"] for r in rejects if r["reason"].startswith("contaminated: matches ")]
    assert dup and cont
    assert any("image distance" in r and "fine" in r and "text cosine" in r for r in dup)
    assert all("mathvista/" in r for r in cont)


def test_kept_rows_carry_their_cluster(labelled):
    _, _, _, _, root, result = labelled
    sizes = {}
    for row in DatasetDir(root / "out").iter_rows(columns=["id", "meta"]):
        meta = __import__("json").loads(row["meta"])
        sizes[row["id"]] = meta["dedup.cluster_size"]
        assert meta["dedup.cluster"]
    assert any(s > 1 for s in sizes.values())
    report = result.manifest["stats"]["dedup_report"]
    assert report["clusters"] > 0 and report["duplicates_by_source_pair"]
    assert report["examples"]


def test_hard_negatives_stay_apart(labelled):
    ls, _, _, _, root, _ = labelled
    cluster, _, _ = L.read_outcome(root / "out")
    together = [(a, b, why) for a, b, why in ls.hard_negatives if cluster[a] == cluster[b]]
    assert not together


def test_precision_and_recall_without_redrawn_templates(labelled):
    ls, _, _, _, root, _ = labelled
    cluster, reasons, _ = L.read_outcome(root / "out")
    precision, recall = L.precision_recall(L.pairs_from_clusters(cluster), ls.true_pairs())
    assert precision >= 0.99 and recall >= 0.95, (precision, recall)
    truth = ls.contaminated()
    flagged = {rid for rid, why in reasons.items() if why.startswith("contaminated")}
    cp, cr = L.precision_recall(flagged, set(truth))
    assert cp >= 0.99 and cr >= 0.95, (cp, cr)


def test_precision_and_recall_with_redrawn_templates(tmp_path):
    ls = L.build_labelled_set(10, seed=11)
    inputs, against = L.write_inputs(ls, tmp_path)
    run(inputs, tmp_path / "out", against=against, cache_dir=str(tmp_path / "c"))
    cluster, reasons, _ = L.read_outcome(tmp_path / "out")
    precision, recall = L.precision_recall(L.pairs_from_clusters(cluster), ls.true_pairs())
    assert precision >= 0.99 and recall >= 0.95, (precision, recall)
    redrawn = [(a, b) for a, b, why in ls.hard_negatives if why.startswith("same template")]
    assert redrawn and all(cluster[a] != cluster[b] for a, b in redrawn)
    flagged = {rid for rid, why in reasons.items() if why.startswith("contaminated")}
    assert flagged == set(ls.contaminated())


def test_clusters_do_not_depend_on_input_or_row_order(labelled, tmp_path):
    ls, inputs, against, cache, root, _ = labelled
    first, _, _ = L.read_outcome(root / "out")
    rng = random.Random(3)
    shuffled = []
    for name, rows in sorted(ls.inputs.items(), reverse=True):
        rows = list(rows)
        rng.shuffle(rows)
        shuffled.append(str(write_dataset(tmp_path / "in" / name, rows, max_rows=25).path))
    run(shuffled, tmp_path / "out", against=against, cache_dir=cache)
    second, _, _ = L.read_outcome(tmp_path / "out")

    def partition(cluster):
        groups = {}
        for rid, c in cluster.items():
            groups.setdefault(c, set()).add(rid)
        return {frozenset(g) for g in groups.values()}

    assert partition(first) == partition(second)


def test_embeddings_are_cached_across_runs(labelled):
    _, inputs, against, cache, root, first = labelled
    again = run(inputs, root / "out_again", against=against, cache_dir=cache, text_threshold=0.92)
    counters = again.manifest["stats"]["dedup_report"]["counters"]
    assert counters.get("texts_embedded", 0) == 0 and counters["texts_from_cache"] > 0


def _row(source, i, question, answer="1", images=()):
    return make_record(source=source, source_id=str(i), question=question, answer=answer,
                       answer_type="number", images=[{"bytes": b, "path": None} for b in images])


def test_keep_first_input_or_most_images(tmp_path):
    img = L.encode(L.render(L.random_spec(random.Random(1), "bar")))
    a = write_dataset(tmp_path / "a", [_row("a", 0, "What is the tallest bar?", images=[img])])
    b = write_dataset(tmp_path / "b", [_row("b", 0, "What is the tallest bar?", images=[img]),
                                       _row("b", 1, "Solve 2x + 3 = 7.")])
    c = write_dataset(tmp_path / "c", [_row("c", 0, "solve 2x+3=7")])
    run([b.path, a.path, c.path], tmp_path / "o1", cache_dir="none")
    _, reasons, kept = L.read_outcome(tmp_path / "o1")
    assert kept == {"b/0", "b/1"}
    assert reasons["a/0"].startswith("duplicate of b/0: image distance 0, fine 1.00")
    assert reasons["c/0"].startswith("duplicate of b/1: text cosine 1.000")
    run([c.path, b.path], tmp_path / "o2", cache_dir="none", keep="longest")
    _, _, kept = L.read_outcome(tmp_path / "o2")
    assert "b/1" in kept  # "Solve 2x + 3 = 7." is longer than "solve 2x+3=7"


def test_benchmark_fingerprint_is_part_of_the_cache_key(tmp_path):
    inp = write_dataset(tmp_path / "in", [_row("x", 0, "What is 2 + 2?")])
    b1 = write_dataset(tmp_path / "b1", [_row("bench", 0, "What is 3 + 3?")])
    b2 = write_dataset(tmp_path / "b2", [_row("bench", 0, "What is 2 + 2?")])
    s1, s2 = DedupStage({"against": [str(b1.path)]}), DedupStage({"against": [str(b2.path)]})
    assert s1.cache_key([inp.fingerprint]) != s2.cache_key([inp.fingerprint])
    result = run([inp.path], tmp_path / "out", against=[str(b2.path)], cache_dir="none")
    assert result.manifest["rejected"] == 1
    reason = next(DatasetDir(tmp_path / "out").iter_rejects())["reason"]
    assert reason == "contaminated: matches bench/0 (text cosine 1.000)"


def test_bad_config_is_refused_with_the_fix():
    with pytest.raises(ConfigError, match="keep"):
        DedupStage({"keep": "best"})
    with pytest.raises(ConfigError, match="image_threshold"):
        DedupStage({"image_threshold": 70})
    with pytest.raises(ConfigError, match="text_threshold"):
        DedupStage({"text_threshold": 1.5})
    with pytest.raises(ConfigError, match="against"):
        DedupStage({"against": ["/no/such/dir"]}).check_inputs([])


def test_help_on_every_config_field():
    from dataclasses import fields
    assert all(f.metadata.get("help") for f in fields(DedupStage.Config))
    assert set(DedupStage.cache_exclude) >= {"cache_dir", "embed_batch_size"}


# -- the scan in prepare units (one per input and benchmark shard) -------------------------


def _signature_files(out):
    return sorted((out / ".work" / "prepare" / "sig").glob("*.parquet"))


def test_one_signature_unit_per_input_and_benchmark_shard(labelled, tmp_path):
    _, inputs, against, _, _, _ = labelled
    stage = DedupStage({"against": against, "cache_dir": "none"})
    from omr_data.stage import StageContext
    units = stage.prepare_units(inputs, StageContext(workdir=tmp_path / "w"))
    shards = [s for p in inputs + against for s in DatasetDir(p).shards]
    assert [u.paths[0] for u in units] == [str(s) for s in shards]
    assert [u.info["benchmark"] for u in units] == \
        [i >= len(inputs) for i, p in enumerate(inputs + against) for _ in DatasetDir(p).shards]
    assert len({u.info["sig"] for u in units}) == len(units)


def test_same_output_with_one_or_two_workers(labelled, tmp_path):
    _, inputs, against, cache, root, first = labelled      # first: LocalExecutor(1)
    result = run_stage(DedupStage({"against": against, "cache_dir": cache}), inputs,
                       tmp_path / "out", executor=LocalExecutor(workers=2), progress=False)
    assert result.manifest["fingerprint"] == first.manifest["fingerprint"]
    import pyarrow.parquet as pq
    assert pq.read_table(tmp_path / "out" / "dedup" / "decisions.parquet").equals(
        pq.read_table(root / "out" / "dedup" / "decisions.parquet"))
    a, b = (r.manifest["stats"]["dedup_report"]["counters"] for r in (first, result))
    assert a["rows_scanned"] == b["rows_scanned"] and a["clusters"] == b["clusters"]


def test_a_failed_merge_resumes_without_rescanning(labelled, tmp_path, monkeypatch):
    _, inputs, against, cache, _, first = labelled
    out = tmp_path / "out"
    real_merge = DedupStage.prepare_merge

    def failing_merge(self, inputs, ctx):
        raise RuntimeError("merge died")

    monkeypatch.setattr(DedupStage, "prepare_merge", failing_merge)
    with pytest.raises(RuntimeError, match="merge died"):
        run(inputs, out, against=against, cache_dir=cache)
    files = _signature_files(out)
    shards = sum(len(DatasetDir(p).shards) for p in inputs + against)
    assert len(files) == shards
    stamps = {f.name: f.stat().st_mtime_ns for f in files}
    scanned = []
    real_unit = DedupStage.prepare_unit
    monkeypatch.setattr(DedupStage, "prepare_unit",
                        lambda self, unit, ctx: (scanned.append(unit.info["step"]),
                                                 real_unit(self, unit, ctx)))
    seen = {}

    def watching_merge(self, inputs, ctx):
        seen.update({f.name: f.stat().st_mtime_ns for f in _signature_files(out)})
        return real_merge(self, inputs, ctx)

    monkeypatch.setattr(DedupStage, "prepare_merge", watching_merge)
    result = run(inputs, out, against=against, cache_dir=cache)
    assert "scan" not in scanned and seen == stamps       # no signature unit ran again
    assert "verify" in scanned                             # the later rounds did
    assert result.manifest["fingerprint"] == first.manifest["fingerprint"]
    assert result.manifest["stats"]["dedup.rows_scanned"] == \
        first.manifest["stats"]["dedup.rows_scanned"]


def test_a_lost_signature_file_is_a_clear_error(labelled, tmp_path, monkeypatch):
    _, inputs, against, cache, _, _ = labelled
    out = tmp_path / "out"
    real_merge = DedupStage.prepare_merge

    def losing_merge(self, inputs, ctx):
        _signature_files(out)[0].unlink()
        return real_merge(self, inputs, ctx)

    monkeypatch.setattr(DedupStage, "prepare_merge", losing_merge)
    with pytest.raises(RuntimeError, match="signature file"):
        run(inputs, out, against=against, cache_dir=cache)


# -- candidates and verification in bounded units ----------------------------------------


def _decisions(out):
    import pyarrow.parquet as pq
    return pq.read_table(out / "dedup" / "decisions.parquet")


def test_slicing_the_search_and_the_verification_does_not_change_the_decision(
        labelled, tmp_path, monkeypatch):
    from omr_data.dedup import candidates, pairs
    _, inputs, against, cache, root, first = labelled
    monkeypatch.setattr(candidates, "IMAGE_QUERY_CHUNK", 7)     # tiny slices and tiles
    monkeypatch.setattr(candidates, "TEXT_BLOCK", 3)
    monkeypatch.setattr(pairs, "IMAGE_PAIRS_PER_BATCH", 5)
    monkeypatch.setattr(pairs, "TEXT_PAIRS_PER_BATCH", 2)
    steps = []
    real_unit = DedupStage.prepare_unit
    monkeypatch.setattr(DedupStage, "prepare_unit",
                        lambda self, unit, ctx: (steps.append(unit.info["step"]),
                                                 real_unit(self, unit, ctx)))
    result = run(inputs, tmp_path / "out", against=against, cache_dir=cache)
    assert steps.count("images") > 5 and steps.count("text") > 5 and steps.count("verify") > 5
    # the same clusters, actions and survivors; the evidence a reason cites may be another
    # verified link of the cluster (a pair implied by strong links in one batch is compared
    # directly where the batch was cut)
    decided = ["input", "pos", "id", "action", "cluster", "cluster_size", "duplicate_of"]
    assert _decisions(tmp_path / "out").select(decided).equals(
        _decisions(root / "out").select(decided))
    a, b = (r.manifest["stats"]["dedup_report"]["counters"] for r in (first, result))
    for key in ("image_candidate_pairs", "text_candidate_pairs", "clusters", "contaminated"):
        assert a[key] == b[key], key


def test_a_crash_while_verifying_resumes_with_the_finished_batches(labelled, tmp_path,
                                                                  monkeypatch):
    from omr_data.dedup import pairs
    _, inputs, against, cache, _, _ = labelled
    monkeypatch.setattr(pairs, "IMAGE_PAIRS_PER_BATCH", 10)
    # the uninterrupted run with the same batches (a reason may cite another link of its
    # cluster where the batches are cut elsewhere)
    first = run(inputs, tmp_path / "ref", against=against, cache_dir=cache)
    real_verify = pairs.verify_batch
    calls, crash = [], [True]

    def crashing_verify(directory, name, *args):
        calls.append(name)
        if crash[0] and len(calls) == 3:
            raise RuntimeError("worker died")
        return real_verify(directory, name, *args)

    monkeypatch.setattr(pairs, "verify_batch", crashing_verify)
    with pytest.raises(RuntimeError, match="worker died"):
        run(inputs, tmp_path / "out", against=against, cache_dir=cache)
    finished = calls[:2]
    calls.clear()
    crash[0] = False
    result = run(inputs, tmp_path / "out", against=against, cache_dir=cache)
    assert calls and not set(calls) & set(finished)           # only the missing batches
    assert result.manifest["fingerprint"] == first.manifest["fingerprint"]
    assert _decisions(tmp_path / "out").equals(_decisions(tmp_path / "ref"))


def test_a_benchmark_row_is_compared_once_per_group_of_copies(tmp_path):
    """Copies joined by strong links need one comparison with a benchmark row, not one
    each; all of them are still contaminated (through their cluster)."""
    import io

    figure = L.render(L.random_spec(random.Random(3), "table"))
    copies = []
    for level in (1, 6, 9):       # the same pixels in different bytes
        buf = io.BytesIO()
        figure.save(buf, format="PNG", compress_level=level)
        copies.append(buf.getvalue())
    question = "What is the value in the second row and third column?"
    inp = write_dataset(tmp_path / "in", [_row("in", i, question, images=[c])
                                          for i, c in enumerate(copies)])
    bench = write_dataset(tmp_path / "bench",
                          [_row("bench", 0, question, images=[L.encode(figure, "JPEG", 80)])])
    result = run([inp.path], tmp_path / "out", against=[str(bench.path)], cache_dir="none")
    _, reasons, kept = L.read_outcome(tmp_path / "out")
    assert kept == set()
    assert reasons["in/0"].startswith("contaminated: matches bench/0 (image distance 0")
    for i in (1, 2):      # the benchmark row, and the copy that matched it
        assert reasons[f"in/{i}"].startswith("contaminated: matches bench/0 via in/0 (")
    decisions = _decisions(tmp_path / "out").to_pylist()
    assert {d["duplicate_of"] for d in decisions} == {"bench/0"}
    counters = result.manifest["stats"]["dedup_report"]["counters"]
    assert counters["bench_pairs_implied"] == 2
