"""Real layouts read right (docs/sources.md): multi-boxed MiroMind answers, SFT-874K ids over
several files, We-Math2.0-Standard's data files as `datasets` picks them, We-Math2.0-Pro
ids from question_id + difficulty, and placeholders without images in every adapter."""

import json

import pyarrow as pa
import pytest
from source_helpers import IMAGE_STRUCT, meta, png, read, write_json, write_parquet

from omr_data.sources import SOURCES
from omr_data.sources.errors import SourceFileError


def _normalize_folder(name, folder, **kw):
    adapter = SOURCES[name]
    rows = [row for path in adapter.discover(folder, kw.pop("split", None))
            for row in adapter.read(path, **kw)]
    return [r for r in rows if not r.get("reason")], [r for r in rows if r.get("reason")]


# -- MiroMind-M1 ---------------------------------------------------------------------------

def _miromind(tmp_path, responses):
    rows = [{"id": f"m{i}", "question": f"Solve {i}.", "response": r}
            for i, r in enumerate(responses)]
    return write_parquet(tmp_path / "data/train-00000-of-00001.parquet", rows)


def test_miromind_two_boxed_final_answers_are_kept_as_a_list(tmp_path):
    path = _miromind(tmp_path, [
        "<think>x^2-5x+6=0 factors.</think>\nThe roots are\n"
        "\\[ \\boxed{2} \\quad \\text{and} \\quad \\boxed{3} \\]",
        "<think>one</think> So $x=\\boxed{4}$, i.e. \\boxed{4}.",
        "<think>two parts</think>(a) \\boxed{1}\n\n(b) \\boxed{7}",
    ])
    records, rejects = read("miromind_m1", path)
    both = records["miromind_m1/m0"]
    assert both["answer"] == "2, 3" and both["answer_type"] == "expression"
    assert meta(both)["answer_list"] == ["2", "3"]
    assert both["response"].endswith("<answer>2, 3</answer>")
    assert records["miromind_m1/m1"]["answer"] == "4"
    # answers spread over a multi-part solution are not cut to the last one
    assert [(r["id"], r["reason"].split(":")[0]) for r in rejects] == [
        ("miromind_m1/m2", "ambiguous answer")]


# -- OpenMMReasoner-SFT-874K: several files, rollouts straddling them ------------------------

def _omr_rows(qid, n, start=0):
    return [{"id": qid, "messages": [
        {"role": "user", "content": [{"type": "text", "text": f"What is {qid}?"}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": f"<think>t{start + k}</think><answer>{len(qid)}</answer>"}]}]}
        for k in range(n)]


def test_omr_sft_ids_are_unique_across_the_files_of_a_config(tmp_path):
    folder = tmp_path / "llava_cot"
    # 8 rollouts of q2 straddle the shard boundary (3 + 5); q1 and q3 stay in one file each
    write_parquet(folder / "train-00000-of-00002.parquet", _omr_rows("q1", 8) + _omr_rows("q2", 3))
    write_parquet(folder / "train-00001-of-00002.parquet",
                  _omr_rows("q2", 5, start=3) + _omr_rows("q3", 2))
    records, rejects = _normalize_folder("omr_sft", tmp_path, split="train")
    ids = [r["id"] for r in records]
    assert not rejects and len(ids) == len(set(ids)) == 18
    assert sorted(i for i in ids if "/q2#" in i) == [f"omr_sft/llava_cot/q2#{k}"
                                                      for k in range(8)]
    # read one file at a time (one unit each), the second still counts on from the first
    second = [r["id"] for r in SOURCES["omr_sft"].read(folder / "train-00001-of-00002.parquet")]
    assert second[:5] == [f"omr_sft/llava_cot/q2#{k}" for k in range(3, 8)]


# -- We-Math2.0-Standard: data files as `datasets` resolves them ----------------------------

STANDARD_SCHEMA = pa.schema([("question", pa.string()), ("answer", pa.string()),
                             ("image", IMAGE_STRUCT), ("idx", pa.int64())])


def _standard_folder(tmp_path, readme=None):
    folder = tmp_path / "We-Math2.0-Standard"
    write_parquet(folder / "data/standard-00000-of-00001-3f9c2a1e.parquet", [
        {"question": f"Find x ({i}).", "answer": str(i), "image": {"bytes": png(), "path": None},
         "idx": i} for i in range(4)], STANDARD_SCHEMA)
    # the MathBook knowledge file beside data/ is not a question split
    write_parquet(folder / "mathbook_standard.parquet", [
        {"knowledge_point": f"kp{i}", "principle": "..."} for i in range(3)])
    if readme is not None:
        (folder / "README.md").write_text(readme)
    return folder


def test_wemath_standard_reads_data_folder_not_the_top_level_parquet(tmp_path):
    folder = _standard_folder(tmp_path)
    files = SOURCES["wemath2_standard"].discover(folder)
    assert [f.name for f in files] == ["standard-00000-of-00001-3f9c2a1e.parquet"]
    records, rejects = _normalize_folder("wemath2_standard", folder)
    assert len(records) == 4 and not rejects


def test_wemath_standard_follows_readme_configs(tmp_path):
    readme = ("---\nconfigs:\n- config_name: default\n  data_files:\n  - split: standard\n"
              "    path: data/standard-*\n---\n# We-Math2.0-Standard\n")
    folder = _standard_folder(tmp_path, readme)
    assert [f.name for f in SOURCES["wemath2_standard"].discover(folder)] == [
        "standard-00000-of-00001-3f9c2a1e.parquet"]
    with pytest.raises(SourceFileError, match="declares standard"):
        SOURCES["wemath2_standard"].discover(folder, "train")


# -- We-Math2.0-Pro: ids from question_id + difficulty --------------------------------------

PRO_SCHEMA = pa.schema([("idx", pa.int64()), ("question_id", pa.int64()),
                        ("question", pa.string()), ("image", IMAGE_STRUCT),
                        ("difficulty", pa.string()),
                        ("knowledge points", pa.list_(pa.string())), ("answer", pa.string())])


def _pro(qid, difficulty, idx):
    return {"idx": idx, "question_id": qid, "question": f"Q{qid}{difficulty}?",
            "image": {"bytes": png(), "path": None}, "difficulty": difficulty,
            "knowledge points": ["area"], "answer": "5"}


def test_wemath_pro_ids_from_question_id_and_difficulty_duplicates_rejected(tmp_path):
    folder = tmp_path / "We-Math2.0-Pro"
    # idx repeats across variants and shards; (question_id, difficulty) names the row
    write_parquet(folder / "data/pro-00000-of-00002-7b41d0c5.parquet",
                  [_pro(1, "base", 0), _pro(1, "a", 0), _pro(1, "a", 9)], PRO_SCHEMA)
    write_parquet(folder / "data/pro-00001-of-00002-7b41d0c5.parquet",
                  [_pro(2, "base", 0), _pro(1, "base", 3)], PRO_SCHEMA)
    records, rejects = _normalize_folder("wemath2_pro", folder)
    assert sorted(r["id"] for r in records) == ["wemath2_pro/1-a", "wemath2_pro/1-base",
                                                 "wemath2_pro/2-base"]
    assert sorted((r["id"], r["reason"].split(":")[0]) for r in rejects) == [
        ("wemath2_pro/1-a", "duplicate id"), ("wemath2_pro/1-base", "duplicate id")]
    assert meta(next(r for r in records if r["id"] == "wemath2_pro/1-a"))["idx"] == 0


# -- placeholders without images, in every adapter ------------------------------------------

def test_mmr1_placeholder_without_a_known_image_field_is_rejected(tmp_path):
    path = write_json(tmp_path / "sft.json", [
        {"conversations": [{"from": "human", "value": "<image>\nWhat is the area?"},
                           {"from": "gpt", "value": "<think>w*h</think><answer>6</answer>"}],
         "picture": "img/1.png"},
        {"conversations": [{"from": "human", "value": "What is 2+2?"},
                           {"from": "gpt", "value": "<think>sum</think><answer>4</answer>"}]},
    ])
    records, rejects = read("mmr1", path)
    assert len(records) == 1 and list(records.values())[0]["answer"] == "4"
    assert [r["reason"].split(":")[0] for r in rejects] == ["placeholder without image"]


def test_qa_adapter_placeholder_without_image_is_rejected(tmp_path):
    path = write_parquet(tmp_path / "ThinkLite-VL-Hard-11k.parquet", [
        {"id": "t1", "problem": "<image>How many?", "answer": "3", "image": None},
        {"id": "t2", "problem": "<image>How many?", "answer": "3", "image": png()},
    ], pa.schema([("id", pa.string()), ("problem", pa.string()), ("answer", pa.string()),
                  ("image", pa.binary())]))
    records, rejects = read("thinklite_vl", path)
    assert list(records) == ["thinklite_vl/t2"]
    assert [(r["id"], r["reason"].split(":")[0]) for r in rejects] == [
        ("thinklite_vl/t1", "placeholder without image")]


def test_released_rl_prompt_with_more_placeholders_than_images_is_rejected(tmp_path):
    path = write_parquet(tmp_path / "virl39k.parquet", [{
        "data_source": "virl39k",
        "prompt": [{"role": "system", "content": "Think."},
                   {"role": "user", "content": "<image><image>Compare the two."}],
        "images": [{"bytes": png(), "path": None}],
        "reward_model": {"ground_truth": "A", "style": "rule"}, "avg_reward": 0.5}])
    records, rejects = read("omr_rl", path)
    assert not records
    assert rejects[0]["reason"].startswith("placeholder without image: 2")
    json.loads(rejects[0]["raw"])  # the row stays readable in rejects
