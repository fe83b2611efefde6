"""Publish dataset directories to the Hugging Face Hub, or to a local Hub-layout git repo.

The published layout is what `datasets.push_to_hub` writes:

    data/{split}-00000-of-0000N.parquet       the default config
    {config}/{split}-00000-of-0000N.parquet   any other config
    README.md                                 YAML `configs:` + `dataset_info`, then the card
    assets/{config}/{split}/*.png             plots, where the inputs have `stats/*.png`
    provenance.json                           what the card is rendered from (all configs)

Rows take the TRL form their records call for: records with a `response` publish as SFT
(`messages`, `images`), records without as RL (`prompt`, `images`, `answer`, ...). Each
version is one commit and one tag (`vX.Y`).

    publish(["out/mixed"], "omr/sft-874k", version="v1.0", hub_dir="./hub")
    publish(["out/rl"], "omr/rl-74k", version="v1.0", config="virl39k", to_hub=True)
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omr_data.publish import card as cardlib
from omr_data.publish import forms
from omr_data.publish.common import (
    ASSETS,
    PROVENANCE,
    README,
    PublishError,
    check_config,
    check_repo,
    check_split,
    check_version,
    data_dir_for,
)
from omr_data.publish.local import LocalRepo, checkout_version, list_versions
from omr_data.publish.shards import DEFAULT_MAX_SHARD_BYTES, ShardSet, write_shards
from omr_data.records import RecordError
from omr_data.store import DatasetDir, StoreError

__all__ = ["PublishError", "PublishResult", "checkout_version", "list_versions", "publish",
           "DEFAULT_MAX_SHARD_BYTES"]


@dataclass
class PublishResult:
    """What one `publish` call did."""

    repo: str
    location: str  # the local repository path, or the Hub URL
    version: str
    config: str
    split: str
    form: str  # "sft" or "rl"
    rows: int  # rows published in this config and split
    configs: dict[str, int] = field(default_factory=dict)  # every config in the repo → rows
    files: list[str] = field(default_factory=list)  # repo paths written by this version
    deleted: list[str] = field(default_factory=list)  # stale repo paths removed
    download_size: int = 0  # bytes of this split's Parquet shards
    commit: str | None = None
    unchanged: bool = False  # the version already existed with identical content: no-op
    seconds: float = 0.0

    def summary(self) -> str:
        shards = sum(1 for f in self.files if f.endswith(".parquet"))
        if self.unchanged:
            return (f"{self.repo} {self.version} already holds this content "
                    f"({self.rows:,} rows in {self.config}/{self.split}): nothing to do")
        return (f"published {self.rows:,} {self.form.upper()} rows to {self.repo} "
                f"(config {self.config}, split {self.split}) as {self.version}: {shards} "
                f"shard(s), {self.download_size / 1e6:.1f} MB, {self.seconds:.1f}s "
                f"-> {self.location}")


def publish(
    inputs: list[str | os.PathLike],
    repo: str,
    *,
    version: str,
    config: str | None = None,
    hub_dir: str | os.PathLike | None = None,
    to_hub: bool = False,
    split: str = "train",
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
    token: str | None = None,
    private: bool = False,
    message: str | None = None,
    title: str | None = None,
    summary: str | None = None,
    api: Any = None,
    cards_dir: str | os.PathLike | None = None,
) -> PublishResult:
    """Publish dataset directories as one config/split of `repo`, as version `version`.

    Exactly one target: `hub_dir` (a local git repository at `hub_dir/repo`) or `to_hub`
    (the Hugging Face Hub; `api` may be a preconfigured `HfApi`). Re-publishing an existing
    version is a no-op when the content is identical and an error otherwise.
    """
    start = time.perf_counter()
    check_repo(repo)
    check_version(version)
    config = check_config(config)
    check_split(split)
    if (hub_dir is None) == (not to_hub):
        raise PublishError("choose one target: --hub-dir PATH (a local Hub-layout repository) "
                           "or --to-hub (the Hugging Face Hub)")
    if not inputs:
        raise PublishError("no input dataset directories given")
    if max_shard_bytes <= 0:
        raise PublishError("max_shard_bytes must be positive")
    cards = Path(cards_dir) if cards_dir else cardlib.CARDS_DIR
    datasets = [_open_input(path) for path in inputs]
    form, _ = forms.detect_form(((str(d.path), d.shards) for d in datasets), config)

    if hub_dir is not None:
        backend = LocalRepo(hub_dir, repo)
    else:
        from omr_data.publish.remote import RemoteRepo
        backend = RemoteRepo(repo, token=token, private=private, api=api)

    data_dir = data_dir_for(config)
    prefix = f"{data_dir}/{split}-"
    with backend.staging() as root:
        try:
            shards = write_shards(datasets, form, root, data_dir, split, max_shard_bytes)
        except (RecordError, StoreError) as err:
            raise PublishError(str(err)) from None
        existing_provenance = _load_provenance(backend.read_text(PROVENANCE))
        result = PublishResult(repo=repo, location=backend.location, version=version,
                               config=config, split=split, form=form,
                               rows=shards.num_examples, download_size=shards.download_size)
        if backend.has_tag(version):
            if not backend.same_content(version, prefix, root, shards.files):
                raise PublishError(
                    f"{repo} already has version {version} with other content in "
                    f"{config}/{split}; publish as a new version (e.g. --version "
                    f"{_next_version(version)})")
            result.unchanged = True
            result.configs = _config_rows(existing_provenance)
            result.seconds = time.perf_counter() - start
            return result

        assets_prefix = f"{ASSETS}/{config}/{split}/"
        inputs_info = [_input_info(d, root, assets_prefix) for d in datasets]
        assets = [p["path"] for info in inputs_info for p in info["plots"]]
        card_data = cardlib.merged_card_data(
            backend.read_text(README), config=config, split=split,
            features=forms.features(form), num_examples=shards.num_examples,
            num_bytes=shards.num_bytes, download_size=shards.download_size,
            replaced_download_size=existing_provenance["configs"].get(config, {})
            .get("splits", {}).get(split, {}).get("download_size", 0))
        message = message or f"Publish {config}/{split} {version} ({shards.num_examples:,} rows)"
        provenance = _updated_provenance(
            existing_provenance, repo=repo, config=config, split=split, form=form,
            shards=shards, inputs_info=inputs_info, version=version, message=message,
            title=title, summary=summary)
        readme = cardlib.render_readme(card_data, provenance, repo=repo, cards_dir=cards)
        (root / README).write_text(readme, encoding="utf-8")
        (root / PROVENANCE).write_text(
            json.dumps(provenance, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
            encoding="utf-8")

        files = [*shards.files, *assets, README, PROVENANCE]
        stale = [path for path in backend.list_files()
                 if path not in files and (
                     fnmatch.fnmatchcase(path, f"{prefix}*") or path.startswith(assets_prefix))]
        result.commit = backend.commit_and_tag(root, files, stale, version=version,
                                               message=message)
        result.files, result.deleted = files, stale
        result.configs = _config_rows(provenance)
    result.seconds = time.perf_counter() - start
    return result


def _open_input(path: str | os.PathLike) -> DatasetDir:
    try:
        dataset = DatasetDir(path)
        dataset.check_schema()
    except (StoreError, RecordError) as err:
        raise PublishError(str(err)) from None
    return dataset


def _input_info(dataset: DatasetDir, root: Path, assets_prefix: str) -> dict:
    """Lineage, models and plots of one input, plots copied into the staging tree."""
    nodes = cardlib.lineage(dataset.path)
    label = dataset.path.name or "input"
    plots = []
    for png in sorted((dataset.path / "stats").glob("*.png")):
        repo_path = f"{assets_prefix}{label}-{png.name}"
        if any(p["path"] == repo_path for p in plots):
            continue
        (root / repo_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, root / repo_path)
        plots.append({"path": repo_path, "title": png.stem.replace("_", " ")})
    return {
        "name": label,
        "fingerprint": dataset.fingerprint[:12],
        "rows": dataset.num_rows,
        "lineage": nodes,
        "models": cardlib.models(nodes),
        "plots": plots,
    }


def _load_provenance(text: str | None) -> dict:
    if not text:
        return {"format": 1, "configs": {}, "versions": []}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise PublishError(f"{PROVENANCE} in the repository is not JSON ({err.msg})") from None
    data.setdefault("configs", {})
    data.setdefault("versions", [])
    return data


def _updated_provenance(old: dict, *, repo: str, config: str, split: str, form: str,
                        shards: ShardSet, inputs_info: list[dict], version: str, message: str,
                        title: str | None, summary: str | None) -> dict:
    provenance = json.loads(json.dumps(old))  # a deep copy
    provenance["repo"] = repo
    if title:
        provenance["title"] = title
    if summary:
        provenance["summary"] = summary
    entry = provenance["configs"].setdefault(config, {"form": form, "splits": {}})
    entry["form"] = form
    models = []
    for info in inputs_info:
        models += [m for m in info.pop("models") if m not in models]
    entry["splits"][split] = {
        "rows": shards.num_examples,
        "num_bytes": shards.num_bytes,
        "download_size": shards.download_size,
        "shards": len(shards.files),
        "sources": shards.sources,
        "decided_by": shards.decided_by,
        "pass_rate": {
            "known": shards.pass_rate_known,
            "mean": (shards.pass_rate_sum / shards.pass_rate_known
                     if shards.pass_rate_known else None),
        },
        "inputs": inputs_info,
        "models": models,
    }
    provenance["versions"].append({
        "version": version, "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "config": config, "split": split, "rows": shards.num_examples, "message": message,
    })
    return provenance


def _config_rows(provenance: dict) -> dict[str, int]:
    return {name: sum(s.get("rows", 0) for s in cfg.get("splits", {}).values())
            for name, cfg in sorted(provenance.get("configs", {}).items())}


def _next_version(version: str) -> str:
    head, _, last = version.rpartition(".")
    if head and last.isdigit():
        return f"{head}.{int(last) + 1}"
    return f"{version}.1"
