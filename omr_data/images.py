"""The one place any stage opens an image: from bytes, or from a file inside a named root.

Every stage that reads images (normalize, distill, dedup, the judge, publish) comes here,
so one set of rules holds everywhere:

- An image is its bytes. A path is followed only when the caller names image roots, and
  only to a file whose real path (symlinks resolved) stays inside one of them: a record
  that holds just `/etc/hostname` or `../secret.png` is never opened.
- Only regular files are read (not `/dev/zero`, a fifo or a folder), and only up to
  `max_bytes`, checked on the open file before reading and again while reading.
- `decode` decodes the whole image (`Image.load()`), so a truncated file fails here and
  not later in a trainer's data loader, and checks the pixel count from the header before
  decoding: above `max_pixels` the image is downscaled or refused, never decoded whole
  when that would cost more than `DECODE_LIMIT_PIXELS`.

Each refusal raises `ImageError` whose text starts with the kind of problem (`missing
image`, `image path escapes image root`, `unreadable image`, `image too large`), so the
row becomes a reject with a readable, countable reason.
"""

from __future__ import annotations

import io
import math
import os
import stat
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from PIL import Image

#: largest image file read from disk (a 16-Mpx PNG is well under this)
MAX_IMAGE_BYTES = 64 * 1024 * 1024
#: normalize's default pixel cap: the largest image Qwen3-VL's processor keeps whole
DEFAULT_MAX_PIXELS = 4096 * 4096
#: images above this are refused rather than decoded to be downscaled (a 144-Mpx RGBA
#: image is 576 MB decoded); JPEGs are decoded at a reduced scale first, so they rarely hit it
DECODE_LIMIT_PIXELS = 64 * 1024 * 1024


class ImageError(ValueError):
    """An image a row cannot use; the message is the reject reason, kind first."""


class ImageRoots:
    """The folders relative image paths resolve in, tried in order (resolved once)."""

    def __init__(self, roots: Iterable[str | os.PathLike | None], *,
                 max_bytes: int = MAX_IMAGE_BYTES):
        self.roots: list[str] = []
        for root in roots:
            if root is None:
                continue
            real = os.path.realpath(os.path.abspath(os.fspath(root)))
            if real not in self.roots:
                self.roots.append(real)
        self.max_bytes = max_bytes

    def __bool__(self) -> bool:
        return bool(self.roots)

    def read(self, path: str, prefixes: tuple[str, ...] = ("",)) -> bytes:
        """The bytes of `path` found under a root (trying each of `prefixes` there)."""
        return self.read_named(path, prefixes)[0]

    def read_named(self, path: str, prefixes: tuple[str, ...] = ("",)) -> tuple[bytes, str]:
        """(bytes, name): the name is the path as given, or relative to its root when it was
        absolute, so no absolute path of this machine is kept in a record."""
        shown = path
        path = path.strip()
        if path.startswith("file://"):
            path = path[len("file://"):]
        if not path:
            raise ImageError("missing image: empty path")
        if not self.roots:
            raise ImageError(f"missing image: {shown} has no bytes, and paths are read only "
                             "inside an image root (normalize --image-root DIR embeds them)")
        escaped = False
        for root in self.roots:
            for prefix in prefixes:
                joined = os.path.join(root, os.path.join(prefix, path) if prefix else path)
                real = os.path.realpath(joined)
                if not _inside(real, root):
                    # absolute elsewhere, `..` or a symlink that leads out: never opened
                    escaped = escaped or os.path.lexists(joined) or os.path.isabs(path) \
                        or ".." in path.replace("\\", "/").split("/")
                    continue
                if os.path.lexists(real):
                    name = os.path.relpath(real, root) if os.path.isabs(path) else path
                    return read_regular_file(real, shown, self.max_bytes), name
        if escaped:
            raise ImageError(f"image path escapes image root: {shown}")
        raise ImageError(f"missing image: {shown}")


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def read_regular_file(path: str, shown: str, max_bytes: int = MAX_IMAGE_BYTES) -> bytes:
    """A regular file's bytes, at most `max_bytes`; never blocks on a fifo or device."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) \
        | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        raise ImageError(f"unreadable image: {shown}: {err.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise ImageError(f"unreadable image: {shown}: not a regular file")
    with os.fdopen(fd, "rb", buffering=0) as fh:
        if info.st_size > max_bytes:
            raise ImageError(f"image too large: {shown}: {info.st_size} bytes "
                             f"(the limit is {max_bytes})")
        chunks, size = [], 0
        while size <= max_bytes:   # the file may grow after fstat: stay bounded anyway
            chunk = fh.read(min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise ImageError(f"image too large: {shown}: more than {max_bytes} bytes")
    return b"".join(chunks)


def image_bytes(image: Any, roots: ImageRoots | None = None, *, where: str = "image") -> bytes:
    """The bytes of a record's image struct `{bytes, path}`: its bytes when it has them,
    else the file at `path` inside `roots` (no roots: the path is never opened)."""
    if not isinstance(image, Mapping):
        raise ImageError(f"unreadable image: {where}: expected {{bytes, path}}, "
                         f"got {type(image).__name__}")
    data = image.get("bytes")
    if data is not None:
        return bytes(data)
    path = image.get("path")
    if not path:
        raise ImageError(f"missing image: {where} has neither bytes nor a path")
    return (roots or ImageRoots([])).read(str(path))


def pixel_count(data: bytes) -> int | None:
    """Width x height from the image header (nothing decoded); None when PIL cannot tell."""

    try:
        with _open(data) as img:
            return img.size[0] * img.size[1]
    except Exception:  # noqa: BLE001 - unreadable headers are the caller's to report
        return None


def decode(data: bytes, label: str, *, max_pixels: int | None = None,
           oversize: str = "reject") -> tuple[bytes, int, int]:
    """(bytes, width, height) of an image PIL decodes completely.

    Above `max_pixels`, `oversize="downscale"` re-encodes it to fit (JPEG stays JPEG, other
    formats become PNG); `"reject"` raises. The header's size is checked before decoding.
    """

    if not data:
        raise ImageError(f"unreadable image: {label}: empty file")
    try:
        with _open(data) as img:
            width, height = img.size
            pixels = width * height
            if max_pixels is not None and pixels > max_pixels:
                if oversize != "downscale":
                    raise ImageError(f"image too large: {label}: {width}x{height} = {pixels} "
                                     f"pixels (the limit is {max_pixels})")
                return _downscale(img, label, max_pixels)
            if img.format == "JPEG":
                # every byte is still entropy-decoded (a truncated file fails), but the
                # pixels come out at 1/8 scale: several times faster than a full decode
                img.draft(img.mode, (max(1, width // 8), max(1, height // 8)))
            if img.size[0] * img.size[1] > DECODE_LIMIT_PIXELS:
                raise ImageError(f"image too large: {label}: {width}x{height} = {pixels} "
                                 f"pixels (the decode limit is {DECODE_LIMIT_PIXELS})")
            img.load()
    except ImageError:
        raise
    except Exception as err:  # PIL raises many types (OSError, SyntaxError, ValueError…)
        raise ImageError(f"unreadable image: {label}: {_short(err)}") from None
    return data, width, height


def _downscale(img: Any, label: str, max_pixels: int) -> tuple[bytes, int, int]:

    width, height = img.size
    scale = math.sqrt(max_pixels / (width * height))
    size = (max(1, int(width * scale)), max(1, int(height * scale)))
    fmt = "JPEG" if img.format == "JPEG" else "PNG"
    if img.format == "JPEG":
        img.draft(img.mode, size)      # decode at 1/2, 1/4 or 1/8 scale when it suffices
    decoded_w, decoded_h = img.size     # after draft(), the reduced size JPEG decodes at
    if decoded_w * decoded_h > DECODE_LIMIT_PIXELS:
        raise ImageError(f"image too large: {label}: {width}x{height} = {width * height} "
                         f"pixels, too large to downscale (the decode limit is "
                         f"{DECODE_LIMIT_PIXELS})")
    img.load()
    small = img.resize(size, Image.Resampling.LANCZOS)
    if fmt == "JPEG" and small.mode not in ("RGB", "L", "CMYK"):
        fmt = "PNG"
    return _encode(small, fmt), size[0], size[1]


def _open(data: bytes) -> Any:
    """`Image.open` without PIL's bomb warning: callers check the pixel count themselves."""

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data))


def _encode(img: Any, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        img.save(out, format="JPEG", quality=95)
    else:
        img.save(out, format="PNG")
    return out.getvalue()


def _short(err: Exception) -> str:
    text = str(err) or type(err).__name__
    return text.splitlines()[0][:160]
