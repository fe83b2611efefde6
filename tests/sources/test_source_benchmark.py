"""The benchmark adapter: each benchmark's layout detected by columns or named by a hint."""

from source_helpers import meta, png, read, write_image, write_parquet

IMG = {"bytes": png(), "path": None}


def _one(tmp_path, rows, name="part.parquet", **kw):
    path = write_parquet(tmp_path / "d" / name, rows)
    records, rejects = read("benchmark", path, **kw)
    return records, rejects


def test_mathvista_option_text_answer_maps_to_letter(tmp_path):
    records, _ = _one(tmp_path, [
        {"pid": "1", "question": "Which is largest?", "query": "Hint: … Which is largest?",
         "choices": ["3", "5", "7"], "answer": "7", "question_type": "multi_choice",
         "answer_type": "text", "image": "images/1.jpg", "decoded_image": IMG}])
    rec = records["benchmark/mathvista/1"]
    assert (rec["answer"], rec["answer_type"], rec["choices"]) == ("C", "choice", ["3", "5", "7"])
    assert len(rec["images"]) == 1 and meta(rec)["benchmark"] == "mathvista"


def test_mathvision_letter_answer_with_options_list(tmp_path):
    records, _ = _one(tmp_path, [
        {"id": "12", "question": "<image1>Which shape?", "options": ["A1", "B1", "C1", "D1", "E1"],
         "answer": "D", "decoded_image": IMG, "level": 2, "subject": "metric geometry"}])
    rec = records["benchmark/mathvision/12"]
    assert (rec["question"], rec["answer"]) == ("Which shape?", "D")


def test_mathverse_text_only_version_has_no_image(tmp_path):
    records, _ = _one(tmp_path, [
        {"sample_index": "5", "problem_index": "1", "problem_version": "Text Only",
         "question": "Find x.\nChoices:\nA:30\nB:60", "answer": "B", "image": "",
         "query_wo": "…", "query_cot": "…", "question_for_eval": "…"}])
    rec = records["benchmark/mathverse/5"]
    assert (rec["images"], rec["choices"], rec["answer"]) == ([], ["30", "60"], "B")


def test_dynamath_ground_truth_column_is_the_answer(tmp_path):
    records, _ = _one(tmp_path, [
        {"id": "0", "question_id": "q0", "question": "What is f(2)?", "ground_truth": "4.5",
         "answer_type": "float", "decoded_image": IMG}])
    assert records["benchmark/dynamath/0"]["answer"] == "4.5"


def test_wemath_option_string_is_parsed(tmp_path):
    records, _ = _one(tmp_path, [
        {"ID": "3steps_1", "key": "3steps_1", "question": "How long is AB?",
         "option": "A. 3cm; B. 4cm; C. 5cm; D. 6cm; E. No correct answer", "answer": "C",
         "image_path": IMG}])
    rec = records["benchmark/wemath/3steps_1"]
    assert rec["choices"][:3] == ["3cm", "4cm", "5cm"] and rec["answer"] == "C"


def test_logicvista_multi_select_answer_is_text(tmp_path):
    records, _ = _one(tmp_path, [
        {"id": "lv-1", "question": "Which apply?\nA. x\nB. y\nC. z", "answer": "A, C",
         "image": IMG, "reasoning": "…", "skill": ["deductive"]}])
    rec = records["benchmark/logicvista/lv-1"]
    assert (rec["answer"], rec["answer_type"]) == ("A, C", "text")


def test_mmmu_image_tokens_stripped_and_images_in_order(tmp_path):
    records, _ = _one(tmp_path, [
        {"id": "validation_Art_1", "question": "Compare <image 1> and <image 2>.",
         "options": "['left', 'right']", "answer": "B", "question_type": "multiple-choice",
         "image_1": {"bytes": png((1, 2, 3)), "path": None},
         "image_2": {"bytes": png((4, 5, 6)), "path": None}, "image_3": None}])
    rec = records["benchmark/mmmu/validation_Art_1"]
    assert rec["question"] == "Compare and ."
    assert [i["bytes"] for i in rec["images"]] == [png((1, 2, 3)), png((4, 5, 6))]
    assert rec["choices"] == ["left", "right"]


def test_mmmu_pro_vision_has_no_question_text(tmp_path):
    records, _ = _one(tmp_path, [
        {"id": "test_Art_9", "options": "['a', 'b', 'c']", "answer": "A", "image": IMG}],
        name="vision.parquet", split="mmmu_pro")
    rec = records["benchmark/mmmu_pro/test_Art_9"]
    assert (rec["question"], rec["answer"], len(rec["images"])) == ("", "A", 1)


def test_charxiv_gives_one_record_per_question(tmp_path):
    records, _ = _one(tmp_path, [
        {"figure_path": "images/42.jpg", "image": IMG, "reasoning_q": "Which line is highest?",
         "reasoning_a": "The red one", "descriptive_q1": "What is the x label?",
         "descriptive_a1": "Time", "descriptive_q2": None, "descriptive_a2": None,
         "original_id": "2301.0001", "subplot_loc": None}])
    assert sorted(records) == ["benchmark/charxiv/42/descriptive_1",
                               "benchmark/charxiv/42/reasoning"]


def test_benchmark_name_hint_from_folder_name(tmp_path):
    path = write_parquet(tmp_path / "MathVista" / "testmini-00000-of-00001.parquet", [
        {"pid": "9", "question": "How many?", "choices": None, "answer": "3",
         "decoded_image": IMG}])
    rec = read("benchmark", path)[0]["benchmark/mathvista/9"]
    assert meta(rec)["split"] == "testmini"


def test_benchmark_unknown_layout_is_rejected_with_columns(tmp_path):
    _, rejects = _one(tmp_path, [{"foo": 1}])
    assert rejects[0]["reason"].startswith("unknown benchmark layout: columns foo")


def test_mathvista_image_path_fallback_from_root(tmp_path):
    write_image(tmp_path / "d/images/1.jpg", fmt="JPEG")
    records, _ = _one(tmp_path, [{"pid": "1", "question": "Q", "choices": None, "answer": "1",
                                  "image": "images/1.jpg", "decoded_image": None}])
    assert records["benchmark/mathvista/1"]["images"][0]["path"] == "images/1.jpg"
