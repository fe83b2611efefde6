"""Names and checks shared by the publishing modules."""

from __future__ import annotations

import re

README = "README.md"
PROVENANCE = "provenance.json"  # per-config sources, lineage and version history, for the card
ASSETS = "assets"

_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_VERSION_RE = re.compile(r"^v\d+(\.\d+)*$")
_CONFIG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SPLIT_RE = re.compile(r"^\w+(\.\w+)*$")  # the pattern `datasets` accepts for split names


class PublishError(RuntimeError):
    """Publishing cannot go on; the message names the cause and, where there is one, the fix."""


def check_repo(repo: str) -> str:
    if not isinstance(repo, str) or not _REPO_RE.match(repo) or ".." in repo:
        raise PublishError(f"--repo {repo!r}: expected 'org/name', e.g. 'omr/sft-874k'")
    return repo


def check_version(version: str) -> str:
    if not isinstance(version, str) or not _VERSION_RE.match(version):
        raise PublishError(f"--version {version!r}: expected a tag like 'v1.0' (v + numbers)")
    return version


def check_config(config: str | None) -> str:
    name = config or "default"
    if name == "data":
        raise PublishError("--config 'data' is reserved by the Hub layout (it is the folder of "
                           "the default config); choose another name")
    if not _CONFIG_RE.match(name):
        raise PublishError(f"--config {name!r}: use letters, digits, '_', '-' or '.'")
    return name


def check_split(split: str) -> str:
    if not isinstance(split, str) or not _SPLIT_RE.match(split):
        raise PublishError(f"split {split!r}: use letters, digits and '_' (e.g. 'train')")
    return split


def data_dir_for(config: str) -> str:
    """The folder `push_to_hub` uses: `data` for the default config, else the config's name."""
    return "data" if config == "default" else config
