from omr_data.filters import FilterStage
from omr_data.records import load_meta, make_record
from omr_data.runner import run_stage
from omr_data.store import DatasetDir, write_dataset


def _traces(tmp_path, n_questions=3, n=8):
    rows = []
    for q in range(n_questions):
        for k in range(n):
            row = make_record(source="s", source_id=f"{q}#{k}", question="q", answer="1",
                              answer_type="number",
                              response="<think>" + "step " * (k * 5) + "</think><answer>1</answer>",
                              meta={"verify.pass_rate": q / 2})
            rows.append(row)
    return write_dataset(tmp_path / "in", rows, max_rows=7)


def _ids(path):
    return {r["id"] for r in DatasetDir(path).iter_rows(columns=["id"])}


def test_select_subsets_are_nested(tmp_path):
    src = _traces(tmp_path)
    subsets = {}
    for k in (1, 2, 4, 8):
        run_stage(FilterStage({"max_samples": k}), [src.path], tmp_path / f"x{k}", progress=False)
        subsets[k] = _ids(tmp_path / f"x{k}")
    assert [len(subsets[k]) for k in (1, 2, 4, 8)] == [3, 6, 12, 24]
    assert subsets[1] < subsets[2] < subsets[4] < subsets[8]


def test_difficulty_keeps_pass_rates_in_range_and_says_why(tmp_path):
    src = _traces(tmp_path)
    result = run_stage(FilterStage({"difficulty": "0.25:0.75"}), [src.path], tmp_path / "out",
                       progress=False)
    assert {r["id"].split("#")[0] for r in DatasetDir(tmp_path / "out").iter_rows()} == {"s/1"}
    assert result.manifest["reject_reasons"] == {"difficulty": 16}


def test_min_tokens_stores_the_score_in_meta(tmp_path):
    src = _traces(tmp_path, n_questions=1)
    run_stage(FilterStage({"min_tokens": 20}), [src.path], tmp_path / "out", progress=False)
    kept = list(DatasetDir(tmp_path / "out").iter_rows())
    assert kept and all(load_meta(r)["filter.tokens"] >= 20 for r in kept)
    rejected = list(DatasetDir(tmp_path / "out").iter_rejects())
    assert rejected and all(r["reason"].startswith("too short") for r in rejected)


def test_bad_difficulty_range_is_refused():
    import pytest

    from omr_data.stage import ConfigError
    with pytest.raises(ConfigError, match="LO:HI"):
        FilterStage({"difficulty": "easy"})


def test_sources_keeps_one_source_and_lists_the_rest_lightly(tmp_path):
    rows = [make_record(source=src, source_id=str(i), question="q", answer="1",
                        answer_type="number") for i in range(3) for src in ("a", "b")]
    src = write_dataset(tmp_path / "in", rows)
    run_stage(FilterStage({"sources": ["a"]}), [src.path], tmp_path / "out", progress=False)
    out = DatasetDir(tmp_path / "out")
    assert _ids(out.path) == {"a/0", "a/1", "a/2"}
    rejected = list(out.iter_rejects())
    assert {r["id"] for r in rejected} == {"b/0", "b/1", "b/2"}
    assert all(r["question"] is None and r["reason"].startswith("other source") for r in rejected)
