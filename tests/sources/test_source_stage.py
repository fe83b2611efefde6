"""The normalize stage: config checks, one unit per file, an end-to-end run."""

import pytest
from source_helpers import png, write_image, write_jsonl, write_parquet

from omr_data.runner import run_stage
from omr_data.sources.stage import NormalizeStage
from omr_data.stage import ConfigError
from omr_data.store import DatasetDir


def test_unknown_source_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown source 'llava'; known sources: llava_cot, "):
        NormalizeStage({"source": "llava"})


def test_missing_source_is_a_config_error():
    with pytest.raises(ConfigError, match="needs --source NAME"):
        NormalizeStage({})


def test_image_root_must_be_a_folder(tmp_path):
    with pytest.raises(ConfigError, match="is not a folder"):
        NormalizeStage({"source": "tqa", "image_root": str(tmp_path / "nope")})


def test_plan_is_one_unit_per_file_of_the_split(tmp_path):
    for name in ("train-00000-of-00002", "train-00001-of-00002", "test-00000-of-00001"):
        write_parquet(tmp_path / f"data/{name}.parquet", [{"id": "1"}])
    units = NormalizeStage({"source": "mmk12"}).plan([str(tmp_path)])
    assert [u.paths[0].rsplit("/", 1)[1] for u in units] == [
        "train-00000-of-00002.parquet", "train-00001-of-00002.parquet"]
    assert units[0].info["image_root"] == str(tmp_path.resolve())


def test_folder_without_data_files_is_a_config_error(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(ConfigError, match="no data files"):
        NormalizeStage({"source": "virl39k"}).check_inputs([str(tmp_path)])


def test_normalize_run_writes_records_and_rejects_with_reasons(tmp_path):
    src = tmp_path / "AlgoPuzzleVQA"
    write_image(src / "data/images/clock/clock_0000.jpg", fmt="JPEG")
    write_jsonl(src / "data/clock.json", [
        {"image": "images/clock/clock_0000.jpg", "question": "Time?", "answer": "4:23",
         "options": ["4:23", "3:13"], "solution": {}},
        {"image": "images/clock/clock_0404.jpg", "question": "Time?", "answer": "1:00",
         "options": ["1:00", "2:00"], "solution": {}},
    ], extra_lines=["{oops"])
    write_parquet(src / "data/maze.parquet", [
        {"image": {"bytes": png(), "path": "maze_0000.png"}, "question": "Steps?",
         "answer": "5", "options": ["4", "5"]}])
    result = run_stage(NormalizeStage({"source": "algopuzzlevqa"}), [src], tmp_path / "out",
                       progress=False)
    out = DatasetDir(tmp_path / "out")
    ids = sorted(r["id"] for r in out.iter_rows())
    assert ids == ["algopuzzlevqa/clock_0000", "algopuzzlevqa/maze_0000"]
    reasons = sorted(r["reason"].split(":")[0] for r in out.iter_rejects())
    assert reasons == ["malformed JSON", "missing image"]
    assert result.manifest["rows"] == 2 and result.manifest["rejected"] == 2


def test_hub_dataset_id_is_fingerprinted_by_name_and_split():
    from omr_data.runner import input_fingerprint
    from omr_data.sources.stage import NormalizeStage

    train = NormalizeStage({"source": "mmk12"})
    test = NormalizeStage({"source": "mmk12", "split": "test"})
    fp = input_fingerprint("FanqingM/MMK12", "files", train)
    assert fp == input_fingerprint("FanqingM/MMK12", "files", train)
    assert fp != input_fingerprint("FanqingM/MMK12", "files", test)
