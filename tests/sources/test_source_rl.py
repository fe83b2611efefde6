"""RL sources: MMK12, ViRL39K, We-Math2.0 Standard/Pro, ThinkLite-VL, PuzzleVQA, AlgoPuzzleVQA."""

import pyarrow as pa
import pytest
from source_helpers import IMAGE_STRUCT, meta, png, read, write_image, write_jsonl, write_parquet

from omr_data.sources import SOURCES
from omr_data.sources.errors import SourceFileError

# -- MMK12 ---------------------------------------------------------------------------------

MMK12_SCHEMA = pa.schema([("id", pa.string()), ("question", pa.string()),
                          ("answer", pa.string()), ("subject", pa.string()),
                          ("image", IMAGE_STRUCT)])


@pytest.fixture
def mmk12(tmp_path):
    root = tmp_path / "MMK12"
    write_parquet(root / "data/train-00000-of-00001.parquet", [
        {"id": "k-1", "subject": "math", "question": "As shown, in △ABC, DE∥BC, AD=2, DB=3, "
         "DE=4, then BC=____.", "answer": "10", "image": {"bytes": png(), "path": "k1.png"}},
        {"id": "k-2", "subject": "math", "question": "Find y.", "answer": "",
         "image": {"bytes": png(), "path": None}},
        {"id": "k-3", "subject": "physics", "question": "Speed?", "answer": "3 m/s",
         "image": {"bytes": b"not an image", "path": "k3.png"}},
    ], MMK12_SCHEMA)
    write_parquet(root / "data/test-00000-of-00001.parquet", [
        {"id": "t-1", "subject": "chemistry", "question": "Which is a metal?\nA. $$O_2$$\n"
         "B、$$Fe$$\nC. $$N_2$$\nD. $$He$$", "answer": "B",
         "image": {"bytes": png(), "path": None}},
    ], MMK12_SCHEMA)
    return root


def test_mmk12_folder_reads_train_split_by_default(mmk12):
    files = SOURCES["mmk12"].discover(mmk12)
    assert [f.name for f in files] == ["train-00000-of-00001.parquet"]


def test_mmk12_test_split_only_when_asked(mmk12):
    files = SOURCES["mmk12"].discover(mmk12, split="test")
    assert [f.name for f in files] == ["test-00000-of-00001.parquet"]


def test_mmk12_train_row_keeps_id_image_struct_and_subject(mmk12):
    records, _ = read("mmk12", mmk12 / "data/train-00000-of-00001.parquet")
    rec = records["mmk12/k-1"]
    assert (rec["answer"], rec["answer_type"]) == ("10", "number")
    assert rec["images"][0]["path"] == "k1.png" and rec["images"][0]["bytes"] == png()
    assert meta(rec) == {"subject": "math", "split": "train"}


def test_mmk12_empty_answer_is_missing_answer(mmk12):
    _, rejects = read("mmk12", mmk12 / "data/train-00000-of-00001.parquet")
    assert [r["reason"] for r in rejects if r["id"] == "mmk12/k-2"] == ["missing answer"]


def test_mmk12_undecodable_image_bytes_are_rejected(mmk12):
    _, rejects = read("mmk12", mmk12 / "data/train-00000-of-00001.parquet")
    reject = [r for r in rejects if r["id"] == "mmk12/k-3"][0]
    assert reject["reason"].startswith("unreadable image: k3.png")
    assert "<12 bytes>" in reject["raw"] and "not an image" not in reject["raw"]


def test_mmk12_test_options_in_lines_parse_to_choices(mmk12):
    rec = read("mmk12", mmk12 / "data/test-00000-of-00001.parquet")[0]["mmk12/t-1"]
    assert rec["question"] == "Which is a metal?"
    assert rec["choices"] == ["$$O_2$$", "$$Fe$$", "$$N_2$$", "$$He$$"]
    assert (rec["answer"], rec["answer_type"]) == ("B", "choice")


# -- ViRL39K -------------------------------------------------------------------------------

@pytest.fixture
def virl(tmp_path):
    write_image(tmp_path / "images/Processed-1a2b-0.jpg", fmt="JPEG")
    write_image(tmp_path / "images/MMK12-9-0.png")
    write_image(tmp_path / "images/MMK12-9-1.png", color=(0, 0, 255))
    rows = [
        {"question": "<image>Which bar is tallest? A. red B. blue C. green",
         "answer": "\\boxed{B}", "PassRate_32BTrained": 0.5, "PassRate_7BBase": 0.25,
         "category": "Tables/Diagrams/Charts", "source": "Processed", "qid": "Processed-1a2b",
         "image": ["images/Processed-1a2b-0.jpg"]},
        {"question": "<image><image>As shown, AB∥CD, ∠1=40°, find ∠2.",
         "answer": "\\boxed{40^{\\circ}}", "PassRate_32BTrained": 1.0, "PassRate_7BBase": 0.5,
         "category": "(GradeSchool) Geometric", "source": "MMK12", "qid": "MMK12-9",
         "image": ["images/MMK12-9-0.png", "images/MMK12-9-1.png"]},
        {"question": "Compute $\\int_0^1 x\\,dx$.", "answer": "\\boxed{\\frac{1}{2}}",
         "PassRate_32BTrained": 0.9, "PassRate_7BBase": 0.1, "category": "Broader STEM Topics",
         "source": "DeepScaleR", "qid": "DeepScaleR-3", "image": []},
    ]
    return write_parquet(tmp_path / "39Krelease.parquet", rows)


def test_virl39k_boxed_letter_maps_to_inline_choices(virl):
    rec = read("virl39k", virl)[0]["virl39k/Processed-1a2b"]
    assert rec["question"] == "Which bar is tallest?"
    assert rec["choices"] == ["red", "blue", "green"]
    assert (rec["answer"], rec["answer_type"]) == ("B", "choice")


def test_virl39k_multi_image_paths_keep_order(virl):
    rec = read("virl39k", virl)[0]["virl39k/MMK12-9"]
    assert [i["path"] for i in rec["images"]] == ["images/MMK12-9-0.png", "images/MMK12-9-1.png"]
    assert rec["question"] == "As shown, AB∥CD, ∠1=40°, find ∠2."


def test_virl39k_degree_answer_is_number_with_unit(virl):
    rec = read("virl39k", virl)[0]["virl39k/MMK12-9"]
    assert (rec["answer"], rec["answer_type"], meta(rec)["unit"]) == ("40", "number", "°")


def test_virl39k_pass_rates_go_to_meta(virl):
    m = meta(read("virl39k", virl)[0]["virl39k/MMK12-9"])
    assert (m["PassRate_32BTrained"], m["PassRate_7BBase"], m["source"]) == (1.0, 0.5, "MMK12")


def test_virl39k_text_only_latex_answer_is_expression(virl):
    rec = read("virl39k", virl)[0]["virl39k/DeepScaleR-3"]
    assert (rec["answer"], rec["answer_type"], rec["images"]) == ("\\frac{1}{2}", "expression", [])


# -- We-Math2.0 Standard / Pro --------------------------------------------------------------

def test_wemath2_standard_reads_standard_split_with_row_ids(tmp_path):
    root = tmp_path / "std"
    write_parquet(root / "data/standard-00000-of-00001-abc.parquet", [
        {"idx": 3, "question": "Find the area. A. 3; B. 4; C. 5; D. 6", "answer": "C",
         "image": {"bytes": png(), "path": None}}])
    files = SOURCES["wemath2_standard"].discover(root)
    rec = read("wemath2_standard", files[0])[0]["wemath2_standard/standard-0"]
    assert rec["choices"] == ["3", "4", "5", "6"] and rec["answer"] == "C"
    assert meta(rec)["idx"] == 3


@pytest.fixture
def wemath_pro(tmp_path):
    schema = pa.schema([("idx", pa.int64()), ("question_id", pa.int64()),
                        ("question", pa.string()), ("image", IMAGE_STRUCT),
                        ("difficulty", pa.string()), ("knowledge points", pa.list_(pa.string())),
                        ("answer", pa.string())])
    return write_parquet(tmp_path / "data/pro-00000-of-00002.parquet", [
        {"idx": 11, "question_id": 2, "question": "What is the perimeter?",
         "image": {"bytes": png(), "path": None}, "difficulty": "b",
         "knowledge points": ["perimeter"], "answer": "12 cm"},
        {"idx": 12, "question_id": 2, "question": "", "image": {"bytes": png(), "path": None},
         "difficulty": "c", "knowledge points": [], "answer": "3"},
    ], schema)


def test_wemath2_pro_id_is_question_id_and_difficulty_with_fields_in_meta(wemath_pro):
    rec = read("wemath2_pro", wemath_pro)[0]["wemath2_pro/2-b"]
    assert meta(rec)["idx"] == 11
    assert (rec["answer"], meta(rec)["unit"]) == ("12", "cm")
    assert meta(rec)["question_id"] == 2 and meta(rec)["difficulty"] == "b"
    assert meta(rec)["knowledge points"] == ["perimeter"]


def test_wemath2_pro_empty_question_is_rejected(wemath_pro):
    _, rejects = read("wemath2_pro", wemath_pro)
    assert [(r["id"], r["reason"]) for r in rejects] == [("wemath2_pro/2-c", "missing question")]


def test_wemath2_pro_folder_without_pro_split_names_the_splits(tmp_path):
    write_parquet(tmp_path / "data/train-00000-of-00001.parquet", [{"question": "q"}])
    with pytest.raises(SourceFileError, match="found split\\(s\\): train"):
        SOURCES["wemath2_pro"].discover(tmp_path)


# -- ThinkLite-VL ----------------------------------------------------------------------------

@pytest.fixture
def thinklite(tmp_path):
    schema = pa.schema([("id", pa.string()), ("problem", pa.string()), ("answer", pa.string()),
                        ("image", pa.binary())])
    return write_parquet(tmp_path / "ThinkLite-VL-Hard-11k.parquet", [
        {"id": "tl-1", "problem": "<image>Hint: Please answer the question and provide the "
         "correct option letter at the end.\nQuestion: How many objects are left? "
         "Choices: (A) 3 (B) 5", "answer": "B", "image": png()},
        {"id": "tl-2", "problem": "<image>Is the cube red?", "answer": "Yes", "image": png()},
        {"id": "tl-3", "problem": "<image>Q", "answer": "E",
         "image": png()},
    ], schema)


def test_thinklite_raw_image_bytes_become_struct_without_path(thinklite):
    rec = read("thinklite_vl", thinklite)[0]["thinklite_vl/tl-1"]
    assert rec["images"] == [{"bytes": png(), "path": None}]


def test_thinklite_choices_after_hint_and_question(thinklite):
    rec = read("thinklite_vl", thinklite)[0]["thinklite_vl/tl-1"]
    assert rec["question"].startswith("Hint: Please answer")
    assert rec["question"].endswith("How many objects are left?")
    assert (rec["choices"], rec["answer"]) == (["3", "5"], "B")


def test_thinklite_yes_no_answer_is_lowercase(thinklite):
    rec = read("thinklite_vl", thinklite)[0]["thinklite_vl/tl-2"]
    assert (rec["answer"], rec["answer_type"]) == ("yes", "yes_no")


def test_thinklite_bare_letter_without_options_is_text(thinklite):
    rec = read("thinklite_vl", thinklite)[0]["thinklite_vl/tl-3"]
    assert (rec["answer"], rec["answer_type"], rec["choices"]) == ("E", "text", None)


# -- PuzzleVQA / AlgoPuzzleVQA ---------------------------------------------------------------

@pytest.fixture
def puzzle_git(tmp_path):
    root = tmp_path / "PuzzleVQA"
    write_image(root / "images/color_hexagon/color_hexagon_0000.png")
    write_jsonl(root / "data/color_hexagon.json", [
        {"image": "images/color_hexagon/color_hexagon_0000.png",
         "question": "What is the missing color of the part denoted with a question mark?",
         "answer": "blue", "options": ["yellow", "purple", "blue", "orange"],
         "caption": "A hexagon.", "explanation": "Opposite parts match.", "deduction": "blue"},
        {"image": "images/color_hexagon/color_hexagon_0001.png", "question": "Q?",
         "answer": "red", "options": ["red", "green"], "caption": "", "explanation": "",
         "deduction": ""},
    ])
    return root


def test_puzzlevqa_git_jsonl_named_json_maps_answer_text_to_letter(puzzle_git):
    path = SOURCES["puzzlevqa"].discover(puzzle_git)[0]
    rec = read("puzzlevqa", path, image_root=puzzle_git)[0]["puzzlevqa/color_hexagon_0000"]
    assert rec["choices"] == ["yellow", "purple", "blue", "orange"]
    assert (rec["answer"], rec["answer_type"]) == ("C", "choice")
    assert meta(rec)["explanation"] == "Opposite parts match."


def test_puzzlevqa_missing_image_file_is_rejected(puzzle_git):
    path = SOURCES["puzzlevqa"].discover(puzzle_git)[0]
    _, rejects = read("puzzlevqa", path, image_root=puzzle_git)
    assert rejects[0]["reason"] == \
        "missing image: images/color_hexagon/color_hexagon_0001.png"


def test_puzzlevqa_hf_parquet_options_are_a_serialized_list(tmp_path):
    path = write_parquet(tmp_path / "data/train-00000-of-00001.parquet", [
        {"image": {"bytes": png(), "path": "size_cycle_0003.png"}, "category": "size_cycle",
         "question": "Which size?", "options": "['small', 'medium', 'large']",
         "answer": "large", "caption": "c", "explanation": "e", "deduction": "d"}])
    rec = read("puzzlevqa", path)[0]["puzzlevqa/size_cycle_0003"]
    assert (rec["choices"], rec["answer"]) == (["small", "medium", "large"], "C")


def test_algopuzzlevqa_without_options_keeps_time_answer_as_text(tmp_path):
    write_image(tmp_path / "data/images/clock/clock_0000.jpg", fmt="JPEG")
    path = write_jsonl(tmp_path / "data/clock.json", [
        {"image": "images/clock/clock_0000.jpg", "question": "What will be the time?",
         "answer": "4:23", "solution": {"current_hour": 2}}])
    rec = read("algopuzzlevqa", path)[0]["algopuzzlevqa/clock_0000"]
    assert (rec["answer"], rec["answer_type"], rec["choices"]) == ("4:23", "text", None)
    assert meta(rec)["solution"] == {"current_hour": 2}


def test_algopuzzlevqa_answer_not_among_options_stays_text(tmp_path):
    write_image(tmp_path / "data/images/maze/maze_0000.jpg", fmt="JPEG")
    path = write_jsonl(tmp_path / "data/maze.json", [
        {"image": "images/maze/maze_0000.jpg", "question": "Steps?", "answer": "9",
         "options": ["4", "5", "6", "7"], "solution": {}}])
    rec = read("algopuzzlevqa", path)[0]["algopuzzlevqa/maze_0000"]
    assert (rec["answer"], rec["answer_type"]) == ("9", "text")


def test_mmk12_letter_answer_wins_over_identical_option_text():
    from omr_data.sources.answers import normalize_answer
    choices = ["C", "H", "O", "N"]
    assert normalize_answer("C", choices, letters_first=True).value == "C"
    assert normalize_answer("C", choices).value == "A"  # option-text sources (MathVista)
