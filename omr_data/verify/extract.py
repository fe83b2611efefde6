"""Find the final answer in a reasoning trace, and grade the trace's structure.

Extraction (`extract_answer`: the last `<answer>…</answer>`, else the last `\\boxed{…}`, else
the last number) lives in `omr_data/answers.py`, shared with normalize; it is re-exported
here. What this module adds is verify's own: the format score, and the answer a scorer may
credit (`committed_answer`, nothing inside `<think>`).

Format score (the `format` in `score = (1-λ)·acc + λ·format`):

=====  ==============================================================================
1.0    `<think>…</think>` (non-empty) followed only by `<answer>…</answer>` (non-empty),
       or by text that ends in a `\\boxed{…}` answer; one of each tag, nothing after the
       answer but whitespace
0.5    the answer is tagged or boxed but the structure is incomplete: no think block,
       an unclosed or repeated tag, text after `</answer>`, a boxed answer inside think
0.0    no `<answer>` and no `\\boxed{}`: the answer could only be guessed (last number)
=====  ==============================================================================
"""

from __future__ import annotations

import re

from omr_data.answers import (
    ANSWER_CLOSE,
    ANSWER_OPEN,
    BOX_COMMANDS,
    THINK_CLOSE,
    THINK_OPEN,
    answer_tag_content,
    boxed_at,
    extract_answer,
    last_boxed,
    last_number,
    tagged_or_boxed,
)

__all__ = ["ANSWER_CLOSE", "ANSWER_OPEN", "BOX_COMMANDS", "THINK_CLOSE", "THINK_OPEN",
           "Extraction", "all_boxed", "answer_tag_content", "boxed_at", "committed_answer",
           "distinct", "extract_answer", "format_problem", "format_score", "last_boxed",
           "last_number", "tagged_or_boxed", "visible_text"]


def format_score(text: str | None) -> float:
    """1.0 well-formed, 0.5 partial structure, 0.0 no tagged or boxed answer (see module doc)."""
    if not text:
        return 0.0
    lower = text.lower()
    n_answer_open, n_answer_close = lower.count(ANSWER_OPEN), lower.count(ANSWER_CLOSE)
    has_answer = answer_tag_content(text) is not None
    has_box = last_boxed(text) is not None
    if not has_answer and not has_box:
        return 0.0
    if _well_formed(text, lower, n_answer_open, n_answer_close, has_answer):
        return 1.0
    return 0.5


def _well_formed(text: str, lower: str, n_open: int, n_close: int, has_answer: bool) -> bool:
    stripped = lower.strip()
    if not stripped.startswith(THINK_OPEN):
        return False
    if lower.count(THINK_OPEN) != 1 or lower.count(THINK_CLOSE) != 1:
        return False
    think_end = lower.find(THINK_CLOSE)
    if not text[lower.find(THINK_OPEN) + len(THINK_OPEN):think_end].strip():
        return False
    rest = text[think_end + len(THINK_CLOSE):]
    rest_lower = rest.lower()
    if n_open == 0 and n_close == 0:
        # the boxed alternative: the box must come after the reasoning
        return last_boxed(rest) is not None
    if n_open != 1 or n_close != 1 or not has_answer:
        return False
    start, end = rest_lower.find(ANSWER_OPEN), rest_lower.find(ANSWER_CLOSE)
    if start < 0 or end < start:
        return False
    return not rest[:start].strip() and not rest[end + len(ANSWER_CLOSE):].strip()


def format_problem(text: str | None) -> str | None:
    """Why `text` is not well-formed (format < 1.0), in a few words; None when it is."""
    if not text or not text.strip():
        return "empty response"
    if format_score(text) == 1.0:
        return None
    lower = text.lower()
    if answer_tag_content(text) is None and last_boxed(text) is None:
        return "no <answer> tag or \\boxed{} answer"
    if not lower.strip().startswith(THINK_OPEN):
        return "does not start with <think>"
    if lower.count(THINK_OPEN) != 1 or lower.count(THINK_CLOSE) != 1:
        return "needs exactly one <think>…</think> block"
    think_end = lower.find(THINK_CLOSE)
    if not text[lower.find(THINK_OPEN) + len(THINK_OPEN):think_end].strip():
        return "empty <think> block"
    n_open, n_close = lower.count(ANSWER_OPEN), lower.count(ANSWER_CLOSE)
    if n_open == 0 and n_close == 0:
        return "\\boxed{} answer is inside <think>"
    if n_open != 1 or n_close != 1:
        return "needs exactly one <answer>…</answer>"
    rest = lower[think_end + len(THINK_CLOSE):]
    start, end = rest.find(ANSWER_OPEN), rest.find(ANSWER_CLOSE)
    if start < 0 or end < start:
        return "<answer> is not after </think>"
    if rest[:start].strip():
        return "text between </think> and <answer>"
    if rest[end + len(ANSWER_CLOSE):].strip():
        return "text after </answer>"
    return "empty <answer>"


# --------------------------------------------------------------------------------------
# what a scorer may credit: the committed answer, outside <think>

_FINAL_PHRASE = re.compile(
    r"(?i:final\s+answer|the\s+answer|correct\s+answer|answer)\s*(?:is|:|should\s+be|would\s+be)\s*:?"
    r"\s*([^\n]{1,200})")


class Extraction:
    """The answer a response commits to (`pred`), every distinct boxed value in it (`boxes`),
    the text its commitment is judged on (`context`: the answer tag's content, or the
    sentence around the box), the response outside `<think>` (`visible`), where it came
    from (`source`), or why there is none (`problem`)."""

    __slots__ = ("boxes", "context", "pred", "problem", "source", "visible")

    def __init__(self, pred: str | None, source: str, boxes: list[str] | None = None,
                 problem: str | None = None, context: str | None = None, visible: str = ""):
        self.pred, self.source, self.boxes, self.problem = pred, source, boxes or [], problem
        self.context = context if context is not None else (pred or "")
        self.visible = visible

    @property
    def boxed(self) -> bool:
        """The answer is a single boxed value (not a tag's whole text)."""
        return len(self.boxes) == 1 and self.pred == self.boxes[0]


def visible_text(text: str) -> str:
    """The part of a response outside its reasoning: after the last `</think>`; before an
    unclosed `<think>` (the reasoning never ended, so nothing after it is an answer)."""
    lower = text.lower()
    close = lower.rfind(THINK_CLOSE)
    if close >= 0:
        return text[close + len(THINK_CLOSE):]
    start = lower.find(THINK_OPEN)
    return text[:start] if start >= 0 else text


def all_boxed(text: str) -> list[str]:
    """Contents of every balanced `\\boxed{…}` / `\\fbox{…}`, in order."""
    found: list[tuple[int, str]] = []
    for command in BOX_COMMANDS:
        pos = text.find(command)
        while pos >= 0:
            content = boxed_at(text, pos)
            if content is not None:
                found.append((pos, content))
            pos = text.find(command, pos + len(command))
    return [content for _, content in sorted(found)]


def distinct(values: list[str]) -> list[str]:
    """`values` without repeats (spaces ignored), first spelling kept, in order."""
    seen, out = set(), []
    for v in values:
        key = re.sub(r"\s+", "", v)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


def committed_answer(text: str | None, *, strict: bool = True,
                     answer_type: str | None = None) -> Extraction:
    """The answer a scorer may credit, by this chain (first that applies wins):

    1. `<answer>…</answer>` outside `<think>`: its content; a boxed value inside it is the
       answer. An empty tag, or several tags that differ, credit nothing.
    2. `\\boxed{…}` outside `<think>`: the boxed value(s).
    3. only when `strict=False` (SFT filtering of untagged traces): a "final answer is …"
       phrase, then the last line (choice / yes-no / text answers), then the last number,
       all outside `<think>`.

    Nothing inside `<think>` is ever credited; with `strict=True` (the default, used for RL)
    an untagged, unboxed response has no answer.
    """
    if not text or not text.strip():
        return Extraction(None, "none", problem="empty response")
    visible = visible_text(text)
    lower = visible.lower()
    if ANSWER_OPEN in lower or ANSWER_CLOSE in lower:
        bodies = _answer_bodies(visible)
        filled = distinct([b for b in bodies if b])
        if not filled:
            return Extraction(None, "answer_tag", problem="empty <answer> tag")
        if len(filled) > 1:
            return Extraction(None, "answer_tag", problem="several different <answer> tags")
        body = filled[0]
        boxes = distinct(all_boxed(body))
        if len(boxes) == 1:
            return Extraction(boxes[0], "answer_tag", boxes, context=_sentence_around_box(body),
                              visible=visible)
        return Extraction(body, "answer_tag", boxes, visible=visible)
    boxes = distinct(all_boxed(visible))
    if len(boxes) == 1:
        return Extraction(boxes[0], "boxed", boxes, context=_sentence_around_box(visible),
                          visible=visible)
    if boxes:
        return Extraction(boxes[-1], "boxed", boxes, context=visible[-2000:], visible=visible)
    if strict:
        where = "outside <think>" if THINK_CLOSE in text.lower() or THINK_OPEN in text.lower() \
            else ""
        return Extraction(None, "none",
                          problem=f"no <answer> tag or \\boxed{{}} {where}".strip())
    return _relaxed(visible, answer_type)


def _answer_bodies(visible: str) -> list[str]:
    """Contents of every `<answer>…</answer>`; an unclosed last tag runs to the end."""
    lower = visible.lower()
    bodies, pos = [], 0
    while True:
        start = lower.find(ANSWER_OPEN, pos)
        if start < 0:
            break
        body_start = start + len(ANSWER_OPEN)
        end = lower.find(ANSWER_CLOSE, body_start)
        bodies.append(visible[body_start:end if end >= 0 else len(visible)].strip())
        if end < 0:
            break
        pos = end + len(ANSWER_CLOSE)
    if not bodies and ANSWER_CLOSE in lower:      # a closing tag only: what precedes it
        bodies.append(visible[:lower.rfind(ANSWER_CLOSE)].strip())
    return bodies


_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=\S)|\n")


def _sentence_around_box(text: str) -> str:
    """The sentence holding the last box: what the answer says about the boxed value
    ("at least \\boxed{13}", "\\boxed{7} is incorrect"), without the reasoning before it."""
    at = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if at < 0:
        return text
    start = 0
    for m in _SENTENCE_END.finditer(text, 0, at):
        start = m.end()
    end_box = at + len(boxed_at(text, at) or "") + len("\\boxed{}")
    m = _SENTENCE_END.search(text, min(end_box, len(text)))
    return text[start:m.start() if m else len(text)].strip()


def _relaxed(visible: str, answer_type: str | None) -> Extraction:
    tail = visible[-3000:]
    stated = distinct([m.group(1).strip().rstrip(".") for m in _FINAL_PHRASE.finditer(tail)])
    if len(stated) > 1:
        return Extraction(None, "final_phrase", problem="several different final answers")
    if stated:
        return Extraction(stated[0], "final_phrase", visible=visible)
    if answer_type in ("choice", "yes_no", "text"):
        last_line = tail.strip().rsplit("\n", 1)[-1].strip()
        if 0 < len(last_line) <= 300:
            return Extraction(last_line, "last_line", visible=visible)
    number = last_number(visible)
    if number is not None:
        return Extraction(number, "last_number", visible=visible)
    return Extraction(None, "none", problem="no final answer found")
