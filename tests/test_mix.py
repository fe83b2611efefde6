import pytest

from omr_data.mix import MixStage
from omr_data.records import make_record
from omr_data.runner import run_stage
from omr_data.stage import ConfigError
from omr_data.store import DatasetDir, write_dataset


def _two_sources(tmp_path, name, n_a, n_b):
    rows = [make_record(source="a", source_id=str(i), question="q", answer="1",
                        answer_type="number") for i in range(n_a)]
    rows += [make_record(source="b", source_id=str(i), question="q", answer="1",
                         answer_type="number") for i in range(n_b)]
    return write_dataset(tmp_path / name, rows, max_rows=50)


def _sources(path):
    out = {}
    for row in DatasetDir(path).iter_rows(columns=["source"]):
        out[row["source"]] = out.get(row["source"], 0) + 1
    return out


def test_fraction_is_stratified_by_source(tmp_path):
    src = _two_sources(tmp_path, "in", 100, 300)
    result = run_stage(MixStage({"weights": ["0.5"]}), [src.path], tmp_path / "out",
                       progress=False)
    assert _sources(tmp_path / "out") == {"a": 50, "b": 150}
    assert result.manifest["rows"] + result.manifest["rejected"] == 400


def test_cap_limits_rows_and_never_oversamples(tmp_path):
    one = _two_sources(tmp_path, "one", 30, 0)
    two = _two_sources(tmp_path, "two", 0, 30)
    run_stage(MixStage({"weights": ["10", "1000"]}), [one.path, two.path], tmp_path / "out",
              progress=False)
    assert _sources(tmp_path / "out") == {"a": 10, "b": 30}


def test_same_seed_same_selection_other_seed_other(tmp_path):
    src = _two_sources(tmp_path, "in", 200, 0)
    ids = []
    for seed, out in ((0, "x"), (0, "y"), (1, "z")):
        run_stage(MixStage({"weights": ["0.3"]}), [src.path], tmp_path / out, seed=seed,
                  progress=False)
        ids.append([r["id"] for r in DatasetDir(tmp_path / out).iter_rows(columns=["id"])])
    assert ids[0] == ids[1] != ids[2]


def test_duplicate_ids_across_inputs_are_rejected_not_repeated(tmp_path):
    one = _two_sources(tmp_path, "one", 10, 0)
    run_stage(MixStage(), [one.path, one.path], tmp_path / "out", progress=False)
    out = DatasetDir(tmp_path / "out")
    assert out.num_rows == 10
    assert out.manifest["reject_reasons"] == {"duplicate id": 10}


def test_total_with_weights_normalizes(tmp_path):
    one = _two_sources(tmp_path, "one", 100, 0)
    two = _two_sources(tmp_path, "two", 0, 100)
    run_stage(MixStage({"weights": ["0.75", "0.25"], "total": 80}), [one.path, two.path],
              tmp_path / "out", progress=False)
    assert _sources(tmp_path / "out") == {"a": 60, "b": 20}


def test_bad_spec_is_a_clear_error():
    with pytest.raises(ConfigError, match="fraction like 0.5"):
        MixStage({"weights": ["lots"]})
    with pytest.raises(ConfigError, match="no oversampling"):
        MixStage({"weights": ["1.5"]})


def test_one_spec_per_input_is_required(tmp_path):
    one = _two_sources(tmp_path, "one", 5, 0)
    with pytest.raises(ConfigError, match="give one per input"):
        run_stage(MixStage({"weights": ["0.5", "0.5"]}), [one.path], tmp_path / "out",
                  progress=False)
