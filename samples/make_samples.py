"""Generate the bundled sample data (synthetic, in each public source's on-disk format).

    python samples/make_samples.py            # rewrite the folders beside this script
    python samples/make_samples.py --out DIR  # write them somewhere else

Every figure is drawn here with PIL and every question, answer and trace is written here; no
content comes from the real datasets. The formats follow docs/sources.md (see
samples/README.md). The output is byte-identical on rerun for the same library versions, which
`manifest.json` records together with a sha256 of every generated file.

Gold answers are computed from the same numbers the figures are drawn from wherever that is
cheap (chart maxima, clock arithmetic, sums); the rest are worked out in the comment beside them.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import shutil
import sys
import uuid
from functools import cache
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, ImageDraw, ImageFont

SEED = 20251126
HERE = Path(__file__).resolve().parent
# Folders this script owns; it deletes and rewrites them (never README.md or itself).
FOLDERS = [
    "llava_cot", "openvlthinker", "wemath2_sft", "mmr1", "miromind_m1", "mmk12", "virl39k",
    "tqa", "puzzlevqa", "algopuzzlevqa", "thinklite_vl", "wemath2_standard", "wemath2_pro",
    "benchmarks",
]
EXTRA_FILES = ["expected.json", "manifest.json"]

# --------------------------------------------------------------------------------------------
# Small drawing kit
# --------------------------------------------------------------------------------------------

PALETTE = {
    "red": (220, 50, 47), "blue": (38, 139, 210), "green": (60, 160, 60),
    "yellow": (240, 200, 40), "orange": (240, 130, 30), "purple": (140, 80, 180),
    "gray": (150, 150, 150), "brown": (140, 90, 40), "teal": (40, 160, 150),
}


@cache
def font(size: int = 12) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def canvas(w: int = 160, h: int = 160) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.new("RGB", (w, h), "white")
    return img, ImageDraw.Draw(img)


def label(d: ImageDraw.ImageDraw, xy, s: str, size: int = 12, fill="black") -> None:
    d.text(xy, s, fill=fill, font=font(size), anchor="mm")


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def jpeg(img: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def reencode(png_bytes: bytes, scale: float = 0.9, quality: int = 75) -> bytes:
    """The same figure as another source would ship it: resized and saved as JPEG."""
    img = Image.open(io.BytesIO(png_bytes)).convert("RGB")
    size = (round(img.width * scale), round(img.height * scale))
    return jpeg(img.resize(size, Image.Resampling.LANCZOS), quality)


def bar_chart(values, labels, title, colors=("blue",), w=200, h=150) -> Image.Image:
    img, d = canvas(w, h)
    left, right, top, bottom = 30, w - 8, 24, h - 22
    top_value = max(values) * 1.2
    label(d, (w // 2, 10), title, 11)
    d.line([(left, top), (left, bottom), (right, bottom)], fill="black", width=1)
    for frac in (0.5, 1.0):
        y = bottom - (bottom - top) * frac
        d.line([(left - 3, y), (left, y)], fill="black")
        label(d, (left - 14, y), str(round(top_value * frac)), 9)
    slot = (right - left) / len(values)
    for i, (v, name) in enumerate(zip(values, labels)):
        x0 = left + i * slot + slot * 0.2
        x1 = left + (i + 1) * slot - slot * 0.2
        y0 = bottom - (bottom - top) * v / top_value
        d.rectangle([x0, y0, x1, bottom], fill=PALETTE[colors[i % len(colors)]], outline="black")
        label(d, ((x0 + x1) / 2, y0 - 7), str(v), 9)
        label(d, ((x0 + x1) / 2, bottom + 9), name, 9)
    return img


def line_chart(xs, ys, title, xlabel, ylabel, w=200, h=150) -> Image.Image:
    img, d = canvas(w, h)
    left, right, top, bottom = 32, w - 10, 22, h - 28
    y_max = max(ys) * 1.25 or 1
    x_min, x_max = min(xs), max(xs)
    label(d, (w // 2, 9), title, 11)
    d.line([(left, top), (left, bottom), (right, bottom)], fill="black")
    pts = [(left + (right - left) * (x - x_min) / (x_max - x_min),
            bottom - (bottom - top) * y / y_max) for x, y in zip(xs, ys)]
    d.line(pts, fill=PALETTE["red"], width=2)
    for (px, py), x, y in zip(pts, xs, ys):
        d.ellipse([px - 2, py - 2, px + 2, py + 2], fill="black")
        label(d, (px, py - 8), f"{y:g}", 9)
        label(d, (px, bottom + 8), f"{x:g}", 9)
    label(d, ((left + right) // 2, h - 8), xlabel, 9)
    label(d, (14, top - 8), ylabel, 9)
    return img


def geometry(points: dict, segments, notes=(), circle=None, w=160, h=160) -> Image.Image:
    """A labelled figure: points {name: (x, y)}, segments [(P, Q)], notes [((x, y), text)]."""
    img, d = canvas(w, h)
    if circle:
        (cx, cy), r = circle
        d.ellipse([cx - r, cy - r, cx + r, cy + r], outline="black", width=2)
    for p, q in segments:
        d.line([points[p], points[q]], fill="black", width=2)
    cx = sum(x for x, _ in points.values()) / len(points)
    cy = sum(y for _, y in points.values()) / len(points)
    for name, (x, y) in points.items():
        d.ellipse([x - 2, y - 2, x + 2, y + 2], fill="black")
        dx, dy = x - cx, y - cy
        norm = max((dx * dx + dy * dy) ** 0.5, 1e-6)
        label(d, (x + 10 * dx / norm, y + 10 * dy / norm), name, 12)
    for xy, text in notes:
        label(d, xy, text, 11, fill=PALETTE["blue"])
    return img


def table_image(rows, col_w=(70, 60), row_h=20) -> Image.Image:
    w, h = sum(col_w) + 2, row_h * len(rows) + 2
    img, d = canvas(w, h)
    for r, row in enumerate(rows):
        x = 0
        for c, cell in enumerate(row):
            fill = (225, 235, 250) if r == 0 else "white"
            d.rectangle([x, r * row_h, x + col_w[c], (r + 1) * row_h], fill=fill, outline="black")
            label(d, (x + col_w[c] / 2, r * row_h + row_h / 2), str(cell), 10)
            x += col_w[c]
    return img


def clock(hour: int, minute: int, size=140) -> Image.Image:
    import math

    img, d = canvas(size, size)
    c, r = size / 2, size / 2 - 8
    d.ellipse([c - r, c - r, c + r, c + r], outline="black", width=3)
    for k in range(1, 13):
        a = math.radians(k * 30 - 90)
        label(d, (c + (r - 13) * math.cos(a), c + (r - 13) * math.sin(a)), str(k), 10)
    hour_angle = math.radians((hour % 12 + minute / 60) * 30 - 90)
    minute_angle = math.radians(minute * 6 - 90)
    d.line([(c, c), (c + r * 0.5 * math.cos(hour_angle), c + r * 0.5 * math.sin(hour_angle))],
           fill="black", width=4)
    d.line([(c, c), (c + r * 0.8 * math.cos(minute_angle), c + r * 0.8 * math.sin(minute_angle))],
           fill="black", width=2)
    return img


def hexagon(colors, size=150) -> Image.Image:
    """Six triangular parts, anti-clockwise from the right; None draws a '?' part."""
    import math

    img, d = canvas(size, size)
    c, r = size / 2, size / 2 - 8
    corners = [(c + r * math.cos(math.radians(-60 * k)), c + r * math.sin(math.radians(-60 * k)))
               for k in range(7)]
    for k, color in enumerate(colors):
        tri = [(c, c), corners[k], corners[k + 1]]
        d.polygon(tri, fill=PALETTE[color] if color else "white", outline="black")
        if color is None:
            mx = (c + corners[k][0] + corners[k + 1][0]) / 3
            my = (c + corners[k][1] + corners[k + 1][1]) / 3
            label(d, (mx, my), "?", 16)
    return img


def color_grid(cells, size=150) -> Image.Image:
    """3x3 circles; None draws a '?' cell."""
    img, d = canvas(size, size)
    step = size / 3
    for i, color in enumerate(cells):
        x, y = (i % 3 + 0.5) * step, (i // 3 + 0.5) * step
        r = step * 0.35
        if color is None:
            d.ellipse([x - r, y - r, x + r, y + r], outline="black")
            label(d, (x, y), "?", 16)
        else:
            d.ellipse([x - r, y - r, x + r, y + r], fill=PALETTE[color], outline="black")
    return img


def shapes(items, w=180, h=130, bg=(235, 235, 235)) -> Image.Image:
    """CLEVR-like scene: items [(kind, color, (x, y), r)], kind in cube|sphere|cylinder."""
    img = Image.new("RGB", (w, h), bg)
    d = ImageDraw.Draw(img)
    for kind, color, (x, y), r in items:
        box = [x - r, y - r, x + r, y + r]
        if kind == "cube":
            d.rectangle(box, fill=PALETTE[color], outline="black")
        elif kind == "sphere":
            d.ellipse(box, fill=PALETTE[color], outline="black")
        else:
            d.rectangle([x - r, y - r * 0.6, x + r, y + r * 0.6], fill=PALETTE[color])
            d.ellipse([x - r, y - r, x + r, y - r * 0.2], fill=PALETTE[color], outline="black")
    return img


def regular_polygon(n: int, color: str, size=120) -> Image.Image:
    import math

    img, d = canvas(size, size)
    c, r = size / 2, size / 2 - 10
    pts = [(c + r * math.cos(math.radians(90 + 360 * k / n)),
            c - r * math.sin(math.radians(90 + 360 * k / n))) for k in range(n)]
    d.polygon(pts, fill=PALETTE[color], outline="black")
    return img


def shaded_grid(cols: int, rows: int, shaded: int, w=160, h=100) -> Image.Image:
    img, d = canvas(w, h)
    cw, rh = (w - 20) / cols, (h - 20) / rows
    for k in range(cols * rows):
        x, y = 10 + (k % cols) * cw, 10 + (k // cols) * rh
        d.rectangle([x, y, x + cw, y + rh], fill=PALETTE["teal"] if k < shaded else "white",
                    outline="black", width=2)
    return img


def boxes_with_arrows(names, w=200, h=90, title="") -> Image.Image:
    """A left-to-right chain: name -> name -> ... (food chains)."""
    img, d = canvas(w, h)
    if title:
        label(d, (w // 2, 10), title, 10)
    slot = w / len(names)
    for i, name in enumerate(names):
        x = slot * (i + 0.5)
        d.rectangle([x - slot * 0.4, 35, x + slot * 0.4, 60], outline="black",
                    fill=(235, 245, 225))
        label(d, (x, 47), name, 10)
        if i:
            d.line([(x - slot * 0.6, 47), (x - slot * 0.42, 47)], fill="black", width=2)
            d.polygon([(x - slot * 0.42, 47), (x - slot * 0.42 - 5, 43),
                       (x - slot * 0.42 - 5, 51)], fill="black")
    return img


def lettered_diagram(parts, w=200, h=110, title="") -> Image.Image:
    """Circles with letters under them, e.g. moon phases: parts [(letter, fill_fraction)]."""
    img, d = canvas(w, h)
    if title:
        label(d, (w // 2, 10), title, 10)
    slot = w / len(parts)
    for i, (letter, lit) in enumerate(parts):
        x, y, r = slot * (i + 0.5), 50, min(slot * 0.35, 18)
        d.ellipse([x - r, y - r, x + r, y + r], fill=(40, 40, 40), outline="black")
        if lit > 0:
            d.chord([x - r, y - r, x + r, y + r], -90, 90, fill=(250, 240, 160))
            if lit >= 1:
                d.ellipse([x - r, y - r, x + r, y + r], fill=(250, 240, 160), outline="black")
        label(d, (x, y + r + 12), letter, 12)
    return img


def thermometer(temp: int, w=90, h=170) -> Image.Image:
    img, d = canvas(w, h)
    top, bottom, x = 15, 140, 40
    d.rectangle([x - 6, top, x + 6, bottom], outline="black")
    level = bottom - (bottom - top) * temp / 50
    d.rectangle([x - 5, level, x + 5, bottom], fill=PALETTE["red"])
    d.ellipse([x - 11, bottom - 4, x + 11, bottom + 18], fill=PALETTE["red"], outline="black")
    for t in range(0, 51, 10):
        y = bottom - (bottom - top) * t / 50
        d.line([(x + 6, y), (x + 12, y)], fill="black")
        label(d, (x + 26, y), f"{t}°C", 9)
    return img


def scene_car_sun(w=200, h=140) -> Image.Image:
    img, d = canvas(w, h)
    d.rectangle([0, 0, w, 95], fill=(200, 225, 250))
    d.rectangle([0, 95, w, h], fill=(120, 120, 120))
    d.ellipse([150, 12, 180, 42], fill=PALETTE["yellow"])
    d.rectangle([40, 75, 130, 105], fill=PALETTE["red"], outline="black")
    d.rectangle([60, 58, 110, 76], fill=PALETTE["red"], outline="black")
    for x in (60, 110):
        d.ellipse([x - 11, 98, x + 11, 120], fill="black")
    return img


def map_cities(cities, w=180, h=150) -> Image.Image:
    img, d = canvas(w, h)
    d.rectangle([8, 8, w - 8, h - 8], fill=(225, 240, 215), outline="black")
    label(d, (w - 20, 22), "N", 12)
    d.line([(w - 20, 45), (w - 20, 30)], fill="black", width=2)
    for name, (x, y) in cities.items():
        d.ellipse([x - 3, y - 3, x + 3, y + 3], fill="black")
        label(d, (x, y + 11), name, 10)
    return img


def magnets(w=200, h=80) -> Image.Image:
    img, d = canvas(w, h)
    for x0, left, right in ((10, "N", "S"), (110, "N", "S")):
        d.rectangle([x0, 25, x0 + 40, 55], fill=PALETTE["red"], outline="black")
        d.rectangle([x0 + 40, 25, x0 + 80, 55], fill=PALETTE["blue"], outline="black")
        label(d, (x0 + 20, 40), left, 14, fill="white")
        label(d, (x0 + 60, 40), right, 14, fill="white")
    return img


# --------------------------------------------------------------------------------------------
# Figures shared between sources (the deliberate duplicates and near-misses)
# --------------------------------------------------------------------------------------------

def fig_de_bc() -> bytes:
    # AD = 2, DB = 3, DE = 4, DE ∥ BC  =>  BC = DE * AB / AD = 4 * 5 / 2 = 10.
    a, b, c = (80, 15), (15, 145), (150, 145)
    d = (a[0] + (b[0] - a[0]) * 0.4, a[1] + (b[1] - a[1]) * 0.4)
    e = (a[0] + (c[0] - a[0]) * 0.4, a[1] + (c[1] - a[1]) * 0.4)
    return png(geometry({"A": a, "B": b, "C": c, "D": d, "E": e},
                        [("A", "B"), ("B", "C"), ("C", "A"), ("D", "E")],
                        notes=[((40, 45), "2"), ((28, 100), "3"), ((83, 60), "4")]))


def fig_parallel_lines() -> bytes:
    # Lines a ∥ b cut by PQ; ∠1 and ∠2 both lie between a and b, right of PQ (same-side interior).
    return png(geometry({"a": (15, 50), "P": (55, 10), "b": (15, 115), "Q": (115, 150),
                         "M": (150, 50), "N": (150, 115)},
                        [("a", "M"), ("b", "N"), ("P", "Q")],
                        notes=[((90, 62), "1"), ((114, 104), "2")]))


BOOKS = ([30, 48, 12, 25], ["Jan", "Feb", "Mar", "Apr"])
RAIN_A = ([20, 35, 50, 15], ["W", "X", "Y", "Z"])
RAIN_B = ([12, 44, 27, 38, 9], ["P", "Q", "R", "S", "T"])


def fig_books() -> bytes:
    return png(bar_chart(*BOOKS, "Books read", colors=("green",)))


def fig_rain_a() -> bytes:
    return png(bar_chart(*RAIN_A, "Rainfall (mm)", colors=("blue",)))


def fig_rain_b() -> bytes:
    return png(bar_chart(*RAIN_B, "Rainfall (mm)", colors=("orange", "purple"), w=220, h=170))


def fig_rectangle() -> bytes:
    # AB = 6, BC = 4  =>  area 24.
    return png(geometry({"A": (20, 120), "B": (140, 120), "C": (140, 40), "D": (20, 40)},
                        [("A", "B"), ("B", "C"), ("C", "D"), ("D", "A")],
                        notes=[((80, 132), "6"), ((150, 80), "4")], h=150))


MATHVISTA_CONTAMINATED = ("As shown in the figure, the three angles of the triangle are 50°, 60° "
                          "and x°. What is the value of x?")


def fig_triangle_x() -> bytes:
    # The angles are 50°, 60° and x°  =>  x = 70.
    return png(geometry({"A": (30, 130), "B": (150, 130), "C": (70, 30)},
                        [("A", "B"), ("B", "C"), ("C", "A")],
                        notes=[((45, 118), "60°"), ((128, 120), "50°"), ((72, 52), "x°")],
                        w=180, h=150))


# --------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------

def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_jsonl(path: Path, rows) -> None:
    """rows: dicts, or str for a line written verbatim (a deliberately broken one)."""
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))


def write_json(path: Path, obj) -> None:
    write_bytes(path, (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))


IMAGE_STRUCT = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
HF_STRING = {"dtype": "string", "_type": "Value"}


def write_parquet(path: Path, rows: list[dict], fields: list[tuple], hf_features=None) -> None:
    """hf_features: the `datasets` Features JSON stored under the schema key `huggingface`, as
    `push_to_hub` writes it (so images decode); None for files written by plain pandas/arrow."""
    metadata = None
    if hf_features is not None:
        metadata = {b"huggingface": json.dumps({"info": {"features": hf_features}}).encode()}
    schema = pa.schema([pa.field(n, t) for n, t in fields], metadata=metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, compression="zstd")


def make_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def tagged_trace(summary: str, caption: str, reasoning: str, conclusion: str) -> str:
    return (f"<SUMMARY> {summary} </SUMMARY>\n\n<CAPTION> {caption} </CAPTION>\n\n"
            f"<REASONING> {reasoning} </REASONING>\n\n<CONCLUSION> {conclusion} </CONCLUSION>")


# --------------------------------------------------------------------------------------------
# SFT raw-question sources
# --------------------------------------------------------------------------------------------

def llava_cot(out: Path, rng: random.Random, expected: dict) -> None:
    """Xkev/LLaVA-CoT-100k: train.jsonl + images at their relative paths."""
    root = out / "llava_cot"
    rows: list = []

    def add(image_path: str, image: bytes | None, turns: list[tuple[str, str]]) -> str:
        row_id = make_uuid(rng)
        if image is not None:
            write_bytes(root / image_path, image)
        conv = []
        for human, gpt in turns:
            conv += [{"from": "human", "value": human}, {"from": "gpt", "value": gpt}]
        rows.append({"id": row_id, "image": image_path, "conversations": conv})
        return row_id

    cities = {"Avon": (50, 110), "Brill": (120, 35), "Calder": (70, 70), "Dunmore": (140, 120)}
    add("sqa/train/101/image.png", png(map_cities(cities)), [(
        "Which city is farthest north?\nContext: N/A\n"
        "Options: (A) Avon (B) Brill (C) Calder (D) Dunmore",
        tagged_trace("I will find the city closest to the top of the map, where north points.",
                     "The map shows four cities: Avon, Brill, Calder and Dunmore, with an "
                     "arrow marked N pointing up.",
                     "North is toward the top. Brill is drawn highest on the map, above Calder, "
                     "Avon and Dunmore.",
                     "Brill is the farthest north. The answer is B."))])
    add("sqa/train/102/image.png", png(magnets()), [(
        "Will these magnets attract or repel each other?\n"
        "Context: Two magnets are placed as shown. Opposite poles attract and like poles repel.\n"
        "Options: (A) attract (B) repel",
        tagged_trace("I will look at which poles face each other.",
                     "Two bar magnets lie in a row, each labelled N on the left and S on the "
                     "right.",
                     "The S pole of the left magnet faces the N pole of the right magnet. "
                     "Opposite poles attract.",
                     "A"))])
    add("chartqa/train/png/two_col_1041.png",
        png(bar_chart([18, 42, 27, 33], ["2019", "2020", "2021", "2022"], "Sales (units)")), [(
            "What is the value of the tallest bar?\n"
            "Answer the question using a single word or phrase.",
            tagged_trace("I will read the height of the tallest bar from the labels.",
                         "A bar chart of sales for 2019 to 2022 with values 18, 42, 27 and 33.",
                         "The largest of 18, 42, 27 and 33 is 42, the bar for 2020.",
                         "42"))])
    add("chartqa/train/png/multi_col_207.png",
        png(line_chart([2018, 2019, 2020, 2021], [15, 40, 50, 25], "Visitors (k)", "Year", "k")),
        [("What is the difference between the highest and the lowest value of the line?\n"
          "Answer the question using a single word or phrase.",
          tagged_trace("I will find the maximum and minimum points and subtract.",
                       "A line chart of visitors from 2018 to 2021 with values 15, 40, 50, 25.",
                       "The highest value is 50 and the lowest is 15; 50 - 15 = 35.",
                       "35"))])
    add("geoqa_plus/images/3.png", png(geometry(
        {"A": (20, 50), "B": (150, 50), "C": (20, 120), "D": (150, 120),
         "E": (60, 10), "F": (110, 155)},
        [("A", "B"), ("C", "D"), ("E", "F")],
        notes=[((90, 40), "1"), ((103, 110), "2")])), [(
            "As shown in the figure, AB ∥ CD, line EF crosses them, ∠1 = 50°, and ∠2 is the "
            "corresponding angle of ∠1. Then the degree of ∠2 is ()\n"
            "A. 40°\nB. 50°\nC. 130°\nD. 140°\n"
            "Answer with the option's letter from the given choices directly.",
            tagged_trace("I will use the corresponding-angles property of parallel lines.",
                         "Two horizontal parallel lines AB and CD are crossed by the line EF; "
                         "angle 1 is at the upper crossing and angle 2 at the lower one.",
                         "Since AB ∥ CD, corresponding angles are equal, so ∠2 = ∠1 = 50°, "
                         "which is option B.",
                         "B"))])
    add("geoqa_plus/images/17.png", png(geometry(
        {"A": (80, 20), "B": (20, 140), "C": (145, 140)}, [("A", "B"), ("B", "C"), ("C", "A")],
        notes=[((80, 45), "60°"), ((40, 128), "70°")])), [(
            "In triangle ABC, ∠A = 60°, ∠B = 70°, then ∠C = ()\n"
            "A. 40°\nB. 50°\nC. 60°\nD. 70°",
            tagged_trace("I will use the triangle angle sum.",
                         "Triangle ABC with ∠A marked 60° and ∠B marked 70°.",
                         "The angles of a triangle sum to 180°, so ∠C = 180° - 60° - 70° = 50°.",
                         "∠C = 50°, which matches option B. The answer is B."))])
    add("coco/train2017/000000136235.jpg", jpeg(scene_car_sun(), 90), [
        ("What color is the car in the picture?\n"
         "Answer the question using a single word or phrase.",
         tagged_trace("I will look at the car and name its colour.",
                      "A street scene with a car on the road under a blue sky with the sun.",
                      "The body of the car is painted red.",
                      "Red")),
        ("What can be seen in the sky?\nA. a bird\nB. the sun\nC. a plane\nD. a kite\n"
         "Answer with the option's letter from the given choices directly.",
         tagged_trace("I will check the sky area of the image.",
                      "The upper part of the image is blue sky with a yellow disc at the right.",
                      "The yellow disc is the sun; there is no bird, plane or kite.",
                      "B")),
    ])
    add("ai2d/images/1245.png", png(boxes_with_arrows(["grass", "rabbit", "fox"],
                                                      title="Food chain")), [(
        "Which organism in this food chain is a producer?\n"
        "A. fox\nB. grass\nC. rabbit\nD. hawk",
        tagged_trace("I will identify the organism that makes its own food.",
                     "A food chain diagram: grass -> rabbit -> fox.",
                     "Producers make their own food by photosynthesis; grass is the only plant.",
                     "Grass is the producer, so the answer is B."))])
    add("sam/images/sa_10093.jpg", jpeg(shapes(
        [("sphere", "yellow", (40, 60), 20), ("cube", "blue", (100, 70), 22),
         ("cylinder", "green", (150, 60), 18)]), 90), [(
        "Describe the image in detail.",
        tagged_trace("I will describe the objects, their colours and their layout.",
                     "Three objects on a grey background.",
                     "From left to right there is a yellow sphere, a blue cube and a green "
                     "cylinder, evenly spaced on a plain grey surface.",
                     "The image shows three simple objects on a grey background: a yellow "
                     "sphere on the left, a blue cube in the middle and a green cylinder on "
                     "the right."))])
    add("docvqa/train/documents/ffbg0227_3.png", png(table_image(
        [["Quarter", "Total"], ["Q1", "980"], ["Q2", "1,105"], ["Q3", "1,250"], ["Q4", "1,190"]])),
        [("What is the total for Q3?\nAnswer the question using a single word or phrase.",
          tagged_trace("I will read the Q3 row of the table.",
                       "A table with columns Quarter and Total for Q1 to Q4.",
                       "The row Q3 has the total 1,250.",
                       "1,250"))])
    add("CLEVR_v1.0/images/train/CLEVR_train_004512.png", png(shapes(
        [("sphere", "red", (30, 50), 15), ("cube", "red", (75, 85), 16),
         ("cylinder", "blue", (115, 45), 15), ("sphere", "red", (155, 90), 14),
         ("cube", "gray", (140, 40), 12)])), [(
        "<image>\nHow many red objects are there?",
        tagged_trace("I will count the red objects.",
                     "Five objects: a red sphere, a red cube, a blue cylinder, a red sphere and "
                     "a gray cube.",
                     "The red objects are two spheres and one cube: 3 in total.",
                     "3"))])
    add("CLEVR-Math/images/CLEVR_train_000781.png", png(shapes(
        [("cube", "blue", (30, 60), 15), ("cube", "blue", (75, 90), 15),
         ("sphere", "green", (120, 50), 15), ("cylinder", "yellow", (160, 90), 14),
         ("sphere", "red", (150, 35), 11)])), [(
        "Subtract all blue cubes. How many objects are left?",
        tagged_trace("I will count all objects and remove the blue cubes.",
                     "Five objects: two blue cubes, a green sphere, a yellow cylinder and a "
                     "red sphere.",
                     "There are 5 objects; removing the 2 blue cubes leaves 5 - 2 = 3.",
                     "3"))])
    missing_id = add("sqa/train/104/image.png", None, [(
        "Which material is this spoon made of?\nContext: N/A\nOptions: (A) wood (B) metal",
        tagged_trace("I will look at the spoon.", "A shiny spoon.",
                     "The spoon is shiny and grey like metal.", "The answer is B."))])
    broken = ('{"id": "' + make_uuid(rng) + '", "image": "sqa/train/103/image.png", '
              '"conversations": [{"from": "human", "value": "Which of these is a mammal?')
    rows.insert(7, broken)
    write_jsonl(root / "train.jsonl", rows)
    expected["rejects"] += [
        {"source": "llava_cot", "where": "train.jsonl line 8", "reason": "malformed JSON"},
        {"source": "llava_cot", "id": f"llava_cot/{missing_id}",
         "reason": "missing image: sqa/train/104/image.png"},
    ]


def openvlthinker(out: Path, rng: random.Random, expected: dict) -> None:
    """ydeng9/OpenVLThinker-sft-iter3: LLaMA-Factory sharegpt JSON (messages + image paths)."""
    root = out / "openvlthinker"
    items = [
        ([geometry({"A": (20, 140), "B": (140, 140), "C": (20, 30)},
                   [("A", "B"), ("B", "C"), ("C", "A")],
                   notes=[((80, 152), "12"), ((10, 85), "5"), ((90, 80), "13")])],
         "<image>Find the perimeter of the triangle.",
         "<think>The sides are 5, 12 and 13. The perimeter is 5 + 12 + 13 = 30.</think>\n"
         "<answer>30</answer>"),
        ([geometry({"O": (80, 80), "A": (130, 80)}, [("O", "A")],
                   notes=[((105, 70), "3")], circle=((80, 80), 50))],
         "<image>The radius of circle O is 3. Find the area of the circle. Leave the answer in "
         "terms of \\pi.",
         "<think>The area of a circle is \\pi r^2 = \\pi \\cdot 3^2 = 9\\pi.</think>\n"
         "<answer>9\\pi</answer>"),
        ([bar_chart([14, 9, 22, 17], ["A", "B", "C", "D"], "Pets owned", colors=("purple",))],
         "<image>Which category has the largest value?\nA. A\nB. B\nC. C\nD. D",
         "<think>The values are A = 14, B = 9, C = 22, D = 17. The largest is C = 22, which is "
         "option C.</think>\n<answer>C</answer>"),
        ([shaded_grid(2, 2, 3)],
         "<image>What fraction of the square is shaded?",
         "<think>The square is split into 4 equal parts and 3 of them are shaded, so the "
         "shaded fraction is 3/4.</think>\nThe shaded fraction is \\boxed{\\frac{3}{4}}."),
        ([regular_polygon(4, "blue"), regular_polygon(6, "orange")],
         "<image><image>How many more sides does the second polygon have than the first?",
         "<think>The first polygon is a square with 4 sides; the second is a hexagon with 6 "
         "sides. 6 - 4 = 2.</think>\n<answer>2</answer>"),
        ([geometry({"A": (20, 40), "B": (90, 40), "C": (20, 110), "D": (150, 110)},
                   [("A", "B"), ("C", "D")])],
         "<image>Is segment AB longer than segment CD?",
         "<think>AB spans 70 units horizontally while CD spans 130 units, so AB is shorter "
         "than CD.</think>\n<answer>No</answer>"),
    ]
    rows = []
    for i, (images, question, answer) in enumerate(items):
        paths = []
        for k, img in enumerate(images):
            rel = f"images/iter3_{i:05d}_{k}.png"
            write_bytes(root / rel, png(img))
            paths.append(rel)
        rows.append({"messages": [{"role": "user", "content": question},
                                  {"role": "assistant", "content": answer}],
                     "images": paths})
    write_json(root / "train.json", rows)


def wemath2_sft(out: Path, rng: random.Random, expected: dict) -> None:
    """We-Math/We-Math2.0-SFT: mathbook_sft.jsonl in ms-swift `messages`/`images` (schema [U])."""
    root = out / "wemath2_sft"
    items = [
        (geometry({"A": (20, 120), "B": (140, 120), "C": (140, 50), "D": (20, 50)},
                  [("A", "B"), ("B", "C"), ("C", "D"), ("D", "A")],
                  notes=[((80, 132), "8 cm"), ((152, 85), "3")]),
         "<image>The rectangle ABCD has AB = 8 cm and BC = 3 cm. What is its area?",
         "<think>Area of a rectangle = length × width = 8 × 3 = 24 square centimetres.</think>\n"
         "The area is \\boxed{24\\text{ cm}^2}."),
        (geometry({"A": (20, 120), "O": (80, 120), "B": (140, 120), "C": (120, 50)},
                  [("A", "B"), ("O", "C")], notes=[((100, 108), "40°")]),
         "<image>Points A, O and B lie on a straight line and ∠BOC = 40°. Find ∠AOC.",
         "<think>∠AOB is a straight angle of 180°, so ∠AOC = 180° - 40° = 140°.</think>\n"
         "Therefore ∠AOC = \\boxed{140^\\circ}."),
        (shaded_grid(3, 2, 5),
         "<image>What fraction of the rectangle is shaded?",
         "<think>There are 6 equal parts and 5 are shaded, so the fraction is 5/6.</think>\n"
         "\\boxed{\\frac{5}{6}}"),
        (clock(3, 0),
         "<image>What is the angle between the hour hand and the minute hand?",
         "<think>At 3:00 the hour hand points at 3 and the minute hand at 12. Each hour mark is "
         "30°, so the angle is 3 × 30° = 90°.</think>\nThe angle is \\boxed{90^\\circ}."),
        (None,
         "Solve for x: 3x + 5 = 20.",
         "<think>3x = 20 - 5 = 15, so x = 5.</think>\nx = \\boxed{5}"),
        (None,
         "A bag has 3 red balls and 5 blue balls. One ball is drawn at random. What is the "
         "probability that it is red?",
         "<think>There are 3 + 5 = 8 balls and 3 are red, so P = 3/8.</think>\n"
         "The probability is \\boxed{\\frac{3}{8}}."),
    ]
    rows = []
    for i, (img, question, answer) in enumerate(items):
        row = {"messages": [{"role": "user", "content": question},
                            {"role": "assistant", "content": answer}]}
        if img is not None:
            rel = f"images/mathbook_{i:04d}.png"
            write_bytes(root / rel, png(img))
            row["images"] = [rel]
        elif i == 4:
            row["images"] = []  # text-only written both ways: empty list here, no key below
        rows.append(row)
    write_jsonl(root / "mathbook_sft.jsonl", rows)


def mmr1(out: Path, rng: random.Random, expected: dict) -> None:
    """MMR1/MMR1-SFT: sft.json, a JSON array of `conversations` (+ `images`, `answer`)."""
    root = out / "mmr1"
    suffix = "\nPlease reason step by step, and put your final answer within \\boxed{}."
    items = [
        (geometry({"A": (20, 130), "B": (140, 130), "C": (140, 30)},
                  [("A", "B"), ("B", "C"), ("C", "A")],
                  notes=[((80, 142), "8"), ((152, 80), "6")]),
         "In right triangle ABC, ∠B = 90°, AB = 8 and BC = 6. Find AC.",
         "<think>By the Pythagorean theorem AC = √(8² + 6²) = √100 = 10.</think>\n"
         "AC = √(64 + 36) = 10, so the answer is \\boxed{10}.", "10"),
        (line_chart([0, 1, 2, 3], [2, 5, 8, 11], "y = kx + b", "x", "y"),
         "The line passes through the points shown. What is its slope?",
         "<think>From (0, 2) to (3, 11) y rises by 9 while x rises by 3, so the slope is "
         "9 / 3 = 3.</think>\nThe slope is \\boxed{3}.", "3"),
        (table_image([["Fruit", "Price"], ["apple", "$2"], ["pear", "$3"], ["plum", "$1"]]),
         "How much do 2 apples and 1 pear cost in total?",
         "<think>2 apples cost 2 × $2 = $4 and a pear costs $3, so the total is $7.</think>\n"
         "The total cost is \\boxed{7} dollars.", "7"),
        (geometry({"O": (80, 80), "A": (30, 80), "B": (130, 80), "C": (80, 30)},
                  [("A", "B"), ("A", "C"), ("C", "B")], circle=((80, 80), 50)),
         "AB is a diameter of circle O and C is a point on the circle. What is ∠ACB in "
         "degrees?",
         "<think>An angle inscribed in a semicircle is a right angle.</think>\n"
         "∠ACB = \\boxed{90}.", "90"),
    ]
    rows = []
    for i, (img, question, trace, answer) in enumerate(items):
        rel = f"images/mmr1_math_{i:06d}.png"
        write_bytes(root / rel, png(img))
        rows.append({"conversations": [{"from": "human", "value": "<image>\n" + question + suffix},
                                       {"from": "gpt", "value": trace}],
                     "images": [rel], "answer": answer})
    write_json(root / "sft.json", rows)


def miromind_m1(out: Path, rng: random.Random, expected: dict) -> None:
    """miromind-ai/MiroMind-M1-SFT-719K: parquet with id, question, response (text only)."""
    items = [
        ("Compute $\\frac{3}{4} + \\frac{1}{8}$.",
         "<think>\nCommon denominator 8: 3/4 = 6/8, so 6/8 + 1/8 = 7/8.\n</think>\n\n"
         "Writing both over 8 gives $\\frac{6}{8} + \\frac{1}{8} = \\frac{7}{8}$.\n\n"
         "The answer is $\\boxed{\\frac{7}{8}}$."),
        ("What is the sum of the roots of $x^2 - 5x + 6 = 0$?",
         "<think>\nFactor: (x - 2)(x - 3) = 0, roots 2 and 3, sum 5. Vieta agrees: -(-5)/1 = 5."
         "\n</think>\n\nBy Vieta's formulas the sum of the roots is $5$.\n\n$\\boxed{5}$"),
        ("How many positive divisors does 36 have?",
         "<think>\n36 = 2^2 * 3^2, so the count is (2+1)(2+1) = 9.\n</think>\n\n"
         "Since $36 = 2^2 \\cdot 3^2$, it has $(2+1)(2+1) = 9$ divisors: $\\boxed{9}$."),
        ("Find the smallest positive integer $n$ such that $n!$ is divisible by $100$.",
         "<think>\n100 = 2^2 * 5^2. n! needs two factors of 5, first at n = 10 (5 and 10); "
         "9! has only one. So n = 10.\n</think>\n\n$9!$ contains one factor $5$, while $10!$ "
         "contains two and plenty of 2s, so $n = \\boxed{10}$."),
        ("Prove that the square of an odd integer is odd.",
         "<think>\nWrite n = 2k + 1; n^2 = 4k^2 + 4k + 1 = 2(2k^2 + 2k) + 1.\n</think>\n\n"
         "Let $n = 2k+1$. Then $n^2 = 2(2k^2+2k)+1$, which is odd."),  # no \boxed: reject
    ]
    rows = [{"id": f"m1-{rng.randrange(10**6, 10**7)}", "question": q, "response": r}
            for q, r in items]
    write_parquet(out / "miromind_m1/data/train-00000-of-00001.parquet", rows,
                  [("id", pa.string()), ("question", pa.string()), ("response", pa.string())],
                  {"id": HF_STRING, "question": HF_STRING, "response": HF_STRING})
    expected["rejects"].append({"source": "miromind_m1", "id": f"miromind_m1/{rows[-1]['id']}",
                                "reason": "missing answer"})


# --------------------------------------------------------------------------------------------
# RL sources
# --------------------------------------------------------------------------------------------

MMK12_FIELDS = [("id", pa.string()), ("question", pa.string()), ("answer", pa.string()),
                ("subject", pa.string()), ("image", IMAGE_STRUCT)]
MMK12_FEATURES = {"id": HF_STRING, "question": HF_STRING, "answer": HF_STRING,
                  "subject": HF_STRING, "image": {"_type": "Image"}}

RECT_QUESTION = ("As shown in the figure, rectangle ABCD has AB = 6 and BC = 4. Its area is ( )\n"
                 "A. $$10$$\nB. $$20$$\nC. $$24$$\nD. $$12$$")
DE_BC_QUESTION = "As shown in the figure, in △ABC, DE∥BC, AD=2, DB=3, DE=4, then BC=____."
BOOKS_QUESTION = ("The bar chart shows the number of books a class read each month. The {} "
                  "number of books read in a single month is ____.")
TEMPLATE_QUESTION = "According to the bar chart, the value of the tallest bar is ____."


def mmk12(out: Path, rng: random.Random, expected: dict) -> None:
    """FanqingM/MMK12: data/train-*.parquet (fill-in-the-blank) and data/test-*.parquet (MC)."""
    train = [
        ("math_00017", "math", DE_BC_QUESTION, "10", fig_de_bc()),
        ("math_00042", "math", BOOKS_QUESTION.format("highest"), str(max(BOOKS[0])), fig_books()),
        ("math_00103", "math", TEMPLATE_QUESTION, str(max(RAIN_A[0])), fig_rain_a()),
        # Inscribed angle = half the central angle: 80° / 2 = 40°.
        ("math_00150", "math",
         "As shown in the figure, A, B and C are on circle O and ∠AOB = 80°. Then ∠ACB = ____°.",
         "40", png(geometry({"O": (80, 85), "A": (40, 115), "B": (120, 115), "C": (80, 35)},
                            [("O", "A"), ("O", "B"), ("C", "A"), ("C", "B")],
                            notes=[((80, 102), "80°")], circle=((80, 85), 50)))),
        # √(6² + 8²) = 10.
        ("math_00211", "math",
         "In Rt△ABC, ∠C = 90°, AC = 6, BC = 8, then AB = ____.",
         "10", png(geometry({"C": (25, 130), "A": (25, 40), "B": (145, 130)},
                            [("C", "A"), ("C", "B"), ("A", "B")],
                            notes=[((14, 85), "6"), ((85, 142), "8")]))),
        # Constant speed 3 m/s for 4 s: 12 m.
        ("physics_00008", "physics",
         "The figure shows the speed–time graph of a cart. The distance it travels in the first "
         "4 s is ____.",
         "12 m", png(line_chart([0, 1, 2, 3, 4], [3, 3, 3, 3, 3], "v (m/s)", "t (s)", "v"))),
        # 15 / (15 + 45) = 1/4.
        ("chemistry_00031", "chemistry",
         "The table shows how a solution was prepared. The mass fraction of the solute in the "
         "solution is ____.",
         "\\frac{1}{4}", png(table_image([["Component", "Mass (g)"], ["salt", "15"],
                                          ["water", "45"]]))),
        # 75 : 25 = 3 : 1.
        ("biology_00012", "biology",
         "The chart shows the offspring of a cross between two tall pea plants. The ratio of "
         "tall to short plants is ____.",
         "3:1", png(bar_chart([75, 25], ["tall", "short"], "Offspring", colors=("green",)))),
    ]
    rows = [{"id": i, "question": q, "answer": a, "subject": s,
             "image": {"bytes": img, "path": f"{i}.png"}} for i, s, q, a, img in train]
    write_parquet(out / "mmk12/data/train-00000-of-00001.parquet", rows, MMK12_FIELDS,
                  MMK12_FEATURES)

    test = [
        ("test_math_0005", "math", RECT_QUESTION, "C", fig_rectangle()),
        # Speed rises from 0 to 6 m/s in 3 s: a = 2 m/s².
        ("test_physics_0011", "physics",
         "The figure shows the v–t graph of an object moving in a straight line. Its "
         "acceleration is ( )\nA. $$1\\ m/s^2$$\nB. $$2\\ m/s^2$$\nC. $$3\\ m/s^2$$\n"
         "D. $$6\\ m/s^2$$", "B",
         png(line_chart([0, 1, 2, 3], [0, 2, 4, 6], "v (m/s)", "t (s)", "v"))),
        ("test_chemistry_0020", "chemistry",
         "The chart shows the mass fractions (%) of the elements in a compound. Which element "
         "has the largest mass fraction?\nA、C\nB、H\nC、O\nD、N", "C",
         png(bar_chart([40, 7, 53], ["C", "H", "O"], "Mass fraction (%)", colors=("teal",)))),
        ("test_biology_0002", "biology",
         "The figure shows a food chain. Which organism is the primary consumer?\n"
         "A. grass\nB. rabbit\nC. fox\nD. sun", "B",
         png(boxes_with_arrows(["sun", "grass", "rabbit", "fox"], w=220))),
    ]
    rows = [{"id": i, "question": q, "answer": a, "subject": s,
             "image": {"bytes": img, "path": None}} for i, s, q, a, img in test]
    write_parquet(out / "mmk12/data/test-00000-of-00001.parquet", rows, MMK12_FIELDS,
                  MMK12_FEATURES)


def virl39k(out: Path, rng: random.Random, expected: dict) -> None:
    """TIGER-Lab/ViRL39K: 39Krelease.parquet + images/<qid>-<k>.jpg."""
    root = out / "virl39k"

    def qid(source: str) -> str:
        return f"{source}-{make_uuid(rng)}"

    def pass_rate() -> float:
        return rng.randrange(0, 33) / 32

    items = [
        # (a) the MMK12 row math_00017 again: re-encoded image, different whitespace.
        (qid("MMK12"), "MMK12", "(GradeSchool) Geometric",
         "<image>As shown in the figure,  in △ABC, DE∥BC, AD=2, DB=3,  DE=4, then BC=____. ",
         "\\boxed{10}", [reencode(fig_de_bc())]),
        # (b) same figure as MMK12 math_00042, opposite question.
        (qid("MMK12"), "MMK12", "Tables/Diagrams/Charts",
         "<image>" + BOOKS_QUESTION.format("lowest"), f"\\boxed{{{min(BOOKS[0])}}}",
         [reencode(fig_books())]),
        # (b) same templated question as MMK12 math_00103, different chart.
        (qid("Processed"), "Processed", "Tables/Diagrams/Charts",
         "<image>" + TEMPLATE_QUESTION, f"\\boxed{{{max(RAIN_B[0])}}}",
         [jpeg(Image.open(io.BytesIO(fig_rain_b())), 90)]),
        # (d) an MMK12 *test* row (a benchmark) leaking into training data.
        (qid("MMK12"), "MMK12", "(GradeSchool) Geometric", "<image>" + RECT_QUESTION,
         "\\boxed{C}", [reencode(fig_rectangle(), scale=1.0, quality=85)]),
        (qid("Processed"), "Processed", "Spatial Reasoning",
         "<image><image>The first image shows one polygon and the second image shows another. "
         "How many more sides does the second polygon have than the first?",
         "\\boxed{3}", [jpeg(regular_polygon(5, "green")), jpeg(regular_polygon(8, "red"))]),
        (qid("Processed"), "Processed", "Tables/Diagrams/Charts",
         "<image>How many tickets were sold in total over the three days?",
         f"\\boxed{{{120 + 95 + 140}}}",
         [jpeg(table_image([["Day", "Tickets"], ["Mon", "120"], ["Tue", "95"], ["Wed", "140"]]))]),
        (qid("DeepScaleR"), "DeepScaleR", "(GradeSchool) Non-Geo Math",
         "What is $\\frac{1}{2}+\\frac{1}{4}$?", "\\boxed{\\frac{3}{4}}", []),
        (qid("M3CoT"), "M3CoT", "(GradeSchool) Science",
         "<image>Is the temperature shown on the thermometer above 20 °C?", "\\boxed{Yes}",
         [jpeg(thermometer(30))]),
        # ∠1 and ∠2 are same-side interior angles: ∠2 = 180° - 65° = 115°.
        (qid("MMMath"), "MMMath", "(GradeSchool) Geometric",
         "<image>As shown in the figure, a∥b, ∠1 = 65°, and ∠1 and ∠2 are same-side interior "
         "angles. Find ∠2.", "\\boxed{115^\\circ}",
         [jpeg(geometry({"a": (22, 35), "P": (145, 12), "b": (22, 125), "Q": (45, 150),
                         "M": (160, 35), "N": (160, 125)}, [("a", "M"), ("b", "N"), ("P", "Q")],
                        notes=[((106, 50), "1"), ((56, 112), "2")], w=180))]),
    ]
    rows = []
    for q, source, category, question, answer, images in items:
        paths = []
        for k, data in enumerate(images):
            rel = f"images/{q}-{k}.jpg"
            write_bytes(root / rel, data)
            paths.append(rel)
        rows.append({"question": question, "answer": answer,
                     "PassRate_32BTrained": pass_rate(), "PassRate_7BBase": pass_rate(),
                     "category": category, "source": source, "qid": q, "image": paths})
    write_parquet(root / "39Krelease.parquet", rows,
                  [("question", pa.string()), ("answer", pa.string()),
                   ("PassRate_32BTrained", pa.float64()), ("PassRate_7BBase", pa.float64()),
                   ("category", pa.string()), ("source", pa.string()), ("qid", pa.string()),
                   ("image", pa.list_(pa.string()))])
    ids = [f"virl39k/{r['qid']}" for r in rows]
    expected["duplicates"].append({
        "kind": "same figure and question across RL sources (JPEG q75, resized 90%, whitespace)",
        "ids": ["mmk12/math_00017", ids[0]]})
    expected["near_misses"] += [
        {"kind": "same figure, different question (highest vs lowest)",
         "ids": ["mmk12/math_00042", ids[1]]},
        {"kind": "same templated question, different chart", "ids": ["mmk12/math_00103", ids[2]]},
    ]
    expected["contamination"].append({
        "kind": "training row equals an MMK12 test (benchmark) row",
        "id": ids[3], "benchmark": "mmk12 test", "benchmark_id": "test_math_0005"})


def tqa(out: Path, rng: random.Random, expected: dict) -> None:
    """AllenAI TQA: train/tqa_v1_train.json (array of lessons) + train/question_images/."""
    root = out / "tqa/train"

    def choices(*texts):
        return {k: {"idStructural": f"{k}.", "processedText": t, "rawText": f"{k}. {t}"}
                for k, t in zip("abcd", texts)}

    def question(gid, subtype, text, options, correct, image=None):
        q = {"globalID": gid, "questionType": subtype, "questionSubType": subtype,
             "beingAsked": {"processedText": text, "rawText": text},
             "answerChoices": options}
        if correct is not None:
            q["correctAnswer"] = {"processedText": correct, "rawText": correct}
        if image is not None:
            name = f"{gid.lower()}.png"
            write_bytes(root / "question_images" / name, png(image))
            q["imagePath"] = f"question_images/{name}"
            q["imageName"] = name
        return q

    chain = boxes_with_arrows(["grass", "rabbit", "fox"], title="Food chain")
    moon = lettered_diagram([("A", 0), ("B", 0.5), ("C", 1), ("D", 0.5)], title="Moon phases")
    plant_fig = boxes_with_arrows(["roots", "stem", "leaves"], title="Water moves up a plant")
    write_bytes(root / "teaching_images/food_chains_0001.png", png(chain))
    dmc, mc, tf = "Diagram Multiple Choice", "Multiple Choice", "True or False"
    lessons = [
        {"globalID": "L_0001", "lessonName": "food chains",
         "topics": {"T_0001": {"globalID": "T_0001", "topicName": "producers and consumers",
                               "content": {"text": "Producers such as plants make their own "
                                                   "food. Consumers eat other organisms."}}},
         "instructionalDiagrams": {"DD_0001": {
             "globalID": "DD_0001", "imageName": "food_chains_0001.png",
             "imagePath": "teaching_images/food_chains_0001.png",
             "processedText": "A simple food chain from grass to a fox."}},
         "questions": {
             "nonDiagramQuestions": {
                 "NDQ_000001": question("NDQ_000001", tf, "producers make their own food.",
                                        choices("true", "false"), "a"),
                 "NDQ_000002": question("NDQ_000002", mc,
                                        "an animal that eats only plants is called a",
                                        choices("carnivore", "herbivore", "decomposer",
                                                "producer"), "b")},
             "diagramQuestions": {
                 "DQ_000001": question("DQ_000001", dmc, "which organism is the producer?",
                                       choices("fox", "rabbit", "grass", "sun"), "c", chain),
                 "DQ_000002": question("DQ_000002", dmc, "what eats the rabbit?",
                                       choices("grass", "fox", "sun", "water"), "b", chain),
                 "DQ_000003": question("DQ_000003", dmc, "how many consumers are shown?",
                                       choices("1", "2", "3", "4"), None, chain)}}},
        {"globalID": "L_0002", "lessonName": "the moon and plants",
         "topics": {"T_0002": {"globalID": "T_0002", "topicName": "phases of the moon",
                               "content": {"text": "The moon looks different as it orbits "
                                                   "Earth."}}},
         "instructionalDiagrams": {},
         "questions": {
             "nonDiagramQuestions": {},
             "diagramQuestions": {
                 "DQ_000004": question("DQ_000004", dmc, "which letter shows the full moon?",
                                       choices("A", "B", "C", "D"), "c", moon),
                 "DQ_000005": question("DQ_000005", dmc, "which letter shows the new moon?",
                                       choices("A", "B", "C", "D"), "e", moon),
                 "DQ_000006": question("DQ_000006", dmc,
                                       "which part takes in water from the soil?",
                                       choices("leaves", "stem", "roots", "flower"), "c",
                                       plant_fig)}}},
    ]
    write_json(root / "tqa_v1_train.json", lessons)
    expected["rejects"] += [
        {"source": "tqa", "id": "tqa/DQ_000003", "reason": "missing answer"},
        {"source": "tqa", "id": "tqa/DQ_000005",
         "reason": "answer not among choices: correctAnswer 'e'"},
    ]


def puzzlevqa(out: Path, rng: random.Random, expected: dict) -> None:
    """declare-lab PuzzleVQA (GitHub copy): data/<puzzle>.json JSONL + data/images/<puzzle>/."""
    root = out / "puzzlevqa/data"
    hexes = [["red", "orange", None, "red", "orange", "blue"],
             ["purple", None, "yellow", "purple", "green", "yellow"],
             ["green", "blue", "red", "green", None, "red"]]
    rows = []
    for n, colors in enumerate(hexes):
        hole = colors.index(None)
        answer = colors[(hole + 3) % 6]
        others = [c for c in ("red", "blue", "yellow", "purple", "orange", "green")
                  if c != answer and c not in colors][:3]
        options = others[: n % 4] + [answer] + others[n % 4:]
        rel = f"images/color_hexagon/color_hexagon_{n:04d}.png"
        write_bytes(root / rel, png(hexagon(colors)))
        shown = [c if c else "?" for c in colors]
        rows.append({
            "image": rel,
            "question": "What is the missing color of the part denoted with a question mark?",
            "answer": answer, "options": options,
            "caption": f"There is a hexagon split into six parts with the colors {shown} in an "
                       "anti-clockwise order.",
            "explanation": "We observe that parts opposite each other have the same color.",
            "deduction": "Based on the pattern that spatially opposite parts have the same "
                         f"color, the missing color of the part which is opposite a {answer} "
                         f"part should be {answer}."})
    write_jsonl(root / "color_hexagon.json", rows)

    grids = [(["red", "red", "red", "blue", None, "blue", "green", "green", "green"], 4),
             (["yellow", "yellow", "yellow", "purple", "purple", "purple", None, "orange",
               "orange"], 6)]
    rows = []
    for n, (cells, hole) in enumerate(grids):
        answer = cells[hole - 1] if hole % 3 else cells[hole + 1]
        options = sorted({answer, "red", "blue", "green", "purple"} - {answer})[:3] + [answer]
        rel = f"images/color_grid/color_grid_{n:04d}.png"
        write_bytes(root / rel, png(color_grid(cells)))
        rows.append({
            "image": rel,
            "question": "What is the color of the missing circle denoted with a question mark?",
            "answer": answer, "options": options,
            "caption": "There is a 3x3 grid of circles; the colors row by row are "
                       f"{[c if c else '?' for c in cells]}.",
            "explanation": "Every circle in a row has the same color.",
            "deduction": f"The missing circle is in a row of {answer} circles, so it is "
                         f"{answer}."})
    write_jsonl(root / "color_grid.json", rows)


def clock_answer(hour: int, minute: int, delta: int) -> str:
    """AlgoPuzzleVQA's convention: 12-hour arithmetic where 12 o'clock prints as 0."""
    total = (hour * 60 + minute + delta) % 720
    return f"{total // 60}:{total % 60:02d}"


def algopuzzlevqa(out: Path, rng: random.Random, expected: dict) -> None:
    """declare-lab AlgoPuzzleVQA (GitHub copy): data/clock.json JSONL + data/images/clock/."""
    root = out / "algopuzzlevqa/data"
    specs = [("Daniel", 2, 43, +100), ("Sarah", 9, 23, -155), ("Emily", 5, 12, +224),
             ("Tyler", 6, 9, -56)]
    rows = []
    for n, (name, hour, minute, delta) in enumerate(specs):
        h, m = divmod(abs(delta), 60)
        span = (f"{h} hour{'s' if h != 1 else ''} " if h else "") + f"{m} minutes"
        if delta > 0:
            question = (f"{name}'s event is going to start in {span}. The current time is shown "
                        "on the clock. The clock is a standard analog clock without the seconds "
                        "hand. What will be the time when the event starts?")
            solution = {"current_hour": hour, "current_minute": minute, "add_hour": h,
                        "add_minute": m}
        else:
            question = (f"{name} came to an event {span} ago. The current time is shown on the "
                        "clock. The clock is a standard analog clock without the seconds hand. "
                        "What was the time when {0} came to the event?".format(name))
            solution = {"current_hour": hour, "current_minute": minute, "subtract_hour": h,
                        "subtract_minute": m}
        answer = clock_answer(hour, minute, delta)
        rel = f"images/clock/clock_{n:04d}.jpg"
        write_bytes(root / rel, jpeg(clock(hour, minute), 90))
        row = {"image": rel, "question": question}
        if n < 3:  # the last row has no options, like the older clock.json
            wrong = [clock_answer(hour, minute, delta + s) for s in (-60, 20, 70)]
            row["options"] = wrong[: n + 1] + [answer] + wrong[n + 1:]
        row.update({"answer": answer, "solution": solution})
        rows.append(row)
    write_jsonl(root / "clock.json", rows)


def thinklite_vl(out: Path, rng: random.Random, expected: dict) -> None:
    """russwang ThinkLite-VL-Hard-11k: one parquet; `image` is raw bytes (not a struct)."""
    items = [
        # (c) MathVista testmini pid 1: same image bytes, same question.
        ("<image>" + MATHVISTA_CONTAMINATED + "\nChoices: (A) 60 (B) 70 (C) 80 (D) 90", "B",
         fig_triangle_x()),
        ("<image>Hint: Please answer the question and provide the final answer at the end.\n"
         "Question: Subtract all blue cubes. How many objects are left?", "4",
         png(shapes([("cube", "blue", (30, 40), 14), ("sphere", "red", (70, 90), 15),
                     ("cylinder", "green", (110, 45), 14), ("cube", "yellow", (150, 95), 14),
                     ("sphere", "purple", (160, 35), 11)]))),
        ("<image>Is the orange bar the tallest?", "Yes",
         png(bar_chart([31, 18, 24], ["orange", "gray", "teal"], "Scores",
                       colors=("orange", "gray", "teal")))),
        # Legs 3 and 4: x = 5.
        ("<image>Find x. Round to the nearest tenth if necessary.", "5",
         png(geometry({"A": (25, 130), "B": (135, 130), "C": (25, 48)},
                      [("A", "B"), ("B", "C"), ("C", "A")],
                      notes=[((80, 142), "4"), ((12, 90), "3"), ((90, 80), "x")]))),
        ("<image>What fraction of the figure is shaded?\nChoices: (A) 1/3 (B) 1/2 (C) 2/3 "
         "(D) 3/4", "C", png(shaded_grid(3, 1, 2))),
        ("<image>What is the sum of the two largest values in the chart?",
         str(sum(sorted([8, 21, 13, 17])[-2:])),
         png(line_chart([1, 2, 3, 4], [8, 21, 13, 17], "Orders", "week", "n"))),
    ]
    rows = [{"id": f"thinklite_hard_{rng.randrange(10**5, 10**6)}", "problem": p, "answer": a,
             "image": img} for p, a, img in items]
    write_parquet(out / "thinklite_vl/ThinkLite-VL-Hard-11k.parquet", rows,
                  [("id", pa.string()), ("problem", pa.string()), ("answer", pa.string()),
                   ("image", pa.binary())])
    expected["contamination"].append({
        "kind": "training row equals a MathVista testmini row (same image bytes, same question)",
        "id": f"thinklite_vl/{rows[0]['id']}", "benchmark": "mathvista", "benchmark_id": "1"})


def wemath2_standard(out: Path, rng: random.Random, expected: dict) -> None:
    """We-Math/We-Math2.0-Standard: data/standard-00000-of-00001-*.parquet."""
    items = [
        (101, "As shown in the figure, the radius of the circle is 3 cm. What is its "
              "circumference? (Use π ≈ 3.14)", "18.84 cm",
         geometry({"O": (80, 80), "A": (130, 80)}, [("O", "A")], notes=[((105, 70), "3 cm")],
                  circle=((80, 80), 50))),
        (101, "As shown in the figure, A, O and B are on a straight line and ∠AOC = 30°. "
              "Find ∠BOC.", "150°",
         geometry({"A": (20, 120), "O": (80, 120), "B": (140, 120), "C": (30, 90)},
                  [("A", "B"), ("O", "C")], notes=[((50, 112), "30°")])),
        (214, "What fraction of the rectangle is shaded?", "\\frac{3}{8}", shaded_grid(4, 2, 3)),
        (214, "The square has side length 5. What is its area?", "25",
         geometry({"A": (30, 130), "B": (130, 130), "C": (130, 30), "D": (30, 30)},
                  [("A", "B"), ("B", "C"), ("C", "D"), ("D", "A")], notes=[((80, 142), "5")])),
        (330, "What is the perimeter of the triangle in the figure? A. 12; B. 13; C. 14; D. 15",
         "A", geometry({"A": (15, 120), "B": (135, 120), "C": (135, 30)},
                       [("A", "B"), ("B", "C"), ("C", "A")],
                       notes=[((75, 132), "4"), ((147, 75), "3"), ((65, 65), "5")], w=170)),
    ]
    rows = [{"idx": idx, "question": q, "answer": a, "image": {"bytes": png(img), "path": None}}
            for idx, q, a, img in items]
    write_parquet(out / "wemath2_standard/data/standard-00000-of-00001-3f9c2a1e.parquet", rows,
                  [("idx", pa.int64()), ("question", pa.string()), ("answer", pa.string()),
                   ("image", IMAGE_STRUCT)],
                  {"idx": {"dtype": "int64", "_type": "Value"}, "question": HF_STRING,
                   "answer": HF_STRING, "image": {"_type": "Image"}})


def wemath2_pro(out: Path, rng: random.Random, expected: dict) -> None:
    """We-Math/We-Math2.0-Pro: two parquet shards; `knowledge points` has a space in it."""
    rect = geometry({"A": (20, 120), "B": (140, 120), "C": (140, 45), "D": (20, 45)},
                    [("A", "B"), ("B", "C"), ("C", "D"), ("D", "A")])
    lines = Image.open(io.BytesIO(fig_parallel_lines()))
    kp_rect = ["perimeter of a rectangle", "area of a rectangle"]
    kp_lines = ["parallel lines", "same-side interior angles"]
    items = [
        (7001, "P0007", "base", "A rectangle has length 8 and width 5. Find its perimeter.",
         "26", rect, kp_rect),
        (7002, "P0007", "a", "A rectangle has length 8 and perimeter 26. Find its width.",
         "5", rect, kp_rect),
        # w + (w + 3) = 13  =>  w = 5, l = 8, area 40.
        (7003, "P0007", "b", "A rectangle has perimeter 26 and its length is 3 more than its "
                             "width. Find its area.", "40", rect, kp_rect),
        (7004, "P0012", "base", "In the figure, a ∥ b, ∠1 = 70°, and ∠1 and ∠2 are same-side "
                                "interior angles. What is ∠2? A. 70°; B. 110°; C. 20°; D. 90°",
         "B", lines, kp_lines),
        # (2x + 10) + 110 = 180  =>  x = 30.
        (7005, "P0012", "x", "In the figure, a ∥ b, ∠1 = (2x + 10)° and ∠2 = 110°, where ∠1 and "
                             "∠2 are same-side interior angles. Find x.", "30", lines, kp_lines),
        (7006, "P0020", "base", "In the figure, what is the length of the diagonal AC?", "",
         rect, kp_rect),
    ]
    fields = [("idx", pa.int64()), ("question_id", pa.string()), ("question", pa.string()),
              ("image", IMAGE_STRUCT), ("difficulty", pa.string()),
              ("knowledge points", pa.list_(pa.string())), ("answer", pa.string())]
    features = {"idx": {"dtype": "int64", "_type": "Value"}, "question_id": HF_STRING,
                "question": HF_STRING, "image": {"_type": "Image"}, "difficulty": HF_STRING,
                "knowledge points": {"feature": HF_STRING, "_type": "List"}, "answer": HF_STRING}
    rows = [{"idx": idx, "question_id": qid, "question": q, "image": {"bytes": png(img),
                                                                      "path": None},
             "difficulty": diff, "knowledge points": kp, "answer": a}
            for idx, qid, diff, q, a, img, kp in items]
    for shard, part in enumerate((rows[:3], rows[3:])):
        write_parquet(out / f"wemath2_pro/data/pro-0000{shard}-of-00002-7b41d0c5.parquet", part,
                      fields, features)
    expected["rejects"].append({"source": "wemath2_pro", "id": "wemath2_pro/7006",
                                "reason": "missing answer"})


# --------------------------------------------------------------------------------------------
# Benchmarks
# --------------------------------------------------------------------------------------------

def mathvista(out: Path, rng: random.Random, expected: dict) -> None:
    """AI4Math/MathVista testmini columns (decoded_image is an HF Image struct)."""
    mc_hint = ("Hint: Please answer the question and provide the correct option letter, e.g., "
               "A, B, C, D, at the end.\nQuestion: ")
    int_hint = ("Hint: Please answer the question requiring an integer answer and provide the "
                "final value, e.g., 1, 2, 3, at the end.\nQuestion: ")
    float_hint = ("Hint: Please answer the question requiring a floating-point number with one "
                  "decimal place and provide the final value, e.g., 1.2, 1.3, 1.4, at the "
                  "end.\nQuestion: ")
    smallest = [9, 4, 7, 3, 6]
    levels = [1.5, 4.0, 2.5, 3.0]
    items = [
        ("1", MATHVISTA_CONTAMINATED, ["60", "70", "80", "90"], "70", "multi_choice", "text",
         None, fig_triangle_x(), mc_hint, "geometry problem solving"),
        ("2", "What is the value of the smallest bar?", None, str(min(smallest)), "free_form",
         "integer", None, png(bar_chart(smallest, list("abcde"), "Values", colors=("red",))),
         int_hint, "figure question answering"),
        ("3", "What is the difference between the maximum and the minimum of the line?", None,
         f"{max(levels) - min(levels):.1f}", "free_form", "float", 1.0,
         png(line_chart([1, 2, 3, 4], levels, "Level", "day", "m")), float_hint,
         "figure question answering"),
        ("4", "What time is shown? Answer by typing a time word, not a number. It is (_) past "
              "six.", ["half", "quarter", "o'clock", "quarter to", "quarter past"], "quarter",
         "multi_choice", "text", None, png(clock(6, 15)), mc_hint, "figure question answering"),
        ("5", "Is the number of red spheres greater than the number of blue cubes?",
         ["Yes", "No"], "Yes", "multi_choice", "text", None,
         png(shapes([("sphere", "red", (30, 40), 13), ("sphere", "red", (80, 90), 13),
                     ("sphere", "red", (150, 50), 13), ("cube", "blue", (110, 40), 13),
                     ("cube", "blue", (60, 50), 10)])), mc_hint, "visual question answering"),
    ]
    rows = []
    for pid, q, choices, answer, qtype, atype, precision, img, hint, task in items:
        query = hint + q
        if choices:
            query += "\nChoices:\n" + "\n".join(f"({chr(65 + i)}) {c}"
                                                for i, c in enumerate(choices))
        rows.append({"pid": pid, "question": q, "image": f"images/{pid}.jpg",
                     "decoded_image": {"bytes": img, "path": None}, "choices": choices,
                     "unit": None, "precision": precision, "answer": answer,
                     "question_type": qtype, "answer_type": atype,
                     "metadata": {"category": "math-targeted-vqa", "context": "synthetic",
                                  "language": "english", "source": "omr-data samples",
                                  "split": "testmini", "task": task},
                     "query": query})
    meta_type = pa.struct([(k, pa.string()) for k in
                           ("category", "context", "language", "source", "split", "task")])
    write_parquet(out / "benchmarks/mathvista/data/testmini-00000-of-00001.parquet", rows,
                  [("pid", pa.string()), ("question", pa.string()), ("image", pa.string()),
                   ("decoded_image", IMAGE_STRUCT), ("choices", pa.list_(pa.string())),
                   ("unit", pa.string()), ("precision", pa.float64()), ("answer", pa.string()),
                   ("question_type", pa.string()), ("answer_type", pa.string()),
                   ("metadata", meta_type), ("query", pa.string())],
                  {"pid": HF_STRING, "question": HF_STRING, "image": HF_STRING,
                   "decoded_image": {"_type": "Image"},
                   "choices": {"feature": HF_STRING, "_type": "List"}, "unit": HF_STRING,
                   "precision": {"dtype": "float64", "_type": "Value"}, "answer": HF_STRING,
                   "question_type": HF_STRING, "answer_type": HF_STRING,
                   "metadata": {k: HF_STRING for k in ("category", "context", "language",
                                                       "source", "split", "task")},
                   "query": HF_STRING})


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------

GENERATORS = [llava_cot, openvlthinker, wemath2_sft, mmr1, miromind_m1, mmk12, virl39k, tqa,
              puzzlevqa, algopuzzlevqa, thinklite_vl, wemath2_standard, wemath2_pro, mathvista]


def library_versions() -> dict:
    """Versions that decide the bytes of PNG/JPEG/Parquet output (not the content)."""
    import PIL
    from PIL import features

    return {"pillow": PIL.__version__, "pyarrow": pa.__version__,
            "zlib": features.version("zlib"), "libjpeg_turbo": features.version("libjpeg_turbo"),
            "freetype2": features.version("freetype2")}


def generated_files(out: Path) -> list[Path]:
    files = [p for name in FOLDERS for p in (out / name).rglob("*") if p.is_file()]
    files += [out / "expected.json"]
    return sorted(files)


def generate(out: Path) -> dict:
    """(Re)create every sample folder under `out`; returns the manifest it writes."""
    out = Path(out)
    for name in FOLDERS:
        shutil.rmtree(out / name, ignore_errors=True)
    expected = {"duplicates": [], "near_misses": [], "contamination": [], "rejects": []}
    for make in GENERATORS:
        make(out, random.Random(f"{SEED}/{make.__name__}"), expected)
    write_json(out / "expected.json", expected)
    manifest = {
        "seed": SEED, "versions": library_versions(),
        "files": {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                  for p in generated_files(out)},
    }
    write_json(out / "manifest.json", manifest)
    return manifest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE,
                        help="folder to write the samples into (default: beside this script)")
    args = parser.parse_args(argv)
    manifest = generate(args.out)
    size = sum((args.out / p).stat().st_size for p in manifest["files"])
    print(f"wrote {len(manifest['files'])} files, {size / 1e6:.2f} MB, under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
