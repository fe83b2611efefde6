"""Multiple-choice options: embedded in question text, or given as a list/string column.

Forms seen in the sources (docs/sources.md §0): `Options: (A) x (B) y`, `\\nA. x\\nB. y`,
`A: x`, `A、x`, `A. x; B. y`. A block only counts as options when its letters run A, B, C…
without a gap and there are at least two of them, and a letter must be followed by a
delimiter, so prose such as "Because…" or "A cat" is never read as an option.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from omr_data.sources.errors import RowError
from omr_data.sources.text import tidy

# (A) x  — anywhere, not glued to a word
_PAREN = re.compile(r"(?<![A-Za-z0-9])[(（]([A-Z])[)）][ \t]*")
# A. x / A: x / A、x / A) x — at the start of a line
_LINE = re.compile(r"(?m)^[ \t]*([A-Z])[ \t]*[.．:：、)）][ \t]*")
# A. x; B. y — inline, accepted only when the options are ';'-separated or after a header
_INLINE = re.compile(r"(?:^|(?<=[\s;；:：,，]))([A-Z])[.．:：、](?![A-Za-z])[ \t]*")
_HEADER = re.compile(r"(?:options|choices|answer choices|choose from)\s*[:：]?\s*$",
                     re.IGNORECASE)


def parse_options(text: str) -> tuple[str, list[str] | None]:
    """Split `text` into (stem, choices); (text, None) when no option block is found."""
    for pattern, inline in ((_LINE, False), (_PAREN, False), (_INLINE, True)):
        found = _find_block(text, pattern, inline)
        if found is not None:
            return found
    return text, None


def _find_block(text: str, pattern: re.Pattern, inline: bool):
    marks = [(m.group(1), m.start(), m.end()) for m in pattern.finditer(text)]
    # The last run starting at "A" wins: options follow the stem.
    for start in range(len(marks) - 1, -1, -1):
        if marks[start][0] != "A":
            continue
        run = [marks[start]]
        for mark in marks[start + 1:]:
            if mark[0] != chr(ord(run[-1][0]) + 1):
                break
            run.append(mark)
        if len(run) < 2:
            continue
        result = _split_run(text, run, inline, line_based=pattern is _LINE)
        if result is not None:
            return result
    return None


def _split_run(text, run, inline, line_based):
    texts = []
    for i, (_, _, end) in enumerate(run):
        stop = run[i + 1][1] if i + 1 < len(run) else len(text)
        texts.append(text[end:stop])
    last = texts[-1]
    # The last option ends at its line; later lines (a hint, a follow-up) stay in the stem.
    first_line, _, tail = last.lstrip(" \t").partition("\n")
    texts[-1] = first_line
    stem = text[:run[0][1]]
    header = _HEADER.search(stem)
    if inline:
        separated = all(t.rstrip().endswith((";", "；", ",", "，")) or "\n" in t.strip(" \t")
                        for t in texts[:-1])
        after_question = stem.rstrip(" \t").endswith(("?", "？", ":", "：", "\n"))
        if not separated and header is None and not after_question:
            return None
    if header is not None:
        stem = stem[:header.start()]
    choices = [t.strip().rstrip(";；,，").strip() for t in texts]
    if any(not c for c in choices):
        return None
    if inline or not line_based:
        # Inline blocks may not span paragraphs: a letter far below is not the same list.
        if any("\n\n" in t.strip() for t in texts[:-1]):
            return None
    stem = tidy(stem.rstrip() + ("\n" + tail if tail.strip() else ""))
    return stem, choices


def options_from_value(value: Any) -> list[str] | None:
    """Options given as a column: a list, a serialized list (`"['a', 'b']"`), or null/empty."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text.startswith("["):
            for loads in (json.loads, ast.literal_eval):
                try:
                    value = loads(text)
                    break
                except (ValueError, SyntaxError):
                    continue
            else:
                raise ValueError(f"options: cannot parse serialized list {text[:80]!r}")
        else:
            _, parsed = parse_options(text)
            if parsed is None:
                raise ValueError(f"options: cannot parse {text[:80]!r}")
            return parsed
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"options: expected a list, got {type(value).__name__}")
    choices = [str(v).strip() for v in value]
    return choices or None


def column_choices(value: Any) -> list[str] | None:
    """`options_from_value` for a row: an unparsable options column rejects the row."""
    try:
        return options_from_value(value)
    except ValueError as err:
        raise RowError(f"bad options: {err}") from None
