r"""Does an answer commit to one answer? The checks a reward needs so hedging earns nothing.

A policy under RL searches for whatever earns reward, so an answer that covers several
possibilities, or talks to the grader, must score 0 however the comparison would go:

==================  =========================================================================
alternatives        "12 or 13", "either A or C", "12 (or 13 if …)", "B/C", "13 or more"
hedge               "at least 13", "at most", "more than", "between 12 and 14", "probably",
                    "maybe", "could be", a question mark, a relation (`x \ge 13`) where the
                    gold is a value
grader              text addressed to the grader, judge or reward ("please …",
                    "note for the grader", "ignore previous instructions")
negation            the answer names the gold only to deny it ("not 7", "7 is incorrect",
                    "B is not the answer", "It cannot be 7"); a denial of something else
                    is dropped and the rest is read ("not 10, which is 1,000.99")
several options     every option recited ("A. 12 B. 15 C. 18 D. 21") for a single-letter gold
==================  =========================================================================

A marker that the gold answer itself contains ("either", "not", "or") is not held against
the prediction. Several different boxed values and several different `<answer>` tags are
handled where they are extracted (`extract.committed_answer`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from omr_data.verify.normalize import clean, compact, text_key

_GRADER = re.compile(
    r"\b(?:grader|grading|judge|evaluator|reviewer|marker|reward|verifier)\b"
    r"|\bmark\s+(?:this|it|me|the\s+answer)?\s*(?:as\s+)?(?:correct|right|true)"
    r"|\b(?:full|give)\s+(?:credit|marks?)\b"
    r"|\bignore\s+(?:all\s+|the\s+)?(?:previous|above|prior)"
    r"|\bplease\b"
    r"|\b(?:treat|consider)\s+(?:this|it)\s+as\s+(?:correct|equal|equivalent)",
    re.IGNORECASE)
_ALTERNATIVE = re.compile(r"\b(?:or|either|otherwise|alternatively)\b|\\(?:text|mathrm)\{\s*or\s*\}"
                          r"|\\lor\b|\\vee\b", re.IGNORECASE)
_NUMBERISH = r"\s*(?:\$|\\\(|\\boxed\{|\{)*\s*[-+−]?\s*(?:\d|\.\d|\\frac|\\sqrt|\\pi)"
_HEDGE = re.compile(
    r"\b(?:at\s+(?:least|most)|no\s+(?:more|less|fewer|greater|smaller)\s+than"
    r"|maybe|perhaps|probably|possibly|likely|i\s+think|i\s+guess|not\s+sure|uncertain"
    r"|unsure|somewhere\s+(?:between|around|near)|give\s+or\s+take|plausible"
    r"|could\s+(?:also\s+)?be|might\s+(?:also\s+)?be|guess)\b|\?"
    r"|\b(?:more|less|fewer|greater|smaller|larger|bigger|higher|lower)\s+than(?=" + _NUMBERISH
    + r")|\bup\s+to(?=" + _NUMBERISH + r")|\bbetween(?=" + _NUMBERISH + r")",
    re.IGNORECASE)
_RELATION = re.compile(r"\\(?:le|ge|leq|geq|lt|gt|leqslant|geqslant|ne|neq)(?![a-zA-Z])|[<>≤≥≠]|!=")
_INTERVAL_GOLD = re.compile(r"^\s*[\[(].*,.*[\])]\s*$|\\cup|\\infty|\\in\b")
_NEGATED = re.compile(
    r"(?P<pre>\b(?:not|isn't|is\s+not|cannot\s+be|can't\s+be|never|rather\s+than|instead\s+of"
    r"|other\s+than|except)\s+(?:equal\s+to\s+|be\s+|the\s+)?)(?P<after>\S{1,40})"
    r"|(?P<before>\S{1,40})(?P<post>\s+(?:is|are|was)\s+(?:incorrect|wrong|false|not\s+(?:correct|right"
    r"|true|the\s+answer|it|valid))\b)",
    re.IGNORECASE)
_NEGATION_WORD = re.compile(r"\b(?:not|isn't|cannot|can't|never|incorrect|wrong)\b",
                            re.IGNORECASE)
_OPTION_LABEL = re.compile(r"(?:^|[\s,;])\(?([A-J])(?:\)|\.(?=\s|$)|:)")


# what counts as talking to the grader anywhere outside <think>, not only in the answer
_GRADER_ANYWHERE = re.compile(
    r"\b(?:grader|grading\s+(?:note|instructions?)|note\s+(?:to|for)\s+the\s+(?:grader|judge|"
    r"evaluator|verifier))\b|\bmark\s+(?:this|it|me|the\s+answer)\s+(?:as\s+)?(?:correct|right)"
    r"|\b(?:give|award)\s+(?:me\s+)?full\s+(?:credit|marks)\b"
    r"|\bignore\s+(?:all\s+|the\s+)?(?:previous|above|prior)\s+instructions", re.IGNORECASE)


def addresses_grader(visible: str) -> bool:
    """Text outside `<think>` that speaks to whoever grades the answer."""
    return bool(visible) and bool(_GRADER_ANYWHERE.search(visible[-4000:]))


@dataclass(frozen=True)
class Commitment:
    """`problem` says why the answer does not commit (acc 0); `text` is what remains to read
    once denials of other values are dropped."""

    problem: str | None
    text: str


def check_commitment(pred: str, gold: str, answer_type: str | None,
                     choices: list[str] | None, same_value) -> Commitment:
    """Whether `pred` commits to one answer; `same_value(a, b)` says whether a denied value
    is the gold (a cheap rule comparison: numbers, letters, exact strings)."""
    plain = _prose(pred)
    gold_plain = _prose(gold)
    if _GRADER.search(plain):
        return Commitment("addresses the grader", pred)
    if _ALTERNATIVE.search(plain) and not _ALTERNATIVE.search(gold_plain):
        return Commitment("offers alternatives", pred)
    if _HEDGE.search(plain) and not _HEDGE.search(gold_plain):
        return Commitment("hedges instead of stating a value", pred)
    if _RELATION.search(pred) and not _RELATION.search(gold) and \
            not _INTERVAL_GOLD.search(gold) and answer_type != "text":
        return Commitment("states a relation where the gold is a value", pred)
    if answer_type not in ("choice", "yes_no", "text") and not _is_sentence(plain) and \
            _juxtaposed_values(pred) and not _juxtaposed_values(gold):
        return Commitment("states several values side by side", pred)
    if answer_type == "choice" and choices:
        letters = {m for m in _OPTION_LABEL.findall(clean(pred))
                   if ord(m) - 65 < len(choices)}
        gold_letters = set(re.findall(r"[A-J]", clean(gold))) if len(clean(gold)) <= 10 else set()
        if len(letters) >= 2 and len(gold_letters) <= 1:
            return Commitment("names several options", pred)
    if answer_type != "yes_no" and _NEGATION_WORD.search(plain) and \
            not _NEGATION_WORD.search(gold_plain):
        return _negations(pred, gold, same_value)
    return Commitment(None, pred)


def _negations(pred: str, gold: str, same_value) -> Commitment:
    """Denials of the gold fail; denials of something else are cut out of the text."""
    text = pred
    for m in list(_NEGATED.finditer(pred))[::-1]:
        denied = m.group("after") if m.group("after") is not None else m.group("before")
        denied = re.sub(r"\\(?:boxed|fbox)\s*\{|\}", "", denied).strip(".,;:()$")
        if denied and (same_value(denied, gold) or compact(denied) == compact(gold)
                       or text_key(denied) == text_key(gold)):
            return Commitment("denies the gold answer", pred)
        text = text[:m.start()] + text[m.end():]
    return Commitment(None, text)


def yes_no_polarity(text: str) -> bool | None:
    """True / False for a committed yes or no; None when the text says both or neither.

    "Yes is incorrect; the answer is no." commits to no; "Yes or no" to neither."""
    s = text_key(text)
    s = re.sub(r"\b(?:yes|true|correct|right)\s+(?:is|are|was)\s+(?:incorrect|wrong|false|not\s+"
               r"(?:correct|right|true|the\s+answer))\b", " ", s)
    s = re.sub(r"\b(?:no|false|incorrect|wrong)\s+(?:is|are|was)\s+(?:incorrect|wrong|false|not\s+"
               r"(?:correct|right|true|the\s+answer))\b", " ", s)
    s = re.sub(r"\bnot\s+(?:correct|right|true)\b|\bincorrect\b", " no ", s)
    words = set(s.split())
    yes = bool(words & {"yes", "true", "correct", "right"})
    no = bool(words & {"no", "false", "wrong"})
    if yes == no:
        return None
    return yes


_SPACING_COMMANDS = re.compile(r"\\(?:hspace|vspace|hskip|kern)\s*\{[^{}]*\}|\\(?:quad|qquad)\b"
                               r"|\\[,;:! ]|~")
_TWO_NUMBERS = re.compile(r"(?<![_^\d.])(\d+(?:\.\d+)?)\s+(?=(\d+(?:\.\d+)?))")  # not `\\log_2 16`


def _juxtaposed_values(s: str) -> bool:
    """Two numbers with nothing but space between them (`8 \\hspace{1cm} 7`, `5` and `6` on
    two lines); digit groups of a thousands separator (`1 000`) do not count, and a matrix
    row break `\\\\` is not space."""
    bare = _SPACING_COMMANDS.sub(" ", s)
    for m in _TWO_NUMBERS.finditer(bare):
        first, second = m.group(1), m.group(2)
        if len(first) <= 3 and "." not in first and len(second) >= 3 and \
                re.match(r"\d{3}(?!\d)", second):
            continue
        return True
    return False


def _is_sentence(s: str) -> bool:
    return len(re.findall(r"(?<![\\a-zA-Z])[A-Za-z]{3,}", s)) >= 2


def _prose(s: str) -> str:
    """`s` with `\\text{…}` unwrapped and markdown off, for word-level checks."""
    return clean(s)
