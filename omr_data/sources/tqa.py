"""AllenAI TQA: each file is a JSON array of lessons; each lesson holds diagram and
non-diagram questions keyed by id. One question = one record (`tqa/{globalID}`).

Choices come from the sorted answer keys (a, b, c…); the answer is the upper-cased key of
`correctAnswer`. Questions without `correctAnswer` (the whole test set) or whose key is not
among the choices are rejected. Diagram images (`imagePath`) are relative to the split
folder, which is the lesson file's folder.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from omr_data.records import option_letters
from omr_data.sources.answers import Answer, option_key
from omr_data.sources.base import Adapter, ReadContext
from omr_data.sources.errors import RowError


class TQA(Adapter):
    name = "tqa"
    description = ("AllenAI TQA tqa_v1_{split}.json: a JSON array of lessons with "
                   "diagramQuestions/nonDiagramQuestions; images relative to the split folder")

    def convert(self, lesson: dict, index: int, ctx: ReadContext) -> Iterator[dict]:
        questions = lesson.get("questions")
        if not isinstance(questions, dict):
            raise RowError("bad row: lesson without a 'questions' object",
                           source_id=lesson.get("globalID"))
        lesson_meta = {"lesson_id": lesson.get("globalID"), "lesson_name": lesson.get("lessonName")}
        for group in ("diagramQuestions", "nonDiagramQuestions"):
            for key, question in sorted((questions.get(group) or {}).items()):
                qid = str(question.get("globalID") or key) if isinstance(question, dict) else key
                yield self.guarded(qid, question,
                                   functools.partial(self.question_record, qid, question,
                                                     lesson_meta, ctx))

    def question_record(self, qid: str, q: Any, lesson_meta: dict, ctx: ReadContext) -> dict:
        if not isinstance(q, dict):
            raise RowError(f"bad row: question is {type(q).__name__}, not an object")
        keys = sorted((q.get("answerChoices") or {}).keys())
        choices = [_text(q["answerChoices"][k]) for k in keys]
        answer = self.answer(q, keys, choices)
        images = [ctx.images.load(q["imagePath"])] if q.get("imagePath") else []
        meta = dict(lesson_meta)
        meta.update({
            "question_type": q.get("questionType"),
            "question_subtype": q.get("questionSubType"),
            "answer_keys": keys,
        })
        asked = q.get("beingAsked") or {}
        if asked.get("rawText") and asked.get("rawText") != asked.get("processedText"):
            meta["raw_text"] = asked["rawText"]
        meta.update({k: v for k, v in q.items() if k not in (
            "globalID", "beingAsked", "answerChoices", "correctAnswer", "imagePath",
            "questionType", "questionSubType")})
        return self.qa_record(source_id=qid, question=asked.get("processedText"), answer=answer,
                              images=images, choices=choices or None, meta=meta)

    @staticmethod
    def answer(q: dict, keys: list[str], choices: list[str]) -> Answer:
        correct = q.get("correctAnswer")
        if not isinstance(correct, dict) or not (correct.get("processedText")
                                                 or correct.get("rawText")):
            raise RowError("missing answer")
        letters = option_letters(len(keys))
        for field in ("processedText", "rawText"):
            text = str(correct.get(field) or "").strip()
            key = text.lower().rstrip(".").strip("() ")
            if key in keys:
                letter = letters[keys.index(key)]
                return Answer(letter, "choice", None, letter, text)
            # True/False items sometimes give the option text ("true") instead of the key.
            for letter, choice in zip(letters, choices):
                if text and option_key(choice) == option_key(text):
                    return Answer(letter, "choice", None, letter, text)
        raise RowError(f"answer not among choices: {correct.get('processedText')!r} "
                       f"(choices {', '.join(keys) or 'none'})")


def _text(choice: Any) -> str:
    if isinstance(choice, dict):
        return str(choice.get("processedText") or choice.get("rawText") or "").strip()
    return str(choice).strip()
