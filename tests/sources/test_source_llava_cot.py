"""LLaVA-CoT-100k: train.jsonl {id, image, conversations} with tagged traces."""

import pytest
from source_helpers import meta, read, write_image, write_jsonl

TRACE = ("<SUMMARY> I will find the capital. </SUMMARY>\n\n<CAPTION> The image shows a map of "
         "Alaska. </CAPTION>\n\n<REASONING> Juneau is the capital of Alaska. </REASONING>\n\n"
         "<CONCLUSION> Juneau is the capital of Alaska. The answer is B. </CONCLUSION>")


@pytest.fixture
def llava(tmp_path):
    write_image(tmp_path / "sqa/train/8125/image.png")
    write_image(tmp_path / "coco/train2017/000000136235.jpg", fmt="JPEG")
    rows = [
        {"id": "1ade7413", "image": "sqa/train/8125/image.png", "conversations": [
            {"from": "human", "value": "What is the capital of Alaska?\nContext: N/A\n"
             "Options: (A) Seattle (B) Juneau (C) Saint Paul (D) Anchorage"},
            {"from": "gpt", "value": TRACE}]},
        {"id": "multi-1", "image": "coco/train2017/000000136235.jpg", "conversations": [
            {"from": "human", "value": "<image>\nHow many dogs are there?"},
            {"from": "gpt", "value": "<SUMMARY>s</SUMMARY><CAPTION>c</CAPTION>"
             "<REASONING>two dogs</REASONING><CONCLUSION>2</CONCLUSION>"},
            {"from": "human", "value": "What color is the frisbee?\nA. red\nB. blue\n"
             "Answer with the option's letter from the given choices directly."},
            {"from": "gpt", "value": "<SUMMARY>s</SUMMARY><CAPTION>c</CAPTION>"
             "<REASONING>it is blue</REASONING><CONCLUSION>B</CONCLUSION>"}]},
        {"id": "no-img", "image": "sqa/missing.png", "conversations": [
            {"from": "human", "value": "Q?"}, {"from": "gpt", "value": TRACE}]},
        {"id": "no-tags", "image": "sqa/train/8125/image.png", "conversations": [
            {"from": "human", "value": "Q?"}, {"from": "gpt", "value": "Just text."}]},
    ]
    return write_jsonl(tmp_path / "train.jsonl", rows, extra_lines=['{"id": "broken", '])


def test_llava_cot_id_is_source_slash_row_id(llava):
    records, _ = read("llava_cot", llava)
    assert "llava_cot/1ade7413" in records


def test_llava_cot_options_become_choices_and_letter_answer(llava):
    rec = read("llava_cot", llava)[0]["llava_cot/1ade7413"]
    assert rec["question"] == "What is the capital of Alaska?"
    assert rec["choices"] == ["Seattle", "Juneau", "Saint Paul", "Anchorage"]
    assert (rec["answer"], rec["answer_type"]) == ("B", "choice")


def test_llava_cot_context_na_is_stripped_and_raw_kept(llava):
    rec = read("llava_cot", llava)[0]["llava_cot/1ade7413"]
    assert "Context" not in rec["question"]
    assert "Context: N/A" in meta(rec)["raw_question"]


def test_llava_cot_trace_becomes_think_answer(llava):
    rec = read("llava_cot", llava)[0]["llava_cot/1ade7413"]
    assert rec["response"].startswith("<think>I will find the capital.")
    assert "Juneau is the capital of Alaska.</think>" in rec["response"]
    assert rec["response"].endswith("<answer>B</answer>")
    assert meta(rec)["source_trace"] == TRACE


def test_llava_cot_image_read_from_image_root(llava):
    rec = read("llava_cot", llava)[0]["llava_cot/1ade7413"]
    assert rec["images"][0]["path"] == "sqa/train/8125/image.png"
    assert rec["images"][0]["bytes"].startswith(b"\x89PNG")


def test_llava_cot_multi_turn_gives_one_record_per_turn(llava):
    records, _ = read("llava_cot", llava)
    first, second = records["llava_cot/multi-1_t1"], records["llava_cot/multi-1_t2"]
    assert (first["question"], first["answer"], first["answer_type"]) == \
        ("How many dogs are there?", "2", "number")
    assert second["choices"] == ["red", "blue"] and second["answer"] == "B"
    assert meta(second)["history"][0]["question"] == "How many dogs are there?"
    assert len(second["images"]) == 1


def test_llava_cot_missing_image_is_rejected(llava):
    _, rejects = read("llava_cot", llava)
    reasons = {r["id"]: r["reason"] for r in rejects}
    assert reasons["llava_cot/no-img"] == "missing image: sqa/missing.png"


def test_llava_cot_trace_without_conclusion_is_rejected(llava):
    _, rejects = read("llava_cot", llava)
    reasons = {r["id"]: r["reason"] for r in rejects}
    assert reasons["llava_cot/no-tags"].startswith("unparseable trace")


def test_llava_cot_malformed_line_is_rejected_with_line_number(llava):
    _, rejects = read("llava_cot", llava)
    bad = [r for r in rejects if r["reason"].startswith("malformed JSON")]
    assert len(bad) == 1 and "line 5" in bad[0]["reason"] and bad[0]["raw"] == '{"id": "broken", '


def test_llava_cot_images_prefix_folder_is_tried(tmp_path):
    write_image(tmp_path / "images/sqa/1.png")
    path = write_jsonl(tmp_path / "train.jsonl", [{"id": "x", "image": "sqa/1.png",
                       "conversations": [{"from": "human", "value": "Q?"},
                                         {"from": "gpt", "value": TRACE}]}])
    records, _ = read("llava_cot", path)
    assert records["llava_cot/x"]["images"][0]["path"] == "sqa/1.png"
