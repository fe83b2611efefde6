"""Column-shaped sources: one row = one question with a gold answer and images (the RL sets
MMK12, ViRL39K, We-Math2.0 Standard/Pro, ThinkLite-VL, PuzzleVQA, AlgoPuzzleVQA).

Each adapter names where its id, question, answer, images and options live; anything else
in the row goes to `meta` under its own name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from omr_data.sources.base import Adapter, ReadContext, as_list, extras, first_present
from omr_data.sources.errors import RowError
from omr_data.sources.options import column_choices
from omr_data.sources.readers import column_values, earlier_siblings


class QAAdapter(Adapter):
    id_columns: tuple[str, ...] = ("id",)
    question_columns: tuple[str, ...] = ("question",)
    answer_columns: tuple[str, ...] = ("answer",)
    image_columns: tuple[str, ...] = ("image", "images")
    choices_columns: tuple[str, ...] = ()

    def source_id(self, row: dict, index: int, ctx: ReadContext) -> str:
        _, value = first_present(row, *self.id_columns)
        return str(value) if value is not None else ctx.row_id(index)

    def extra_meta(self, row: dict, ctx: ReadContext) -> dict:
        return {}

    def convert(self, row: dict, index: int, ctx: ReadContext) -> Iterator[dict]:
        sid = self.source_id(row, index, ctx)
        try:
            q_key, question = first_present(row, *self.question_columns)
            a_key, answer = first_present(row, *self.answer_columns)
            i_key, image_values = first_present(row, *self.image_columns)
            c_key, options = first_present(row, *self.choices_columns)
            if q_key is None:
                raise RowError("missing question")
            if a_key is None:
                raise RowError("missing answer")
            choices = column_choices(options) if c_key else None
            images = [ctx.images.load(v) for v in as_list(image_values)]
            meta = extras(row, {q_key, a_key, i_key, c_key, *self.id_columns,
                                *self.question_columns, *self.answer_columns})
            meta.update(self.extra_meta(row, ctx))
            yield self.qa_record(source_id=sid, question=question, answer=answer, images=images,
                                 choices=choices, meta=meta)
        except RowError as err:
            err.source_id = err.source_id or sid
            raise


class MMK12(QAAdapter):
    name = "mmk12"
    description = ("FanqingM/MMK12 parquet {id, question, answer, subject, image}; train by "
                   "default, --split test for the multiple-choice benchmark")
    answers_are_letters = True

    def extra_meta(self, row: dict, ctx: ReadContext) -> dict:
        return {"split": ctx.split} if ctx.split else {}


class ViRL39K(QAAdapter):
    name = "virl39k"
    description = ("TIGER-Lab/ViRL39K 39Krelease.parquet {qid, question, answer (\\boxed), "
                   "image: [paths], category, source, pass rates} (or the Kun-Xiang mirror)")
    id_columns = ("qid", "id")
    question_columns = ("question", "problem")
    image_columns = ("image", "images")
    default_split = None


class WeMath2Standard(QAAdapter):
    name = "wemath2_standard"
    description = "We-Math/We-Math2.0-Standard parquet (split 'standard'): question, answer, image"
    # `idx` groups questions by knowledge principle and is not unique, so it stays in meta.
    id_columns = ("id", "question_id")
    default_split = "standard"


class WeMath2Pro(QAAdapter):
    name = "wemath2_pro"
    description = ("We-Math/We-Math2.0-Pro parquet (split 'pro'): idx, question_id, question, "
                   "image, difficulty, knowledge points, answer; id = question_id-difficulty")
    # `idx` is not known to be unique: the We-Math scheduler keys a row by its seed question
    # and difficulty variant, so the id is built from that pair (all three stay in meta).
    id_columns = ()
    default_split = "pro"

    def source_id(self, row: dict, index: int, ctx: ReadContext) -> str:
        qid, difficulty = row.get("question_id"), row.get("difficulty")
        if qid in (None, "") or difficulty in (None, ""):
            raise RowError("missing id: We-Math2.0-Pro rows are keyed by question_id and "
                           f"difficulty (got question_id={qid!r}, difficulty={difficulty!r})",
                           source_id=ctx.row_id(index))
        sid = f"{qid}-{difficulty}"
        earlier = ctx.state.get("earlier")
        if earlier is None:  # the split's other shards, read before this one
            earlier = ctx.state["earlier"] = {
                f"{q}-{d}" for sibling in earlier_siblings(ctx.path)
                for q, d in column_values(sibling, ("question_id", "difficulty"))}
        if sid in earlier:
            raise RowError(f"duplicate id: question_id {qid} with difficulty {difficulty} "
                           "is in an earlier file of the split", source_id=sid)
        return sid


class ThinkLiteVL(QAAdapter):
    name = "thinklite_vl"
    description = ("russwang ThinkLite-VL-70k / Hard-11k parquet: {id, problem (<image>…), "
                   "answer, image: raw bytes}")
    question_columns = ("problem", "question")
    answer_columns = ("answer", "ground_truth")
    choices_columns = ("choices",)
    default_split = None


class PuzzleVQA(QAAdapter):
    name = "puzzlevqa"
    description = ("declare-lab PuzzleVQA: GitHub data/*.json lines {image path, question, "
                   "options, answer text, caption, explanation, deduction} or the HF parquet")
    choices_columns = ("options",)

    def source_id(self, row: dict, index: int, ctx: ReadContext) -> str:
        """The image's file name (`color_hexagon_0000`) is the puzzle instance's own id."""
        image = row.get("image")
        path = image.get("path") if isinstance(image, dict) else image
        if isinstance(path, str) and path and len(path) < 512:
            return Path(path).stem
        return super().source_id(row, index, ctx)


class AlgoPuzzleVQA(PuzzleVQA):
    name = "algopuzzlevqa"
    description = ("declare-lab AlgoPuzzleVQA: data/<puzzle>.json lines {image, question, "
                   "options?, answer, solution}")

