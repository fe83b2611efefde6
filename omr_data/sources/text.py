"""Question text cleanup: image placeholders and output-format boilerplate.

Sources embed `<image>`, `<image3>` or `<image 1>` where the images go, and append
instructions about the answer format that the recipe's own prompt replaces. Both are
removed from `question`; the caller keeps the raw text in `meta.raw_question`. Content hints
("Hint: the answer is an integer") carry meaning and stay.
"""

from __future__ import annotations

import re

PLACEHOLDER_RE = re.compile(r"[ \t]*<image(?:\s*\d+)?>[ \t]*", re.IGNORECASE)

# Output-format instructions (OMR's distiller strips the first three; the rest say the same
# thing in other sources' words). Matched case-insensitively, whole phrase only.
BOILERPLATE = (
    "Context: N/A",
    "Answer the question using a single word or phrase.",
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags.",
    "Answer with the option's letter from the given choices directly.",
    "Answer with the option letter from the given choices directly.",
    "Please reason step by step, and put your final answer within \\boxed{}.",
)
_BOILERPLATE_RE = re.compile(
    "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in BOILERPLATE), re.IGNORECASE)


def count_placeholders(text: str) -> int:
    return len(PLACEHOLDER_RE.findall(text or ""))


def strip_placeholders(text: str) -> str:
    return tidy(PLACEHOLDER_RE.sub(" ", text))


def clean_question(text: str) -> str:
    """The question without image placeholders and format boilerplate, whitespace tidied."""
    if "<" in text:
        text = PLACEHOLDER_RE.sub(" ", text)
    text = _BOILERPLATE_RE.sub(" ", text)
    return tidy(text)


def tidy(text: str) -> str:
    """Collapse runs of spaces, trim every line and drop runs of blank lines."""
    if "  " in text or "\t" in text:
        text = _SPACES.sub(" ", text)
    if " \n" in text or "\n " in text:
        text = _LINE_EDGES.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANK_RUNS.sub("\n\n", text)
    return text.strip()


_SPACES = re.compile(r"[ \t]+")
_LINE_EDGES = re.compile(r" *\n *")
_BLANK_RUNS = re.compile(r"\n{3,}")
