"""Images from every form the sources use, checked to be decodable.

Forms (docs/sources.md §0): an HF `Image` struct `{bytes, path}`, raw bytes in a plain column,
a relative path under the image root, a base64 string or `data:` URL, or a PIL image (what
`datasets` yields when it decodes). Each becomes the record's `{bytes, path}`, read and
decoded by `omr_data.images` (the one helper every stage uses): a path whose real location
leaves the image roots, a missing or non-regular file, a file over the size cap and bytes
PIL cannot decode whole raise `RowError`, so the row becomes a reject with the reason.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterable, Mapping
from io import BytesIO
from typing import Any

from PIL import Image

from omr_data.images import DEFAULT_MAX_PIXELS, MAX_IMAGE_BYTES, ImageError, ImageRoots, decode
from omr_data.sources.errors import RowError

_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]+")
# base64 of the PNG, JPEG, GIF and WEBP signatures: short encoded images are not paths
_BASE64_MAGIC = ("iVBORw0KGgo", "/9j/", "R0lGOD", "UklGR")


class ImageLoader:
    """Reads images; paths resolve (symlinks followed) inside `roots`, tried in order.

    Every image is decoded whole; one above `max_pixels` is downscaled to fit (aspect kept,
    JPEG stays JPEG, others become PNG), or refused when `oversize="reject"`.
    """

    def __init__(self, roots: Iterable[str | os.PathLike | None], *,
                 max_pixels: int | None = DEFAULT_MAX_PIXELS, oversize: str = "downscale",
                 max_bytes: int = MAX_IMAGE_BYTES):
        self.files = ImageRoots(roots, max_bytes=max_bytes)
        self.roots = self.files.roots
        self.max_pixels, self.oversize = max_pixels, oversize

    def load(self, value: Any, *, prefixes: tuple[str, ...] = ("",)) -> dict:
        """One image as `{bytes, path}`; `prefixes` are tried under each root (archives
        whose root folder is uncertain, e.g. LLaVA-CoT's `images/`)."""
        try:
            return self._load(value, prefixes)
        except ImageError as err:
            raise RowError(str(err)) from None

    def _load(self, value: Any, prefixes: tuple[str, ...]) -> dict:
        if value is None:
            raise RowError("missing image: null")
        if isinstance(value, (bytes, bytearray, memoryview)):
            return {"bytes": self.verified(bytes(value), "<bytes>"), "path": None}
        if isinstance(value, Mapping):
            data, path = value.get("bytes"), value.get("path")
            if data is not None:
                if isinstance(data, str):
                    data = decode_base64(data, path or "<base64>")
                return {"bytes": self.verified(bytes(data), path or "<bytes>"), "path": path}
            if path:
                return self.load_path(str(path), prefixes)
            raise RowError("missing image: struct without bytes or path")
        if isinstance(value, str):
            if value.startswith("data:"):
                return {"bytes": self.verified(decode_base64(value.partition(",")[2],
                                                             "data URL"), "data URL"),
                        "path": None}
            if (len(value) > 512 or value.startswith(_BASE64_MAGIC)) and _BASE64.fullmatch(value):
                return {"bytes": self.verified(decode_base64(value, "<base64>"), "<base64>"),
                        "path": None}
            return self.load_path(value, prefixes)
        if _is_pil(value):
            entry = pil_to_entry(value)
            return {**entry, "bytes": self.verified(entry["bytes"], entry["path"] or "<image>")}
        raise RowError(f"unreadable image: unsupported value of type {type(value).__name__}")

    def load_path(self, rel: str, prefixes: tuple[str, ...] = ("",)) -> dict:
        """A file inside a root; `path` keeps the text the row gave (never an absolute
        path of this machine when the row's was relative)."""
        data, name = self.files.read_named(rel, prefixes)
        return {"bytes": self.verified(data, rel.strip()), "path": name}

    def verified(self, data: bytes, label: str) -> bytes:
        return decode(data, label, max_pixels=self.max_pixels, oversize=self.oversize)[0]


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
    return isinstance(value, Image.Image)
