"""The demo recipe end to end (without training): the integration test of every stage."""

import json

import pytest

from omr_data.recipe import load_recipe, run_recipe
from omr_data.store import DatasetDir


@pytest.fixture(scope="module")
def demo_run(demo_workdir):
    import os
    work, reports = demo_workdir
    cwd = os.getcwd()
    os.chdir(work)
    try:
        again = run_recipe(load_recipe("pipelines/demo.yaml"), progress=False,
                           echo=lambda s: None)
    finally:
        os.chdir(cwd)
    return work, reports, again


def test_every_stage_accounts_for_every_input_row(demo_run):
    _, reports, _ = demo_run
    for report in reports:
        if report.result is None or report.result.manifest.get("rows_in") is None:
            continue
        m = report.result.manifest
        if m["stage"] == "distill":  # n traces per question
            assert m["rows"] + m["rejected"] == 8 * m["rows_in"], report.step.id
        else:
            assert m["rows"] + m["rejected"] == m["rows_in"], report.step.id


def test_rerun_of_the_demo_is_fully_cached(demo_run):
    _, _, again = demo_run
    assert all(r.result.cached for r in again if r.result is not None)


def test_published_sets_load_back_with_images(demo_run, monkeypatch):
    import datasets
    work, _, _ = demo_run
    monkeypatch.chdir(work / "hub")
    sft = datasets.load_dataset("omr/sft-874k", split="train")
    rl = datasets.load_dataset("omr/rl-74k", split="train")
    assert {"messages", "images", "id", "source"} <= set(sft.column_names)
    assert {"prompt", "images", "answer", "answer_type"} <= set(rl.column_names)
    with_image = next(row for row in rl if row["images"])
    assert hasattr(with_image["images"][0], "size")  # a decoded PIL image


def test_demo_dedup_removes_the_planted_duplicate_and_contamination(demo_run):
    work, _, _ = demo_run
    expected = json.loads((work / "samples" / "expected.json").read_text())
    rejects = {r["id"]: r["reason"] for r in DatasetDir(work / "runs/demo/rl").iter_rejects()}
    kept = {r["id"] for r in DatasetDir(work / "runs/demo/rl").iter_rows(columns=["id"])}
    for row_id in expected_contaminated(expected):
        assert row_id in rejects and "contaminat" in rejects[row_id]
    for pair in expected_duplicates(expected):
        assert len(set(pair) & kept) == 1, pair
    for item in expected["near_misses"]:  # hard negatives: both kept
        assert set(item["ids"]) <= kept, item


def expected_contaminated(expected):
    return [item["id"] for item in expected["contamination"]]


def expected_duplicates(expected):
    return [tuple(item["ids"]) for item in expected["duplicates"]]


def test_dedup_decisions_and_report_outlive_the_run(demo_run):
    work, _, _ = demo_run
    out = work / "runs/demo/rl"
    import pyarrow.parquet as pq
    decisions = pq.read_table(out / "dedup" / "decisions.parquet").to_pylist()
    removed = {r["id"] for r in DatasetDir(out).iter_rejects()}
    assert removed and removed <= {d["id"] for d in decisions}
    report = json.loads((out / "dedup" / "report.json").read_text())
    assert report["removed"]["contaminated"] == 2 and report["clusters"] >= 1
