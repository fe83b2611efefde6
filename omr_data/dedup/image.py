"""Image evidence: exact hashes, perceptual hashes after border trimming, a finer comparison.

Three levels, cheapest first:

1. `sha1` of the image bytes: the same file.
2. A 64-bit pHash (`imagehash`) of the grayscale image with uniform borders trimmed: stable
   under resizing, re-encoding, brightness/contrast, grayscale and added borders; crops of a
   few percent can move it past the radius, so each image also gets the pHashes of a few
   crops (`ALT_CROPS`), used as extra queries (`phash_distance`). It only
   *proposes* candidates (through an index).
3. `fine_compare(a, b)` / `fine_score(a, b)` for candidates: both images trimmed (luminance
   only, so grayscale copies compare like colour ones), aligned per side (either image may
   be the cropped one) by row/column profiles, checked in 2D, then refined per axis (offset
   and scale) to a fraction of a pixel from block-wise shifts; compared at the smaller one's
   resolution for *structure* (local correlation, best over half-pixel shifts) and *level*
   (local mean after a linear grey-level map). A copy differs a little everywhere; a figure
   redrawn with another number, bar or cell differs in one place, and that place is what
   the score measures (see "the finer comparison" below). A comparison whose common region
   is under `MIN_SIDE` px, or that cannot be aligned, is not decisive: no match, and no
   evidence of a difference either (the clustering in core.py uses decisive differences
   as cannot-links).
   Known limit: a single changed digit seen only through a copy downscaled to about half
   size (glyphs of 4-6 px) can still score as a match on its own; the cannot-link with the
   full-size original then keeps it out of the cluster.

dHash and wHash were measured on the same figures and did not separate duplicates from
redrawn templates better than pHash after trimming, so only pHash is indexed.
"""

from __future__ import annotations

import ctypes
import hashlib
import io

import numpy as np
from PIL import Image

from omr_data.images import DECODE_LIMIT_PIXELS

FINE_SIZE = 384         # largest side of the fine features (and of the fine comparison)
MAX_CROP = 0.09         # largest crop per side (fraction of the trimmed image) searched
WINDOW = 1.0            # Gaussian window (px at the comparison resolution) of local statistics
INK_CONTRAST = 0.1      # local contrast (share of the grey range) that counts as structure
STRUCTURE_LIMIT = 0.11  # structure defect at which two images are different figures
STRUCTURE_ANYWHERE = 0.4  # structure defect (1 - local correlation) that no copy reaches
PEAK_RADIUS = 8         # px between the places whose defects are compared
LEVEL_LIMIT = 0.1       # local grey-level defect (share of the range) at which they differ
MAX_ALIGN_ERROR = 0.6   # z-scored mean difference after alignment beyond which they differ
MIN_SIDE = 72           # px: a common region smaller than this cannot tell a copy from a redraw
SECOND_OPINION = (0.7, 0.9)  # scores in this range are checked again on blurred copies
BLUR_SIGMA = 0.8        # px (at FINE_SIZE) of that blur: about a low-quality JPEG's own
BLUR_PENALTY = 0.03     # the blurred check counts this much less than a sharp one
TRIM_TOLERANCE = 0.3    # fraction of the image's contrast a border pixel may differ by
POLISH_ABOVE = 0.15     # alignment error (z-scored) above which a failed comparison is tried
POLISH_BELOW = 0.85     # again with its cuts polished by a local 2D search, if it scored below
MAX_POLISH_CUT = 0.2    # largest cut per side that search may reach

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
        if img.size[0] * img.size[1] > DECODE_LIMIT_PIXELS:   # bounded memory
            raise ValueError(f"{img.size[0]}x{img.size[1]} pixels is too large to decode")
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
    for step in range(3):
        view = arr[top:bottom, left:right]
        if view.shape[0] < 8 or view.shape[1] < 8:
            break
        # each corner as the median of its 3x3 patch: the pixel itself may be the JPEG
        # ringing of a border just cut away (one such corner made every copy with a black
        # border keep its white margin, 22 pHash bits away from the original's trim)
        corners = np.median(np.stack([view[:3, :3], view[:3, -3:], view[-3:, :3],
                                      view[-3:, -3:]]).reshape(4, 9), axis=1)
        agree = (np.abs(corners[:, None] - corners[None, :]) <= 16).sum(axis=1)
        # a border is uniform: at least three corners share its colour; inside padding, a
        # figure's own margin frames it on every side, so all four must (else three cells
        # of a grid, say, that share a colour would be cut as a margin)
        if agree.max() < (3 if step == 0 else 4):
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
    """imagehash's pHash (8x8 bits) of `img` as an int, bit for bit."""
    return phash_ints([img])[0]


def phash_ints(images: list[Image.Image]) -> list[int]:
    """`phash_int` of each image: imagehash.phash's steps (grayscale, LANCZOS to 32x32,
    DCT of the rows and the columns, the 8x8 lowest frequencies against their median),
    with the DCTs of all images in one call and the median by sorting: the same bits,
    without imagehash's per-image overhead (the scan hashes six images per figure)."""
    from scipy import fft

    if not images:
        return []
    pixels = np.stack([np.asarray(im.convert("L").resize((32, 32), Image.LANCZOS),
                                  dtype=np.float64) for im in images])
    low = fft.dct(fft.dct(pixels, axis=1), axis=2)[:, :8, :8].reshape(len(images), 64)
    ordered = np.sort(low, axis=1)
    median = (ordered[:, 31] + ordered[:, 32]) / 2
    bits = np.packbits(low > median[:, None], axis=1)
    return [int.from_bytes(row.tobytes(), "big") for row in bits]


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def image_signature(data: bytes) -> tuple[bytes, int | None]:
    """(sha1 of the bytes, pHash of the trimmed image or None when it cannot be decoded)."""
    digest, phash, _ = image_hashes(data, crops=())
    return digest, phash


# Crops (shares of the left, top, right, bottom side cut) whose pHashes are extra queries:
# a copy cropped by a few percent per side (then padded: the pad is trimmed) can move the
# pHash of the whole by up to ~20 bits, most when the crop takes a margin's labels (axis
# ticks, a title) and the trim then removes the blank left behind, so one side shrinks
# by 10 % or more; one of these crops of the original (or of the copy) lies within the
# radius of the other's whole. Measured on 250 crops (with and without a border) of the
# labelled set's figures: 10 beyond 12 bits as wholes, 0 with these crops (uniform crops of
# 3, 6 and 10 % left 8 of them).
ALT_CROPS = ((0.08, 0, 0, 0), (0, 0.08, 0, 0), (0, 0, 0.08, 0), (0, 0, 0, 0.08),
             (0.03, 0.03, 0.03, 0.03))
ALT_SIDE = 128  # px: the crops' pHashes come from a copy this small (a 32 px DCT each)


def image_hashes(data: bytes, crops: tuple[tuple[float, float, float, float], ...] = ALT_CROPS
                 ) -> tuple[bytes, int | None, tuple[int, ...]]:
    """(sha1 of the bytes, pHash of the trimmed image, pHashes of its `crops`); (sha1,
    None, ()) when it cannot be decoded."""
    digest = sha1(data)
    try:
        gray = decode_gray(data)
    except ImageDecodeError:
        return digest, None, ()
    trimmed = trim_borders(gray)
    small = trimmed if max(trimmed.size) <= ALT_SIDE else \
        trimmed.resize(_fit(trimmed.size, ALT_SIDE), Image.BOX)
    w, h = small.size
    codes = phash_ints([trimmed] + [small.crop((round(l_ * w), round(t * h), w - round(r * w),
                                                h - round(b * h))) for l_, t, r, b in crops])
    return digest, codes[0], tuple(codes[1:])


def phash_distance(p: int, alt_p: tuple[int, ...], q: int, alt_q: tuple[int, ...]) -> int:
    """Bits between two images' pHashes, or between a crop's (`ALT_CROPS`) of one and the
    other's whole (either may be the cropped copy), whichever is fewest."""
    return min([hamming(p, q)] + [hamming(a, q) for a in alt_p] + [hamming(a, p) for a in alt_q])


# ---------------------------------------------------------------------------------------
# the finer comparison: structure, not intensity
#
# Re-encoding, resizing, brightness/contrast and grayscale change pixels everywhere, a
# little, and add no structure; a redrawn number, label, bar or cell changes the structure
# (or the grey level of an area) in one place. So after aligning the two images at the
# smaller one's resolution, `fine_score` looks for the one place where they disagree:
#
# - structure: the local correlation of the two images (SSIM's structure term, in a
#   Gaussian window of `WINDOW` px), best over half-pixel shifts, wherever either image has
#   local contrast; its worst 5x5 neighbourhood, less the fifth-worst one elsewhere (a
#   downscaled, re-encoded copy differs a little at every glyph; a redrawn figure differs
#   much more at one place);
# - level: the local mean difference after a linear map of the grey levels (a cell or bar
#   filled with another colour has the same structure but another level).
#
# Each defect is divided by its limit; the score is 1 - 0.15 * the larger ratio, so the
# default threshold 0.85 is "no defect at or above its limit".


def fine_features(data: bytes) -> np.ndarray | None:
    """The trimmed image as uint8 luminance, long side at most `FINE_SIZE`."""
    try:
        gray = decode_gray(data)
    except ImageDecodeError:
        return None
    trimmed = trim_borders(gray)
    if max(trimmed.size) > FINE_SIZE:
        trimmed = trimmed.copy()
        trimmed.thumbnail((FINE_SIZE, FINE_SIZE), Image.LANCZOS)
    return np.asarray(trimmed, dtype=np.uint8).copy()


def _luma(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 2:
        return arr
    return np.asarray(Image.fromarray(arr.astype(np.uint8)).convert("L"))


def _zscore(v: np.ndarray) -> np.ndarray:
    return (v - v.mean()) / (v.std() + 1e-6)


def _region(img: Image.Image, box, size: tuple[int, int], how=Image.LANCZOS) -> np.ndarray:
    """`img` cut by `box` (fractions left, top, right, bottom) resampled to `size` (w, h)."""
    w, h = img.size
    l_, t, r, b = box
    out = img.resize(size, how, box=(l_ * w, t * h, (1 - r) * w, (1 - b) * h),
                     reducing_gap=3.0)
    return np.asarray(out, dtype=np.float32)


def _shrink(img: Image.Image, f: float) -> Image.Image:
    if f >= 1.0:
        return img
    return img.resize((max(8, round(img.size[0] * f)), max(8, round(img.size[1] * f))),
                      Image.BOX)


_SIGNED_CUTS = np.round(np.arange(-MAX_CROP, MAX_CROP + 1e-9, 0.0075), 4)
_FINE_CUTS = np.arange(-0.007, 0.00701, 0.001)


_UNIT: dict[int, np.ndarray] = {}


def _profiles(p: np.ndarray, los: list[float], his: list[float], n: int) -> np.ndarray:
    """Unit-norm centred profiles (`n` samples each) of `p` cut by each (lo, hi) of
    `los` x `his` (shares of its length off each end): a (len(los), len(his), n) array."""
    u = _UNIT.get(n)
    if u is None:
        u = _UNIT[n] = np.linspace(0, 1, n)
    lo, hi = np.array(los)[:, None, None], np.array(his)[None, :, None]
    x = (lo + (1 - lo - hi) * u) * (len(p) - 1)
    i = np.minimum(x.astype(np.intp), len(p) - 2)    # linear interpolation (np.interp's
    v = p[i] + np.diff(p)[i] * (x - i)                # search costs twice as much)
    v -= v.sum(axis=2, keepdims=True) * (1 / n)
    v /= np.sqrt(np.einsum("ijk,ijk->ij", v, v))[:, :, None] + 1e-6
    return v


def _axis_corr(pa: np.ndarray, pb: np.ndarray, los, his, n: int) -> np.ndarray:
    """Profile correlation of each signed cut (lo, hi) of `los` x `his`, as a (len(los),
    len(his)) array. A positive cut removes that share of `a` on that side, a negative one
    of `b`: each side of either image may be the one cropped (a crop can cut into the
    figure on one side and leave a margin on the other)."""
    views = []
    for sign, p in ((1, pa), (-1, pb)):
        # many signed cuts leave one image uncut on a side: sample each distinct cut once
        # (in Python: np.unique costs more than the sampling on these short lists)
        cl, ch = [max(sign * v, 0.0) for v in los], [max(sign * v, 0.0) for v in his]
        ul, uh = sorted(set(cl)), sorted(set(ch))
        il, ih = [ul.index(v) for v in cl], [uh.index(v) for v in ch]
        prof = _profiles(p, ul, uh, n)
        if ul != cl or uh != ch:
            prof = prof[np.array(il)[:, None], np.array(ih)[None, :]]
        views.append(prof)
    return np.einsum("ijk,ijk->ij", *views)   # no BLAS: its threads stall on a busy machine


def _axis_cuts(pa: np.ndarray, pb: np.ndarray, los, his, n: int, k: int):
    """The `k` best (lo, hi) cuts of one axis by profile correlation (`_axis_corr`), at
    least 0.0125 apart (sum of both ends)."""
    los, his = [float(v) for v in los], [float(v) for v in his]
    corr = _axis_corr(pa, pb, los, his, n).ravel()
    if k == 1:
        o = int(np.argmax(corr))
        return [(los[o // len(his)], his[o % len(his)])]
    lo, hi = np.repeat(los, len(his)), np.tile(his, len(los))
    out: list[tuple[float, float]] = []
    for _ in range(k):
        o = int(np.argmax(corr))
        if corr[o] == -np.inf:
            break
        out.append((float(lo[o]), float(hi[o])))
        corr[np.abs(lo - lo[o]) + np.abs(hi - hi[o]) <= 0.0125] = -np.inf
    return out


def _boxes(cx, cy):
    """Signed per-axis cuts -> (box of a, box of b) as (left, top, right, bottom)."""
    return ([max(cx[0], 0.0), max(cy[0], 0.0), max(cx[1], 0.0), max(cy[1], 0.0)],
            [max(-cx[0], 0.0), max(-cy[0], 0.0), max(-cx[1], 0.0), max(-cy[1], 0.0)])


def _align(a: np.ndarray, b: np.ndarray, polish: bool = False):
    """(error, box of a, box of b) so that the two boxes hold the same content.

    Per axis, candidate cuts come from the row/column profiles (a few best, and none); the
    combination with the smallest difference at low resolution wins, then each axis is
    refined to 0.1 % on full-length profiles."""
    fa, fb = a.astype(np.float32), b.astype(np.float32)
    ax, ay, bx, by = (v.astype(np.float64) for v in (fa.mean(0), fa.mean(1), fb.mean(0),
                                                      fb.mean(1)))
    cands = []
    for pa, pb in ((ax, bx), (ay, by)):
        c = _axis_cuts(pa, pb, _SIGNED_CUTS, _SIGNED_CUTS, 96, 3)
        if (0.0, 0.0) not in c:
            c.append((0.0, 0.0))
        cands.append(c)
    f = min(1.0, 96 / max(a.shape + b.shape))
    size = (max(8, round(min(a.shape[1], b.shape[1]) * f)),
            max(8, round(min(a.shape[0], b.shape[0]) * f)))
    # cut from copies at twice the check's resolution: the same result, far cheaper
    sa, sb = (_shrink(Image.fromarray(v), 2 * f) for v in (a, b))
    regions: dict = {}

    def region(side, arr, box):     # combinations share boxes: resample each once
        key = (side, *box)
        if key not in regions:
            regions[key] = _zscore(_region(arr, box, size, Image.BILINEAR))
        return regions[key]

    def error(cx, cy) -> float:
        box_a, box_b = _boxes(cx, cy)
        return float(np.abs(region(0, sa, box_a) - region(1, sb, box_b)).mean())

    err, cx, cy = min((error(cx, cy), cx, cy) for cx in cands[0] for cy in cands[1])
    if polish and err > POLISH_ABOVE:
        err, cx, cy = _polish(error, err, cx, cy)
    n = min(512, max(a.shape + b.shape))
    cx = _axis_cuts(ax, bx, cx[0] + _FINE_CUTS, cx[1] + _FINE_CUTS, n, 1)[0]
    cy = _axis_cuts(ay, by, cy[0] + _FINE_CUTS, cy[1] + _FINE_CUTS, n, 1)[0]
    return (err, *_boxes(cx, cy))


def _polish(error, err: float, cx, cy):
    """(error, cx, cy) improved by a local search over both cuts of one axis at a time
    (steps of 1.5 %, then 0.75 %). The profiles propose cuts per axis; where a figure's
    profiles are dominated by a periodic grid or by one axis line, none of the proposed
    combinations may be right (copies cropped on one side and bordered then scored 0 and
    read as *different* figures), while the 2D error still has its minimum at the right
    cuts, a few steps away."""
    for step, reach in ((0.015, 3), (0.0075, 1)):
        for axis in (0, 1, 0, 1):
            here = cx if axis == 0 else cy
            for i in range(-reach, reach + 1):
                for j in range(-reach, reach + 1):
                    cut = (round(here[0] + i * step, 4), round(here[1] + j * step, 4))
                    if max(abs(cut[0]), abs(cut[1])) > MAX_POLISH_CUT or (i, j) == (0, 0):
                        continue
                    e = error(cut, cy) if axis == 0 else error(cx, cut)
                    if e < err:
                        err, cx, cy = (e, cut, cy) if axis == 0 else (e, cx, cut)
    return err, cx, cy


def _parabola(cm: float, c0: float, cp: float) -> float:
    den = cm - 2 * c0 + cp
    return 0.0 if den <= 1e-9 else min(0.5, max(-0.5, 0.5 * (cm - cp) / den))


def _refine(a: Image.Image, box_a, y: np.ndarray, nb: int = 3, r: int = 2):
    """`box_a` corrected so that the residual shift between `a`'s region and `y` (the other
    image's region, z-scored), measured per block of an nb x nb grid to a fraction of a
    pixel, vanishes (per axis: offset + scale)."""
    h, w = y.shape
    size = (w, h)
    x = _zscore(_region(a, box_a, size))
    bh, bw = (h - 2 * r) // nb, (w - 2 * r) // nb
    yc = y[r:r + nb * bh, r:r + nb * bw]
    k = 2 * r + 1
    costs = np.empty((k * k, nb, nb))
    d = np.empty_like(yc)
    for i in range(k):
        for j in range(k):
            np.subtract(x[i:i + nb * bh, j:j + nb * bw], yc, out=d)
            np.square(d, out=d)
            # block sums: rows first (contiguous), then columns
            costs[i * k + j] = d.reshape(nb, bh, nb * bw).sum(1).reshape(nb, nb, bw).sum(2)
    costs *= 1 / (bh * bw)
    spread = yc.reshape(nb, bh, nb, bw).std(axis=(1, 3))
    flat = costs.reshape(k * k, nb * nb)
    best = flat.argmin(0)
    conf = (np.partition(flat, 1, axis=0)[1] - flat[best, np.arange(nb * nb)] + 1e-6).tolist()
    c = costs.reshape(k, k, nb * nb).tolist()   # scalar work below: Python floats are faster
    spread = spread.ravel().tolist()
    pts = []
    for blk in range(nb * nb):
        bi, bj = divmod(blk, nb)
        i, j = divmod(int(best[blk]), k)
        fy = _parabola(c[i - 1][j][blk], c[i][j][blk], c[i + 1][j][blk]) if 0 < i < 2 * r else 0.0
        fx = _parabola(c[i][j - 1][blk], c[i][j][blk], c[i][j + 1][blk]) if 0 < j < 2 * r else 0.0
        pts.append((r + (bj + 0.5) * bw, r + (bi + 0.5) * bh, j - r + fx, i - r + fy,
                    spread[blk] * conf[blk]))
    pts = np.array(pts)
    weight = np.sqrt(pts[:, 4])
    if weight.sum() <= 0:
        return box_a
    box = list(box_a)
    for axis, (pos, d, n) in enumerate(((pts[:, 0], pts[:, 2], w), (pts[:, 1], pts[:, 3], h))):
        design = np.stack([np.ones_like(pos), pos / n], 1) * weight[:, None]
        p, q = np.linalg.lstsq(design, d * weight, rcond=None)[0]
        lo, hi = box[axis], box[axis + 2]
        span = 1 - lo - hi
        new_lo = lo + p / n * span
        new_hi = 1 - (lo + (1 + (p + q) / n) * span)
        box[axis], box[axis + 2] = max(0.0, new_lo), max(0.0, new_hi)
    return box


def _fit_levels(src: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """`src` with its grey levels mapped onto `ref`'s by a linear map (least squares over the
    aligned pixels, twice leaving out the worst tenth) clipped to `ref`'s range, so
    brightness and contrast changes do not count as differences. Linear on purpose: a free
    monotone map (histogram matching) can turn one colour into another and hide a cell or
    bar redrawn in another colour."""
    xs, ys = src.ravel().astype(np.float64), ref.ravel().astype(np.float64)
    x, y = xs, ys
    for _ in range(2):
        mx, my = x.mean(), y.mean()     # least squares y ~ alpha x + beta, in closed form
        dx = x - mx
        # einsum, not np.dot: BLAS threads stall on a busy machine (measured 10x slower)
        var = float(np.einsum("i,i->", dx, dx)) / x.size
        alpha = float(np.einsum("i,i->", dx, y - my)) / x.size / var if var > 1e-12 else 0.0
        beta = my - alpha * mx
        res = np.abs(alpha * xs + beta - ys)
        keep = res <= max(8.0, _percentiles(res, 90)[0])
        x, y = xs[keep], ys[keep]
    return np.clip(alpha * src + beta, float(ys.min()), float(ys.max())).astype(np.float32)


def _percentiles(v: np.ndarray, *qs: float) -> list[float]:
    """np.percentile(v, qs) (linear interpolation) by one partial sort: its own set-up
    costs more than the sort on these arrays."""
    v = v.ravel()
    n = v.size
    ks = [q / 100 * (n - 1) for q in qs]
    idx = sorted({min(int(k) + d, n - 1) for k in ks for d in (0, 1)})
    part = np.partition(v, idx)
    out = []
    for k in ks:
        a, b, t = float(part[int(k)]), float(part[min(int(k) + 1, n - 1)]), k - int(k)
        out.append(a + (b - a) * t if t < 0.5 else b - (b - a) * (1 - t))
    return out


def _shift(a: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """`a` sampled at (x + dx, y + dy) for dx, dy in {-0.5, 0, 0.5}; edges replicated."""
    if dy:
        nb = np.concatenate([a[1:], a[-1:]]) if dy > 0 else np.concatenate([a[:1], a[:-1]])
        a = (a + nb) * 0.5
    if dx:
        nb = (np.concatenate([a[:, 1:], a[:, -1:]], 1) if dx > 0
              else np.concatenate([a[:, :1], a[:, :-1]], 1))
        a = (a + nb) * 0.5
    return a


def _gauss_weights(sigma: float, truncate: float) -> np.ndarray:
    r = int(truncate * sigma + 0.5)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    return k / k.sum()


_WINDOW_WEIGHTS = _gauss_weights(WINDOW, 2.5).astype(np.float32)
_BLUR_WEIGHTS = _gauss_weights(BLUR_SIGMA, 4.0).astype(np.float32)   # scipy's default truncate
_BOX5 = np.full(5, 0.2, np.float32)


def _smooth(v: np.ndarray, k: np.ndarray) -> np.ndarray:
    """`v` filtered by the symmetric kernel `k` along both axes, borders reflected (as
    scipy.ndimage does by default: `ndi.correlate1d` along each axis), in numpy slices: on
    these small images scipy's per-line set-up costs 50 times the arithmetic."""
    r = len(k) // 2
    for axis in (0, 1):
        n = v.shape[axis]
        if axis == 0:
            p = np.concatenate([v[r - 1::-1], v, v[:n - r - 1:-1]])
        else:
            p = np.concatenate([v[:, r - 1::-1], v, v[:, :n - r - 1:-1]], 1)

        def at(i, p=p, axis=axis, n=n):
            return p[i:i + n] if axis == 0 else p[:, i:i + n]

        out = at(r) * k[r]
        for i in range(1, r + 1):
            out += (at(r - i) + at(r + i)) * k[r + i]
        v = out
    return v


def _defect_maps(a: np.ndarray, b: np.ndarray, polish: bool = False):
    """(structure defect map, ink mask, level defect map, alignment error) of two fine
    features, aligned at the smaller one's resolution; None for the maps when the common
    region is too small to compare."""
    if a.ndim == 3 or b.ndim == 3:
        a, b = _luma(a), _luma(b)
    err, box_a, box_b = _align(a, b, polish)
    # `a` is the side whose box is refined (and whose levels are mapped): the one cut more,
    # so the refinement moves its cuts inward; ties by content, so the score is symmetric
    if (sum(box_b), b.shape, int(b.sum())) > (sum(box_a), a.shape, int(a.sum())):
        a, b, box_a, box_b = b, a, box_b, box_a
    w = int(min(a.shape[1] * (1 - box_a[0] - box_a[2]), b.shape[1] * (1 - box_b[0] - box_b[2])))
    h = int(min(a.shape[0] * (1 - box_a[1] - box_a[3]), b.shape[0] * (1 - box_b[1] - box_b[3])))
    if w < 12 or h < 12:
        return None, None, None, err
    img_a = Image.fromarray(a)
    y = _region(Image.fromarray(b), box_b, (w, h))
    if min(w, h) >= 24:
        box_a = _refine(img_a, box_a, _zscore(y))
    raw = _region(img_a, box_a, (w, h))
    x = _fit_levels(raw, y)
    low, high = _percentiles(y, 0.5, 99.5)
    span = max(16.0, float(high - low))
    x, y = x / span, y / span

    def g(v):
        return _smooth(v, _WINDOW_WEIGHTS)

    my = g(y)
    vy = np.maximum(g(y * y) - my * my, 0)
    mx0 = g(x)
    vx0 = np.maximum(g(x * x) - mx0 * mx0, 0)
    c = 0.03 ** 2
    best_s = np.full(y.shape, -np.inf, np.float32)
    best_l = np.full(y.shape, np.inf, np.float32)
    for dy in (-0.5, 0.0, 0.5):
        for dx in (-0.5, 0.0, 0.5):
            mx, vx = _shift(mx0, dx, dy), _shift(vx0, dx, dy)
            cov = g(_shift(x, dx, dy) * y) - mx * my
            np.maximum(best_s, (cov + c) / (np.sqrt(vx * vy) + c), out=best_s)
            np.minimum(best_l, np.abs(mx - my), out=best_l)
    inner = (slice(2, -2), slice(2, -2))  # the outermost pixels hold cut-off strokes
    ink = np.sqrt(np.maximum(vx0, vy))[inner] >= INK_CONTRAST
    ds = np.where(ink, 1 - best_s[inner], 0.0)
    # levels mapped the other way round too (`b`'s onto `a`'s), and the smaller defect
    # counts: a brightened or contrast-stretched copy saturates its light (or dark) areas;
    # no linear map can undo that, but mapping the original onto the copy saturates it alike
    back = _fit_levels(y * span, raw) / span
    mb, mr = g(back), g(raw / span)
    best_r = np.full(y.shape, np.inf, np.float32)
    for dy in (-0.5, 0.0, 0.5):
        for dx in (-0.5, 0.0, 0.5):
            np.minimum(best_r, np.abs(_shift(mr, dx, dy) - mb), out=best_r)
    dl = min(best_l[inner], best_r[inner], key=lambda v: float(_smooth(v, _BOX5).max()))
    return ds, ink, dl, err


def _peaks(v: np.ndarray, n: int, radius: int) -> list[float]:
    """The `n` highest values of `v` at least `radius` px apart (non-maximum suppression)."""
    v = v.copy()
    out = []
    for _ in range(n):
        i, j = np.unravel_index(int(np.argmax(v)), v.shape)
        out.append(float(v[i, j]))
        v[max(0, i - radius):i + radius + 1, max(0, j - radius):j + radius + 1] = 0.0
    return out


def fine_defects(a: np.ndarray, b: np.ndarray, polish: bool = False
                 ) -> tuple[float, float, float, int]:
    """(structure defect, level defect, alignment error, shorter side of the compared
    region in px) of two fine features.

    The structure defect (averaged over 5x5 px) is how far the worst place stands out above
    the fifth-worst place (places at least `PEAK_RADIUS` px apart): a copy's noise is
    everywhere, a redrawn number or label is in one place (or a few). It is at least the
    worst place's excess over `STRUCTURE_ANYWHERE`, for figures changed in many places."""
    ds, ink, dl, err = _defect_maps(a, b, polish)
    if ds is None:
        return 1.0, 1.0, err, 0
    peaks = _peaks(_smooth(ds.astype(np.float32), _BOX5), 5, PEAK_RADIUS)
    structure = max(peaks[0] - peaks[-1], peaks[0] - STRUCTURE_ANYWHERE)
    level = float(_smooth(dl, _BOX5).max())
    return max(0.0, structure), level, err, min(ds.shape) + 4


_MALLOC_TUNED = False


def _keep_freed_memory() -> None:
    """Let glibc reuse freed memory for the comparison's temporaries (0.1-2 MB arrays)
    instead of mapping fresh pages for each and returning them at once: the page faults
    cost as much as the arithmetic (measured 1.5-3x on whole comparisons). Process-wide;
    the heap keeps up to 64 MB it could return. No-op elsewhere than glibc."""
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 16 << 20)   # M_MMAP_THRESHOLD: heap, not mmap, below 16 MB
        libc.mallopt(-1, 64 << 20)   # M_TRIM_THRESHOLD: keep up to 64 MB of free heap
    except (OSError, AttributeError):
        pass


def fine_compare(a: np.ndarray, b: np.ndarray) -> tuple[float, bool]:
    """(score, decisive): the score is 1.0 for the same figure and lower the more it differs
    in one place (see above; 0.85 is where a defect reaches its limit). `decisive` is False
    when the comparison could not tell (the common region is under `MIN_SIDE` px, where a
    redrawn digit is a pixel or two, or the two could not be aligned): the score is then
    0.0, no match, but no evidence that the figures differ either.

    A score in the grey zone `SECOND_OPINION` gets a second opinion on copies of both
    blurred by `BLUR_SIGMA` (less `BLUR_PENALTY`): a copy re-encoded as a low-quality JPEG
    after a resize differs from its original by block and ringing noise at every glyph,
    which the blur removes; a redrawn number still differs after it. The better of the two
    counts."""
    _keep_freed_memory()
    if a.size == 0 or b.size == 0:
        return 0.0, False
    if a.shape == b.shape and np.array_equal(a, b):
        return 1.0, True
    score, decisive, err = _sharp_compare(a, b)
    polish = score < POLISH_BELOW and err > POLISH_ABOVE
    if polish:
        polished, sure, _ = _sharp_compare(a, b, polish=True)
        if sure and (polished > score or not decisive):
            score, decisive = polished, sure
    if decisive and SECOND_OPINION[0] <= score < SECOND_OPINION[1]:
        blurred, sure, _ = _sharp_compare(_blur(a), _blur(b), polish)
        if sure:
            score = max(score, blurred - BLUR_PENALTY)
    return score, decisive


def _sharp_compare(a: np.ndarray, b: np.ndarray, polish: bool = False
                   ) -> tuple[float, bool, float]:
    """(score, decisive, alignment error) of one comparison."""
    structure, level, err, side = fine_defects(a, b, polish)
    if err > MAX_ALIGN_ERROR or side < MIN_SIDE:
        return 0.0, False, err
    return (max(0.0, 1.0 - 0.15 * max(structure / STRUCTURE_LIMIT, level / LEVEL_LIMIT)), True,
            err)


def _blur(a: np.ndarray) -> np.ndarray:
    return np.clip(_smooth(a.astype(np.float32), _BLUR_WEIGHTS) + 0.5, 0, 255).astype(np.uint8)


def fine_score(a: np.ndarray, b: np.ndarray) -> float:
    """The score of `fine_compare`."""
    return fine_compare(a, b)[0]
