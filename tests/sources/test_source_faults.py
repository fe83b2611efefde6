"""Per-row faults stay per-row: NaN gold and duplicate ids are rejects with a reason."""

import json

from source_helpers import read, write_parquet


def _row(qid, answer):
    return {"question": f"What is {qid}?", "answer": answer, "qid": qid, "source": "MMK12",
            "category": "c", "PassRate_32BTrained": 1.0, "PassRate_7BBase": 1.0, "image": []}


def test_nan_gold_is_a_missing_answer_not_the_text_nan(tmp_path):
    data = write_parquet(tmp_path / "39Krelease.parquet",
                         [_row("a", 3.0), _row("b", float("nan"))])   # a float column
    records, rejects = read("virl39k", data)
    assert list(records) == ["virl39k/a"]
    assert [r["reason"] for r in rejects] == ["missing answer"]


def test_nan_in_json_lines_is_a_missing_answer(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"id": "1", "question": "Q?", "answer": NaN}\n'
                    '{"id": "2", "question": "Q?", "answer": "NaN"}\n')
    _, rejects = read("thinklite_vl", path)
    assert [r["reason"].split(":")[0] for r in rejects] == ["missing answer"] * 2


def test_duplicate_ids_keep_the_first_and_reject_the_later_ones(tmp_path):
    data = write_parquet(tmp_path / "39Krelease.parquet",
                         [_row("a", "1"), _row("b", "2"), _row("a", "3"), _row("a", "4")])
    records, rejects = read("virl39k", data)
    assert list(records) == ["virl39k/a", "virl39k/b"] and records["virl39k/a"]["answer"] == "1"
    assert [r["reason"] for r in rejects] == ["duplicate id: virl39k/a (an earlier row has it)"] * 2
    assert json.loads(rejects[0]["raw"])["answer"] == "3"
