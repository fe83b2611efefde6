"""Reasoning traces to the unified `<think>…</think><answer>…</answer>` format.

Each source ships its reasoning differently: LLaVA-CoT in SUMMARY/CAPTION/REASONING/
CONCLUSION tags, OpenVLThinker and MMR1 in `<think>`/`<answer>` or a trace ending in
`\\boxed{}`, MiroMind-M1 as an R1 trace (`<think>…</think>` then a solution). The original
text always goes to `meta.source_trace`; these helpers only split it.
"""

from __future__ import annotations

import re

from omr_data.answers import boxed_at, extract_answer
from omr_data.sources.errors import RowError

LLAVA_COT_TAGS = ("SUMMARY", "CAPTION", "REASONING", "CONCLUSION")
_LLAVA_RE = {tag: re.compile(rf"<{tag}>(.*?)</{tag}>", re.DOTALL | re.IGNORECASE)
             for tag in LLAVA_COT_TAGS}
_THINK_RE = re.compile(r"<think>(.*?)</think>", re.DOTALL | re.IGNORECASE)
_ANSWER_TAG_RE = re.compile(r"<answer>.*?</answer>", re.DOTALL | re.IGNORECASE)


def unified(think: str, answer: str) -> str:
    return f"<think>{think.strip()}</think><answer>{answer.strip()}</answer>"


def llava_cot_sections(text: str) -> dict[str, str]:
    """The tagged sections of a LLaVA-CoT answer; RowError when CONCLUSION is missing."""
    sections = {}
    for tag, pattern in _LLAVA_RE.items():
        found = pattern.findall(text)
        if found:
            sections[tag] = found[-1].strip()
    if not sections.get("CONCLUSION"):
        raise RowError("unparseable trace: no <CONCLUSION> section")
    return sections


def llava_cot_think(sections: dict[str, str]) -> str:
    return "\n\n".join(sections[t] for t in ("SUMMARY", "CAPTION", "REASONING") if sections.get(t))


def think_and_answer(text: str) -> tuple[str, str | None]:
    """(reasoning, final answer) of a `<think>/<answer>` or boxed-answer trace.

    The answer is read the way OMR's distiller reads it: `<answer>` content, else the last
    `\\boxed{}`, else the last number. The reasoning is the `<think>` content, or the whole
    text without its `<answer>` block when there is no `<think>` tag."""
    answer = extract_answer(text)
    think = _THINK_RE.findall(text)
    if think:
        return think[-1].strip(), answer
    if "</think>" in text.lower():
        head = re.split(r"</think>", text, flags=re.IGNORECASE)[0]
        return re.sub(r"^\s*<think>", "", head, flags=re.IGNORECASE).strip(), answer
    return _ANSWER_TAG_RE.sub("", text).strip(), answer


def r1_think_and_answer(text: str) -> tuple[str, str]:
    think, answers = r1_think_and_answers(text)
    return think, ", ".join(answers)


def r1_think_and_answers(text: str) -> tuple[str, list[str]]:
    """An R1 trace: reasoning before `</think>`, answer = the `\\boxed{}` after it.

    Several different boxed values after `</think>` are a list answer when they all sit in
    the solution's last paragraph (`\\boxed{2} \\quad \\text{and} \\quad \\boxed{3}` gives
    `["2", "3"]`, joined `2, 3`); spread over the solution they are ambiguous (parts of a
    multi-part question, or intermediate results) and the row is rejected. An answer is never
    cut to one part."""
    parts = re.split(r"</think>", text, flags=re.IGNORECASE)
    if len(parts) < 2:
        raise RowError("unparseable trace: no </think> in response")
    think = re.sub(r"^\s*<think>", "", "</think>".join(parts[:-1]), flags=re.IGNORECASE)
    solution = parts[-1]
    boxes = all_boxed(solution)
    if not boxes:
        raise RowError("missing answer: no \\boxed{} after </think>")
    values = list(dict.fromkeys(value for _, value in boxes))
    if len(values) == 1:
        return think.strip(), values
    paragraphs = [m.end() for m in re.finditer(r"\n\s*\n", solution.rstrip())]
    last_start = paragraphs[-1] if paragraphs else 0
    last = list(dict.fromkeys(value for pos, value in boxes if pos >= last_start))
    if set(last) != set(values):
        raise RowError(f"ambiguous answer: {len(values)} different \\boxed{{}} answers spread "
                       "over the solution after </think>")
    return think.strip(), last


def all_boxed(text: str) -> list[tuple[int, str]]:
    """(position, content) of every `\\boxed{…}` / `\\fbox{…}`, braces balanced, in order."""
    out = []
    for match in re.finditer(r"\\(?:boxed|fbox)(?![A-Za-z])", text):
        content = boxed_at(text, match.start())
        if content is not None:
            out.append((match.start(), content))
    return out
