"""Gold answers: unwrap, normalize, map option text to letters, and type them (docs/sources.md §0).

`normalize_answer(raw, choices)` returns an `Answer` or raises `RowError("missing answer")`;
it never guesses: an option text that matches no option stays text (`answer_type=text`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from omr_data.answers import last_boxed
from omr_data.records import option_letters
from omr_data.sources.errors import RowError


@dataclass(frozen=True)
class Answer:
    value: str            # what goes in the record's `answer`
    type: str             # one of records.ANSWER_TYPES
    unit: str | None      # for numbers given with a unit ("3.5 cm" -> "cm")
    display: str          # the answer as a reader writes it ("3.5 cm", "B"): used in <answer>
    raw: str              # the source's own text


_ANSWER_PHRASE = re.compile(
    r"(?:^|(?<=[\s.:;,]))(?:so\s+|thus\s+|therefore\s+)?(?:the\s+)?(?:final\s+|correct\s+)?"
    r"answer\s*(?:is|:)\s*:?\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_BARE_LETTER = re.compile(r"^(?:option\s*|choice\s*)?[(\[（]?([A-Za-z])[)\]）]?[.:：、)]?$",
                          re.IGNORECASE)
_LETTER_PREFIX = re.compile(r"^(?:[(\[（]([A-Za-z])[)\]）]|([A-Z])[.:：、)])\s*\S")
_TEXT_WRAP = re.compile(r"^\\(?:text|textbf|mathrm|mathbf)\s*\{([^{}]*)\}$")
_TEXT_CMD = re.compile(r"\\(?:text|mathrm)\s*\{([^{}]*)\}")
_YES_NO = {"yes", "no", "true", "false"}
_NUMBER = re.compile(
    r"^(?P<num>[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+−]?\.\d+|[-+−]?\d+\s*/\s*\d+)"
    r"(?:\s*(?P<unit>%|°\s*[CF]?|(?:[A-Za-zµΩ]{2,}|[mgsLKNJWVh])(?:\^?[23²³])?"
    r"(?:\s*/\s*[A-Za-z]+(?:\^?[23²³])?)?(?:\s+[A-Za-z]{2,})?))?$")
_EXPRESSION = re.compile(
    r"\\[A-Za-z]|[=<>≤≥√π∞^_{}]|\d\s*[-+*/×÷·]\s*[\w(]|[\w)]\s*[-+*/×÷·]\s*\d|"
    r"^[-+]?\s*[(\[]|\b[A-Za-z]\s*[-+*/]\s*[A-Za-z]\b|^\d+[a-z]$")
_LATEX_UNIT = [
    (re.compile(r"\\(?:text|mathrm|textrm|mbox|operatorname)\s*\{([^{}]*)\}"), r"\1"),
    (re.compile(r"\^\s*\{?\\circ\}?|\\circ|\\degree"), "°"),
    (re.compile(r"\\%"), "%"),
    (re.compile(r"\\[,;!: ]|~"), " "),
]


def normalize_answer(raw: Any, choices: list[str] | None = None, *,
                     letters_first: bool = False) -> Answer:
    """Normalize and type a gold answer; `RowError` when nothing usable is left.
    `letters_first`: the source writes answers as letters, so a bare in-range letter is a
    letter even when an option's text is that same letter (MMK12's "C, H, O, N")."""
    raw_text = answer_to_text(raw)
    text = clean_answer_text(raw_text)
    if not text:
        raise RowError("missing answer" + (f": {raw_text[:60]!r}" if raw_text.strip() else ""))
    if choices:
        letter = choice_letter(text, choices, letters_first=letters_first)
        if letter is not None:
            return Answer(letter, "choice", None, letter, raw_text)
        return Answer(text, "text", None, text, raw_text)
    return classify(text, raw_text)


def answer_to_text(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, float) and math.isnan(raw):
        return ""      # pandas' missing value (and JSON's NaN): no answer, not "nan"
    if isinstance(raw, str) and raw.strip() in ("NaN", "nan"):
        return ""
    if isinstance(raw, bool):
        return "yes" if raw else "no"
    if isinstance(raw, (list, tuple)):
        return ", ".join(answer_to_text(r) for r in raw)
    return str(raw)


_EMPTY_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{\s*\}")


def clean_answer_text(text: str) -> str:
    """Strip "The answer is", `\\boxed{}`, `$…$` and a trailing period."""
    text = text.strip()
    phrase = list(_ANSWER_PHRASE.finditer(text))
    if phrase:
        text = phrase[-1].group(1)
    boxed = last_boxed(text)
    if boxed is not None:
        text = boxed
    text = _EMPTY_BOX.sub("", text).strip()      # `\\boxed{}` states no answer
    text = unwrap_math(_strip_period(text))
    wrapped = _TEXT_WRAP.match(text)
    if wrapped:
        text = wrapped.group(1)
    return _strip_period(text)


def _strip_period(text: str) -> str:
    text = text.strip()
    while text.endswith(".") and not text.endswith(".."):
        text = text[:-1].rstrip()
    return text


def unwrap_math(text: str) -> str:
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if text.startswith(left) and text.endswith(right) and len(text) > len(left) + len(right):
            inner = text[len(left):-len(right)]
            if left == "$" and "$" in inner:
                continue
            return inner.strip()
    return text


def choice_letter(text: str, choices: list[str], *, letters_first: bool = False) -> str | None:
    """The option letter `text` names: a letter form ("B", "(b)", "B. Juneau") or an option's
    text by normalized match. Raises `RowError` for a bare letter beyond the options."""
    letters = option_letters(len(choices))
    if letters_first and text.strip().upper() in letters and len(text.strip()) == 1:
        return text.strip().upper()
    if text in choices:
        return letters[choices.index(text)]
    key = option_key(text)
    bare = _BARE_LETTER.match(text)
    if bare:
        letter = bare.group(1).upper()
        if letter in letters:
            return letter
    keys = [option_key(c) for c in choices]
    if bare and key not in keys:
        raise RowError(f"answer letter out of range: {letter!r} with {len(choices)} choices")
    prefixed = _LETTER_PREFIX.match(text)
    if prefixed and (prefixed.group(1) or prefixed.group(2)).upper() in letters:
        return (prefixed.group(1) or prefixed.group(2)).upper()
    if key in keys:
        return letters[keys.index(key)]
    return None


def option_key(text: str) -> str:
    """Comparison key for option text: case, spacing, `$`, `\\text{}` and final '.' ignored."""
    text = unwrap_math(text.strip())
    if "\\" in text:
        text = _TEXT_CMD.sub(r"\1", text)
    return "".join(text.replace("$", "").split()).casefold().rstrip(".")


def classify(text: str, raw_text: str = "") -> Answer:
    """Type an answer that is not a choice: yes_no, number (+unit), expression or text."""
    lower = text.lower()
    if lower in _YES_NO:
        return Answer(lower, "yes_no", None, lower, raw_text or text)
    plain = text
    for pattern, repl in _LATEX_UNIT:
        plain = pattern.sub(repl, plain)
    plain = re.sub(r"\s+", " ", plain).strip()
    match = _NUMBER.match(plain)
    if match:
        number = match.group("num").replace(",", "").replace("−", "-").replace(" ", "")
        number = number.lstrip("+")
        unit = match.group("unit")
        unit = re.sub(r"\s+", " ", unit).strip() if unit else None
        return Answer(number, "number", unit, text, raw_text or text)
    if _EXPRESSION.search(text):
        return Answer(text, "expression", None, text, raw_text or text)
    return Answer(text, "text", None, text, raw_text or text)
