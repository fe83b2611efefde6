"""Cleaning answer strings before they are compared: markup off, one spelling per symbol.

Nothing here decides correctness; `rules.py` does. Every function is a bounded,
linear-time string transformation; the hot ones are memoised (a scorer cleans the same gold
and answer strings several times per item, and batches repeat golds).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

MAX_RULE_LEN = 2000  # longer answers are compared as exact strings only

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_WRAPPERS = re.compile(
    r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|textnormal|operatorname|rm|bf)\s*\{([^{}]*)\}")
# `\\!` (negative thin space) joins digit groups (`10,\\!000`); the look-behind keeps a row
# break `\\\\ ` intact.
_SPACING = re.compile(r"(?<!\\)\\[,;: ]|\\quad|\\qquad|~|\\displaystyle"
                      r"|\\left(?![a-z])|\\right(?![a-z])")
_NEG_SPACE = re.compile(r"(?<!\\)\\!\s*")
# a row break right before `\end{…matrix}` adds no row
_TRAILING_ROW_BREAK = re.compile(r"(?:\\\\\s*)+(\\end\{[pbvBV]?matrix\}|\\end\{array\})")
_MARKDOWN = re.compile(r"\*\*|__|`")
_DOLLAR_MATH = re.compile(r"^\$+(.*?)\$+$", re.DOTALL)
_INLINE_MATH = re.compile(r"\$([^$]{1,500})\$")
_PAREN_MATH = re.compile(r"^\\[(\[](.*?)\\[)\]]$", re.DOTALL)
_PREFIXES = re.compile(
    r"^(?:(?:so|thus|therefore|hence)\s*,?\s*)?(?:the\s+)?(?:final\s+|correct\s+|best\s+)?"
    r"(?:answer|result|solution)\s*(?:is|=|:)\s*:?\s*", re.IGNORECASE)


@lru_cache(maxsize=65536)
def clean(text: str) -> str:
    """Strip presentation (markdown, `$`, `\\text{}`, spacing commands) from an answer."""
    s = text
    if not s.isascii():
        s = unicodedata.normalize("NFKC", superscripts_to_latex(s)).replace("⁄", "/")
    s = s.replace("−", "-").replace("–", "-").replace("×", "\\times ").replace("÷", "\\div ")
    s = s.replace("±", "\\pm ").replace("∓", "\\mp ").replace("π", "\\pi ").replace("√", "\\sqrt")
    s = s.replace("°", "^\\circ").replace("≤", "\\le ").replace("≥", "\\ge ")
    s = s.replace("∞", "\\infty ")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\cfrac", "\\frac")
    s = s.replace("{,}", ",").replace("\\$", "$").replace("\\%", "%")
    s = s.replace("\\leq", "\\le").replace("\\geq", "\\ge").replace("\\neq", "\\ne")
    s = _MARKDOWN.sub("", s)
    s = s.strip()
    for _ in range(3):
        prev = s
        s = _unwrap_math(s)
        s = _WRAPPERS.sub(r"\1", s)
        s = s.strip().rstrip(".。").strip()
        if s == prev:
            break
    s = _INLINE_MATH.sub(r"\1", s)
    s = _NEG_SPACE.sub("", s)
    s = _SPACING.sub(" ", s)
    s = _TRAILING_ROW_BREAK.sub(r"\1", s)
    return re.sub(r"\s+", " ", s).strip()


def _unwrap_math(s: str) -> str:
    m = _DOLLAR_MATH.match(s) or _PAREN_MATH.match(s)
    if m and "$" not in m.group(1):
        return m.group(1).strip()
    if s.startswith("\\boxed{") and s.endswith("}"):
        return s[len("\\boxed{"):-1].strip()
    return s


def strip_answer_prefix(s: str) -> str:
    """"The answer is 12" → "12"; leaves other text alone."""
    return _PREFIXES.sub("", s, count=1).strip()


def superscripts_to_latex(s: str) -> str:
    """`10⁻¹⁹` → `10^{-19}`, `cm²` → `cm^{2}`."""
    return re.sub(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+", lambda m: "^{" + m.group(0).translate(_SUPERSCRIPTS) + "}", s)


@lru_cache(maxsize=65536)
def text_key(s: str) -> str:
    """Case-, punctuation-, article- and space-insensitive key for short text answers."""
    s = clean(s).lower()
    s = strip_answer_prefix(s)
    s = re.sub(r"[^\w\s.+-]|(?<!\d)\.|\.(?!\d)", " ", s)
    s = re.sub(r"\b(?:a|an|the)\b", " ", s)
    return re.sub(r"\s+", " ", s).strip()


@lru_cache(maxsize=65536)
def compact(s: str) -> str:
    """Exact-match key for math strings: cleaned, no spaces, one-character braces unified."""
    s = clean(s)
    s = re.sub(r"\s+", "", s)
    s = re.sub(r"\^\{(\w)\}", r"^\1", s)
    s = re.sub(r"_\{(\w)\}", r"_\1", s)
    s = re.sub(r"\\frac(\d)(\d)", r"\\frac{\1}{\2}", s)
    return s


# --------------------------------------------------------------------------------------
# aligning two math answers' notations before math-verify compares them

_FUNC_LHS = re.compile(r"^\s*[a-zA-Z]\s*\(\s*x\s*\)\s*=")
_INTERVAL = re.compile(r"^\s*[\[(].*,.*[\])]\s*$")
_LE = r"(?:<|\\le|\\leq|\\leqslant)"
_GE = r"(?:>|\\ge|\\geq|\\geqslant)"
_OPERAND = r"(-?\s*(?:\\infty|[\w.\\{}^/+\-]+?))"
_CHAIN = re.compile(rf"^\s*{_OPERAND}\s*({_LE})\s*([a-zA-Z])\s*({_LE})\s*{_OPERAND}\s*$")
_ONE_SIDED = re.compile(rf"^\s*([a-zA-Z])\s*({_LE}|{_GE})\s*{_OPERAND}\s*$")
_DEGREES = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*\^\s*\{?\s*\\circ\s*\}?\s*$")


def align_math(gold: str, pred: str) -> tuple[str, str]:
    """Put two answers in the same notation where math-verify would not: `f(x)=` vs `y=`,
    an inequality vs an interval (`1 \\le x < 2` vs `[1,2)`), degrees vs radians."""
    if _FUNC_LHS.match(gold) or _FUNC_LHS.match(pred):
        gold, pred = _FUNC_LHS.sub("y=", gold), _FUNC_LHS.sub("y=", pred)
    if _INTERVAL.match(gold) and not _INTERVAL.match(pred):
        pred = inequality_to_interval(pred) or pred
    elif _INTERVAL.match(pred) and not _INTERVAL.match(gold):
        gold = inequality_to_interval(gold) or gold
    if "\\pi" in gold and _DEGREES.match(pred):
        pred = _degrees_to_radians(pred)
    elif "\\pi" in pred and _DEGREES.match(gold):
        gold = _degrees_to_radians(gold)
    return gold, pred


def inequality_to_interval(s: str) -> str | None:
    """`1 \\le x < 2` → `[1,2)`, `x \\ge 3` → `[3,\\infty)`; None when `s` is not one."""
    m = _CHAIN.match(s)
    if m:
        lo, op1, _, op2, hi = m.groups()
        left = "(" if op1 == "<" else "["
        right = ")" if op2 == "<" else "]"
        return f"{left}{lo.strip()},{hi.strip()}{right}"
    m = _ONE_SIDED.match(s)
    if m:
        _, op, bound = m.groups()
        strict = op in ("<", ">")
        if re.fullmatch(_LE, op):
            return f"(-\\infty,{bound.strip()}{')' if strict else ']'}"
        return f"{'(' if strict else '['}{bound.strip()},\\infty)"
    return None


def _degrees_to_radians(s: str) -> str:
    value = _DEGREES.match(s).group(1)
    return f"\\frac{{{value}\\pi}}{{180}}"
