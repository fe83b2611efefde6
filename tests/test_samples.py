"""The bundled samples: reproducible from samples/make_samples.py, and shaped like
docs/sources.md."""
from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import re
from pathlib import Path

import imagehash
import pyarrow.parquet as pq
import pytest
from PIL import Image

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
TAGS = ("<SUMMARY>", "<CAPTION>", "<REASONING>", "<CONCLUSION>")
VIRL_CATEGORIES = {
    "(GradeSchool) Geometric", "(GradeSchool) Non-Geo Math", "(GradeSchool) Science",
    "Broader STEM Topics", "Tables/Diagrams/Charts", "Spatial Reasoning", "Social Science",
    "Commonsense",
}


def load_generator():
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen():
    return load_generator()


@pytest.fixture(scope="module")
def manifest():
    return json.loads((SAMPLES / "manifest.json").read_text())


@pytest.fixture(scope="module")
def regenerated(gen, tmp_path_factory):
    out = tmp_path_factory.mktemp("samples")
    return out, gen.generate(out)


@pytest.fixture(scope="module")
def expected():
    return json.loads((SAMPLES / "expected.json").read_text())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def image_size(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


def content(path: Path):
    """What a file says, independent of encoder versions: text as is, Parquet rows with images
    replaced by their pixel size, image files by their size."""
    if path.suffix in (".json", ".jsonl"):
        return path.read_bytes()
    if path.suffix in (".png", ".jpg"):
        return image_size(path.read_bytes())
    rows = pq.read_table(path).to_pylist()
    for row in rows:
        for key, value in row.items():
            if isinstance(value, dict) and "bytes" in value:
                row[key] = (image_size(value["bytes"]), value["path"])
            elif isinstance(value, bytes):
                row[key] = image_size(value)
    return pq.read_schema(path).to_string(show_schema_metadata=True), rows


def jsonl(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def stem(question: str) -> str:
    return " ".join(re.sub(r"<image\s*\d*>", " ", question).split())


def phash(data: bytes):
    return imagehash.phash(Image.open(io.BytesIO(data)))


# ------------------------------------------------------------------ reproducibility


def test_generator_is_deterministic(gen, regenerated, tmp_path):
    _, first = regenerated
    assert gen.generate(tmp_path)["files"] == first["files"]


def test_committed_files_match_their_manifest(gen, manifest):
    on_disk = {p.relative_to(SAMPLES).as_posix() for p in gen.generated_files(SAMPLES)}
    assert on_disk == set(manifest["files"]), "stray or missing files: rerun make_samples.py"
    changed = [rel for rel, digest in manifest["files"].items() if sha256(SAMPLES / rel) != digest]
    assert not changed, f"edited by hand, not by make_samples.py: {changed}"


def test_regenerated_samples_equal_committed(regenerated, manifest):
    out, fresh = regenerated
    assert set(fresh["files"]) == set(manifest["files"])
    if fresh["versions"] == manifest["versions"]:
        assert fresh["files"] == manifest["files"]
    # Encoder versions change bytes, never content: compare that in every environment.
    for rel in manifest["files"]:
        assert content(out / rel) == content(SAMPLES / rel), rel


def test_samples_stay_small(manifest):
    total = sum((SAMPLES / rel).stat().st_size for rel in manifest["files"])
    assert total <= 3 * 1024 * 1024


# ------------------------------------------------------------------ SFT sources


def test_llava_cot_is_jsonl_with_tagged_traces_and_two_bad_rows():
    root = SAMPLES / "llava_cot"
    good, broken = [], 0
    for line in jsonl(root / "train.jsonl"):
        try:
            good.append(json.loads(line))
        except json.JSONDecodeError:
            broken += 1
    assert broken == 1 and len(good) >= 12
    missing = [r["id"] for r in good if not (root / r["image"]).is_file()]
    assert len(missing) == 1
    conclusions = []
    for row in good:
        assert set(row) == {"id", "image", "conversations"}
        roles = [turn["from"] for turn in row["conversations"]]
        assert roles == ["human", "gpt"] * (len(roles) // 2)
        for turn in row["conversations"][1::2]:
            assert all(tag in turn["value"] for tag in TAGS)
            conclusions.append(turn["value"].split("<CONCLUSION>")[1].split("</CONCLUSION>")[0])
    assert any(len(r["conversations"]) == 4 for r in good)  # A-OKVQA: two Q/A pairs
    humans = [t["value"] for r in good for t in r["conversations"][::2]]
    assert any("Options: (A)" in h for h in humans) and any("\nA. " in h for h in humans)
    forms = [c.strip() for c in conclusions]
    assert any(re.fullmatch(r"[A-D]", c) for c in forms)  # bare letter
    assert any("The answer is" in c for c in forms)  # sentence
    assert any(re.fullmatch(r"[\d,]+", c) for c in forms)  # short number


def test_openvlthinker_is_sharegpt_with_one_image_per_placeholder():
    root = SAMPLES / "openvlthinker"
    rows = json.loads((root / "train.json").read_text())
    assert len(rows) >= 6
    for row in rows:
        user, assistant = row["messages"]
        assert (user["role"], assistant["role"]) == ("user", "assistant")
        assert user["content"].count("<image>") == len(row["images"])
        assert all((root / p).is_file() for p in row["images"])
        assert "<answer>" in assistant["content"] or "\\boxed{" in assistant["content"]


def test_wemath2_sft_is_messages_jsonl_with_text_only_rows():
    root = SAMPLES / "wemath2_sft"
    rows = [json.loads(line) for line in jsonl(root / "mathbook_sft.jsonl")]
    text_only = [r for r in rows if not r.get("images")]
    assert len(rows) >= 6 and len(text_only) == 2
    assert any("images" not in r for r in text_only) and any("images" in r for r in text_only)
    for row in rows:
        assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
        assert row["messages"][0]["content"].count("<image>") == len(row.get("images", []))
        assert all((root / p).is_file() for p in row.get("images", []))


def test_mmr1_is_a_json_array_of_conversations():
    root = SAMPLES / "mmr1"
    rows = json.loads((root / "sft.json").read_text())
    assert len(rows) >= 4
    for row in rows:
        human, gpt = row["conversations"]
        assert (human["from"], gpt["from"]) == ("human", "gpt")
        assert "<image>" in human["value"] and f"\\boxed{{{row['answer']}}}" in gpt["value"]
        assert all((root / p).is_file() for p in row["images"])


def test_miromind_m1_has_id_question_response_only():
    table = pq.read_table(SAMPLES / "miromind_m1")
    assert table.column_names == ["id", "question", "response"]
    responses = table.column("response").to_pylist()
    boxed = [r for r in responses if "\\boxed{" in r.split("</think>")[-1]]
    assert all(r.startswith("<think>") for r in responses)
    assert len(boxed) == len(responses) - 1  # one row is a deliberate "missing answer"


# ------------------------------------------------------------------ RL sources


def test_mmk12_has_hf_image_structs_and_a_multiple_choice_test_split():
    for split in ("train", "test"):
        path = SAMPLES / f"mmk12/data/{split}-00000-of-00001.parquet"
        schema = pq.read_schema(path)
        assert schema.names == ["id", "question", "answer", "subject", "image"]
        assert json.loads(schema.metadata[b"huggingface"])["info"]["features"]["image"] == {
            "_type": "Image"}
        rows = pq.read_table(path).to_pylist()
        assert all(image_size(r["image"]["bytes"]) for r in rows)
    assert all(re.fullmatch(r"[A-D]", r["answer"]) for r in rows)
    assert all(re.search(r"\n(A\.|A、)", r["question"]) for r in rows)
    assert {r["subject"] for r in rows} == {"math", "physics", "chemistry", "biology"}


def test_virl39k_rows_have_boxed_answers_and_image_files():
    root = SAMPLES / "virl39k"
    table = pq.read_table(root / "39Krelease.parquet")
    assert table.column_names == ["question", "answer", "PassRate_32BTrained",
                                  "PassRate_7BBase", "category", "source", "qid", "image"]
    for row in table.to_pylist():
        assert row["answer"].startswith("\\boxed{") and row["answer"].endswith("}")
        assert row["question"].count("<image>") == len(row["image"])
        assert all(p == f"images/{row['qid']}-{k}.jpg" for k, p in enumerate(row["image"]))
        assert all((root / p).is_file() for p in row["image"])
        assert row["category"] in VIRL_CATEGORIES
        assert 0 <= row["PassRate_32BTrained"] <= 1


def test_tqa_is_an_array_of_lessons_with_diagram_questions():
    root = SAMPLES / "tqa/train"
    lessons = json.loads((root / "tqa_v1_train.json").read_text())
    dqs = [q for lesson in lessons for q in lesson["questions"]["diagramQuestions"].values()]
    ndqs = [q for lesson in lessons for q in lesson["questions"]["nonDiagramQuestions"].values()]
    assert all({"globalID", "lessonName", "topics", "instructionalDiagrams"} <= set(lesson)
               for lesson in lessons)
    assert all((root / q["imagePath"]).is_file() for q in dqs)
    assert all("imagePath" not in q for q in ndqs)
    assert sum("correctAnswer" not in q for q in dqs + ndqs) == 1
    keyed = [q for q in dqs + ndqs if "correctAnswer" in q]
    assert sum(q["correctAnswer"]["processedText"] not in q["answerChoices"] for q in keyed) == 1


@pytest.mark.parametrize("folder", ["puzzlevqa/data", "algopuzzlevqa/data"])
def test_puzzles_are_jsonl_named_json_with_relative_images(folder):
    files = sorted((SAMPLES / folder).glob("*.json"))
    assert files
    for path in files:
        for line in jsonl(path):
            row = json.loads(line)
            assert row["image"].startswith(f"images/{path.stem}/{path.stem}_")
            assert (path.parent / row["image"]).is_file()
            if "options" in row:
                assert row["answer"] in row["options"] and len(row["options"]) == 4


def test_algopuzzle_clock_answers_follow_from_the_solution(gen):
    for line in jsonl(SAMPLES / "algopuzzlevqa/data/clock.json"):
        row = json.loads(line)
        s = row["solution"]
        sign = 1 if "add_hour" in s else -1
        delta = sign * (60 * s.get("add_hour", s.get("subtract_hour")) +
                        s.get("add_minute", s.get("subtract_minute", 0)))
        assert row["answer"] == gen.clock_answer(s["current_hour"], s["current_minute"], delta)


def test_thinklite_keeps_raw_image_bytes():
    table = pq.read_table(SAMPLES / "thinklite_vl/ThinkLite-VL-Hard-11k.parquet")
    assert table.column_names == ["id", "problem", "answer", "image"]
    assert str(table.schema.field("image").type) == "binary"
    for row in table.to_pylist():
        assert row["problem"].startswith("<image>") and image_size(row["image"])


def test_wemath2_standard_and_pro_columns():
    standard = pq.read_table(SAMPLES / "wemath2_standard/data")
    assert standard.column_names == ["idx", "question", "answer", "image"]
    pro_files = sorted((SAMPLES / "wemath2_pro/data").glob("pro-*-of-00002-*.parquet"))
    assert len(pro_files) == 2
    pro = pq.read_table(SAMPLES / "wemath2_pro/data")
    assert pro.column_names == ["idx", "question_id", "question", "image", "difficulty",
                                "knowledge points", "answer"]
    assert str(pro.schema.field("knowledge points").type) == "list<element: string>"
    assert pro.column("answer").to_pylist().count("") == 1


def test_mathvista_uses_testmini_columns_with_option_text_answers():
    rows = pq.read_table(SAMPLES / "benchmarks/mathvista").to_pylist()
    assert len(rows) >= 5
    for row in rows:
        columns = {"pid", "question", "choices", "answer", "question_type", "decoded_image"}
        assert columns <= set(row)
        if row["question_type"] == "multi_choice":
            assert row["answer"] in row["choices"]
        else:
            assert row["choices"] is None


# ------------------------------------------------------------------ duplicates on purpose


def rl_rows() -> dict[str, tuple[str, bytes]]:
    """id -> (question, first image bytes) for the rows the duplicate lists name."""
    rows = {}
    for split in ("train", "test"):
        for r in pq.read_table(SAMPLES / f"mmk12/data/{split}-00000-of-00001.parquet").to_pylist():
            rows[f"mmk12/{r['id']}"] = (r["question"], r["image"]["bytes"])
    for r in pq.read_table(SAMPLES / "virl39k/39Krelease.parquet").to_pylist():
        image = (SAMPLES / "virl39k" / r["image"][0]).read_bytes() if r["image"] else b""
        rows[f"virl39k/{r['qid']}"] = (r["question"], image)
    for r in pq.read_table(SAMPLES / "thinklite_vl").to_pylist():
        rows[f"thinklite_vl/{r['id']}"] = (r["problem"].split("\nChoices:")[0], r["image"])
    for r in pq.read_table(SAMPLES / "benchmarks/mathvista").to_pylist():
        rows[f"mathvista/{r['pid']}"] = (r["question"], r["decoded_image"]["bytes"])
    return rows


def test_expected_duplicates_are_what_they_claim(expected):
    rows = rl_rows()
    for dup in expected["duplicates"]:
        (qa, ia), (qb, ib) = (rows[i] for i in dup["ids"])
        assert stem(qa) == stem(qb) and qa != qb and ia != ib
        assert phash(ia) - phash(ib) <= 4
    same_figure, same_text = expected["near_misses"]
    (qa, ia), (qb, ib) = (rows[i] for i in same_figure["ids"])
    assert phash(ia) - phash(ib) <= 4 and stem(qa) != stem(qb)
    (qa, ia), (qb, ib) = (rows[i] for i in same_text["ids"])
    assert phash(ia) - phash(ib) >= 16 and stem(qa) == stem(qb)


def test_contaminated_rows_match_their_benchmark_rows(expected):
    rows = rl_rows()
    for case in expected["contamination"]:
        bench = "mmk12" if case["benchmark"] == "mmk12 test" else case["benchmark"]
        (qa, ia), (qb, ib) = rows[case["id"]], rows[f"{bench}/{case['benchmark_id']}"]
        assert stem(qa) == stem(qb)
        assert phash(ia) - phash(ib) <= 4


def test_readme_lists_every_expected_id(expected):
    readme = (SAMPLES / "README.md").read_text()
    ids = [i for d in expected["duplicates"] + expected["near_misses"] for i in d["ids"]]
    ids += [c["id"] for c in expected["contamination"]]
    ids += [r["id"] for r in expected["rejects"] if "id" in r]
    assert [i for i in ids if i not in readme] == []
