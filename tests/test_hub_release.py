"""Releases: several configs published as ONE version (one commit, one tag), loaded back with
`datasets`, against a local git hub and the recorded fake HfApi."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from test_hub import REPO, FakeHfApi, git, load, readme_yaml, rl_records, sft_records

from omr_data.hub import (
    PublishError,
    list_versions,
    parse_config_split,
    parse_part,
    publish,
    publish_release,
)
from omr_data.publish import card as cardlib
from omr_data.publish import forms
from omr_data.store import write_dataset

RL_REPO = "omr/rl-74k"


def _release(tmp_path):
    """cfgA: SFT rows; cfgB: RL rows; validation/val: RL rows (as RL-74K's `validation`)."""
    a = write_dataset(tmp_path / "a", sft_records(5))
    b = write_dataset(tmp_path / "b", rl_records(4, source="virl39k"))
    val = write_dataset(tmp_path / "val", rl_records(2, source="geo3k"))
    return [("cfgA", "train", [a.path]), ("cfgB", "train", [b.path]),
            ("validation", "val", [val.path])]


def _tree(repo_dir, rev: str) -> dict[str, str]:
    """path → blob id at `rev`."""
    out = git(repo_dir, "ls-tree", "-r", rev)
    return {line.split("\t", 1)[1]: line.split()[2] for line in out.splitlines()}


def _decoded(rows) -> list[tuple[int, int]]:
    sizes = []
    for row in rows:
        for img in row["images"]:
            assert isinstance(img, Image.Image)
            sizes.append(img.size)
    return sizes


def test_two_config_release_is_one_commit_one_tag_and_loads(tmp_path, monkeypatch):
    from datasets.arrow_dataset import _get_updated_dataset_card
    from datasets.splits import SplitInfo
    from fsspec.implementations.dirfs import DirFileSystem
    from fsspec.implementations.local import LocalFileSystem

    hub = tmp_path / "hub"
    repo_dir = hub / RL_REPO
    parts = _release(tmp_path)
    result = publish_release(parts, RL_REPO, version="v1.0", hub_dir=hub, title="RL test")

    assert [(p.config, p.split, p.form, p.rows) for p in result.parts] == [
        ("cfgA", "train", "sft", 5), ("cfgB", "train", "rl", 4), ("validation", "val", "rl", 2)]
    assert result.rows == 11 and result.configs == {"cfgA": 5, "cfgB": 4, "validation": 2}
    assert result.config == "cfgA,cfgB,validation" and result.form == "sft,rl"
    summary = result.summary()
    assert "11 rows in 3 parts" in summary
    assert "cfgA/train: 5 SFT rows" in summary and "validation/val: 2 RL rows" in summary

    # one commit and one tag holding every config
    assert git(repo_dir, "rev-list", "--count", "HEAD") == "1"
    assert list_versions(hub, RL_REPO) == ["v1.0"]
    assert git(repo_dir, "rev-parse", "v1.0^{commit}") == result.commit
    tagged = _tree(repo_dir, "v1.0")
    assert {"cfgA/train-00000-of-00001.parquet", "cfgB/train-00000-of-00001.parquet",
            "validation/val-00000-of-00001.parquet", "README.md",
            "provenance.json"} == set(tagged)
    assert sorted(result.files) == sorted(tagged)
    assert git(repo_dir, "status", "--porcelain") == ""

    # README YAML equals what push_to_hub writes when the configs are pushed one by one
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    fs = DirFileSystem(path=str(snapshot), fs=LocalFileSystem())
    for part in result.parts:
        card, _ = _get_updated_dataset_card(
            fs=fs, config_name=part.config,
            splits_info=[SplitInfo(name=part.split, num_bytes=part.num_bytes,
                                   num_examples=part.rows)],
            features=forms.features(part.form), data_dir=part.config, set_default=None,
            uploaded_sizes=[part.download_size], deleted_sizes=[0], remove_other_splits=False)
        (snapshot / "README.md").write_text(str(card))
    info = readme_yaml(repo_dir / "README.md")
    expected = card.data.to_dict()
    assert info["dataset_info"] == expected["dataset_info"]
    # configs equal too, except that the first named config is flagged the default (so
    # load_dataset(repo) works without a name), which push_to_hub leaves out
    assert [c["config_name"] for c in info["configs"]] == ["cfgA", "cfgB", "validation"]
    assert info["configs"][0].pop("default") is True
    assert info["configs"] == expected["configs"]

    # every config loads, images decode to PIL
    monkeypatch.chdir(hub)
    cache = tmp_path / "cache"
    ds_a = load(RL_REPO, "cfgA", split="train", cache=cache)
    assert ds_a.column_names == ["id", "source", "messages", "images"]
    assert [r["id"] for r in ds_a] == [f"llava_cot/q{i}" for i in range(5)]
    assert len(_decoded(ds_a)) == sum(i % 3 for i in range(5))
    ds_b = load(RL_REPO, "cfgB", split="train", cache=cache)
    assert "prompt" in ds_b.column_names and ds_b.num_rows == 4
    assert _decoded(ds_b) == [(6, 5)] * 4
    val = load(RL_REPO, "validation", split="val", cache=cache)
    assert [r["source"] for r in val] == ["geo3k", "geo3k"]
    assert load(RL_REPO, split="train", cache=cache).num_rows == 5  # the default: cfgA

    # the card renders every config of the release and lists the version once
    body = (repo_dir / "README.md").read_text().split("---\n", 2)[2]
    for name, form, rows in (("cfgA", "SFT", 5), ("cfgB", "RL", 4), ("validation", "RL", 2)):
        assert re.search(rf"\| `{name}` \| {form} \| {rows} \|", body), name
        assert f"### `{name}`" in body
    assert 'load_dataset("omr/rl-74k", "validation", split="val")' in body
    assert "### `validation` / `val`" in body
    assert "| `virl39k` | 4 |" in body and "| `geo3k` | 2 |" in body
    assert "SFT configs (TRL conversational format)" in body and "RL configs" in body
    versions = [line for line in body.splitlines() if re.match(r"\| `v\d", line)]
    assert len(versions) == 1
    assert ("`cfgA` (train: 5), `cfgB` (train: 4), `validation` (val: 2) | 11 |"
            in versions[0])


def test_release_to_hub_is_one_create_commit_and_one_tag(tmp_path):
    from huggingface_hub import CommitOperationAdd

    api = FakeHfApi(tmp_path)
    parts = _release(tmp_path)
    result = publish_release(parts, RL_REPO, version="v1.0", to_hub=True, api=api,
                             max_shard_bytes=300)
    names = [name for name, _ in api.calls]
    assert names.count("create_commit") == 1 and names.count("create_tag") == 1
    assert names.index("create_tag") > names.index("create_commit")
    commit = next(kw for name, kw in api.calls if name == "create_commit")
    added = sorted(op.path_in_repo for op in commit["operations"]
                   if isinstance(op, CommitOperationAdd))
    assert added == sorted(result.files)
    for part in result.parts:
        assert part.shards and set(part.shards) <= set(added)
    by_dir = {p.split("/")[0] for p in added if p.endswith(".parquet")}
    assert by_dir == {"cfgA", "cfgB", "validation"}
    assert len([p for p in added if p.startswith("cfgA/")]) > 1  # several shards
    assert {"README.md", "provenance.json"} <= set(added)
    tag = next(kw for name, kw in api.calls if name == "create_tag")
    assert tag["tag"] == "v1.0" and tag["revision"] == "commit1"

    # the same release again: nothing committed
    again = publish_release(parts, RL_REPO, version="v1.0", to_hub=True, api=api,
                            max_shard_bytes=300)
    assert again.unchanged and "nothing to do" in again.summary()
    names = [name for name, _ in api.calls]
    assert names.count("create_commit") == 1 and names.count("create_tag") == 1

    # one part changed under the same version: the error, still nothing committed
    changed = write_dataset(tmp_path / "b2", rl_records(3, source="virl39k"))
    parts[1] = ("cfgB", "train", [changed.path])
    with pytest.raises(PublishError, match=r"other content in cfgB/train; .*--version v1\.1"):
        publish_release(parts, RL_REPO, version="v1.0", to_hub=True, api=api,
                        max_shard_bytes=300)
    assert [name for name, _ in api.calls].count("create_commit") == 1


def test_republishing_a_release_is_noop_if_identical_and_error_if_one_part_changed(tmp_path):
    hub = tmp_path / "hub"
    repo_dir = hub / RL_REPO
    parts = _release(tmp_path)
    publish_release(parts, RL_REPO, version="v1.0", hub_dir=hub)
    head = git(repo_dir, "rev-parse", "HEAD")

    again = publish_release(parts, RL_REPO, version="v1.0", hub_dir=hub)
    assert again.unchanged and [p.rows for p in again.parts] == [5, 4, 2]
    assert again.configs == {"cfgA": 5, "cfgB": 4, "validation": 2}
    assert "already holds this content (3 parts, 11 rows" in again.summary()
    assert git(repo_dir, "rev-parse", "HEAD") == head and list_versions(hub, RL_REPO) == ["v1.0"]

    changed = write_dataset(tmp_path / "val2", rl_records(3, source="geo3k"))
    parts[2] = ("validation", "val", [changed.path])
    with pytest.raises(PublishError) as err:
        publish_release(parts, RL_REPO, version="v1.0", hub_dir=hub)
    message = str(err.value)
    assert "already has version v1.0 with other content in validation/val;" in message
    assert "cfgA" not in message and "--version v1.1" in message
    assert git(repo_dir, "rev-parse", "HEAD") == head
    assert git(repo_dir, "status", "--porcelain") == ""


def test_later_release_of_one_config_keeps_the_others(tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    repo_dir = hub / RL_REPO
    parts = _release(tmp_path)
    first = publish_release(parts, RL_REPO, version="v1.0", hub_dir=hub, max_shard_bytes=300)
    old_b = next(p for p in first.parts if p.config == "cfgB").shards
    assert len(old_b) > 1
    info_v1 = readme_yaml(repo_dir / "README.md")

    newer = write_dataset(tmp_path / "b2", rl_records(1, source="virl39k"))
    second = publish_release([("cfgB", "train", [newer.path])], RL_REPO, version="v1.1",
                             hub_dir=hub)
    assert second.configs == {"cfgA": 5, "cfgB": 1, "validation": 2}
    assert sorted(second.deleted) == sorted(set(old_b) - set(second.files))
    assert git(repo_dir, "rev-list", "--count", "HEAD") == "2"
    assert list_versions(hub, RL_REPO) == ["v1.0", "v1.1"]

    # cfgA and validation: same files, same README entries
    v1, v2 = _tree(repo_dir, "v1.0"), _tree(repo_dir, "v1.1")
    for path, blob in v1.items():
        if not path.startswith("cfgB/") and path not in ("README.md", "provenance.json"):
            assert v2[path] == blob, path
    assert [p for p in v2 if p.startswith("cfgB/")] == ["cfgB/train-00000-of-00001.parquet"]
    info_v2 = readme_yaml(repo_dir / "README.md")
    for key in ("configs", "dataset_info"):
        kept_v1 = [c for c in info_v1[key] if c["config_name"] != "cfgB"]
        kept_v2 = [c for c in info_v2[key] if c["config_name"] != "cfgB"]
        assert kept_v1 == kept_v2 and len(kept_v2) == 2
    b_info = next(c for c in info_v2["dataset_info"] if c["config_name"] == "cfgB")
    assert b_info["splits"] == [{"name": "train", "num_bytes": second.parts[0].num_bytes,
                                 "num_examples": 1}]
    assert b_info["download_size"] == second.download_size

    body = (repo_dir / "README.md").read_text().split("---\n", 2)[2]
    assert re.search(r"\| `cfgA` \| SFT \| 5 \|", body)
    assert re.search(r"\| `cfgB` \| RL \| 1 \|", body)
    versions = [line for line in body.splitlines() if re.match(r"\| `v\d", line)]
    assert versions[0].startswith("| `v1.1` |") and "`cfgB` (train: 1) | 1 |" in versions[0]
    assert versions[1].startswith("| `v1.0` |") and "`validation` (val: 2)" in versions[1]

    monkeypatch.chdir(hub)
    cache = tmp_path / "cache"
    assert load(RL_REPO, "cfgA", split="train", cache=cache).num_rows == 5
    assert load(RL_REPO, "cfgB", split="train", cache=cache).num_rows == 1
    assert load(RL_REPO, "validation", split="val", cache=cache).num_rows == 2


def test_a_config_with_sft_and_rl_rows_is_an_error_naming_the_fix(tmp_path):
    sft = write_dataset(tmp_path / "sft", sft_records(2))
    rl = write_dataset(tmp_path / "rl", rl_records(3))
    mixed = write_dataset(tmp_path / "mixed", sft_records(2) + rl_records(3))
    hub = tmp_path / "hub"
    with pytest.raises(PublishError,
                       match=r"config 'cfgB' would mix 2 SFT rows .* 3 RL rows.*--config"):
        publish_release([("cfgA", "train", [sft.path]), ("cfgB", "train", [mixed.path])],
                        REPO, version="v1.0", hub_dir=hub)
    with pytest.raises(PublishError, match=r"config 'cfgB' would mix .*--config"):
        publish_release([("cfgB", "train", [sft.path, rl.path])], REPO, version="v1.0",
                        hub_dir=hub)
    # one config, two splits of different forms
    with pytest.raises(PublishError, match=r"config 'mmr1' would hold SFT rows in split "
                                           r"'train' and RL rows in split 'test'.*--config"):
        publish_release([("mmr1", "train", [sft.path]), ("mmr1", "test", [rl.path])], REPO,
                        version="v1.0", hub_dir=hub)
    assert not (hub / REPO).exists()


@pytest.mark.parametrize("parts, message", [
    ([], "nothing to publish"),
    ([("a", "train")], r"part 1: expected \(config, split, inputs\)"),
    ([("a", "train", [])], "no input dataset directories given"),
    ([("data", "train", ["x"])], "reserved"),
    ([("a", "train/x", ["x"])], "split"),
    ([("a", "train", ["x"]), ("a", None, ["y"])], r"a/train is given twice"),
])
def test_bad_parts_are_clear_errors(tmp_path, parts, message):
    with pytest.raises(PublishError, match=message):
        publish_release(parts, REPO, version="v1.0", hub_dir=tmp_path / "hub")
    assert not (tmp_path / "hub").exists()


def test_a_missing_or_empty_input_names_its_part(tmp_path):
    sft = write_dataset(tmp_path / "sft", sft_records(1))
    empty = write_dataset(tmp_path / "empty", [])
    with pytest.raises(PublishError, match=r"^cfgB/test: the inputs hold no rows"):
        publish_release([("cfgA", None, sft.path), ("cfgB", "test", [empty.path])],
                        REPO, version="v1.0", hub_dir=tmp_path / "hub")
    with pytest.raises(PublishError, match=r"^cfgB/train: .*nowhere"):
        publish_release([("cfgA", None, sft.path), ("cfgB", None, [tmp_path / "nowhere"])],
                        REPO, version="v1.0", hub_dir=tmp_path / "hub")


def test_default_config_and_none_split_in_a_release(tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    sft = write_dataset(tmp_path / "sft", sft_records(3))
    rl = write_dataset(tmp_path / "rl", rl_records(2))
    result = publish_release([(None, None, [sft.path]), ("rl", "train", [rl.path])], REPO,
                             version="v1.0", hub_dir=hub)
    assert [p.label() for p in result.parts] == ["default/train", "rl/train"]
    assert {"data/train-00000-of-00001.parquet", "rl/train-00000-of-00001.parquet"} <= set(
        result.files)
    monkeypatch.chdir(hub)
    assert load(REPO, split="train", cache=tmp_path / "c").num_rows == 3
    assert load(REPO, "rl", split="train", cache=tmp_path / "c").num_rows == 2
    # the single-part entry point is the same path
    again = publish([sft.path], REPO, version="v1.0", hub_dir=hub)
    assert again.unchanged and again.config == "default" and again.rows == 3


def test_parse_part():
    assert parse_part("mmr1=runs/a,runs/b") == ("mmr1", "train", ["runs/a", "runs/b"])
    assert parse_part("validation:val=runs/val") == ("validation", "val", ["runs/val"])
    assert parse_part("default=x") == ("default", "train", ["x"])
    for bad in ("mmr1", "=x", "mmr1=", "data=x", "a:b/c=x"):
        with pytest.raises(PublishError):
            parse_part(bad)
    assert parse_config_split("validation:val") == ("validation", "val")
    assert parse_config_split("WeMath") == ("WeMath", "train")
    assert parse_config_split("OpenVLThinker-sft-iter3") == ("OpenVLThinker-sft-iter3", "train")
    with pytest.raises(PublishError, match="reserved"):
        parse_config_split("data:train")


def test_card_renders_version_entries_written_before_releases(tmp_path):
    provenance = {"configs": {"default": {"form": "sft", "splits": {"train": {"rows": 3}}}},
                  "versions": [{"version": "v0.9", "date": "2025-01-01", "config": "default",
                                "split": "train", "rows": 3, "message": "old"},
                               {"version": "v1.0", "date": "2025-02-01", "rows": 3,
                                "message": "new", "parts": [{"config": "default",
                                                             "split": "train", "rows": 3}]}]}
    context = cardlib.card_context(provenance, repo=REPO, total=3,
                                   cards_dir=cardlib.CARDS_DIR)
    assert [(v["version"], v["parts"]) for v in context["versions"]] == [
        ("v1.0", [{"config": "default", "split": "train", "rows": 3}]),
        ("v0.9", [{"config": "default", "split": "train", "rows": 3}])]


def test_plots_of_each_part_land_under_its_own_assets_folder(tmp_path):
    hub = tmp_path / "hub"
    a = write_dataset(tmp_path / "a", sft_records(2))
    b = write_dataset(tmp_path / "b", rl_records(2))
    for ds, color in ((a, (1, 2, 3)), (b, (4, 5, 6))):
        (ds.path / "stats").mkdir()
        buf = io.BytesIO()
        Image.new("RGB", (4, 4), color).save(buf, "PNG")
        (ds.path / "stats" / "sources.png").write_bytes(buf.getvalue())
    result = publish_release([("cfgA", "train", [a.path]), ("cfgB", "train", [b.path])],
                             REPO, version="v1.0", hub_dir=hub)
    assert [p.assets for p in result.parts] == [["assets/cfgA/train/a-sources.png"],
                                                ["assets/cfgB/train/b-sources.png"]]
    body = (hub / REPO / "README.md").read_text()
    assert "![sources](assets/cfgA/train/a-sources.png)" in body
    assert "![sources](assets/cfgB/train/b-sources.png)" in body
