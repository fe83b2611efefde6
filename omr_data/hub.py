"""Publish dataset directories to the Hugging Face Hub, or to a local Hub-layout git repo.

The published layout is what `datasets.push_to_hub` writes:

    data/{split}-00000-of-0000N.parquet       the default config
    {config}/{split}-00000-of-0000N.parquet   any other config
    README.md                                 YAML `configs:` + `dataset_info`, then the card
    assets/{config}/{split}/*.png             plots, where the inputs have `stats/*.png`
    provenance.json                           what the card is rendered from (all configs)

Rows take the TRL form their records call for: records with a `response` publish as SFT
(`messages`, `images`), records without as RL (`prompt`, `images`, `answer`, ...). Each
version is one commit and one tag (`vX.Y`), holding every config/split of the release.

    publish(["out/mixed"], "omr/sft-874k", version="v1.0", hub_dir="./hub")
    publish(["out/rl"], "omr/rl-74k", version="v1.0", config="virl39k", to_hub=True)
    publish_release([("virl39k", "train", ["out/virl"]), ("validation", "val", ["out/val"])],
                    "omr/rl-74k", version="v1.0", hub_dir="./hub")
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omr_data.privacy import public_value
from omr_data.prompts import instruction_sha256, resolve_instruction
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
from omr_data.publish.remote import RemoteRepo
from omr_data.publish.shards import DEFAULT_MAX_SHARD_BYTES, ShardSet, write_shards
from omr_data.records import RecordError
from omr_data.store import DatasetDir, StoreError

__all__ = ["PublishError", "PublishResult", "PartResult", "checkout_version", "list_versions",
           "parse_config_split", "parse_part", "publish", "publish_release",
           "DEFAULT_MAX_SHARD_BYTES"]

# One part of a release: (config or None for "default", split or None for "train", input dirs)
Part = tuple[str | None, str | None, Sequence[str | os.PathLike]]


@dataclass
class PartResult:
    """One config/split of a release."""

    config: str
    split: str
    form: str  # "sft" or "rl"
    rows: int
    shards: list[str]  # the repo paths of its Parquet shards
    download_size: int  # bytes of those shards
    num_bytes: int  # Arrow bytes, as `dataset_info` reports them
    inputs: list[str]  # the input dataset directories
    assets: list[str] = field(default_factory=list)  # plots copied into the repo

    def label(self) -> str:
        return f"{self.config}/{self.split}"


@dataclass
class PublishResult:
    """What one `publish` / `publish_release` call did: one version, one or more parts."""

    repo: str
    location: str  # the local repository path, or the Hub URL
    version: str
    parts: list[PartResult] = field(default_factory=list)  # in the order given
    configs: dict[str, int] = field(default_factory=dict)  # every config in the repo → rows
    files: list[str] = field(default_factory=list)  # repo paths written by this version
    deleted: list[str] = field(default_factory=list)  # stale repo paths removed
    commit: str | None = None
    unchanged: bool = False  # the version already existed with identical content: no-op
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        """Rows published by this version, all parts together."""
        return sum(p.rows for p in self.parts)

    @property
    def download_size(self) -> int:
        """Bytes of this version's Parquet shards, all parts together."""
        return sum(p.download_size for p in self.parts)

    # With one part these are that part's; with several, the distinct values joined by ",".
    @property
    def config(self) -> str:
        return self._joined("config")

    @property
    def split(self) -> str:
        return self._joined("split")

    @property
    def form(self) -> str:
        return self._joined("form")

    def _joined(self, attr: str) -> str:
        values: list[str] = []
        for part in self.parts:
            if getattr(part, attr) not in values:
                values.append(getattr(part, attr))
        return ",".join(values)

    def summary(self) -> str:
        if len(self.parts) == 1:
            part = self.parts[0]
            if self.unchanged:
                return (f"{self.repo} {self.version} already holds this content "
                        f"({part.rows:,} rows in {part.label()}): nothing to do")
            return (f"published {part.rows:,} {part.form.upper()} rows to {self.repo} "
                    f"(config {part.config}, split {part.split}) as {self.version}: "
                    f"{len(part.shards)} shard(s), {part.download_size / 1e6:.1f} MB, "
                    f"{self.seconds:.1f}s -> {self.location}")
        listing = "; ".join(f"{p.label()}: {p.rows:,} {p.form.upper()} rows, "
                            f"{len(p.shards)} shard(s)" for p in self.parts)
        if self.unchanged:
            return (f"{self.repo} {self.version} already holds this content "
                    f"({len(self.parts)} parts, {self.rows:,} rows: {listing}): nothing to do")
        return (f"published {self.rows:,} rows in {len(self.parts)} parts to {self.repo} as "
                f"{self.version} ({listing}), {self.download_size / 1e6:.1f} MB, "
                f"{self.seconds:.1f}s -> {self.location}")


def publish(
    inputs: Sequence[str | os.PathLike],
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
    instruction: str | None = None,
) -> PublishResult:
    """Publish dataset directories as one config/split of `repo`, as version `version`.

    The one-part case of `publish_release`; see there for targets and re-publishing.
    """
    return publish_release([(config, split, inputs)], repo, version=version, hub_dir=hub_dir,
                           to_hub=to_hub, max_shard_bytes=max_shard_bytes, token=token,
                           private=private, message=message, title=title, summary=summary,
                           api=api, cards_dir=cards_dir, instruction=instruction)


def publish_release(
    parts: Sequence[Part],
    repo: str,
    *,
    version: str,
    hub_dir: str | os.PathLike | None = None,
    to_hub: bool = False,
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
    token: str | None = None,
    private: bool = False,
    message: str | None = None,
    title: str | None = None,
    summary: str | None = None,
    api: Any = None,
    cards_dir: str | os.PathLike | None = None,
    instruction: str | None = None,
) -> PublishResult:
    """Publish several config/splits of `repo` together as version `version`.

    `parts` lists `(config, split, inputs)`: config None means "default", split None means
    "train", inputs are dataset directories whose rows make that config's split. Every part
    is written into one staging tree and committed with ONE commit and ONE tag. Configs and
    splits of the repository that are not in `parts` are kept as they are.

    Exactly one target: `hub_dir` (a local git repository at `hub_dir/repo`) or `to_hub`
    (the Hugging Face Hub; `api` may be a preconfigured `HfApi`). Re-publishing an existing
    version is a no-op when every part's content is identical and an error otherwise.

    `instruction` is the system turn of every published prompt (`omr_data.prompts`; None:
    the default instruction, '': none); distilled rows must have been made with it.
    """
    start = time.perf_counter()
    check_repo(repo)
    check_version(version)
    specs = _check_parts(parts)
    if (hub_dir is None) == (not to_hub):
        raise PublishError("choose one target: --hub-dir PATH (a local Hub-layout repository) "
                           "or --to-hub (the Hugging Face Hub)")
    if max_shard_bytes <= 0:
        raise PublishError("max_shard_bytes must be positive")
    cards = Path(cards_dir) if cards_dir else cardlib.CARDS_DIR
    several = len(specs) > 1

    # Open every input and decide every part's form before anything is written.
    opened = []
    for config, split, paths in specs:
        where = f"{config}/{split}: " if several else ""
        datasets = [_open_input(path, where) for path in paths]
        try:
            form, _ = forms.detect_form(((str(d.path), d.shards) for d in datasets), config)
        except PublishError as err:
            if not where or str(err).startswith("config "):
                raise
            raise PublishError(f"{where}{err}") from None
        opened.append((config, split, datasets, form))
    _check_one_form_per_config(opened)

    if hub_dir is not None:
        backend = LocalRepo(hub_dir, repo)
    else:
        backend = RemoteRepo(repo, token=token, private=private, api=api)

    result = PublishResult(repo=repo, location=backend.location, version=version)
    with backend.staging() as root:
        staged: list[tuple[PartResult, ShardSet, list[DatasetDir]]] = []
        for config, split, datasets, form in opened:
            try:
                shards = write_shards(datasets, form, root, data_dir_for(config), split,
                                      max_shard_bytes, instruction=instruction)
            except (RecordError, StoreError) as err:
                where = f"{config}/{split}: " if several else ""
                raise PublishError(f"{where}{err}") from None
            part = PartResult(config=config, split=split, form=form, rows=shards.num_examples,
                              shards=list(shards.files), download_size=shards.download_size,
                              num_bytes=shards.num_bytes, inputs=[str(d.path) for d in datasets])
            staged.append((part, shards, datasets))
        result.parts = [part for part, _, _ in staged]
        existing_provenance = _load_provenance(backend.read_text(PROVENANCE))

        if backend.has_tag(version):
            differing = [part.label() for part, shards, _ in staged
                         if not backend.same_content(version, _shard_prefix(part), root,
                                                     shards.files)]
            if differing:
                raise PublishError(
                    f"{repo} already has version {version} with other content in "
                    f"{', '.join(differing)}; publish as a new version (e.g. --version "
                    f"{_next_version(version)})")
            result.unchanged = True
            result.configs = _config_rows(existing_provenance)
            result.seconds = time.perf_counter() - start
            return result

        card_data: Any = backend.read_text(README)
        provenance = _copy(existing_provenance)
        for part, shards, datasets in staged:
            assets_prefix = _assets_prefix(part)
            inputs_info = [_input_info(d, root, assets_prefix) for d in datasets]
            part.assets = [p["path"] for info in inputs_info for p in info["plots"]]
            card_data = cardlib.merged_card_data(
                card_data, config=part.config, split=part.split,
                features=forms.features(part.form), num_examples=shards.num_examples,
                num_bytes=shards.num_bytes, download_size=shards.download_size,
                replaced_download_size=existing_provenance["configs"].get(part.config, {})
                .get("splits", {}).get(part.split, {}).get("download_size", 0))
            _set_split(provenance, part, shards, inputs_info)
            provenance["configs"][part.config]["instruction"] = _instruction_entry(instruction)
        _publicize(provenance)
        message = message or _default_message(version, result.parts)
        _add_version(provenance, repo=repo, version=version, parts=result.parts,
                     message=message, title=title, summary=summary)
        readme = cardlib.render_readme(card_data, provenance, repo=repo, cards_dir=cards)
        (root / README).write_text(readme, encoding="utf-8")
        (root / PROVENANCE).write_text(
            json.dumps(provenance, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
            encoding="utf-8")

        files = [f for part in result.parts for f in (*part.shards, *part.assets)]
        files += [README, PROVENANCE]
        written = set(files)
        replaced = [(_shard_prefix(part), _assets_prefix(part)) for part in result.parts]
        stale = [path for path in backend.list_files()
                 if path not in written and any(
                     fnmatch.fnmatchcase(path, f"{shard_prefix}*")
                     or path.startswith(assets_prefix)
                     for shard_prefix, assets_prefix in replaced)]
        result.commit = backend.commit_and_tag(root, files, stale, version=version,
                                               message=message)
        result.files, result.deleted = files, stale
        result.configs = _config_rows(provenance)
    result.seconds = time.perf_counter() - start
    return result


def parse_part(text: str) -> tuple[str, str, list[str]]:
    """`CONFIG[:SPLIT]=DIR[,DIR...]` (the CLI's `--part`) → `(config, split, [dirs])`.

    `default` names the default config; the split defaults to `train`.
    """
    head, sep, dirs = str(text).partition("=")
    paths = [d for d in (d.strip() for d in dirs.split(",")) if d]
    if not sep or not head.strip() or not paths:
        raise PublishError(f"--part {text!r}: expected CONFIG[:SPLIT]=DIR[,DIR...], e.g. "
                           "--part mmr1=runs/sft/mmr1 or --part validation:val=runs/rl/val")
    return (*parse_config_split(head), paths)


def parse_config_split(text: str) -> tuple[str, str]:
    """`CONFIG[:SPLIT]` → `(config, split)`; the split defaults to `train`.

    For recipes: `configs: {"validation:val": [step]}` names config `validation`, split `val`.
    """
    config, _, split = str(text).strip().partition(":")
    return check_config(config.strip()), check_split(split.strip() or "train")


def _check_parts(parts: Sequence[Part]) -> list[tuple[str, str, list[str | os.PathLike]]]:
    """Validated `(config, split, inputs)` triples; each config/split given once."""
    if isinstance(parts, (str, os.PathLike)) or not parts:
        raise PublishError("nothing to publish: give at least one (config, split, inputs) part")
    specs: list[tuple[str, str, list[str | os.PathLike]]] = []
    for index, part in enumerate(parts):
        try:
            config, split, inputs = part
        except (TypeError, ValueError):
            raise PublishError(f"part {index + 1}: expected (config, split, inputs), "
                               f"got {part!r}") from None
        config = check_config(config)
        split = check_split("train" if split is None else split)
        if isinstance(inputs, (str, os.PathLike)):
            inputs = [inputs]
        inputs = list(inputs or [])
        if not inputs:
            where = f" for {config}/{split}" if len(parts) > 1 else ""
            raise PublishError(f"no input dataset directories given{where}")
        if any((config, split) == (c, s) for c, s, _ in specs):
            raise PublishError(f"{config}/{split} is given twice; give each config/split once "
                               "(list all of its input directories in one part)")
        specs.append((config, split, inputs))
    return specs


def _check_one_form_per_config(opened: list[tuple[str, str, list, str]]) -> None:
    seen: dict[str, tuple[str, str]] = {}
    for config, split, _, form in opened:
        if config in seen and seen[config][1] != form:
            other_split, other_form = seen[config]
            raise PublishError(
                f"config {config!r} would hold {other_form.upper()} rows in split "
                f"{other_split!r} and {form.upper()} rows in split {split!r}; one config holds "
                "one form: publish them under separate --config names")
        seen.setdefault(config, (split, form))


def _shard_prefix(part: PartResult) -> str:
    return f"{data_dir_for(part.config)}/{part.split}-"


def _assets_prefix(part: PartResult) -> str:
    return f"{ASSETS}/{part.config}/{part.split}/"


def _default_message(version: str, parts: list[PartResult]) -> str:
    if len(parts) == 1:
        return f"Publish {parts[0].label()} {version} ({parts[0].rows:,} rows)"
    rows = sum(p.rows for p in parts)
    return f"Publish {version}: {', '.join(p.label() for p in parts)} ({rows:,} rows)"


def _open_input(path: str | os.PathLike, where: str = "") -> DatasetDir:
    try:
        dataset = DatasetDir(path)
        dataset.check_schema()
    except (StoreError, RecordError) as err:
        raise PublishError(f"{where}{err}") from None
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


def _copy(data: dict) -> dict:
    return json.loads(json.dumps(data))  # a deep copy


def _set_split(provenance: dict, part: PartResult, shards: ShardSet,
               inputs_info: list[dict]) -> None:
    """Record one part's sources, counts and lineage; other configs and splits stay."""
    entry = provenance["configs"].setdefault(part.config, {"form": part.form, "splits": {}})
    entry["form"] = part.form
    models = []
    for info in inputs_info:
        models += [m for m in info.pop("models") if m not in models]
    entry["splits"][part.split] = {
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
        "diversity": shards.diversity,
    }


def _instruction_entry(instruction: str | None) -> dict:
    text = resolve_instruction(instruction)
    return {"text": text, "sha256": instruction_sha256(text)}


def _publicize(provenance: dict) -> None:
    """Nothing of this machine leaves: the lineage of every split (stage configs, stats,
    external inputs) loses absolute paths, endpoints and credentials (omr_data.privacy)."""
    for config in provenance["configs"].values():
        for split in config.get("splits", {}).values():
            for key in ("inputs", "models"):
                if key in split:
                    split[key] = public_value(split[key])


def _add_version(provenance: dict, *, repo: str, version: str, parts: list[PartResult],
                 message: str, title: str | None, summary: str | None) -> None:
    """One history entry per version, listing every config/split it wrote."""
    provenance["repo"] = repo
    if title:
        provenance["title"] = title
    if summary:
        provenance["summary"] = summary
    provenance["versions"].append({
        "version": version, "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "rows": sum(p.rows for p in parts), "message": message,
        "parts": [{"config": p.config, "split": p.split, "rows": p.rows} for p in parts],
    })


def _config_rows(provenance: dict) -> dict[str, int]:
    return {name: sum(s.get("rows", 0) for s in cfg.get("splits", {}).values())
            for name, cfg in sorted(provenance.get("configs", {}).items())}


def _next_version(version: str) -> str:
    head, _, last = version.rpartition(".")
    if head and last.isdigit():
        return f"{head}.{int(last) + 1}"
    return f"{version}.1"
