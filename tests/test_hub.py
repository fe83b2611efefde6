"""Publishing: the Hub layout for real on disk (loaded back with `datasets`), versions as git
tags, the dataset card, the JSON Schemas, and the Hub path against a recorded fake HfApi."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import re
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from omr_data.hub import PublishError, checkout_version, list_versions, publish
from omr_data.prompts import DEFAULT_INSTRUCTION, user_text
from omr_data.publish import forms
from omr_data.records import make_record, make_reject
from omr_data.store import DatasetBuilder, DatasetDir, write_dataset

REPO = "omr/sft-874k"
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


# ---------------------------------------------------------------------------------------
# fixtures: tiny records with real PNG images


def png(seed: int, size=(6, 5)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, ((seed * 37) % 256, (seed * 91) % 256, (seed * 13) % 256)).save(
        buf, "PNG")
    return buf.getvalue()


def sft_records(n: int, source: str = "llava_cot", start: int = 0) -> list[dict]:
    return [make_record(
        source=source, source_id=f"q{i}", question=f"What is {i} + 1?", answer=str(i + 1),
        answer_type="number", images=[{"bytes": png(i), "path": f"img/{i}.png"}] * (i % 3),
        response=f"<think>{i} plus one</think><answer>{i + 1}</answer>",
        meta={"verify.decided_by": "rule" if i % 2 else "judge"})
        for i in range(start, start + n)]


def rl_records(n: int, source: str = "virl39k") -> list[dict]:
    rows = []
    for i in range(n):
        meta = [{"verify.pass_rate": 0.25}, {"PassRate_7BBase": 0.5}, {}][i % 3]
        rows.append(make_record(
            source=source, source_id=f"r{i}", question=f"Which bar is tallest? ({i})",
            answer="B", answer_type="choice", choices=["red", "blue", "green"],
            images=[{"bytes": png(100 + i), "path": None}], meta=meta))
    return rows


def load(name: str, *args, cache: Path, **kwargs):
    import datasets
    return datasets.load_dataset(name, *args, cache_dir=str(cache), **kwargs)


def git(path: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def readme_yaml(path: Path) -> dict:
    import yaml
    text = path.read_text()
    return yaml.safe_load(text.split("---\n", 2)[1])


# ---------------------------------------------------------------------------------------
# local publish, loaded back with datasets


def test_local_publish_loads_same_rows_with_pil_images(tmp_path, monkeypatch):
    records = sft_records(7)
    src = write_dataset(tmp_path / "sft", records)
    hub = tmp_path / "hub"
    result = publish([src.path], REPO, version="v1.0", hub_dir=hub)

    assert result.rows == 7 and result.form == "sft" and result.configs == {"default": 7}
    monkeypatch.chdir(hub)
    ds = load(REPO, split="train", cache=tmp_path / "cache")
    assert ds.column_names == ["id", "source", "messages", "images"]
    assert [r["id"] for r in ds] == [r["id"] for r in records]
    for row, record in zip(ds, records):
        system, user, assistant = row["messages"]
        assert system == {"role": "system", "content": [{"type": "text",
                                                          "text": DEFAULT_INSTRUCTION}]}
        assert user["role"] == "user" and assistant["role"] == "assistant"
        assert [c["type"] for c in user["content"]] == ["image"] * len(record["images"]) + ["text"]
        assert user["content"][-1]["text"] == user_text(record["question"], record["choices"])
        assert assistant["content"] == [{"type": "text", "text": record["response"]}]
        assert len(row["images"]) == len(record["images"])
        for img, original in zip(row["images"], record["images"]):
            assert isinstance(img, Image.Image)
            assert img.tobytes() == Image.open(io.BytesIO(original["bytes"])).tobytes()


def test_layout_and_yaml_match_what_push_to_hub_writes(tmp_path):
    """Shard names, Parquet schema metadata and README YAML equal datasets' own output."""
    import datasets
    from datasets.arrow_dataset import _get_updated_dataset_card
    from datasets.splits import SplitInfo
    from fsspec.implementations.dirfs import DirFileSystem
    from fsspec.implementations.local import LocalFileSystem

    src = write_dataset(tmp_path / "sft", sft_records(9))
    empty = tmp_path / "empty"
    empty.mkdir()
    result = publish([src.path], REPO, version="v1.0", hub_dir=tmp_path / "hub",
                     max_shard_bytes=400)
    repo_dir = tmp_path / "hub" / REPO
    shards = sorted(p.relative_to(repo_dir).as_posix() for p in repo_dir.glob("data/*"))
    n = len(shards)
    assert n > 1, "a small max_shard_bytes must give several shards"
    assert shards == [f"data/train-{i:05d}-of-{n:05d}.parquet" for i in range(n)]

    # Parquet written by datasets itself for the same rows carries the same schema and metadata
    rows = [r for s in shards for r in pq.read_table(repo_dir / s).to_pylist()]
    theirs = tmp_path / "theirs.parquet"
    datasets.Dataset.from_list(rows, features=forms.features("sft")).to_parquet(str(theirs))
    ours_schema = pq.read_schema(repo_dir / shards[0])
    assert ours_schema.equals(pq.read_schema(theirs), check_metadata=True)

    # README YAML: what push_to_hub's card update produces from the same split info
    info = readme_yaml(repo_dir / "README.md")
    split = info["dataset_info"]["splits"][0]
    fs = DirFileSystem(path=str(empty), fs=LocalFileSystem())
    card, _ = _get_updated_dataset_card(
        fs=fs, config_name="default",
        splits_info=[SplitInfo(name="train", num_bytes=split["num_bytes"],
                               num_examples=split["num_examples"])],
        features=forms.features("sft"), data_dir="data", set_default=None,
        uploaded_sizes=[result.download_size], deleted_sizes=[0], remove_other_splits=False)
    expected = card.data.to_dict()
    assert info["configs"] == expected["configs"]
    assert info["dataset_info"] == expected["dataset_info"]
    assert split["num_examples"] == 9


def test_second_version_adds_tag_and_old_version_stays_retrievable(tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    v1 = write_dataset(tmp_path / "v1", sft_records(3))
    v2 = write_dataset(tmp_path / "v2", sft_records(5, start=10))
    first = publish([v1.path], REPO, version="v1.0", hub_dir=hub, max_shard_bytes=300)
    second = publish([v2.path], REPO, version="v1.1", hub_dir=hub)
    repo_dir = hub / REPO

    assert list_versions(hub, REPO) == ["v1.0", "v1.1"]
    assert git(repo_dir, "rev-list", "--count", "HEAD") == "2"
    assert git(repo_dir, "log", "-1", "--format=%an <%ae>") == "omr-data <omr-data@localhost>"
    assert git(repo_dir, "rev-parse", "v1.1^{commit}") == second.commit
    # the old version's shards were replaced, not kept beside the new ones
    assert set(second.deleted) == {f for f in first.files if f.startswith("data/")} - set(
        second.files)
    assert sorted(p.name for p in (repo_dir / "data").iterdir()) == [
        "train-00000-of-00001.parquet"]

    monkeypatch.chdir(hub)
    latest = load(REPO, split="train", cache=tmp_path / "c1")
    assert [r["id"] for r in latest] == [f"llava_cot/q{i}" for i in range(10, 15)]
    old = checkout_version(hub, REPO, "v1.0", tmp_path / "old")
    assert old == tmp_path / "old" / REPO
    old_ds = load(str(old), split="train", cache=tmp_path / "c2")
    assert [r["id"] for r in old_ds] == [f"llava_cot/q{i}" for i in range(3)]
    assert isinstance(old_ds[1]["images"][0], Image.Image)
    # the card lists both versions
    readme = (repo_dir / "README.md").read_text()
    assert "`v1.0`" in readme and "`v1.1`" in readme
    with pytest.raises(PublishError, match="no version v9.9"):
        checkout_version(hub, REPO, "v9.9", tmp_path / "nope")


def test_republishing_a_version_is_noop_if_identical_and_error_otherwise(tmp_path):
    hub = tmp_path / "hub"
    src = write_dataset(tmp_path / "a", sft_records(4))
    publish([src.path], REPO, version="v1.0", hub_dir=hub)
    head = git(hub / REPO, "rev-parse", "HEAD")

    again = publish([src.path], REPO, version="v1.0", hub_dir=hub)
    assert again.unchanged and "nothing to do" in again.summary()
    assert git(hub / REPO, "rev-parse", "HEAD") == head

    other = write_dataset(tmp_path / "b", sft_records(5))
    with pytest.raises(PublishError, match=r"already has version v1.0 .*--version v1.1"):
        publish([other.path], REPO, version="v1.0", hub_dir=hub)
    assert git(hub / REPO, "rev-parse", "HEAD") == head
    assert git(hub / REPO, "status", "--porcelain") == ""


def test_second_config_keeps_the_existing_ones(tmp_path, monkeypatch):
    from datasets.arrow_dataset import _get_updated_dataset_card
    from datasets.splits import SplitInfo
    from fsspec.implementations.dirfs import DirFileSystem
    from fsspec.implementations.local import LocalFileSystem

    hub = tmp_path / "hub"
    repo_dir = hub / REPO
    sft = write_dataset(tmp_path / "sft", sft_records(4))
    rl = write_dataset(tmp_path / "rl", rl_records(6))
    publish([sft.path], REPO, version="v1.0", hub_dir=hub)

    # what push_to_hub would write for a second config on top of this README
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    (snapshot / "README.md").write_text((repo_dir / "README.md").read_text())
    result = publish([rl.path], REPO, version="v1.1", config="rl", hub_dir=hub)
    assert result.configs == {"default": 4, "rl": 6}
    assert (repo_dir / "rl" / "train-00000-of-00001.parquet").exists()
    assert (repo_dir / "data" / "train-00000-of-00001.parquet").exists()

    info = readme_yaml(repo_dir / "README.md")
    rl_info = next(i for i in info["dataset_info"] if i["config_name"] == "rl")
    card, _ = _get_updated_dataset_card(
        fs=DirFileSystem(path=str(snapshot), fs=LocalFileSystem()), config_name="rl",
        splits_info=[SplitInfo(name="train", num_bytes=rl_info["splits"][0]["num_bytes"],
                               num_examples=6)],
        features=forms.features("rl"), data_dir="rl", set_default=None,
        uploaded_sizes=[result.download_size], deleted_sizes=[0], remove_other_splits=False)
    expected = card.data.to_dict()
    assert info["configs"] == expected["configs"]
    assert info["dataset_info"] == expected["dataset_info"]

    monkeypatch.chdir(hub)
    default = load(REPO, split="train", cache=tmp_path / "c")
    assert default.num_rows == 4 and "messages" in default.column_names
    rl_ds = load(REPO, "rl", split="train", cache=tmp_path / "c")
    assert rl_ds.column_names == ["id", "source", "prompt", "images", "answer", "answer_type",
                                  "choices", "pass_rate"]
    assert [r["pass_rate"] for r in rl_ds] == [0.25, 0.5, None, 0.25, 0.5, None]
    row = rl_ds[0]
    assert row["answer"] == "B" and row["choices"] == ["red", "blue", "green"]
    assert [t["role"] for t in row["prompt"]] == ["system", "user"]
    assert row["prompt"][0]["content"][0]["text"] == DEFAULT_INSTRUCTION
    assert [c["type"] for c in row["prompt"][1]["content"]] == ["image", "text"]
    assert row["prompt"][1]["content"][1]["text"].endswith("Options:\nA. red\nB. blue\nC. green")
    assert isinstance(row["images"][0], Image.Image)


def test_another_split_joins_the_config_as_push_to_hub_merges_it(tmp_path, monkeypatch):
    from datasets.arrow_dataset import _get_updated_dataset_card
    from datasets.splits import SplitInfo
    from fsspec.implementations.dirfs import DirFileSystem
    from fsspec.implementations.local import LocalFileSystem

    hub = tmp_path / "hub"
    repo_dir = hub / REPO
    publish([write_dataset(tmp_path / "a", sft_records(4)).path], REPO, version="v1.0",
            hub_dir=hub)
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    (snapshot / "README.md").write_text((repo_dir / "README.md").read_text())
    result = publish([write_dataset(tmp_path / "b", sft_records(2, start=50)).path], REPO,
                     version="v1.1", hub_dir=hub, split="test")

    info = readme_yaml(repo_dir / "README.md")
    test_split = next(s for s in info["dataset_info"]["splits"] if s["name"] == "test")
    card, _ = _get_updated_dataset_card(
        fs=DirFileSystem(path=str(snapshot), fs=LocalFileSystem()), config_name="default",
        splits_info=[SplitInfo(name="test", num_bytes=test_split["num_bytes"],
                               num_examples=2)],
        features=forms.features("sft"), data_dir="data", set_default=None,
        uploaded_sizes=[result.download_size], deleted_sizes=[0], remove_other_splits=False)
    expected = card.data.to_dict()
    assert info["configs"] == expected["configs"]
    assert info["dataset_info"] == expected["dataset_info"]

    monkeypatch.chdir(hub)
    both = load(REPO, cache=tmp_path / "c")
    assert {name: ds.num_rows for name, ds in both.items()} == {"train": 4, "test": 2}


def test_uncommitted_changes_in_the_hub_repo_stop_publishing(tmp_path):
    hub = tmp_path / "hub"
    src = write_dataset(tmp_path / "a", sft_records(2))
    publish([src.path], REPO, version="v1.0", hub_dir=hub)
    (hub / REPO / "notes.txt").write_text("local edit")
    with pytest.raises(PublishError, match="uncommitted changes"):
        publish([src.path], REPO, version="v1.1", hub_dir=hub)


def test_named_first_config_becomes_the_default(tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    rl = write_dataset(tmp_path / "rl", rl_records(2))
    publish([rl.path], "omr/rl-74k", version="v1.0", config="virl39k", hub_dir=hub)
    info = readme_yaml(hub / "omr/rl-74k/README.md")
    assert info["configs"] == [{"config_name": "virl39k", "default": True,
                                "data_files": [{"split": "train",
                                                "path": "virl39k/train-*"}]}]
    monkeypatch.chdir(hub)
    assert load("omr/rl-74k", split="train", cache=tmp_path / "c").num_rows == 2


def test_mixing_sft_and_rl_rows_in_one_config_is_an_error_naming_the_fix(tmp_path):
    mixed = write_dataset(tmp_path / "mixed", sft_records(2) + rl_records(3))
    with pytest.raises(PublishError, match=r"mix 2 SFT rows .* 3 RL rows.*--config"):
        publish([mixed.path], REPO, version="v1.0", hub_dir=tmp_path / "hub")
    sft = write_dataset(tmp_path / "sft", sft_records(2))
    rl = write_dataset(tmp_path / "rl", rl_records(2))
    with pytest.raises(PublishError, match="--config"):
        publish([sft.path, rl.path], REPO, version="v1.0", hub_dir=tmp_path / "hub")
    assert not (tmp_path / "hub" / REPO).exists()


@pytest.mark.parametrize("kwargs, message", [
    ({"version": "1.0"}, "expected a tag like 'v1.0'"),
    ({"config": "data"}, "reserved"),
    ({"to_hub": True}, "choose one target"),
    ({"hub_dir": None}, "choose one target"),
    ({"split": "train/x"}, "split"),
])
def test_bad_arguments_are_clear_errors(tmp_path, kwargs, message):
    src = write_dataset(tmp_path / "sft", sft_records(1))
    args = {"version": "v1.0", "hub_dir": tmp_path / "hub", **kwargs}
    with pytest.raises(PublishError, match=message):
        publish([src.path], REPO, **args)


def test_image_without_bytes_is_an_error_naming_the_row(tmp_path):
    record = make_record(source="tqa", source_id="x1", question="q", answer="a",
                         answer_type="text", images=[{"bytes": None, "path": "d/1.png"}])
    src = write_dataset(tmp_path / "in", [record])
    with pytest.raises(PublishError, match=r"tqa/x1: image 'd/1.png' has no bytes"):
        publish([src.path], REPO, version="v1.0", hub_dir=tmp_path / "hub")


# ---------------------------------------------------------------------------------------
# the dataset card


def _chain(tmp_path: Path) -> Path:
    """normalize (with rejects) → verify (manifest lists its parent), plus a stats plot."""
    raw = sft_records(5, source="llava_cot") + sft_records(3, source="wemath2_pro")
    rejects = [make_reject("missing answer", raw="{}"),
               make_reject("malformed JSON: line 3: Expecting value", raw="{"),
               make_reject("missing answer", raw="{}")]
    parent = write_dataset(tmp_path / "normalized", raw + rejects, stage="normalize",
                           config={"source": "llava_cot"})
    child = tmp_path / "verified"
    builder = DatasetBuilder(child, cache_key="verify-test")
    writer = builder.open_unit("u0")
    kept = [r for r in parent.iter_rows()]
    writer.add_all(kept[:7])
    writer.add(make_reject("wrong answer: pred=3 gold=4", **kept[7]))
    builder.mark_done(writer.close())
    builder.finalize(["u0"], stage="verify",
                     config={"judge": "qwen3-235b-judge", "teacher": "qwen3-vl-235b",
                             "judge_base_url": "http://user:pw@judge.local/v1",
                             "api_key": "sk-do-not-leak"},
                     parents=[{"path": str(parent.path), "fingerprint": parent.fingerprint,
                               "stage": "normalize"}])
    (child / "stats").mkdir()
    buf = io.BytesIO()
    Image.new("RGB", (20, 10), (200, 10, 10)).save(buf, "PNG")
    (child / "stats" / "answer_types.png").write_bytes(buf.getvalue())
    return child


def test_card_has_counts_per_source_lineage_models_licenses_and_plots(tmp_path, monkeypatch):
    child = _chain(tmp_path)
    result = publish([child], REPO, version="v1.0", hub_dir=tmp_path / "hub",
                     title="OMR SFT (test)")
    repo_dir = tmp_path / "hub" / REPO
    readme = (repo_dir / "README.md").read_text()
    body = readme.split("---\n", 2)[2]

    assert "# OMR SFT (test)" in body
    assert 'load_dataset("omr/sft-874k", split="train")' in body
    # counts per source, with licenses (known one, and "see source" for an unchecked one)
    assert re.search(r"\| `llava_cot` \| 5 \| \[LLaVA-CoT-100k\]\(.*\) \| apache-2.0 \|", body)
    assert re.search(r"\| `wemath2_pro` \| 2 \| .* \| see source \|", body)
    # lineage: normalize then verify, with the row funnel and reject reasons
    normalize = re.search(r"\| 1 \| `normalize` \(`normalized`\) \| 11 \| 8 \| 3 \| "
                          r"malformed JSON: 1; missing answer: 2 \|", body)
    verify = re.search(r"\| 2 \| `verify` \(`verified`\) \| 8 \| 7 \| 1 \| wrong answer: 1 \|",
                       body)
    assert normalize and verify
    assert "judge = `qwen3-235b-judge` (verify)" in body
    assert "teacher = `qwen3-vl-235b` (verify)" in body
    assert "sk-do-not-leak" not in readme and "user:pw" not in readme
    # plots copied and embedded
    assert "assets/default/train/verified-answer_types.png" in result.files
    assert (repo_dir / "assets/default/train/verified-answer_types.png").is_file()
    assert "![answer types](assets/default/train/verified-answer_types.png)" in body
    # columns and derived meta keys are described
    assert "`messages`" in body and "verify.decided_by" in body
    assert "| `v1.0` |" in body
    assert readme_yaml(repo_dir / "README.md")["license"] == "other"
    # the extra files (assets, provenance.json) do not disturb loading
    monkeypatch.chdir(tmp_path / "hub")
    assert load(REPO, split="train", cache=tmp_path / "c").num_rows == 7


# ---------------------------------------------------------------------------------------
# JSON Schemas


def _json_form(value):
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _json_form(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_form(v) for v in value]
    return value


_TYPES = {"object": dict, "array": list, "string": str, "null": type(None), "boolean": bool}


def schema_errors(value, schema, root, where="$") -> list[str]:
    """The subset of JSON Schema 2020-12 our schema files use (jsonschema is not installed)."""
    if "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/$defs/"), f"unsupported $ref {ref}"
        return schema_errors(value, root["$defs"][ref.split("/")[-1]], root, where)
    errors = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        ok = any(isinstance(value, _TYPES[t]) if t != "number" else
                 isinstance(value, (int, float)) and not isinstance(value, bool) for t in types)
        if not ok:
            return [f"{where}: {type(value).__name__} is not {types}"]
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: {value!r} != {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{where}: too short")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where}: does not match {schema['pattern']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: below minimum")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: above maximum")
    if "anyOf" in schema:
        if all(schema_errors(value, s, root, where) for s in schema["anyOf"]):
            errors.append(f"{where}: matches none of anyOf")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{where}: missing {key!r}")
        props = schema.get("properties", {})
        for key, item in value.items():
            if key in props:
                errors += schema_errors(item, props[key], root, f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{where}: unexpected {key!r}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{where}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{where}: more than {schema['maxItems']} items")
        prefix = schema.get("prefixItems", [])
        for i, item in enumerate(value):
            sub = prefix[i] if i < len(prefix) else schema.get("items")
            if sub is not None:
                errors += schema_errors(item, sub, root, f"{where}[{i}]")
    return errors


def test_published_rows_and_records_match_the_json_schemas(tmp_path):
    schemas = {name: json.loads((SCHEMAS / f"{name}.schema.json").read_text())
               for name in ("record", "sft", "rl")}
    for schema in schemas.values():
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"

    hub = tmp_path / "hub"
    sft_src = write_dataset(tmp_path / "sft", sft_records(4))
    rl_src = write_dataset(tmp_path / "rl", rl_records(3))
    publish([sft_src.path], REPO, version="v1.0", hub_dir=hub)
    publish([rl_src.path], REPO, version="v1.1", config="rl", hub_dir=hub)
    published = {
        "sft": pq.read_table(hub / REPO / "data/train-00000-of-00001.parquet").to_pylist(),
        "rl": pq.read_table(hub / REPO / "rl/train-00000-of-00001.parquet").to_pylist(),
        "record": list(DatasetDir(sft_src.path).iter_rows()) + list(rl_src.iter_rows()),
    }
    for name, rows in published.items():
        assert rows
        for row in rows:
            assert schema_errors(_json_form(row), schemas[name], schemas[name]) == [], name

    # the checks bite: broken rows are reported
    bad_sft = _json_form(published["sft"][0])
    bad_sft["messages"][2]["role"] = "user"
    assert schema_errors(bad_sft, schemas["sft"], schemas["sft"])
    bad_rl = _json_form(published["rl"][0])
    del bad_rl["pass_rate"]
    assert schema_errors(bad_rl, schemas["rl"], schemas["rl"])
    bad_record = _json_form(published["record"][0])
    bad_record["answer_type"] = "essay"
    assert schema_errors(bad_record, schemas["record"], schemas["record"])


# ---------------------------------------------------------------------------------------
# --to-hub, against a recorded fake HfApi

TOKEN = "hf_SeCrEtToKeN0123456789"


class _Entry:
    def __init__(self, path: str, data: bytes):
        self.path = path
        self.blob_id = hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()
        self.lfs = None


class FakeHfApi:
    """Records every call and keeps a repo's files and tags in memory, like the Hub would."""

    def __init__(self, tmp: Path, token: str | None = None, fail_on: str | None = None):
        self.token, self.tmp, self.fail_on = token, tmp, fail_on
        self.calls: list[tuple[str, dict]] = []
        self.files: dict[str, bytes] = {}
        self.snapshots: dict[str, dict[str, bytes]] = {}
        self.commits = 0

    def _record(self, name, kwargs):
        self.calls.append((name, kwargs))
        if name == self.fail_on:
            raise RuntimeError(f"401 Unauthorized for token {self.token} on {name}")

    def create_repo(self, **kw):
        self._record("create_repo", kw)

    def repo_info(self, **kw):
        self._record("repo_info", kw)
        return type("Info", (), {"sha": f"commit{self.commits}"})()

    def list_repo_files(self, **kw):
        self._record("list_repo_files", kw)
        return sorted(self.files)

    def list_repo_refs(self, **kw):
        self._record("list_repo_refs", kw)
        tags = [type("Ref", (), {"name": t})() for t in self.snapshots]
        return type("Refs", (), {"tags": tags, "branches": []})()

    def hf_hub_download(self, *, repo_id, filename, repo_type, revision=None):
        self._record("hf_hub_download", {"filename": filename, "revision": revision})
        path = self.tmp / f"dl-{len(self.calls)}-{Path(filename).name}"
        path.write_bytes(self.files[filename])
        return str(path)

    def list_repo_tree(self, **kw):
        self._record("list_repo_tree", kw)
        files = self.snapshots[kw["revision"]]
        return [_Entry(p, d) for p, d in sorted(files.items())
                if p.startswith(kw["path_in_repo"] + "/")]

    def create_commit(self, **kw):
        self._record("create_commit", kw)
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete
        for op in kw["operations"]:
            if isinstance(op, CommitOperationAdd):
                self.files[op.path_in_repo] = Path(op.path_or_fileobj).read_bytes()
            elif isinstance(op, CommitOperationDelete):
                del self.files[op.path_in_repo]
        self.commits += 1
        return type("CommitInfo", (), {"oid": f"commit{self.commits}"})()

    def create_tag(self, **kw):
        self._record("create_tag", kw)
        self.snapshots[kw["tag"]] = dict(self.files)


def _names(api: FakeHfApi) -> list[str]:
    return [name for name, _ in api.calls]


def test_to_hub_makes_one_commit_with_all_files_then_a_tag(tmp_path, monkeypatch, capsys, caplog):
    import huggingface_hub
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    caplog.set_level(logging.DEBUG)
    made = []

    def fake_factory(token=None, **kwargs):
        made.append(FakeHfApi(tmp_path, token=token))
        return made[-1]

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setattr(huggingface_hub, "HfApi", fake_factory)
    src = write_dataset(tmp_path / "sft", sft_records(6))
    result = publish([src.path], REPO, version="v1.0", to_hub=True, max_shard_bytes=300,
                     private=True)
    api = made[0]
    assert api.token == TOKEN  # taken from the environment, as huggingface_hub does

    assert _names(api)[0] == "create_repo"
    assert api.calls[0][1] == {"repo_id": REPO, "repo_type": "dataset", "private": True,
                               "exist_ok": True}
    commits = [kw for name, kw in api.calls if name == "create_commit"]
    assert len(commits) == 1
    added = [op.path_in_repo for op in commits[0]["operations"]
             if isinstance(op, CommitOperationAdd)]
    shards = [f for f in added if f.endswith(".parquet")]
    assert len(shards) > 1 and sorted(added) == sorted(result.files)
    assert {"README.md", "provenance.json"} <= set(added)
    assert commits[0]["repo_type"] == "dataset"
    tags = [kw for name, kw in api.calls if name == "create_tag"]
    assert len(tags) == 1 and tags[0]["tag"] == "v1.0" and tags[0]["revision"] == "commit1"
    assert _names(api).index("create_tag") > _names(api).index("create_commit")
    assert result.location == f"https://huggingface.co/datasets/{REPO}"

    # a new version: the old shards are deleted in the same single commit, README is merged
    made.clear()
    monkeypatch.setattr(huggingface_hub, "HfApi", lambda token=None, **kw: api)
    smaller = write_dataset(tmp_path / "sft2", sft_records(2))
    second = publish([smaller.path], REPO, version="v1.1", to_hub=True)
    commits = [kw for name, kw in api.calls if name == "create_commit"]
    assert len(commits) == 2
    ops = commits[1]["operations"]
    deleted = sorted(op.path_in_repo for op in ops if isinstance(op, CommitOperationDelete))
    assert deleted == sorted(s for s in shards if s not in second.files)
    assert commits[1]["parent_commit"] == "commit1"
    assert sorted(p for p in api.files if p.endswith(".parquet")) == [
        "data/train-00000-of-00001.parquet"]

    # same version again with identical content: no commit, no tag
    again = publish([smaller.path], REPO, version="v1.1", to_hub=True)
    assert again.unchanged
    assert _names(api).count("create_commit") == 2 and _names(api).count("create_tag") == 2

    out = capsys.readouterr()
    assert TOKEN not in out.out + out.err + caplog.text
    assert TOKEN not in repr(result) + json.dumps(api.files.get("provenance.json", b"").decode())


def test_to_hub_errors_never_show_the_token(tmp_path, monkeypatch, capsys, caplog):
    import huggingface_hub

    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub, "HfApi",
                        lambda token=None, **kw: FakeHfApi(tmp_path, token=token,
                                                           fail_on="create_commit"))
    src = write_dataset(tmp_path / "sft", sft_records(2))
    with pytest.raises(PublishError) as err:
        publish([src.path], REPO, version="v1.0", to_hub=True, token=TOKEN)
    assert "create_commit failed" in str(err.value) and "401 Unauthorized" in str(err.value)
    assert TOKEN not in str(err.value)
    assert err.value.__suppress_context__
    out = capsys.readouterr()
    assert TOKEN not in out.out + out.err + caplog.text


def test_to_hub_without_a_token_says_how_to_log_in(tmp_path, monkeypatch):
    import huggingface_hub

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    src = write_dataset(tmp_path / "sft", sft_records(1))
    with pytest.raises(PublishError, match="hf auth login"):
        publish([src.path], REPO, version="v1.0", to_hub=True)
