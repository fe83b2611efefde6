"""Image evidence: exact hashes, perceptual hashes after border trimming, a finer comparison.

Three levels, cheapest first:

1. `sha1` of the image bytes: the same file.
2. A 64-bit pHash (`imagehash`) of the grayscale image with uniform borders trimmed: stable
   under resizing, re-encoding, brightness/contrast, grayscale and added borders; crops of a
   few percent move it by a few bits. It only *proposes* candidates (through an index).
3. `fine_score(a, b)` for candidates: both images trimmed, aligned for small crops by
   matching their row/column intensity profiles (then refined to a fraction of a pixel),
   compared at the smaller one's resolution with grey levels matched, block by block. The
   score is 1 - the share of clearly differing pixels in the worst block, so a figure
   redrawn with another bar or cell scores low while JPEG noise, spread thin, does not.
   Known limit: a single changed digit in a table or a diagram label, seen through a
   downscaled or grayscale copy, often still scores above the threshold.

dHash and wHash were measured on the same figures and did not separate duplicates from
redrawn templates better than pHash after trimming, so only pHash is indexed.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
from PIL import Image, ImageFilter

FINE_SIZE = 192         # largest side at which `fine_score` compares two images
BLOCKS = 12             # blocks across the shorter side in the worst-block comparison
PIXEL_DIFF = 0.3        # a pixel differs when off by more than this share of the grey range
PROFILE_SIZE = 192      # samples of the row/column profiles used to align crops
MAX_CROP = 0.09         # largest crop per side (fraction of the trimmed image) searched
TRIM_TOLERANCE = 0.3    # fraction of the image's contrast a border pixel may differ by

Image.MAX_IMAGE_PIXELS = 20_000 * 20_000


class ImageDecodeError(ValueError):
    """Bytes that PIL cannot read as an image."""


def sha1(data: bytes) -> bytes:
    return hashlib.sha1(data).digest()[:12]


def decode_gray(data: bytes) -> Image.Image:
    """The image as 8-bit grayscale (alpha composited on white)."""
    try:
        img = Image.open(io.BytesIO(data))
        img.draft("L", (1024, 1024))  # JPEG: decode at reduced size when it is large
        img.load()
    except Exception as err:  # PIL raises many types for bad data
        raise ImageDecodeError(f"{type(err).__name__}: {err}") from None
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    img = img.convert("L")
    if max(img.size) > 1024:
        img.thumbnail((1024, 1024), Image.BILINEAR)
    return img


def trim_borders(img: Image.Image, tolerance: float = TRIM_TOLERANCE) -> Image.Image:
    """Remove uniform borders (padding in any colour, then a figure's own blank margin).

    Decided on a box-filtered copy at most 256 px wide, with a tolerance relative to the
    image's contrast, so JPEG ringing, rescaling and contrast changes move the cut little.
    """
    small = img if max(img.size) <= 256 else img.resize(
        _fit(img.size, 256), Image.BOX)
    arr = np.asarray(small, dtype=np.int16)
    sy, sx = img.size[1] / arr.shape[0], img.size[0] / arr.shape[1]
    top, left, bottom, right = 0, 0, arr.shape[0], arr.shape[1]
    for _ in range(3):
        view = arr[top:bottom, left:right]
        if view.shape[0] < 8 or view.shape[1] < 8:
            break
        corners = np.array([view[0, 0], view[0, -1], view[-1, 0], view[-1, -1]])
        agree = (np.abs(corners[:, None] - corners[None, :]) <= 16).sum(axis=1)
        if agree.max() < 3:  # a border is uniform: at least three corners share its colour
            break
        background = int(np.median(corners[agree == agree.max()]))
        spread = np.abs(view - background)
        mask = spread > max(16.0, tolerance * float(spread.max()))
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        if rows.size == 0 or cols.size == 0:
            break
        t, b = top + rows[0], top + rows[-1] + 1
        l_, r = left + cols[0], left + cols[-1] + 1
        # a trimmed side steps one more pixel in: the downscaled edge blends both colours
        t, l_ = t + (t > top), l_ + (l_ > left)
        b, r = b - (b < bottom), r - (r < right)
        if (t, l_, b, r) == (top, left, bottom, right):
            break
        top, left, bottom, right = t, l_, b, r
    if bottom - top < 4 or right - left < 4:
        return img
    box = (round(left * sx), round(top * sy), round(right * sx), round(bottom * sy))
    if box == (0, 0, img.size[0], img.size[1]):
        return img
    out = img.crop(box)
    out._trim_box = box
    return out


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    w, h = size
    f = side / max(w, h)
    return max(1, round(w * f)), max(1, round(h * f))


def phash_int(img: Image.Image) -> int:
    import imagehash
    bits = imagehash.phash(img, hash_size=8).hash.flatten()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def image_signature(data: bytes) -> tuple[bytes, int | None]:
    """(sha1 of the bytes, pHash of the trimmed image or None when it cannot be decoded)."""
    digest = sha1(data)
    try:
        gray = decode_gray(data)
    except ImageDecodeError:
        return digest, None
    return digest, phash_int(trim_borders(gray))


# ---------------------------------------------------------------------------------------
# the finer comparison


def decode_rgb(data: bytes) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(data))
        img.draft("RGB", (1024, 1024))
        img.load()
    except Exception as err:
        raise ImageDecodeError(f"{type(err).__name__}: {err}") from None
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    img = img.convert("RGB")
    if max(img.size) > 1024:
        img.thumbnail((1024, 1024), Image.BILINEAR)
    return img


def fine_features(data: bytes) -> np.ndarray | None:
    """The trimmed image (long side at most 256) as uint8 HxWx3, or HxW when it has no colour."""
    try:
        rgb = decode_rgb(data)
    except ImageDecodeError:
        return None
    gray = rgb.convert("L")
    trimmed = trim_borders(gray)
    box = getattr(trimmed, "_trim_box", None)
    if box is not None:
        rgb = rgb.crop(box)
    if max(rgb.size) > 256:
        rgb.thumbnail((256, 256), Image.LANCZOS)
    arr = np.asarray(rgb, dtype=np.int16)
    chroma = np.abs(arr - arr.mean(axis=2, keepdims=True)).max()
    if chroma <= 24:  # grayscale (or nearly): compare luminance only
        return np.asarray(rgb.convert("L"), dtype=np.uint8).copy()
    return arr.astype(np.uint8)


def _luma(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 2:
        return arr
    return np.asarray(Image.fromarray(arr).convert("L"))


def _profiles(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = _luma(arr).astype(np.float32)
    return _resample(a.mean(axis=0)), _resample(a.mean(axis=1))


def _resample(profile: np.ndarray, n: int = PROFILE_SIZE) -> np.ndarray:
    x = np.linspace(0, 1, len(profile))
    return np.interp(np.linspace(0, 1, n), x, profile)


def _standardise(v: np.ndarray) -> np.ndarray:
    v = v - v.mean(axis=-1, keepdims=True)
    return v / (np.linalg.norm(v, axis=-1, keepdims=True) + 1e-6)


_CUTS = np.arange(0.0, MAX_CROP + 1e-9, 0.005)


def _best_cut(outer: np.ndarray, inner: np.ndarray) -> tuple[float, float, float]:
    """The (start, end) cut of `outer`'s profile that best matches `inner`, and the match."""
    u = np.linspace(0, 1, PROFILE_SIZE)
    lo, hi = np.meshgrid(_CUTS, _CUTS, indexing="ij")
    lo, hi = lo.ravel(), hi.ravel()
    pos = lo[:, None] + (1 - lo - hi)[:, None] * u[None, :]
    xs = np.linspace(0, 1, len(outer))
    sampled = np.interp(pos.ravel(), xs, outer).reshape(pos.shape)
    corr = _standardise(sampled) @ _standardise(inner[None, :])[0]
    best = int(np.argmax(corr))
    return float(lo[best]), float(hi[best]), float(corr[best])


def _region(arr: np.ndarray, box: tuple[float, float, float, float],
            size: tuple[int, int]) -> np.ndarray:
    img = Image.fromarray(arr)
    w, h = img.size
    l_, t, r, b = box
    region = (l_ * w, t * h, (1 - r) * w, (1 - b) * h)
    out = img.resize(size, Image.LANCZOS, box=region, reducing_gap=3.0)
    out = np.asarray(out.filter(ImageFilter.GaussianBlur(0.6)), dtype=np.float32)
    return out if out.ndim == 3 else out[:, :, None]


def _match_histogram(src: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """`src` with its levels mapped monotonically onto `ref`'s distribution, so brightness,
    contrast and gamma changes do not count as differences."""
    flat = src.ravel()
    order = np.sort(flat)
    rank = (np.searchsorted(order, flat, "left") + np.searchsorted(order, flat, "right")) / 2
    ref_sorted = np.sort(ref.ravel())
    idx = np.clip((rank / max(1, flat.size - 1) * (ref_sorted.size - 1)).astype(np.int64), 0,
                  ref_sorted.size - 1)
    return ref_sorted[idx].reshape(src.shape)




def _zscore(v: np.ndarray) -> np.ndarray:
    return (v - v.mean()) / (v.std() + 1e-6)


def _block_share(x: np.ndarray, y: np.ndarray, span: np.ndarray) -> float:
    """The largest share of clearly differing pixels (off by > 30 % of the grey range) in any
    block: noise spreads thin, a changed number, bar or cell piles up in a block."""
    h, w = y.shape[:2]
    block = max(6, min(h, w) // BLOCKS)
    ny, nx = h // block, w // block
    if ny == 0 or nx == 0:
        return 1.0
    differs = (np.abs(x - y) > PIXEL_DIFF * span).any(axis=2)[: ny * block, : nx * block]
    return float(differs.reshape(ny, block, nx, block).mean(axis=(1, 3)).max())


def fine_score(a: np.ndarray, b: np.ndarray) -> float:
    """1 - the share of differing pixels in the worst block after alignment (1.0 = same).

    Either image may be a crop of the other: per axis, the cut of the outer image whose
    intensity profile best matches the inner one is found by a search, then refined to a
    fraction of a pixel by minimising the mean difference. Both are compared at the
    resolution of the smaller one, levels matched per channel (colour only when both have
    colour).
    """
    if a.size == 0 or b.size == 0:
        return 0.0
    if (a.ndim == 3) != (b.ndim == 3):
        a, b = _luma(a), _luma(b)
    (ax, ay), (bx, by) = _profiles(a), _profiles(b)
    best = None
    for outer, ox, oy, inner, ix, iy in ((a, ax, ay, b, bx, by), (b, bx, by, a, ax, ay)):
        l_, r, cx = _best_cut(ox, ix)
        t, btm, cy = _best_cut(oy, iy)
        score = cx + cy
        if best is None or score > best[0]:
            best = (score, outer, [l_, t, r, btm], inner)
    _, outer, box, inner = best
    w = int(min(inner.shape[1], outer.shape[1] * (1 - box[0] - box[2]), FINE_SIZE))
    h = int(min(inner.shape[0], outer.shape[0] * (1 - box[1] - box[3]), FINE_SIZE))
    if w < 8 or h < 8:
        return 0.0
    y = _region(inner, (0.0, 0.0, 0.0, 0.0), (w, h))
    flat = y.reshape(-1, y.shape[2])
    span = np.maximum(16.0, np.percentile(flat, 99, axis=0) - np.percentile(flat, 1, axis=0))

    def view(bx_):
        x = _region(outer, tuple(bx_), (w, h))
        return np.stack([_match_histogram(x[:, :, c], y[:, :, c]) for c in range(y.shape[2])],
                        axis=2)

    y_std = _zscore(y.mean(axis=2))
    outer_l = _luma(outer)

    def cost(bx_):  # alignment only: z-scored luminance is enough
        return float(np.abs(_zscore(_region(outer_l, tuple(bx_), (w, h))[:, :, 0])
                            - y_std).mean())

    current = cost(box)
    steps = [1.0 / outer.shape[1], 1.0 / outer.shape[0]] * 2  # one pixel of the outer image
    for _ in range(3):
        improved = False
        for k in range(4):
            for sign in (1, -1):
                trial = list(box)
                trial[k] = max(0.0, trial[k] + sign * steps[k])
                c = cost(trial)
                if c < current - 1e-6:
                    box, current, improved = trial, c, True
        if not improved:
            steps = [s / 2 for s in steps]
    return 1.0 - _block_share(view(box), y, span)
