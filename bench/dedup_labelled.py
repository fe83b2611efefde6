"""A generated, labelled near-duplicate set: what `bench/bench_dedup.py` and the dedup tests
measure on (test data, so it lives beside the benchmarks, not in the package).

Every row carries a ground-truth *group*: rows of one group are the same sample (one
figure and one question, however re-encoded or re-worded); rows of different groups are
different samples. The set holds

- near-duplicates of a base row by each image transformation the dedup stage must survive
  (resize, PNG<->JPEG at quality 30-90, crops <= 5 %, uniform borders, brightness/contrast,
  grayscale) and each text variation (case, whitespace, punctuation, "Question:" prefixes,
  option numbering, `<image>` tokens, light rewording);
- compound edits, the ones a second dataset really makes and single edits miss (see
  `COMPOUND_TRANSFORMS`): low-quality JPEG after brightness/contrast and a resize, under a
  paraphrased question; a crop then a border; grayscale, a border and JPEG;
- hard negatives, each its own group: the same figure with another question, the same
  question over another figure, the same template redrawn with one number changed, and
  near-miss questions over the same figure ("highest" vs "lowest", 2010 vs 2011, another
  number or option letter);
- text-only rows with the same kinds of duplicates and near misses;
- a benchmark whose rows reappear (transformed) in the training inputs.

Figures are drawn with PIL (charts, function plots, geometry, tables, colour grids), small
so that a few thousand rows build in seconds.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from itertools import combinations

from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

from omr_data.records import make_record

KINDS = ("bar", "plot", "geometry", "table", "grid")
IMAGE_TRANSFORMS = ("resize_down", "resize_up", "jpeg_q30", "jpeg_q60", "jpeg_q90",
                    "crop", "border", "brightness", "contrast", "grayscale", "mixed")
# several edits at once; `jpeg_bc_resize` goes with a paraphrased question (see below)
COMPOUND_TRANSFORMS = ("jpeg_bc_resize", "crop_border", "gray_border_jpeg")
# the harder set (`build_labelled_set(harder=True)`) adds stronger ones, as a held-out set
# made them: PNG -> JPEG at quality 20-40 after brightness, contrast and a resize to
# 0.5-0.8 (under a paraphrase); crops of 3-8 % per side with a border of any colour;
# grayscale, a border and JPEG at quality 20-40
HARD_COMPOUND_TRANSFORMS = ("jpeg_bc_resize_hard", "crop_border_hard", "gray_border_jpeg_hard")
TEXT_VARIANTS = ("same", "case", "whitespace", "punctuation", "prefix", "options",
                 "image_token", "reword")


# ---------------------------------------------------------------------------------------
# figures: a spec (kind + parameters) renders deterministically


def _font(size: int):
    return ImageFont.load_default(size=size)


def random_spec(rng: random.Random, kind: str) -> dict:
    spec = {"kind": kind, "seed": rng.randrange(1 << 30),
            "size": (rng.randrange(200, 300), rng.randrange(160, 240))}
    if kind == "bar":
        n = rng.randrange(3, 7)
        start = rng.randrange(2000, 2016)
        spec.update(values=[rng.randrange(5, 60) for _ in range(n)],
                    labels=[str(start + i) for i in range(n)])
    elif kind == "plot":
        spec.update(coef=[rng.choice([-2, -1, 1, 2]) * rng.randrange(1, 4),
                          rng.randrange(-5, 6), rng.randrange(-6, 7)])
    elif kind == "geometry":
        spec.update(sides=[rng.randrange(3, 20) for _ in range(3)],
                    angle=rng.choice([30, 45, 60, 75, 90, 120]),
                    points=rng.sample("ABCDEFGHMNPQ", 3))
    elif kind == "table":
        rows, cols = rng.randrange(3, 6), rng.randrange(3, 5)
        spec.update(cells=[[rng.randrange(10, 99) for _ in range(cols)] for _ in range(rows)],
                    header=[rng.choice(["Jan", "Feb", "Mar", "Apr", "May", "Jun"]) for _ in
                            range(cols)])
    elif kind == "grid":
        n = rng.randrange(3, 5)
        spec.update(n=n, cells=[rng.randrange(6) for _ in range(n * n)],
                    missing=rng.randrange(n * n))
    return spec


def perturb_spec(rng: random.Random, spec: dict) -> dict:
    """The same template redrawn with one number (or cell) changed: a different figure."""
    new = {**spec}
    kind = spec["kind"]
    if kind == "bar":
        values = list(spec["values"])
        i = rng.randrange(len(values))
        values[i] = values[i] + rng.choice([-1, 1]) * rng.randrange(4, 12)
        values[i] = max(2, values[i])
        new["values"] = values
    elif kind == "plot":
        coef = list(spec["coef"])
        coef[rng.randrange(1, 3)] += rng.choice([-2, 2])
        new["coef"] = coef
    elif kind == "geometry":
        sides = list(spec["sides"])
        i = rng.randrange(3)
        sides[i] = sides[i] + rng.choice([1, 2, 3]) if sides[i] < 17 else sides[i] - 2
        new["sides"] = sides
    elif kind == "table":
        cells = [list(r) for r in spec["cells"]]
        r, c = rng.randrange(len(cells)), rng.randrange(len(cells[0]))
        old = cells[r][c]
        while cells[r][c] == old:  # (v + k) % 89 + 10 can come back to v
            cells[r][c] = (old + rng.randrange(11, 80)) % 89 + 10
        new["cells"] = cells
    elif kind == "grid":
        cells = list(spec["cells"])
        i = rng.choice([j for j in range(len(cells)) if j != spec["missing"]])
        # another colour whose grey level differs too: a grayscale copy must still differ
        cells[i] = rng.choice([c for c in range(len(PALETTE)) if abs(_luma(PALETTE[c]) -
                                                                   _luma(PALETTE[cells[i]])) > 40])
        new["cells"] = cells
    return new


PALETTE = [(220, 60, 60), (60, 120, 220), (60, 170, 90), (230, 170, 40), (150, 80, 190),
           (40, 170, 180)]


def _luma(rgb: tuple[int, int, int]) -> float:
    r, g, b = rgb
    return 0.299 * r + 0.587 * g + 0.114 * b


def render(spec: dict) -> Image.Image:
    rng = random.Random(spec["seed"])
    w, h = spec["size"]
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    kind = spec["kind"]
    font = _font(12)
    if kind == "bar":
        values, labels = spec["values"], spec["labels"]
        color = PALETTE[rng.randrange(len(PALETTE))]
        left, bottom, top = 34, h - 24, 22
        draw.line([(left, top - 8), (left, bottom), (w - 8, bottom)], fill="black", width=1)
        vmax = 70
        for t in range(0, vmax + 1, 10):
            y = bottom - (bottom - top) * t / vmax
            draw.line([(left - 3, y), (left, y)], fill="black")
            draw.text((4, y - 6), str(t), fill="black", font=_font(10))
        slot = (w - left - 12) / len(values)
        for i, (v, lab) in enumerate(zip(values, labels)):
            x0 = left + 6 + i * slot
            y = bottom - (bottom - top) * v / vmax
            draw.rectangle([x0, y, x0 + slot * 0.6, bottom], fill=color, outline="black")
            draw.text((x0, y - 13), str(v), fill="black", font=_font(10))
            draw.text((x0 - 2, bottom + 4), lab, fill="black", font=_font(10))
        draw.text((left + 10, 2), "Sales per year", fill="black", font=font)
    elif kind == "plot":
        a, b, c = spec["coef"]
        cx, cy, scale = w // 2, h // 2, 12
        for gx in range(0, w, scale * 2):
            draw.line([(gx, 0), (gx, h)], fill=(225, 225, 225))
        for gy in range(0, h, scale * 2):
            draw.line([(0, gy), (w, gy)], fill=(225, 225, 225))
        draw.line([(0, cy), (w, cy)], fill="black")
        draw.line([(cx, 0), (cx, h)], fill="black")
        draw.text((w - 12, cy + 2), "x", fill="black", font=font)
        draw.text((cx + 4, 2), "y", fill="black", font=font)
        pts = []
        for px in range(w):
            x = (px - cx) / scale
            y = (a * x * x + b * x + c) / 4
            py = cy - y * scale
            if -1000 < py < 1000:
                pts.append((px, py))
        draw.line(pts, fill=(30, 60, 200), width=2)
        draw.text((6, 4), f"f(x)={a}x^2{b:+d}x{c:+d}", fill="black", font=font)
    elif kind == "geometry":
        s = spec["sides"]
        p = [(30 + rng.randrange(20), h - 30),
             (w - 30 - rng.randrange(20), h - 30 - rng.randrange(20)),
             (w // 2 + rng.randrange(-40, 40), 30 + rng.randrange(20))]
        draw.polygon(p, outline="black", width=2)
        for (x, y), name in zip(p, spec["points"]):
            draw.text((x - 10 if x < w / 2 else x + 4, y - 4 if y > h / 2 else y - 16), name,
                      fill="black", font=_font(14))
        for k, (i, j) in enumerate([(0, 1), (1, 2), (2, 0)]):
            mx, my = (p[i][0] + p[j][0]) / 2, (p[i][1] + p[j][1]) / 2
            draw.text((mx + 4, my + 2), str(s[k]), fill=(180, 0, 0), font=font)
        draw.arc([p[0][0] - 14, p[0][1] - 14, p[0][0] + 14, p[0][1] + 14], 300, 360, fill="black")
        draw.text((p[0][0] + 16, p[0][1] - 18), f"{spec['angle']}°", fill="black", font=_font(10))
    elif kind == "table":
        cells, header = spec["cells"], spec["header"]
        rows, cols = len(cells) + 1, len(cells[0])
        cw, ch = (w - 10) / cols, (h - 10) / rows
        fill = PALETTE[rng.randrange(len(PALETTE))]
        draw.rectangle([5, 5, w - 5, 5 + ch], fill=tuple(min(255, c + 120) for c in fill))
        for r in range(rows + 1):
            draw.line([(5, 5 + r * ch), (w - 5, 5 + r * ch)], fill="black")
        for c in range(cols + 1):
            draw.line([(5 + c * cw, 5), (5 + c * cw, h - 5)], fill="black")
        for c, name in enumerate(header):
            draw.text((10 + c * cw, 8 + ch / 4), name, fill="black", font=font)
        for r, row in enumerate(cells):
            for c, v in enumerate(row):
                draw.text((12 + c * cw, 8 + (r + 1) * ch + ch / 4), str(v), fill="black",
                          font=_font(13))
    elif kind == "grid":
        n = spec["n"]
        side = min(w, h) - 20
        cell = side / n
        x0, y0 = (w - side) / 2, (h - side) / 2
        for i, colour in enumerate(spec["cells"]):
            r, c = divmod(i, n)
            box = [x0 + c * cell, y0 + r * cell, x0 + (c + 1) * cell, y0 + (r + 1) * cell]
            if i == spec["missing"]:
                draw.rectangle(box, fill="white", outline="black")
                draw.text((box[0] + cell / 3, box[1] + cell / 4), "?", fill="black", font=_font(18))
            else:
                draw.rectangle(box, fill=PALETTE[colour], outline="black")
    return img


# ---------------------------------------------------------------------------------------
# transformations that keep a figure the same figure


def encode(img: Image.Image, fmt: str = "PNG", quality: int = 90) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.convert("RGB").save(buf, format="JPEG", quality=quality)
    else:
        img.save(buf, format="PNG")
    return buf.getvalue()


def transform(img: Image.Image, how: str, rng: random.Random) -> bytes:
    """Re-encoded bytes of `img` changed by one transformation the dedup must see through."""
    w, h = img.size
    if how == "resize_down":
        return encode(img.resize((int(w * rng.uniform(0.5, 0.8)), int(h * rng.uniform(0.5, 0.8))),
                                 Image.LANCZOS))
    if how == "resize_up":
        f = rng.uniform(1.2, 1.8)
        return encode(img.resize((int(w * f), int(h * f)), Image.BICUBIC), "JPEG", 85)
    if how.startswith("jpeg_q"):
        q = int(how[6:])
        return encode(img, "JPEG", rng.randrange(max(30, q - 5), min(95, q + 6)))
    if how == "crop":
        cut = [rng.uniform(0, 0.05) for _ in range(4)]
        box = (int(w * cut[0]), int(h * cut[1]), w - int(w * cut[2]), h - int(h * cut[3]))
        return encode(img.crop(box))
    if how == "border":
        colour = rng.choice(["white", "black", (200, 200, 200), (255, 250, 230)])
        return encode(ImageOps.expand(img, border=rng.randrange(4, 30), fill=colour))
    if how == "brightness":
        return encode(ImageEnhance.Brightness(img).enhance(rng.choice([0.7, 0.8, 1.15, 1.25])))
    if how == "contrast":
        return encode(ImageEnhance.Contrast(img).enhance(rng.choice([0.6, 0.75, 1.3, 1.5])))
    if how == "grayscale":
        return encode(ImageOps.grayscale(img), rng.choice(["PNG", "JPEG"]), 80)
    if how == "jpeg_bc_resize":  # PNG -> low-quality JPEG after brightness, contrast, resize
        out = ImageEnhance.Brightness(img).enhance(rng.choice([0.8, 0.88, 1.12, 1.2]))
        out = ImageEnhance.Contrast(out).enhance(rng.choice([0.75, 0.85, 1.2, 1.3]))
        f = rng.choice([rng.uniform(0.6, 0.85), rng.uniform(1.2, 1.5)])
        out = out.resize((int(w * f), int(h * f)), Image.BICUBIC)
        return encode(out, "JPEG", rng.randrange(15, 36))
    if how == "crop_border":  # a crop of a few percent per side, then a uniform border
        cut = [rng.uniform(0.01, 0.06) for _ in range(4)]
        box = (int(w * cut[0]), int(h * cut[1]), w - int(w * cut[2]), h - int(h * cut[3]))
        colour = rng.choice(["white", "black", (200, 200, 200), (255, 250, 230)])
        return encode(ImageOps.expand(img.crop(box), border=rng.randrange(4, 30), fill=colour),
                      rng.choice(["PNG", "JPEG"]), 85)
    if how == "gray_border_jpeg":  # grayscale, a border, JPEG at low to middling quality
        colour = rng.choice([255, 0, 200, 235])
        out = ImageOps.expand(ImageOps.grayscale(img), border=rng.randrange(4, 30), fill=colour)
        return encode(out, "JPEG", rng.randrange(25, 56))
    if how == "jpeg_bc_resize_hard":
        out = ImageEnhance.Brightness(img).enhance(rng.uniform(0.8, 1.25))
        out = ImageEnhance.Contrast(out).enhance(rng.uniform(0.7, 1.35))
        f = rng.uniform(0.5, 0.8)
        out = out.resize((int(w * f), int(h * f)), rng.choice([Image.BICUBIC, Image.BILINEAR]))
        return encode(out, "JPEG", rng.randrange(20, 41))
    if how == "crop_border_hard":
        cut = [rng.uniform(0.03, 0.08) for _ in range(4)]
        box = (int(w * cut[0]), int(h * cut[1]), w - int(w * cut[2]), h - int(h * cut[3]))
        colour = tuple(rng.randrange(256) for _ in range(3))
        return encode(ImageOps.expand(img.crop(box), border=rng.randrange(3, 40), fill=colour),
                      rng.choice(["PNG", "JPEG"]), rng.randrange(60, 91))
    if how == "gray_border_jpeg_hard":
        out = ImageOps.expand(ImageOps.grayscale(img), border=rng.randrange(3, 40),
                              fill=rng.randrange(256))
        return encode(out, "JPEG", rng.randrange(20, 41))
    if how == "mixed":  # what a second dataset typically does: rescale, pad, JPEG
        small = img.resize((int(w * 0.75), int(h * 0.75)), Image.LANCZOS)
        padded = ImageOps.expand(small, border=rng.randrange(3, 12), fill="white")
        return encode(ImageEnhance.Contrast(padded).enhance(1.2), "JPEG", rng.randrange(40, 80))
    raise ValueError(f"unknown transformation {how!r}")


# ---------------------------------------------------------------------------------------
# questions: templates per figure kind, with the words the text guards must notice

QUESTIONS = {
    "bar": [
        ("Which year has the {ext} sales?", {"ext": ("highest", "lowest")}),
        ("What were the sales in {year}?", {}),
        ("By how much did sales {dir} from {year} to the next year?",
         {"dir": ("increase", "decrease")}),
        ("What is the sum of the sales of all years shown in the chart?", {}),
    ],
    "plot": [
        ("What is the value of f(x) at x = {n}?", {}),
        ("Where does the graph cross the {axis}-axis?", {"axis": ("x", "y")}),
        ("Is the {ext} value of the function reached to the left of the y-axis?",
         {"ext": ("maximum", "minimum")}),
    ],
    "geometry": [
        ("In the triangle shown, what is the perimeter?", {}),
        ("Find the {ext} side of the triangle.", {"ext": ("longest", "shortest")}),
        ("What is the measure of angle {p}, in degrees?", {}),
    ],
    "table": [
        ("What is the {ext} value in the {month} column?", {"ext": ("largest", "smallest")}),
        ("What is the total of row {n} of the table?", {}),
        ("Is the value in the first row {cmp} than the value in the last row?",
         {"cmp": ("greater", "less")}),
    ],
    "grid": [
        ("Which colour should replace the question mark in the grid?", {}),
        ("How many cells {pos} the question mark are red?", {"pos": ("above", "below")}),
        ("Count the blue cells in the {side} half of the grid.", {"side": ("left", "right")}),
    ],
}
# the same question in other words: numbers, antonyms, negations and capital letters kept
PARAPHRASES = {
    "Which year has the {ext} sales?": "In which year were the sales {ext}?",
    "What were the sales in {year}?": "How much was sold in the year {year}?",
    "By how much did sales {dir} from {year} to the next year?":
        "From {year} to the following year, how much did sales {dir}?",
    "What is the sum of the sales of all years shown in the chart?":
        "Add up the sales for every year in the chart: what is the sum?",
    "What is the value of f(x) at x = {n}?": "Evaluate f(x) for x = {n}.",
    "Where does the graph cross the {axis}-axis?":
        "At which point does the graph intersect the {axis}-axis?",
    "Is the {ext} value of the function reached to the left of the y-axis?":
        "Does the function attain its {ext} value to the left of the y-axis?",
    "In the triangle shown, what is the perimeter?":
        "What is the perimeter of the triangle in the figure?",
    "Find the {ext} side of the triangle.": "Which side of the triangle is the {ext} one?",
    "What is the measure of angle {p}, in degrees?": "How many degrees does angle {p} measure?",
    "What is the {ext} value in the {month} column?":
        "In the {month} column, which value is the {ext}?",
    "What is the total of row {n} of the table?":
        "Add the numbers in row {n} of the table: what is the total?",
    "Is the value in the first row {cmp} than the value in the last row?":
        "Compared with the value in the last row, is the first row's value {cmp}?",
    "Which colour should replace the question mark in the grid?":
        "What colour belongs where the question mark is in the grid?",
    "How many cells {pos} the question mark are red?":
        "Count the red cells {pos} the question mark.",
    "Count the blue cells in the {side} half of the grid.":
        "How many blue cells does the {side} half of the grid contain?",
}

CHOICE_SETS = [["red", "blue", "green", "yellow"], ["12", "15", "18", "21"],
               ["2", "4", "6", "8"], ["yes", "no"]]


@dataclass
class Question:
    template: int
    slots: dict
    choices: list[str] | None

    def text(self, kind: str) -> str:
        return QUESTIONS[kind][self.template][0].format(**self.slots)

    def paraphrase(self, kind: str) -> str:
        return PARAPHRASES[QUESTIONS[kind][self.template][0]].format(**self.slots)


def random_question(rng: random.Random, kind: str, spec: dict) -> Question:
    template = rng.randrange(len(QUESTIONS[kind]))
    _, words = QUESTIONS[kind][template]
    slots = {k: rng.choice(v) for k, v in words.items()}
    slots.update(n=rng.randrange(1, 5), year=rng.randrange(2005, 2022),
                 month=rng.choice(["Jan", "Feb", "Mar"]), p="".join(spec.get("points", "ABC")))
    choices = list(rng.choice(CHOICE_SETS)) if rng.random() < 0.5 else None
    return Question(template, slots, choices)


def near_miss(rng: random.Random, kind: str, q: Question) -> Question:
    """A different question that reads almost the same (antonym, year, number, option)."""
    _, words = QUESTIONS[kind][q.template]
    slots = dict(q.slots)
    text = QUESTIONS[kind][q.template][0]
    options = [k for k in words] + [k for k in ("year", "n") if "{" + k + "}" in text]
    if options:
        key = rng.choice(options)
        if key in words:
            slots[key] = next(v for v in words[key] if v != slots[key])
        else:
            slots[key] = slots[key] + 1
        return Question(q.template, slots, q.choices)
    # no slot to change: change an option instead
    choices = list(q.choices or ["10", "20", "30", "40"])
    choices[rng.randrange(len(choices))] = str(rng.randrange(100, 200))
    return Question(q.template, slots, choices)


REWORD = [("What is", "What's"), ("Which", "Which one"), ("Find", "Determine"),
          ("How many", "What number of"), ("Count", "Give the number of")]


def vary_text(question: str, choices: list[str] | None, how: str, rng: random.Random):
    """(question, choices) reworded in a way that keeps the question the same question."""
    q, ch = question, (list(choices) if choices else None)
    if how == "case":
        q = q.upper() if rng.random() < 0.3 else q.lower()
    elif how == "whitespace":
        q = "  " + q.replace(" ", rng.choice(["  ", " \n", "\t"]), 3) + " \n"
    elif how == "punctuation":
        q = q.rstrip("?.") + rng.choice(["", " ?", "??", "."])
        q = q.replace(",", "").replace(" the ", " the ", 1)
    elif how == "prefix":
        q = rng.choice(["Question: ", "Q: ", "question:\n", "Question 3: "]) + q
    elif how == "options":
        if ch:
            style = rng.choice(["({l}) {c}", "{l}. {c}", "{l}) {c}", "{l}: {c}"])
            if rng.random() < 0.5:
                ch = [style.format(l=chr(65 + i), c=c) for i, c in enumerate(ch)]
            else:  # options moved into the question text
                q = q + "\nChoices:\n" + "\n".join(style.format(l=chr(65 + i), c=c)
                                                    for i, c in enumerate(ch))
                ch = None
        else:
            q = q + " "
    elif how == "image_token":
        q = rng.choice(["<image>\n", "<image> ", ""]) + q + rng.choice(["", " <image>"])
    elif how == "reword":
        for old, new in REWORD:
            if old in q:
                q = q.replace(old, new, 1)
                break
        else:
            q = "Look at the figure. " + q
    return q, ch


# ---------------------------------------------------------------------------------------
# text-only problems


TEXT_PROBLEMS = [
    "A train travels {a} km in {b} hours. What is its {what} speed in km per hour?",
    "Tom has {a} apples and gives {b} to his sister. How many apples does he have {when}?",
    "The {ext} of the numbers {a}, {b} and {c} is what?",
    "Solve for x: {a}x + {b} = {c}.",
    "A rectangle has length {a} cm and width {b} cm. What is its {what2}?",
    "What is the probability of drawing a red ball from a bag with {a} red and {b} blue balls?",
]
TEXT_WORDS = {"what": ("average", "maximum"), "when": ("left", "now"),
              "ext": ("maximum", "minimum"), "what2": ("area", "perimeter")}


def text_problem(rng: random.Random) -> tuple[int, dict]:
    t = rng.randrange(len(TEXT_PROBLEMS))
    slots = {k: rng.choice(v) for k, v in TEXT_WORDS.items()}
    slots.update(a=rng.randrange(2, 99), b=rng.randrange(2, 99), c=rng.randrange(2, 99))
    return t, slots


# ---------------------------------------------------------------------------------------
# the labelled set


@dataclass
class LabelledSet:
    """Inputs (source name -> records), benchmarks, and the ground-truth group of each row."""

    inputs: dict[str, list[dict]] = field(default_factory=dict)
    against: dict[str, list[dict]] = field(default_factory=dict)
    group: dict[str, str] = field(default_factory=dict)      # row id -> ground-truth group
    kind: dict[str, str] = field(default_factory=dict)       # row id -> how it was made
    hard_negatives: list[tuple[str, str, str]] = field(default_factory=list)  # (a, b, why)

    def true_pairs(self) -> set[tuple[str, str]]:
        """Duplicate pairs among the training inputs (not the benchmark)."""
        by_group: dict[str, list[str]] = {}
        for rows in self.inputs.values():
            for r in rows:
                by_group.setdefault(self.group[r["id"]], []).append(r["id"])
        return {tuple(sorted(p)) for ids in by_group.values() for p in combinations(ids, 2)}

    def contaminated(self) -> dict[str, set[str]]:
        """Training row id -> ids of the benchmark rows it duplicates."""
        bench: dict[str, set[str]] = {}
        for rows in self.against.values():
            for r in rows:
                bench.setdefault(self.group[r["id"]], set()).add(r["id"])
        return {r["id"]: bench[self.group[r["id"]]] for rows in self.inputs.values()
                for r in rows if self.group[r["id"]] in bench}


class _Builder:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.out = LabelledSet()
        self.counts: dict[str, int] = {}
        self.groups = 0

    def new_group(self) -> str:
        self.groups += 1
        return f"g{self.groups}"

    def add(self, source: str, group: str, how: str, question: str, choices, images: list[bytes],
            *, bench: bool = False) -> str:
        n = self.counts.get(source, 0)
        self.counts[source] = n + 1
        answer_type, answer = ("choice", "A") if choices else ("number", "1")
        rec = make_record(source=source, source_id=str(n), question=question, answer=answer,
                          answer_type=answer_type, choices=choices,
                          images=[{"bytes": b, "path": None} for b in images])
        (self.out.against if bench else self.out.inputs).setdefault(source, []).append(rec)
        self.out.group[rec["id"]] = group
        self.out.kind[rec["id"]] = how
        return rec["id"]


def build_labelled_set(n_base: int = 60, *, seed: int = 0, sources: tuple[str, ...] = (
        "virl39k", "mmk12", "wemath"), benchmark: str = "mathvista",
        n_text: int | None = None, redrawn_negatives: bool = True,
        harder: bool = False) -> LabelledSet:
    """A labelled set of about `12 * n_base` rows over `sources` plus one benchmark.

    `redrawn_negatives=False` leaves out the hardest negatives (the same chart, table or
    diagram redrawn with one number changed, asked the same question). `harder=True` adds a
    second compound edit per base item, a stronger one (`HARD_COMPOUND_TRANSFORMS`), and
    redraws the template negatives through those edits too."""
    b = _Builder(seed)
    rng = b.rng
    n_text = n_base // 3 if n_text is None else n_text

    def src() -> str:
        return rng.choice(sources)

    for i in range(n_base):
        kind = KINDS[i % len(KINDS)]
        spec = random_spec(rng, kind)
        img = render(spec)
        base_png = encode(img)
        q = random_question(rng, kind, spec)
        text = q.text(kind)
        group = b.new_group()
        base = b.add(src(), group, "base", text, q.choices, [base_png])
        # near-duplicates: one per image transformation (cycled), each with a text variation
        for k in range(2):
            how = IMAGE_TRANSFORMS[(2 * i + k) % len(IMAGE_TRANSFORMS)]
            tv = TEXT_VARIANTS[(3 * i + k) % len(TEXT_VARIANTS)]
            vq, vc = vary_text(text, q.choices, tv, rng)
            b.add(src(), group, f"dup:{how}+{tv}", vq, vc, [transform(img, how, rng)])
        # and one compound edit (several image edits at once; the JPEG one under a paraphrase)
        how = COMPOUND_TRANSFORMS[i % len(COMPOUND_TRANSFORMS)]
        if how == "jpeg_bc_resize":
            tv, vq, vc = "paraphrase", q.paraphrase(kind), q.choices
        else:
            tv = TEXT_VARIANTS[(5 * i + 2) % len(TEXT_VARIANTS)]
            vq, vc = vary_text(text, q.choices, tv, rng)
        b.add(src(), group, f"dup:{how}+{tv}", vq, vc, [transform(img, how, rng)])
        if harder:
            how = HARD_COMPOUND_TRANSFORMS[i % len(HARD_COMPOUND_TRANSFORMS)]
            if how == "jpeg_bc_resize_hard":
                tv, vq, vc = "paraphrase", q.paraphrase(kind), q.choices
            else:
                tv = TEXT_VARIANTS[(7 * i + 3) % len(TEXT_VARIANTS)]
                vq, vc = vary_text(text, q.choices, tv, rng)
            b.add(src(), group, f"dup:{how}+{tv}", vq, vc, [transform(img, how, rng)])
        # hard negatives, each a group of its own
        other_q = random_question(rng, kind, spec)
        if other_q.text(kind) != text:
            nid = b.add(src(), b.new_group(), "neg:same_image_other_question", other_q.text(kind),
                        other_q.choices, [base_png])
            b.out.hard_negatives.append((base, nid, "same image, other question"))
        miss = used = near_miss(rng, kind, q)
        # the near miss must not be the other question asked above: over the same figure,
        # that would be one sample labelled as two
        if (miss.text(kind), tuple(miss.choices or ())) == (other_q.text(kind),
                                                            tuple(other_q.choices or ())):
            choices = list(miss.choices or ["10", "20", "30", "40"])
            choices[rng.randrange(len(choices))] = str(rng.randrange(100, 200))
            miss = used = Question(miss.template, miss.slots, choices)
        nid = b.add(src(), b.new_group(), "neg:near_miss_question", miss.text(kind), miss.choices,
                    [transform(img, rng.choice(["jpeg_q90", "resize_down"]), rng)])
        b.out.hard_negatives.append((base, nid, "near-miss question over the same figure"))
        other_img = encode(render(random_spec(rng, kind)))
        nid = b.add(src(), b.new_group(), "neg:same_question_other_image", text, q.choices,
                    [other_img])
        b.out.hard_negatives.append((base, nid, "same question, other figure"))
        redrawn = render(perturb_spec(rng, spec))
        nid = None
        if redrawn_negatives:
            nid = b.add(src(), b.new_group(), "neg:template_other_numbers", text, q.choices,
                        [transform(redrawn, rng.choice(
                            ["jpeg_q90", "resize_down", "grayscale", "border"]
                            + (list(HARD_COMPOUND_TRANSFORMS) if harder else [])), rng)])
        if nid is not None:
            b.out.hard_negatives.append((base, nid, "same template redrawn with other numbers"))
        # benchmark overlap: every fifth base item is also a benchmark row
        if i % 5 == 2:
            bench_q, bench_c = vary_text(text, q.choices, rng.choice(TEXT_VARIANTS), rng)
            b.add(benchmark, group, "bench", bench_q, bench_c,
                  [transform(img, rng.choice(IMAGE_TRANSFORMS + COMPOUND_TRANSFORMS), rng)],
                  bench=True)
        if i % 5 == 3:  # a benchmark row whose near-miss twin is in training: must stay
            taken = {(text, tuple(q.choices or ())), (used.text(kind), tuple(used.choices or ())),
                     (other_q.text(kind), tuple(other_q.choices or ()))}
            for _ in range(5):
                other = near_miss(rng, kind, q)
                if (other.text(kind), tuple(other.choices or ())) not in taken:
                    b.add(benchmark, b.new_group(), "bench:near_miss", other.text(kind),
                          other.choices, [transform(img, "jpeg_q90", rng)], bench=True)
                    break

    for i in range(n_text):
        t, slots = text_problem(rng)
        text = TEXT_PROBLEMS[t].format(**slots)
        group = b.new_group()
        base = b.add(src(), group, "text:base", text, None, [])
        tv = TEXT_VARIANTS[(i + 1) % len(TEXT_VARIANTS)]
        vq, _ = vary_text(text, None, tv, rng)
        b.add(src(), group, f"text:dup+{tv}", vq, None, [])
        miss = dict(slots)
        key = rng.choice(["a", "b"] + [k for k in TEXT_WORDS if "{" + k + "}" in TEXT_PROBLEMS[t]])
        miss[key] = (miss[key] + 1) if isinstance(miss[key], int) else next(
            v for v in TEXT_WORDS[key] if v != miss[key])
        nid = b.add(src(), b.new_group(), "neg:text_near_miss", TEXT_PROBLEMS[t].format(**miss),
                    None, [])
        b.out.hard_negatives.append((base, nid, "near-miss text-only question"))
        if i % 4 == 1:
            b.add(benchmark, group, "bench:text", vary_text(text, None, "case", rng)[0], None, [],
                  bench=True)
    return b.out


# ---------------------------------------------------------------------------------------
# scoring a dedup output against the labels


def write_inputs(ls: LabelledSet, root, *, max_rows: int = 200) -> tuple[list[str], list[str]]:
    """Write each source and each benchmark as a dataset directory under `root`."""
    from pathlib import Path

    from omr_data.store import write_dataset
    root = Path(root)
    inputs = [str(write_dataset(root / "in" / name, rows, max_rows=max_rows).path)
              for name, rows in sorted(ls.inputs.items())]
    against = [str(write_dataset(root / "bench" / name, rows, max_rows=max_rows).path)
               for name, rows in sorted(ls.against.items())]
    return inputs, against


def read_outcome(out_dir) -> tuple[dict[str, str], dict[str, str], set[str]]:
    """(row id -> cluster, rejected row id -> reason, kept row ids) of a dedup output."""
    from omr_data.records import load_meta
    from omr_data.store import DatasetDir
    ds = DatasetDir(out_dir)
    cluster, reasons, kept = {}, {}, set()
    for row in ds.iter_rows(columns=["id", "meta"]):
        cluster[row["id"]] = load_meta(row)["dedup.cluster"]
        kept.add(row["id"])
    for row in ds.iter_rejects():
        meta = load_meta(row)
        cluster[row["id"]] = meta.get("dedup.cluster", row["id"])
        reasons[row["id"]] = row["reason"]
    return cluster, reasons, kept


def pairs_from_clusters(cluster: dict[str, str]) -> set[tuple[str, str]]:
    members: dict[str, list[str]] = {}
    for rid, c in cluster.items():
        members.setdefault(c, []).append(rid)
    return {tuple(sorted(p)) for ids in members.values() for p in combinations(ids, 2)}


def precision_recall(predicted: set, truth: set) -> tuple[float, float]:
    hit = len(predicted & truth)
    return (hit / len(predicted) if predicted else 1.0, hit / len(truth) if truth else 1.0)
