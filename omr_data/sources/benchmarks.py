"""Evaluation benchmarks, read for decontamination and evaluation (docs/sources.md §5): MathVista,
MathVision, MathVerse, DynaMath, WeMath, LogicVista, MMMU, MMMU-Pro and CharXiv.

One adapter reads them all. Which benchmark a file holds is told by a name hint (`--split
mathvista`, or a folder/file name such as `MathVista/…`) or else detected from the columns.
Records are `benchmark/{name}/{id}` with `meta.benchmark`; a CharXiv figure gives one
record per question (`…/reasoning`, `…/descriptive_1`…).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from omr_data.sources.base import Adapter, ReadContext, extras, first_present
from omr_data.sources.errors import RowError
from omr_data.sources.options import column_choices
from omr_data.sources.readers import discover_files


@dataclass(frozen=True)
class Bench:
    ids: tuple[str, ...]
    questions: tuple[str, ...]
    answers: tuple[str, ...]
    images: tuple[str, ...]
    choices: tuple[str, ...]
    detect: Callable[[set], bool]


_MMMU_IMAGES = tuple(f"image_{i}" for i in range(1, 8))

BENCHMARKS: dict[str, Bench] = {
    "charxiv": Bench((), (), (), ("image",), (), lambda c: "reasoning_q" in c),
    "mathverse": Bench(("sample_index", "problem_index"), ("question", "query_wo"), ("answer",),
                       ("image",), (), lambda c: "problem_version" in c or "sample_index" in c),
    "wemath": Bench(("ID",), ("question",), ("answer",), ("image_path", "image"), ("option",),
                    lambda c: "ID" in c and ("key" in c or "option" in c)),
    "dynamath": Bench(("id", "question_id"), ("question",), ("ground_truth", "answer"),
                      ("decoded_image", "image"), (), lambda c: "ground_truth" in c),
    "mathvista": Bench(("pid",), ("question",), ("answer",), ("decoded_image", "image"),
                       ("choices",), lambda c: "pid" in c),
    "mmmu": Bench(("id",), ("question",), ("answer",), _MMMU_IMAGES, ("options",),
                  lambda c: "image_1" in c and "question_type" in c),
    "mmmu_pro": Bench(("id",), ("question",), ("answer",), _MMMU_IMAGES + ("image",),
                      ("options",),
                      lambda c: "options" in c and ("image_1" in c or "question" not in c)),
    "mathvision": Bench(("id",), ("question",), ("answer",), ("decoded_image", "image"),
                        ("options",), lambda c: "options" in c and "question" in c),
    "logicvista": Bench(("id",), ("question",), ("answer",), ("image",), (),
                        lambda c: "question" in c and "answer" in c),
}

# Ordered most specific first; the last entries match loosely.
_DETECT_ORDER = ("charxiv", "mathverse", "wemath", "dynamath", "mathvista", "mmmu",
                 "mmmu_pro", "mathvision", "logicvista")


def benchmark_hint(text: str | None) -> str | None:
    """A benchmark named in `text` (a split hint or a file/folder name): "MMMU_Pro" -> mmmu_pro."""
    if not text:
        return None
    flat = re.sub(r"[^a-z0-9]", "", str(text).lower())
    for name in sorted(BENCHMARKS, key=len, reverse=True):   # mmmu_pro before mmmu
        if name.replace("_", "") in flat:
            return name
    return None


class Benchmark(Adapter):
    name = "benchmark"
    description = ("evaluation benchmarks (MathVista, MathVision, MathVerse, DynaMath, WeMath, "
                   "LogicVista, MMMU, MMMU-Pro, CharXiv): detected by columns, or name one "
                   "with --split (e.g. --split mathvista)")
    default_split = None

    def discover(self, input_path: str | os.PathLike, split: str | None = None) -> list[Path]:
        if benchmark_hint(split):
            split = None   # the "split" names a benchmark: read every file
        return discover_files(input_path, split, None)

    def which(self, row: dict, ctx: ReadContext) -> str:
        name = ctx.state.get("benchmark")
        if name is None:
            path = Path(ctx.path)
            name = benchmark_hint(ctx.split) or benchmark_hint(f"{path.parent.name} {path.name}")
            if name is None:
                columns = set(row)
                name = next((n for n in _DETECT_ORDER if BENCHMARKS[n].detect(columns)), None)
            if name is None:
                raise RowError("unknown benchmark layout: columns "
                               f"{', '.join(sorted(row))}; name it with --split")
            ctx.state["benchmark"] = name
        return name

    def convert(self, row: dict, index: int, ctx: ReadContext) -> Iterator[dict]:
        name = self.which(row, ctx)
        if name == "charxiv":
            yield from self.charxiv(row, index, ctx)
            return
        spec = BENCHMARKS[name]
        id_key, rid = first_present(row, *spec.ids)
        sid = f"{name}/{rid if rid is not None else ctx.row_id(index)}"
        try:
            q_key, question = first_present(row, *spec.questions)
            a_key, answer = first_present(row, *spec.answers)
            c_key, options = first_present(row, *spec.choices)
            if a_key is None:
                raise RowError("missing answer")
            choices = column_choices(options) if c_key else None
            image_keys = [k for k in spec.images if row.get(k) not in (None, "")]
            if name in ("mathvista", "dynamath", "mathvision", "wemath") and image_keys:
                image_keys = image_keys[:1]   # decoded_image and image are the same picture
            images = [ctx.images.load(row[k]) for k in image_keys]
        except RowError as err:
            err.source_id = err.source_id or sid
            raise
        meta = extras(row, {id_key, q_key, a_key, c_key, *spec.images})
        meta.update(benchmark=name, **({"split": ctx.split} if ctx.split else {}))
        yield self.qa_record(source_id=sid, question=question, answer=answer, images=images,
                             choices=choices, meta=meta)

    def charxiv(self, row: dict, index: int, ctx: ReadContext) -> Iterator[dict]:
        figure = row.get("figure_path")
        if figure:
            key = Path(str(figure)).stem
        elif row.get("original_id") is not None:
            key = str(row["original_id"])
            if row.get("subplot_row") is not None:
                key += f"_r{row['subplot_row']}_c{row.get('subplot_col')}"
        else:
            key = ctx.row_id(index)
        base = f"charxiv/{key}"
        try:
            images = [ctx.images.load(row["image"])] if row.get("image") not in (None, "") else []
        except RowError as err:
            err.source_id = base
            raise
        common = extras(row, {"image", "reasoning_q", "reasoning_a",
                              *(f"descriptive_{x}{k}" for x in "qa" for k in range(1, 5))})
        common["benchmark"] = "charxiv"
        items = [("reasoning", row.get("reasoning_q"), row.get("reasoning_a"))]
        items += [(f"descriptive_{k}", row.get(f"descriptive_q{k}"), row.get(f"descriptive_a{k}"))
                  for k in range(1, 5)]
        for suffix, question, answer in items:
            if question in (None, "") and answer in (None, ""):
                continue
            sid = f"{base}/{suffix}"
            yield self.guarded(sid, {"question": question, "answer": answer},
                               functools.partial(self.qa_record, source_id=sid,
                                                 question=question, answer=answer,
                                                 images=images,
                                                 meta=dict(common, question_kind=suffix)))

