"""The Hugging Face Hub backend: one `create_commit` per version with every file, then a tag.

The token comes from the argument, `HF_TOKEN` or the saved login (`huggingface_hub.get_token`);
it is never printed, logged, or left in an error message.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import huggingface_hub
from huggingface_hub import CommitOperationAdd, CommitOperationDelete

from omr_data.publish.common import PublishError, check_repo


class RemoteRepo:
    """A dataset repository on the Hub, through `huggingface_hub.HfApi`."""

    def __init__(self, repo: str, *, token: str | None = None, private: bool = False,
                 api: Any = None):
        self.repo = check_repo(repo)
        if api is None:

            token = token or huggingface_hub.get_token()
            if not token:
                raise PublishError("--to-hub needs a Hugging Face token: run `hf auth login` "
                                   "or set HF_TOKEN")
            api = huggingface_hub.HfApi(token=token)  # looked up per call: tests record it
        self._token = token
        self.api = api
        self._call("create_repo", repo_id=repo, repo_type="dataset", private=private,
                   exist_ok=True)
        self.head = getattr(self._call("repo_info", repo_id=repo, repo_type="dataset"),
                            "sha", None)
        self.files = list(self._call("list_repo_files", repo_id=repo, repo_type="dataset"))
        refs = self._call("list_repo_refs", repo_id=repo, repo_type="dataset")
        self.tags = {tag.name for tag in (getattr(refs, "tags", None) or [])}

    @property
    def location(self) -> str:
        return f"https://huggingface.co/datasets/{self.repo}"

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call the API; errors become PublishError with any trace of the token removed."""
        try:
            return getattr(self.api, method)(*args, **kwargs)
        except PublishError:
            raise
        except Exception as err:  # noqa: BLE001 - any client error, reported without secrets
            text = f"{type(err).__name__}: {err}"
            if self._token:
                text = text.replace(self._token, "***")
            raise PublishError(f"Hub {method} failed for {self.repo}: {text}") from None

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="omr-publish-") as root:
            yield Path(root)

    def has_tag(self, version: str) -> bool:
        return version in self.tags

    def same_content(self, version: str, prefix: str, root: Path, files: list[str]) -> bool:
        try:
            entries = self._call("list_repo_tree", repo_id=self.repo, repo_type="dataset",
                                 path_in_repo=prefix.rsplit("/", 1)[0], revision=version,
                                 recursive=True)
            entries = [e for e in entries if getattr(e, "path", "").startswith(prefix)]
        except PublishError:
            return False
        if sorted(e.path for e in entries) != sorted(files):
            return False
        for entry in entries:
            sha256, blob = _digests(root / entry.path)
            lfs = getattr(entry, "lfs", None)
            if lfs is not None:
                remote = lfs.get("sha256") if isinstance(lfs, dict) else getattr(lfs, "sha256",
                                                                                   None)
                if remote != sha256:
                    return False
            elif getattr(entry, "blob_id", None) != blob:
                return False
        return True

    def read_text(self, name: str) -> str | None:
        if name not in self.files:
            return None
        path = self._call("hf_hub_download", repo_id=self.repo, filename=name,
                          repo_type="dataset", revision=self.head)
        return Path(path).read_text(encoding="utf-8")

    def list_files(self) -> list[str]:
        return list(self.files)

    def commit_and_tag(self, root: Path, files: list[str], deletions: list[str], *,
                       version: str, message: str) -> str:

        operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(root / name))
                      for name in files]
        operations += [CommitOperationDelete(path_in_repo=name) for name in deletions]
        info = self._call("create_commit", repo_id=self.repo, repo_type="dataset",
                          operations=operations, commit_message=message,
                          parent_commit=self.head)
        oid = getattr(info, "oid", None)
        self._call("create_tag", repo_id=self.repo, repo_type="dataset", tag=version,
                   tag_message=message, revision=oid)
        return oid or ""


def _digests(path: Path) -> tuple[str, str]:
    """(sha256, git blob sha1) of a file: the Hub reports one or the other per file."""
    sha256 = hashlib.sha256()
    size = path.stat().st_size
    blob = hashlib.sha1(f"blob {size}\0".encode())
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            sha256.update(chunk)
            blob.update(chunk)
    return sha256.hexdigest(), blob.hexdigest()
