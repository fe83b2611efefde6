"""Images from every form the sources use, checked to be decodable.

Forms (SOURCES.md §0): an HF `Image` struct `{bytes, path}`, raw bytes in a plain column,
a relative path under the image root, a base64 string or `data:` URL, or a PIL image (what
`datasets` yields when it decodes). Each becomes the record's `{bytes, path}`; a path that
leaves the image root, a missing file and bytes PIL cannot read raise `RowError`, so the row
becomes a reject with the reason.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from io import BytesIO
from typing import Any, Iterable, Mapping

from omr_data.sources.errors import RowError

_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]+")
# base64 of the PNG, JPEG, GIF and WEBP signatures: short encoded images are not paths
_BASE64_MAGIC = ("iVBORw0KGgo", "/9j/", "R0lGOD", "UklGR")


class ImageLoader:
    """Reads images; relative paths resolve against `roots`, tried in order."""

    def __init__(self, roots: Iterable[str | os.PathLike | None]):
        self.roots = []
        for root in roots:
            if root is not None:
                norm = os.path.normpath(os.path.abspath(root))
                if norm not in self.roots:
                    self.roots.append(norm)

    def load(self, value: Any, *, prefixes: tuple[str, ...] = ("",)) -> dict:
        """One image as `{bytes, path}`; `prefixes` are tried under each root (archives
        whose root folder is uncertain, e.g. LLaVA-CoT's `images/`)."""
        if value is None:
            raise RowError("missing image: null")
        if isinstance(value, (bytes, bytearray, memoryview)):
            return {"bytes": verified(bytes(value), "<bytes>"), "path": None}
        if isinstance(value, Mapping):
            data, path = value.get("bytes"), value.get("path")
            if data is not None:
                if isinstance(data, str):
                    data = decode_base64(data, path or "<base64>")
                return {"bytes": verified(bytes(data), path or "<bytes>"), "path": path}
            if path:
                return self.load_path(str(path), prefixes)
            raise RowError("missing image: struct without bytes or path")
        if isinstance(value, str):
            if value.startswith("data:"):
                return {"bytes": verified(decode_base64(value.partition(",")[2], "data URL"),
                                          "data URL"), "path": None}
            if (len(value) > 512 or value.startswith(_BASE64_MAGIC)) and _BASE64.fullmatch(value):
                return {"bytes": verified(decode_base64(value, "<base64>"), "<base64>"),
                        "path": None}
            return self.load_path(value, prefixes)
        if _is_pil(value):
            return pil_to_entry(value)
        raise RowError(f"unreadable image: unsupported value of type {type(value).__name__}")

    def load_path(self, rel: str, prefixes: tuple[str, ...] = ("",)) -> dict:
        rel = rel.strip()
        if rel.startswith("file://"):
            rel = rel[len("file://"):]
        if not rel:
            raise RowError("missing image: empty path")
        if not self.roots:
            raise RowError(f"missing image: {rel} (no image root to resolve it against)")
        for root in self.roots:
            for prefix in prefixes:
                candidate = self._inside(root, os.path.join(prefix, rel) if prefix else rel, rel)
                if os.path.isfile(candidate):
                    try:
                        with open(candidate, "rb") as fh:
                            data = fh.read()
                    except OSError as err:
                        raise RowError(f"unreadable image: {rel}: {err.strerror}") from None
                    return {"bytes": verified(data, rel), "path": rel}
        raise RowError(f"missing image: {rel}")

    @staticmethod
    def _inside(root: str, rel: str, shown: str) -> str:
        """The path under root; refuses absolute paths elsewhere and `..` that leaves root
        (checked on the path text, so a user's symlinked image folder still works)."""
        joined = os.path.normpath(os.path.join(root, rel))
        if joined != root and not joined.startswith(root + os.sep):
            raise RowError(f"image path escapes image root: {shown}")
        return joined


def verified(data: bytes, label: str) -> bytes:
    """`data` if PIL can identify and verify it, else RowError naming the image."""
    from PIL import Image

    if not data:
        raise RowError(f"unreadable image: {label}: empty file")
    try:
        with Image.open(BytesIO(data)) as img:
            img.verify()
    except Exception as err:  # PIL raises many types (OSError, SyntaxError, ValueError…)
        raise RowError(f"unreadable image: {label}: {_short(err)}") from None
    return data


def decode_base64(text: str, label: str) -> bytes:
    try:
        return base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError) as err:
        raise RowError(f"unreadable image: {label}: bad base64 ({err})") from None


def pil_to_entry(img: Any) -> dict:
    """A PIL image (as `datasets` decodes them) back to bytes, in its own format if known."""
    fmt = img.format or "PNG"
    buf = BytesIO()
    try:
        img.save(buf, format=fmt)
    except (OSError, ValueError, KeyError):
        buf = BytesIO()
        img.save(buf, format="PNG")
    path = getattr(img, "filename", None) or None
    return {"bytes": buf.getvalue(), "path": os.path.basename(path) if path else None}


def _is_pil(value: Any) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        return False
    return isinstance(value, Image.Image)


def _short(err: Exception) -> str:
    text = str(err) or type(err).__name__
    return text.splitlines()[0][:160]
