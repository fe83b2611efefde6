"""TQA lessons, the released OpenMMReasoner SFT-874K / RL-74K layouts."""

import pyarrow as pa
import pytest
from source_helpers import IMAGE_STRUCT, meta, png, read, write_image, write_json, write_parquet

from omr_data.sources import SOURCES

# -- TQA -------------------------------------------------------------------------------------

def _choices(*texts):
    return {k: {"idStructural": f"{k}.", "processedText": t, "rawText": t}
            for k, t in zip("abcd", texts)}


@pytest.fixture
def tqa(tmp_path):
    root = tmp_path / "tqa_train_val_test"
    write_image(root / "train/question_images/volcano.png")
    lesson = {
        "globalID": "L_0001", "lessonName": "volcanoes", "topics": {}, "instructionalDiagrams": {},
        "questions": {
            "diagramQuestions": {
                "DQ_000001": {
                    "globalID": "DQ_000001", "questionType": "Diagram Multiple Choice",
                    "questionSubType": "Diagram Multiple Choice",
                    "beingAsked": {"processedText": "which label shows the crater?",
                                   "rawText": "Which label shows the crater?"},
                    "answerChoices": _choices("A", "B", "C", "D"),
                    "correctAnswer": {"processedText": "b", "rawText": "B"},
                    "imagePath": "question_images/volcano.png"},
                "DQ_000002": {
                    "globalID": "DQ_000002", "questionSubType": "Diagram Multiple Choice",
                    "beingAsked": {"processedText": "q?"},
                    "answerChoices": _choices("x", "y"),
                    "correctAnswer": {"processedText": "e", "rawText": "e"},
                    "imagePath": "question_images/volcano.png"}},
            "nonDiagramQuestions": {
                "NDQ_000010": {
                    "globalID": "NDQ_000010", "questionSubType": "True or False",
                    "beingAsked": {"processedText": "lava is cold."},
                    "answerChoices": _choices("true", "false"),
                    "correctAnswer": {"processedText": "false", "rawText": "False"}},
                "NDQ_000011": {
                    "globalID": "NDQ_000011", "questionSubType": "Multiple Choice",
                    "beingAsked": {"processedText": "what erupts?"},
                    "answerChoices": _choices("lava", "ice")}}}}
    write_json(root / "train/tqa_v1_train.json", [lesson])
    write_json(root / "val/tqa_v1_val.json", [lesson])
    return root


def test_tqa_folder_reads_only_train_split(tqa):
    assert [p.name for p in SOURCES["tqa"].discover(tqa)] == ["tqa_v1_train.json"]


def test_tqa_diagram_question_letter_and_image_from_split_folder(tqa):
    records, _ = read("tqa", tqa / "train/tqa_v1_train.json", image_root=tqa)
    rec = records["tqa/DQ_000001"]
    assert (rec["choices"], rec["answer"], rec["answer_type"]) == (["A", "B", "C", "D"], "B",
                                                                   "choice")
    assert rec["images"][0]["path"] == "question_images/volcano.png"
    assert meta(rec)["lesson_name"] == "volcanoes"


def test_tqa_true_false_answer_given_as_option_text(tqa):
    rec = read("tqa", tqa / "train/tqa_v1_train.json")[0]["tqa/NDQ_000010"]
    assert (rec["answer"], rec["images"]) == ("B", [])


def test_tqa_answer_key_not_among_choices_is_rejected(tqa):
    _, rejects = read("tqa", tqa / "train/tqa_v1_train.json")
    reasons = {r["id"]: r["reason"] for r in rejects}
    assert reasons["tqa/DQ_000002"].startswith("answer not among choices: 'e'")


def test_tqa_question_without_correct_answer_is_missing_answer(tqa):
    _, rejects = read("tqa", tqa / "train/tqa_v1_train.json")
    assert {r["id"]: r["reason"] for r in rejects}["tqa/NDQ_000011"] == "missing answer"


# -- OpenMMReasoner-SFT-874K -----------------------------------------------------------------

SYSTEM = {"role": "system", "content": [{"type": "text", "text": "Think in <think></think>, "
                                          "answer in <answer></answer>."}]}


def _sft_row(rid, answer, think="reasoning"):
    return {"id": rid, "messages": [
        SYSTEM,
        {"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "sft_image/a.png"}},
            {"type": "text", "text": "<image>What is the capital of Alaska?\nOptions: (A) "
             "Seattle (B) Juneau"}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": f"<think>{think}</think><answer>{answer}</answer>"}]}]}


@pytest.fixture
def omr_sft(tmp_path):
    write_image(tmp_path / "sft_image/a.png")
    schema = None
    rows = [_sft_row("q1", "B"), _sft_row("q1", "B", "other path"), _sft_row("q2", "")]
    return write_parquet(tmp_path / "llava_cot/train-00000-of-00001.parquet", rows, schema)


def test_omr_sft_repeated_rollouts_get_hash_k_ids(omr_sft):
    records, _ = read("omr_sft", omr_sft, image_root=omr_sft.parents[1])
    assert sorted(records) == ["omr_sft/llava_cot/q1#0", "omr_sft/llava_cot/q1#1"]


def test_omr_sft_user_turn_gives_question_choices_and_image(omr_sft):
    rec = read("omr_sft", omr_sft, image_root=omr_sft.parents[1])[0]["omr_sft/llava_cot/q1#0"]
    assert (rec["question"], rec["choices"]) == ("What is the capital of Alaska?",
                                                 ["Seattle", "Juneau"])
    assert rec["images"][0]["path"] == "sft_image/a.png"
    assert rec["response"] == "<think>reasoning</think><answer>B</answer>"
    m = meta(rec)
    assert m["omr_sft.config"] == "llava_cot" and m["system"].startswith("Think in")


def test_omr_sft_empty_answer_tag_is_missing_answer(omr_sft):
    _, rejects = read("omr_sft", omr_sft, image_root=omr_sft.parents[1])
    assert rejects[0]["id"] == "omr_sft/llava_cot/q2#0"
    assert rejects[0]["reason"].startswith("missing answer")


# -- OpenMMReasoner-RL-74K (verl) ------------------------------------------------------------

RL_SCHEMA = pa.schema([
    ("data_source", pa.string()),
    ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
    ("images", pa.list_(IMAGE_STRUCT)),
    ("reward_model", pa.struct([("ground_truth", pa.string()), ("style", pa.string())])),
    ("avg_reward", pa.float64()),
])


@pytest.fixture
def omr_rl(tmp_path):
    system = {"role": "system", "content": "You are a helpful assistant. Think in <think>."}
    write_parquet(tmp_path / "virl39k/train-00000-of-00001.parquet", [
        {"data_source": "virl39k", "prompt": [system, {"role": "user", "content":
         "<image>As shown, AB∥CD, ∠1=40°, find ∠2."}],
         "images": [{"bytes": png(), "path": None}],
         "reward_model": {"ground_truth": "40°", "style": "rule"}, "avg_reward": 0.375},
        {"data_source": "virl39k", "prompt": [system, {"role": "user", "content": "<image>Q"}],
         "images": [{"bytes": png(), "path": None}],
         "reward_model": {"ground_truth": " ", "style": "rule"}, "avg_reward": 0.5},
    ], RL_SCHEMA)
    write_parquet(tmp_path / "validation/val-00000-of-00001.parquet", [
        {"data_source": "mmk12", "prompt": [system, {"role": "user", "content": "<image>Q2"}],
         "images": [{"bytes": png(), "path": None}],
         "reward_model": {"ground_truth": "\\boxed{2}", "style": "rule"},
         "extra_info": {"answer": "2", "index": 17, "question": "Q2", "split": "val"}}])
    return tmp_path


def test_omr_rl_folder_skips_validation_by_default(omr_rl):
    assert [p.parent.name for p in SOURCES["omr_rl"].discover(omr_rl)] == ["virl39k"]


def test_omr_rl_row_maps_ground_truth_and_pass_rate(omr_rl):
    records, _ = read("omr_rl", omr_rl / "virl39k/train-00000-of-00001.parquet")
    rec = records["omr_rl/virl39k/train-0"]
    assert rec["question"] == "As shown, AB∥CD, ∠1=40°, find ∠2."
    assert (rec["answer"], rec["answer_type"], rec["response"]) == ("40", "number", None)
    m = meta(rec)
    assert (m["pass_rate"], m["raw_answer"], m["reward_style"]) == (0.375, "40°", "rule")


def test_omr_rl_blank_ground_truth_is_missing_answer(omr_rl):
    _, rejects = read("omr_rl", omr_rl / "virl39k/train-00000-of-00001.parquet")
    assert [(r["id"], r["reason"]) for r in rejects] == [("omr_rl/virl39k/train-1",
                                                          "missing answer")]


def test_omr_rl_validation_uses_extra_info_index(omr_rl):
    files = SOURCES["omr_rl"].discover(omr_rl, split="val")
    rec = read("omr_rl", files[0])[0]["omr_rl/mmk12/17"]
    assert rec["answer"] == "2"
