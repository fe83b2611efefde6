"""Read the final answer out of a reasoning trace: shared by normalize and verify.

Normalize uses it to find the gold answer in a source's trace (`sources/traces.py`,
`sources/answers.py`); verify uses it to find the answer a response gives (`verify/extract.py`
builds the stricter "what a scorer may credit" on top). Living here, below both, it keeps
the stages independent (docs/architecture.md).

Extraction order (the public `omr_data.verify.extract_answer`, README "The stages"): the
content of the last `<answer>…</answer>`, else the last `\\boxed{…}` (nested braces), else the
last number. Everything here is a linear scan (`rfind`, brace counting, bounded regexes over
the tail), so a 100k-character trace costs microseconds, never a backtracking blow-up.
"""

from __future__ import annotations

import re
from collections import deque

ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
BOX_COMMANDS = ("\\boxed", "\\fbox")

# A number as it appears in prose: optional sign, digits with thousands separators,
# decimals, a trailing exponent. Bounded quantifiers keep it linear.
_NUMBER_RE = re.compile(
    r"[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d{1,4})?|[-+−]?\.\d+")
# How much of the trace's end to search for the last number before scanning all of it.
_TAIL = 2000


def extract_answer(text: str | None) -> str | None:
    """The final answer of `text`: `<answer>` content, else last `\\boxed{}`, else last number.

    Returns None when there is nothing to extract. The result is stripped; a `\\boxed{}`
    inside the answer tag is unwrapped (``<answer>\\boxed{5}</answer>`` gives ``5``).
    """
    if not text:
        return None
    stated = tagged_or_boxed(text)
    return stated if stated is not None else last_number(text)


def tagged_or_boxed(text: str) -> str | None:
    """The answer a trace marks: its `<answer>` content, else its last `\\boxed{}`."""
    tagged = answer_tag_content(text)
    return tagged if tagged is not None else last_boxed(text)


def answer_tag_content(text: str) -> str | None:
    """Content of the last `<answer>…</answer>` (an unclosed final tag runs to the end)."""
    lower = text.lower()
    start = lower.rfind(ANSWER_OPEN)
    if start < 0:
        return None
    body_start = start + len(ANSWER_OPEN)
    end = lower.find(ANSWER_CLOSE, body_start)
    body = text[body_start:end if end >= 0 else len(text)].strip()
    if not body:
        return None
    inner = last_boxed(body)
    return inner if inner is not None else body


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{…}` / `\\fbox{…}` with balanced braces, or None."""
    best = -1
    for command in BOX_COMMANDS:
        best = max(best, text.rfind(command))
    while best >= 0:
        content = boxed_at(text, best)
        if content is not None:
            return content
        prev = -1
        for command in BOX_COMMANDS:
            prev = max(prev, text.rfind(command, 0, best))
        best = prev
    return None


def boxed_at(text: str, pos: int) -> str | None:
    """Content of the `\\boxed`/`\\fbox` command at `pos` (braces balanced), or None."""
    i = pos + (len("\\boxed") if text.startswith("\\boxed", pos) else len("\\fbox"))
    n = len(text)
    while i < n and text[i] == " ":
        i += 1
    if i >= n:
        return None
    if text[i] != "{":
        # `\boxed 5`: the next token up to whitespace or `$`
        m = re.match(r"[^\s$]{1,100}", text[i:i + 100])
        return m.group(0).strip() or None if m else None
    depth, j = 0, i
    while j < n:
        c = text[j]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1:j].strip() or None
        j += 1
    return None


def last_number(text: str) -> str | None:
    """The last number written in `text` (searching the tail first), or None."""
    for chunk in (text[-_TAIL:], text) if len(text) > _TAIL else (text,):
        found = deque(_NUMBER_RE.finditer(chunk), maxlen=1)   # only the last match
        if found:
            return found[0].group(0).replace("−", "-")
    return None
