r"""The shape of an answer: which part of a sentence is the answer, and shapes that differ.

math-verify compares structures well (relations, equations, sets of assignments, intervals,
matrices), but it reads `{1, 2}` and the point `(1, 2)` as equal and lets `y = 3` stand
for `x = 3`. `structure_problem` refuses those pairs before any comparison, so no rule or
numeric shortcut can accept what the structures say is different.

`answer_span` takes the answer out of a sentence: "Therefore $x \geq 5$ is the solution."
→ `x \geq 5`. A sentence with one math span is read as that span; a span holding a bare
symbol ("The largest $n$ is 34.") is read as prose, so the number after it counts.
"""

from __future__ import annotations

import re

from omr_data.verify.normalize import clean
from omr_data.verify.rules import value_side, value_symbol
from omr_data.verify.units import is_generic, parse_unit

_SPAN = re.compile(r"\$\$(.+?)\$\$|(?<!\\)\$(.+?)(?<!\\)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_WORD = re.compile(r"[A-Za-z]{2,}")
_BARE_SYMBOL = re.compile(r"^\s*[A-Za-z](?:_\{?\w+\}?)?\s*$")


def answer_span(pred: str) -> str:
    """The math span a prose answer commits to, or `pred` unchanged."""
    if "$" not in pred and "\\(" not in pred and "\\[" not in pred:
        return pred
    spans = [next(g for g in m.groups() if g is not None) for m in _SPAN.finditer(pred)]
    spans = [s.strip() for s in spans if s and s.strip()]
    if not spans:
        return pred
    outside = _SPAN.sub(" ", pred)
    outside = re.sub(r"\\[a-zA-Z]+", " ", outside)
    words = _WORD.findall(outside)
    if not words or (len(words) == 1 and len(spans) == 1 and _is_unit(outside)):
        return pred                        # "$x = 3$.", "$125$ miles": not a sentence
    if len(spans) == 1 and _BARE_SYMBOL.match(spans[0]):
        return _SPAN.sub(lambda m: next(g for g in m.groups() if g is not None), pred)
    return spans[-1]


def _is_unit(text: str) -> bool:
    word = text.strip(" .,;:")
    return parse_unit(word) is not None or is_generic(word) or word.lower() in (
        "percent", "pct", "dollars", "dollar", "degrees", "degree")


_SET = re.compile(r"^\s*(?:\\\{|\{)(?P<body>.*)(?:\\\}|\})\s*$", re.DOTALL)
_TUPLE = re.compile(r"^\s*(?:\\left)?\s*[(\[](?P<body>.*)(?:\\right)?\s*[)\]]\s*$", re.DOTALL)


def shape(answer: str) -> str:
    """"set" (`\\{1, 2\\}`, `{1, 2}`), "tuple" (`(1, 2)`, `[1, 2)`: points and intervals),
    or "other"."""
    s = clean(answer)
    m = _SET.match(s)
    if m and _brackets(m.group("body"))[0]:
        return "set"
    m = _TUPLE.match(s)
    if m and _brackets(m.group("body")) == (True, True):
        return "tuple"
    return "other"


def structure_problem(pred: str, gold: str, answer_type: str | None = None) -> str | None:
    """Why `pred` cannot equal `gold` whatever the values: a set for a point or interval
    (or the reverse), or an assignment to a different variable. None when shapes agree."""
    if answer_type in ("choice", "yes_no", "text"):
        return None
    g, p = shape(gold), shape(pred)
    if {g, p} == {"set", "tuple"}:
        return f"a {p} is not a {'point or interval' if g == 'tuple' else 'set'}"
    if _is_equation(gold, value_side) and "=" not in clean(pred):
        return "a value or expression is not an equation"
    if _is_equation(pred, value_side) and "=" not in clean(gold):
        return "an equation is not a value or expression"
    gs, ps = value_symbol(gold), value_symbol(pred)
    if gs and ps and gs != ps and "," not in gold and "," not in pred:
        return f"assigns {ps}, not {gs}"
    return None


_FUNCTION_LHS = re.compile(r"^\s*[A-Za-z](?:_\{?\w+\}?)?\s*(?:\(\s*[a-z]\s*\))?\s*=")


def _is_equation(answer: str, value_side) -> bool:
    """An equation that does not define a symbol (`x + y = 5`, `7 = 11a + c`; not `x = 3`,
    `y = 2x + 1` or `f(x) = x^2`, whose right side may stand alone, and not a list of
    assignments `a = 1, b = 2`, which math-verify reads as a system)."""
    s = clean(answer)
    if "=" not in s or re.search(r"\\approx|[<>!]|\\ne", s):
        return False
    if _brackets(s)[0] or ";" in s or " and " in s:
        return False
    return value_side(s) is None and not _FUNCTION_LHS.match(s)


def _brackets(body: str) -> tuple[bool, bool]:
    """(a comma outside every bracket, brackets balanced): one scan for both questions."""
    depth, comma, closed_early = 0, False, False
    for c in body:
        if c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
            closed_early = closed_early or depth < 0
        elif c == "," and depth == 0:
            comma = True
    return comma, not closed_early and depth == 0
