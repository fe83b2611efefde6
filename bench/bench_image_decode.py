"""What decoding every image whole at normalize costs, against the header check it replaced.

    python bench/bench_image_decode.py [--n 300] [--size 800x600]

Prints images/s for PIL's `verify()` (the old check: headers and chunk CRCs only, a
truncated JPEG passes), a full `load()`, and `omr_data.images.decode` (JPEG entropy-decoded
in full at 1/8 output scale, PNG decoded in full), each as a ratio of `verify()` measured
in the same run.
"""

from __future__ import annotations

import argparse
import io
import time

from PIL import Image

from omr_data.images import decode


def _rate(fn, data: bytes, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn(data)
    return n / (time.perf_counter() - start)


def _verify(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as img:
        img.verify()


def _load(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as img:
        img.load()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--size", default="800x600")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    base = Image.radial_gradient("L").resize(size).convert("RGB")
    for fmt in ("JPEG", "PNG"):
        buf = io.BytesIO()
        base.save(buf, format=fmt)
        data = buf.getvalue()
        verify = _rate(_verify, data, args.n)
        load = _rate(_load, data, args.n)
        ours = _rate(lambda d: decode(d, "bench"), data, args.n)
        print(f"{fmt} {args.size}: verify {verify:,.0f}/s; full load {load:,.0f}/s "
              f"({load / verify:.3f}x); decode {ours:,.0f}/s ({ours / verify:.3f}x, "
              f"{ours / load:.2f}x of full load)")


if __name__ == "__main__":
    main()
