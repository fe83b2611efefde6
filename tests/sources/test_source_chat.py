"""OpenVLThinker (sharegpt messages/images), We-Math2.0-SFT, MMR1-SFT, MiroMind-M1."""

import pyarrow as pa
import pytest
from source_helpers import (
    IMAGE_STRUCT,
    meta,
    png,
    read,
    write_image,
    write_json,
    write_jsonl,
    write_parquet,
)

# -- OpenVLThinker-sft-iter3 (LLaMA-Factory sharegpt) -------------------------------------

@pytest.fixture
def openvl(tmp_path):
    write_image(tmp_path / "imgs/tri.png")
    rows = [
        {"messages": [{"role": "user", "content": "<image>Find the perimeter of the triangle."},
                      {"role": "assistant", "content": "<think>5+12+13 = 30</think>\n"
                       "<answer>30</answer>"}],
         "images": ["imgs/tri.png"]},
        {"messages": [{"role": "user", "content": "<image><image>Compare."},
                      {"role": "assistant", "content": "<answer>A</answer>"}],
         "images": ["imgs/tri.png"]},
        {"messages": [{"role": "user", "content": "<image>Area?"},
                      {"role": "assistant", "content": "<think>no idea</think>"}],
         "images": ["imgs/tri.png"]},
    ]
    return write_jsonl(tmp_path / "openvlthinker.json", rows)


def test_openvlthinker_id_is_row_index(openvl):
    records, _ = read("openvlthinker", openvl)
    assert list(records) == ["openvlthinker/openvlthinker-0"]


def test_openvlthinker_answer_from_answer_tag_and_response_unified(openvl):
    rec = read("openvlthinker", openvl)[0]["openvlthinker/openvlthinker-0"]
    assert rec["question"] == "Find the perimeter of the triangle."
    assert (rec["answer"], rec["answer_type"]) == ("30", "number")
    assert rec["response"] == "<think>5+12+13 = 30</think><answer>30</answer>"


def test_openvlthinker_image_token_count_must_match_images(openvl):
    _, rejects = read("openvlthinker", openvl)
    assert rejects[0]["reason"] == "image count mismatch: 2 <image> tokens, 1 images"


def test_openvlthinker_reply_without_answer_is_missing_answer(openvl):
    _, rejects = read("openvlthinker", openvl)
    assert rejects[1]["reason"].startswith("missing answer")


def test_openvlthinker_accepts_hf_image_structs(tmp_path):
    schema = pa.schema([("messages", pa.list_(pa.struct([("role", pa.string()),
                                                          ("content", pa.string())]))),
                        ("images", pa.list_(IMAGE_STRUCT))])
    path = write_parquet(tmp_path / "train-00000-of-00001.parquet", [
        {"messages": [{"role": "user", "content": "<image>Sum?"},
                      {"role": "assistant", "content": "So \\boxed{7}."}],
         "images": [{"bytes": png(), "path": "a.png"}]}], schema)
    rec = read("openvlthinker", path)[0]["openvlthinker/train-0"]
    assert rec["images"][0]["path"] == "a.png" and rec["answer"] == "7"
    assert rec["response"] == "<think>So \\boxed{7}.</think><answer>7</answer>"


# -- We-Math2.0-SFT (schema unconfirmed: messages or question/answer rows) ----------------

def test_wemath2_sft_messages_rows_with_gold_answer_column(tmp_path):
    write_image(tmp_path / "images/1.png")
    path = write_jsonl(tmp_path / "mathbook_sft.jsonl", [
        {"id": "wm-1", "messages": [
            {"role": "user", "content": "<image>In the figure, AB=3, BC=4. Find AC."},
            {"role": "assistant", "content": "<think>By Pythagoras, 5.</think>"
             "<answer>5</answer>"}],
         "images": ["images/1.png"], "answer": "5", "knowledge": "Pythagoras"}])
    rec = read("wemath2_sft", path)[0]["wemath2_sft/wm-1"]
    assert (rec["answer"], rec["answer_type"]) == ("5", "number")
    assert rec["response"] == "<think>By Pythagoras, 5.</think><answer>5</answer>"
    assert meta(rec)["knowledge"] == "Pythagoras"


def test_wemath2_sft_text_only_question_answer_row(tmp_path):
    path = write_jsonl(tmp_path / "mathbook_sft.jsonl", [
        {"id": 7, "question": "Compute 2+3.", "answer": "5",
         "solution": "<think>2+3=5</think><answer>5</answer>"}])
    rec = read("wemath2_sft", path)[0]["wemath2_sft/7"]
    assert rec["images"] == [] and rec["response"] == "<think>2+3=5</think><answer>5</answer>"


# -- MMR1-SFT (sft.json, a JSON array) ----------------------------------------------------

@pytest.fixture
def mmr1(tmp_path):
    write_image(tmp_path / "mmr1/geo/1.png")
    rows = [
        {"id": "m-1", "image": "mmr1/geo/1.png", "conversations": [
            {"from": "human", "value": "<image>\nFind x. Please reason step by step, and put "
             "your final answer within \\boxed{}."},
            {"from": "gpt", "value": "Angles sum to 180, so x = 40. \\boxed{40^\\circ}"}],
         "answer": "40°", "domain": "math"},
        {"id": "m-2", "image": "../outside.png", "conversations": [
            {"from": "human", "value": "<image>Q"}, {"from": "gpt", "value": "\\boxed{1}"}]},
    ]
    return write_json(tmp_path / "sft.json", rows)


def test_mmr1_reads_json_array_and_uses_verified_answer(mmr1):
    rec = read("mmr1", mmr1)[0]["mmr1/m-1"]
    assert rec["question"] == "Find x."
    assert (rec["answer"], rec["answer_type"]) == ("40", "number")
    assert meta(rec)["unit"] == "°" and meta(rec)["domain"] == "math"
    assert rec["response"].startswith("<think>Angles sum to 180")
    assert rec["response"].endswith("<answer>40°</answer>")


def test_mmr1_image_path_escaping_root_is_rejected(mmr1):
    _, rejects = read("mmr1", mmr1)
    assert rejects[0]["reason"] == "image path escapes image root: ../outside.png"
    assert rejects[0]["id"] == "mmr1/m-2"


def test_mmr1_accepts_sft_874k_layout(tmp_path):
    write_image(tmp_path / "sft_image/1.png")
    path = write_jsonl(tmp_path / "mmr1.jsonl", [
        {"id": "q1", "messages": [
            {"role": "system", "content": [{"type": "text", "text": "Think first."}]},
            {"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "sft_image/1.png"}},
                {"type": "text", "text": "What is 6*7?"}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "<think>6*7=42</think><answer>42</answer>"}]}]}])
    rec = read("mmr1", path)[0]["mmr1/q1"]
    assert rec["answer"] == "42" and rec["images"][0]["path"] == "sft_image/1.png"


# -- MiroMind-M1-SFT (text-only, R1 traces) -----------------------------------------------

@pytest.fixture
def miromind(tmp_path):
    schema = pa.schema([("id", pa.string()), ("question", pa.string()),
                        ("response", pa.string())])
    return write_parquet(tmp_path / "train-00000-of-00001.parquet", [
        {"id": "mm-1", "question": "Find $x$ if $2x=6$.",
         "response": "<think>Divide by 2: x = 3.</think>\nSo $x = \\boxed{3}$."},
        {"id": "mm-2", "question": "Q", "response": "<think>hmm</think> no box here"},
        {"id": "mm-3", "question": "Q", "response": "no think tags \\boxed{2}"},
    ], schema)


def test_miromind_answer_is_last_boxed_after_think(miromind):
    rec = read("miromind_m1", miromind)[0]["miromind_m1/mm-1"]
    assert (rec["answer"], rec["answer_type"], rec["images"]) == ("3", "number", [])
    assert rec["response"] == "<think>Divide by 2: x = 3.</think><answer>3</answer>"
    assert "So $x" in meta(rec)["source_trace"]


def test_miromind_without_boxed_answer_is_rejected(miromind):
    _, rejects = read("miromind_m1", miromind)
    reasons = {r["id"]: r["reason"] for r in rejects}
    assert reasons["miromind_m1/mm-2"].startswith("missing answer")
    assert reasons["miromind_m1/mm-3"].startswith("unparseable trace")
