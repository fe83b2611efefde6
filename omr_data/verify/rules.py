"""Rule-based answer checks: choice letters, numbers, yes/no, short text.

The fast path of `compute_score`: pure string work, no sympy, so most answers are decided
here in microseconds. A rule either decides (`Decision(acc, by, detail)`) or hands over
(`Decision(None, …, next="math_verify" | "judge")`).

Numbers are compared by what their literals promise (the only tolerance is for decimals
written to limited precision):

- integers and rationals exactly, also when written as arithmetic (`2^{64}-1`, `10!`,
  `\\binom{10}{3}`, `\\frac{3}{4}`: see `exact.py`): `1048577` ≠ `2^{20}`, `3` ≠ `2.99`,
  `\\frac{333}{1000}` ≠ `\\frac{1}{3}`;
- a decimal gold with d places accepts a *finer* or exact prediction that rounds to it
  (MathVista's rule: `3.1416` or `\\pi` for `3.14`, `2/3` for `0.67`) — never a coarser one
  (`12.4` for `12.35` is wrong);
- a non-integer gold known exactly or symbolically (fraction, radical, π) accepts a decimal
  of ≥ 2 significant figures that is its correct rounding (`0.33` and `0.3333` for `1/3`,
  not `0.3` or `0.34`); an integer gold accepts no approximation at all;
- scientific notation works the same way on the mantissa: `1.6e-18` ≠ `1.6×10^{-19}`.

Percent: a gold written as a percent (`20\\%`) accepts `20`, `20\\%` and `0.2`; a prediction
written as a percent must then state the same percent (`0.2\\%` ≠ `20\\%`). A gold without `%`
accepts a percent whose value equals it (`25\\%` for `0.25`), or whose number does when the
gold is ≥ 1 (`30\\%` for `30`; `0.2\\%` is not `0.2`).
Units: a unit on both sides must convert (`500 cm` = `5 m`, `5 cm` ≠ `5 m`; `units.py`);
currency signs are ignored.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache

from omr_data.verify.commit import yes_no_polarity
from omr_data.verify.exact import exact_value, is_arithmetic
from omr_data.verify.normalize import MAX_RULE_LEN, clean, compact, strip_answer_prefix, text_key
from omr_data.verify.units import units_agree

REL_ROUNDING = 1e-2     # a correct rounding must also be this close
MAX_DIGITS = 60         # longer digit runs are not treated as numbers


@dataclass(frozen=True)
class Decision:
    """A rule's verdict: `acc` is None when the rule hands over to `next`."""

    acc: float | None
    by: str
    detail: str = ""
    next: str | None = None     # "math_verify" or "judge" when acc is None


@dataclass(frozen=True)
class Num:
    """A parsed number: an exact value when the literal gives one, and how precise it is."""

    value: float
    exact: Fraction | None = None       # None: known only approximately (sympy evaluation)
    dec: Decimal | None = None          # the decimal literal as written (precision)
    is_int: bool = False                # written as an integer literal
    percent: bool = False
    unit: str = ""                      # the unit written after the number, if any

    @property
    def sig(self) -> int:
        return len(self.dec.normalize().as_tuple().digits) if self.dec is not None else 0


# --------------------------------------------------------------------------------------
# numbers

_NUM_CORE = re.compile(
    r"(?P<sign>[-+])?\s*(?:"
    r"\\frac\s*\{\s*(?P<fn>-?\d{1,30}(?:\.\d{1,30})?)\s*\}\s*\{\s*(?P<fd>-?\d{1,30}(?:\.\d{1,30})?)\s*\}"
    r"|\\frac(?P<fn1>\d)(?P<fd1>\d)"
    r"|(?P<mant>\d{1,3}(?:(?:,| )\d{3})+(?![\d,])(?:\.\d{1,30})?"
    r"|\d{1,60}(?:\.\d{0,30})?|\.\d{1,30})"
    r"(?:\s*/\s*(?P<den>\d{1,30}(?:\.\d{1,30})?)"
    r"|[eE](?P<e1>[-+]?\d{1,4})"
    r"|\s*(?:\\times|\\cdot|\*|x)\s*10\s*\^\s*\{?\s*(?P<e2>[-+]?\d{1,4})\s*\}?)?"
    r"|10\s*\^\s*\{?\s*(?P<e3>[-+]?\d{1,4})\s*\}?"
    r")")
_CURRENCY = re.compile(r"^(?:\$|usd|us\$|€|£|¥|rs\.?|inr|rmb)\s*", re.IGNORECASE)
_APPROX = re.compile(r"^(?:approximately|approx\.?|about|around|roughly|≈|\\approx|~|\\sim)\s*",
                     re.IGNORECASE)
_PERCENT = re.compile(r"^(?:%|percent\b|per\s*cent\b)", re.IGNORECASE)
_DEGREE = re.compile(r"^(?:\^\s*\{?\s*\\circ\s*\}?|\\circ|\\degree|degrees?\b|deg\b)",
                     re.IGNORECASE)
_UNIT_TAIL = re.compile(r"^(?:[A-Za-zµΩ]{1,20}(?:\^\{?-?\d\}?)?|/|\.|,|\(|\)|\s)*$")
_SINGLE_LETTER_UNITS = set("mgsLlKNJWVAhTΩ")
_EQUALS = re.compile(r"=|\\approx|≈")
_APPROX_SIGN = re.compile(r"\\approx|≈")
# a decimal comma: `1000,99`, `1,22`, `0,111` (not `1,000`, and not a list `1, 2`)
_DECIMAL_COMMA = re.compile(r"^([-+]?)(\d{4,}|\d{1,3}(?=,\d{1,2}$)|0),(\d+)$")


@lru_cache(maxsize=65536)
def parse_number(text: str) -> Num | None:
    """A number with optional units, currency, percent, sign and separators, or None."""
    if not text or len(text) > 200:
        return None
    s = strip_answer_prefix(clean(text))
    s = value_side(s)
    if s is None:
        return None
    s = _APPROX.sub("", s)
    s = _CURRENCY.sub("", s).strip()
    s = _DECIMAL_COMMA.sub(r"\1\2.\3", s)
    special = _special_number(s)
    if special is not None:
        value, rest = special
    else:
        m = _NUM_CORE.match(s)
        if not m or m.end() == 0:
            return None
        value, rest = m, s[m.end():].strip()
    percent = False
    pm = _PERCENT.match(rest)
    if pm:
        percent, rest = True, rest[pm.end():].strip()
    dm = _DEGREE.match(rest)
    if dm:
        rest = rest[dm.end():].strip()
    if not _unit_like(rest):
        return None
    if isinstance(value, Fraction):
        num = _fraction_num(value, Fraction(1), percent) if value.denominator != 1 else \
            _decimal_num(Decimal(value.numerator), True, percent)
    else:
        num = _num_from_match(value, percent)
    if num is not None and rest:
        num = replace(num, unit=rest.strip(" .,"))
    return num


_SYMBOL = re.compile(r"^[A-Za-z](?:_\{?\w{1,6}\}?)?'?$|^[A-Za-z]{1,3}$|^\\[a-zA-Z]+$")


def value_side(s: str) -> str | None:
    """The value an answer states: `x = 3` → `3`, `x = 5+5+1 = 11` → `11`, a plain `3` → `3`.

    An equation is a value only when its left side is a bare symbol and no middle side names
    a symbol (`a = 1, b = 2` and `x + y = 5` are not values); otherwise None."""
    approx = _APPROX_SIGN.split(s, maxsplit=1)
    if len(approx) == 2 and not _SYMBOL.match(approx[0].strip().rstrip("=").strip()):
        s = approx[0].strip()              # `1/3 \approx 0.33`: the exact side is the value
    parts = _EQUALS.split(s)
    if len(parts) == 1:
        return s
    if not _SYMBOL.match(parts[0].strip()) or not parts[-1].strip():
        return None
    if any(re.search(r"[A-Za-z]", _strip_commands(p)) for p in parts[1:-1]):
        return None
    return parts[-1].strip()


def value_symbol(s: str) -> str | None:
    """The symbol an assignment names (`x = 3` → `x`), or None."""
    parts = _EQUALS.split(clean(s), maxsplit=1)
    if len(parts) == 2 and _SYMBOL.match(parts[0].strip()):
        return parts[0].strip()
    return None


def _strip_commands(s: str) -> str:
    """Letters that are LaTeX commands or unit words do not make a side symbolic."""
    s = re.sub(r"\\[a-zA-Z]+", "", s)
    m = _NUM_CORE.search(s)
    return s[:m.start()] + s[m.end():] if m else s


@lru_cache(maxsize=65536)
def parse_value(text: str) -> Num | None:
    """`parse_number`, else the exact value of arithmetic (`2^{64}-1`, `10!`, `\\binom{5}{2}`)."""
    num = parse_number(text)
    if num is not None:
        return num
    s = strip_answer_prefix(clean(text))
    s = value_side(s) if s else None
    if not s or not is_arithmetic(s):
        return None
    value = exact_value(s)
    if value is None:
        return None
    return Num(float(value), exact=value, is_int=value.denominator == 1)


_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
          "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
          "eighteen", "nineteen", "twenty"]
NUMBER_WORDS = {w: i for i, w in enumerate(_WORDS)}
NUMBER_WORDS.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
                     "eighty": 80, "ninety": 90, "hundred": 100, "a hundred": 100,
                     "one hundred": 100, "a thousand": 1000, "one thousand": 1000})
_TENS = {20, 30, 40, 50, 60, 70, 80, 90}
_WORD_NUMBER = re.compile(r"^(" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")\b",
                          re.IGNORECASE)
_MIXED = re.compile(r"^([-+])?\s*(\d{1,9})\s*\\frac\s*\{\s*(\d{1,9})\s*\}\s*\{\s*(\d{1,9})\s*\}")


def _special_number(s: str) -> tuple[Fraction, str] | None:
    """Number words ("seven") and mixed numbers (`2\\frac{1}{2}` = 5/2) → (value, rest)."""
    m = _WORD_NUMBER.match(s)
    if m:
        value, rest = NUMBER_WORDS[m.group(1).lower()], s[m.end():]
        unit = re.match(r"[- ]([a-z]+)\b", rest, re.IGNORECASE) if value in _TENS else None
        if unit and NUMBER_WORDS.get(unit.group(1).lower(), 10) < 10:
            value, rest = value + NUMBER_WORDS[unit.group(1).lower()], rest[unit.end():]
        return Fraction(value), rest.strip()
    m = _MIXED.match(s)
    if m and 0 < int(m.group(3)) < int(m.group(4)):
        value = int(m.group(2)) + Fraction(int(m.group(3)), int(m.group(4)))
        return (-value if m.group(1) == "-" else value), s[m.end():].strip()
    return None


def _unit_like(rest: str) -> bool:
    if not rest:
        return True
    if not _UNIT_TAIL.match(rest):
        return False
    words = re.findall(r"[A-Za-zµΩ]+", rest)
    return all(len(w) > 1 or w in _SINGLE_LETTER_UNITS for w in words)


def _num_from_match(m: re.Match, percent: bool) -> Num | None:
    sign = -1 if m.group("sign") == "-" else 1
    try:
        if m.group("fn") is not None or m.group("fn1") is not None:
            num = Fraction(m.group("fn") or m.group("fn1"))
            den = Fraction(m.group("fd") or m.group("fd1"))
            return _fraction_num(sign * num, den, percent)
        if m.group("e3") is not None:
            dec = Decimal(1).scaleb(int(m.group("e3")))
            return _decimal_num(sign * dec, False, percent)
        mant = m.group("mant").replace(",", "").replace(" ", "")
        if m.group("den") is not None:
            return _fraction_num(sign * Fraction(mant), Fraction(m.group("den")), percent)
        exp = m.group("e1") or m.group("e2")
        dec = Decimal(mant)
        if exp is not None:
            dec = dec.scaleb(int(exp))
        is_int = exp is None and "." not in mant
        return _decimal_num(sign * dec, is_int, percent)
    except (InvalidOperation, ValueError, ZeroDivisionError, OverflowError):
        return None


def _fraction_num(num: Fraction, den: Fraction, percent: bool) -> Num | None:
    if den == 0:
        return None
    value = num / den
    return Num(float(value), exact=value, percent=percent)


def _decimal_num(dec: Decimal, is_int: bool, percent: bool) -> Num:
    return Num(float(dec), exact=Fraction(dec), dec=dec, is_int=is_int, percent=percent)


def approx_num(value: float) -> Num:
    """A number known only as a float (e.g. sympy's evaluation of `\\frac{\\sqrt3}{2}`)."""
    return Num(value)


def numbers_match(gold: Num, pred: Num) -> bool:
    """Equal under the precision, percent and unit rules in the module doc."""
    ok, g_factor, p_factor = units_agree(gold.unit, pred.unit)
    if not ok:
        return False
    if g_factor != p_factor:
        gold, pred = _scaled(gold, g_factor), _scaled(pred, p_factor)
    for g, p in _percent_pairs(gold, pred):
        if _match(g, p):
            return True
    return False


def _percent_pairs(gold: Num, pred: Num) -> list[tuple[Num, Num]]:
    """Readings to compare. A percent gold: its number or its value, and a percent
    prediction only by its number (`0.2%` is not `20%`). A plain gold: a percent prediction
    by its value (`25%` for `0.25`), or by its number when the gold is at least 1 and so
    reads as a percent number (`30%` for `30`, but `0.2%` is not `0.2`)."""
    plain_pred = replace(pred, percent=False)
    if gold.percent:
        plain_gold = replace(gold, percent=False)
        if pred.percent:
            return [(plain_gold, plain_pred)]
        return [(plain_gold, plain_pred), (_scaled(plain_gold, Fraction(1, 100)), plain_pred)]
    if pred.percent:
        pairs = [(gold, _scaled(plain_pred, Fraction(1, 100)))]
        if abs(gold.value) >= 1:          # a gold like 30 is a percent number; 0.2 is not
            pairs.append((gold, plain_pred))
        return pairs
    return [(gold, pred)]


def _scaled(n: Num, factor: Fraction) -> Num:
    """`n` times an exact factor, keeping its literal precision (a decimal stays a decimal)."""
    if factor == 1:
        return n
    dec = n.dec
    if dec is not None:
        scaled = Decimal(n.exact.numerator) / Decimal(n.exact.denominator) if n.exact is not \
            None else dec
        exact_dec = scaled * Decimal(factor.numerator) / Decimal(factor.denominator)
        dec = exact_dec if exact_dec == Fraction(exact_dec) else None
    exact = n.exact * factor if n.exact is not None else None
    return Num(n.value * float(factor), exact=exact, dec=dec,
               is_int=exact is not None and exact.denominator == 1 and n.is_int)


def _match(g: Num, p: Num) -> bool:
    if not (math.isfinite(g.value) and math.isfinite(p.value)):
        return g.value == p.value
    if g.exact is not None and p.exact is not None:
        if g.exact == p.exact:
            return True
        if g.dec is None and p.dec is None:
            return False                        # two exact values: no tolerance at all
    elif abs(g.value - p.value) <= 1e-12 * max(1.0, abs(g.value)) and \
            g.exact is None and p.exact is None:
        return True                             # two evaluations of the same expression
    if g.is_int or (g.exact is not None and g.exact.denominator == 1 and g.dec is None):
        return False                            # an integer gold takes no approximation
    if g.value == 0 or p.value == 0:
        return False
    rel = abs(g.value - p.value) / abs(g.value)
    if g.dec is not None:
        # decimal gold: a finer (or exact) prediction that rounds to it
        finer = p.dec is None or p.dec.as_tuple().exponent < g.dec.as_tuple().exponent
        return finer and rel <= REL_ROUNDING and _rounds_to(p, g.dec)
    # exact non-decimal gold (fraction, radical, π) or one known only approximately:
    # a decimal that is its correct rounding to at least 2 significant figures
    return p.dec is not None and p.sig >= 2 and _rounds_to(g, p.dec)


def _rounds_to(n: Num, target: Decimal) -> bool:
    try:
        source = Decimal(n.exact.numerator) / Decimal(n.exact.denominator) if n.exact is not None \
            else Decimal(repr(n.value))
        quantum = Decimal(1).scaleb(target.as_tuple().exponent)
        return source.quantize(quantum, rounding=ROUND_HALF_UP) == target
    except InvalidOperation:
        return False


_DIGIT = re.compile(r"\d")
_SENTENCE_NUMBER = re.compile(
    r"(?<![\w.^])[-+]?(?:\d{1,3}(?:,\d{3})+|\d{1,60})(?:\.\d{1,30})?(?:\s*%)?(?![\w.]*\d)")


def parse_number_in_sentence(text: str) -> Num | None:
    """The only number in a short prose answer ("There are 5 apples."), else None."""
    s = clean(text)
    if "\\" in s or "^" in s or len(s) > 300:
        return None
    found = _SENTENCE_NUMBER.findall(s)
    if len(found) != 1 or len(_DIGIT.findall(s)) != len(_DIGIT.findall(found[0])):
        return None
    return parse_number(found[0])


# --------------------------------------------------------------------------------------
# choice letters

_LETTER_ONLY = re.compile(r"^[(\[]?\s*([A-Za-z])\s*[)\]]?$")
_LETTER_SET = re.compile(r"^[A-Z](?:\s*(?:,|and|&|;|/|、)?\s*[A-Z]){1,9}$")
_LETTER_LEAD = re.compile(r"^(?:\(([A-Z])\)|\[([A-Z])\]|([A-Z])\s*[.:)\]])\s*(.*)$", re.DOTALL)
_LETTER_PHRASE = re.compile(
    r"(?i:answer|option|choice|choose|select|pick)"
    r"(?i:\s+is|\s*:|\s+would\s+be|\s+should\s+be|\s+must\s+be)?"
    r"\s*(?i:option|choice)?\s*[:\-]?\s*[(\[]?([A-Z])[)\]]?(?![A-Za-z0-9'’])")
_PAREN_LETTER = re.compile(r"\(([A-Z])\)")
_LETTER_IS = re.compile(r"^[(\[]?([A-Z])[)\]]?\s+(?:is|would\s+be|should\s+be|must\s+be)\s+"
                        r"(?:the\s+)?(?:correct|right|true|best|answer)", re.IGNORECASE)
_LOWER_PHRASE_END = re.compile(
    r"(?i:answer|option|choice)\s*(?:is|:)?\s*[(\[]?([a-z])[)\]]?\s*[.!]?\s*$",
                               re.IGNORECASE)
_LETTER_WORD = re.compile(r"^([A-Z])\s+(.+)$", re.DOTALL)
DEFAULT_LETTERS = "ABCDEFGHIJ"


def valid_letters(choices: list[str] | None) -> str:
    return DEFAULT_LETTERS if not choices else "".join(chr(65 + i) for i in range(len(choices)))


def gold_letters(gold: str, choices: list[str] | None) -> frozenset[str] | None:
    """The gold as a set of option letters: "B", "(B)", "AC", or an option's text."""
    s = clean(gold)
    letters = valid_letters(choices)
    m = _LETTER_ONLY.match(s)
    if m and m.group(1).upper() in letters:
        return frozenset(m.group(1).upper())
    if _LETTER_SET.match(s):
        found = frozenset(re.findall(r"[A-Z]", s))
        if found <= set(letters):
            return found
    m = _LETTER_LEAD.match(s)
    if m and not choices and re.match(r"^[(\[]?[A-J][)\].:]\s", s):
        return frozenset(m.group(1) or m.group(2) or m.group(3))   # "C. x = 42"
    if choices:
        idx = _match_option_text(s, choices)
        if idx is not None:
            return frozenset(letters[idx])
    return None


def parse_letters(pred: str, choices: list[str] | None) -> frozenset[str] | None:
    """The option letter(s) a prediction names, in any common form; None when it names none."""
    letters = valid_letters(choices)
    s = clean(pred)
    if len(s) > MAX_RULE_LEN:
        s = s[-MAX_RULE_LEN:]
    m = _LETTER_ONLY.match(s)
    if m:
        letter = m.group(1).upper()
        return frozenset(letter) if letter in letters else None
    if _LETTER_SET.match(s):
        found = frozenset(re.findall(r"[A-Z]", s))
        return found if found <= set(letters) else None
    m = _LETTER_LEAD.match(s)
    if m:
        letter = m.group(1) or m.group(2) or m.group(3)
        if letter in letters:
            return frozenset(letter)
    m = _LETTER_IS.match(s)
    if m and m.group(1) in letters:
        return frozenset(m.group(1))
    phrases = [x for x in _LETTER_PHRASE.findall(s) if x in letters]
    if not phrases:
        m = _LOWER_PHRASE_END.search(s)
        if m and m.group(1).upper() in letters:
            return frozenset(m.group(1).upper())
    if phrases:
        # "Answer: B … Answer: C" names two answers: it commits to neither
        return frozenset(phrases[-1]) if len(set(phrases)) == 1 else frozenset(phrases)
    parens = {x for x in _PAREN_LETTER.findall(s) if x in letters}
    if len(parens) == 1:
        return frozenset(parens)
    if choices:
        m = _LETTER_WORD.match(s)
        if m and m.group(1) in letters:
            idx = _match_option_text(m.group(2), choices)
            if idx is not None and letters[idx] == m.group(1):
                return frozenset(m.group(1))
        idx = _match_option_text(s, choices)
        if idx is not None:
            return frozenset(letters[idx])
    return None


def _match_option_text(s: str, choices: list[str]) -> int | None:
    """Index of the one option whose text (or value) the answer states, else None."""
    options = [strip_option_label(c) for c in choices]
    exact = compact(strip_answer_prefix(clean(s)))
    hits = [i for i, c in enumerate(options) if compact(c) == exact]
    if len(hits) == 1:
        return hits[0]
    key = text_key(s)
    wordy = [bool(_WORDY.search(clean(c))) for c in options]
    if key:
        hits = [i for i, c in enumerate(options) if text_key(c) == key]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            return None
    if key and not _NEGATION.search(key):
        content = _content_key(key)
        hits = [i for i, c in enumerate(options)
                if wordy[i] and _content_key(text_key(c)) == content]
        if len(hits) == 1:
            return hits[0]
        padded = f" {key} "
        hits = [i for i, c in enumerate(options)
                if wordy[i] and f" {text_key(c)} " in padded]
        if len(hits) == 1:
            return hits[0]
    num = parse_number(s) or parse_number_in_sentence(s)
    if num is None:
        return None
    hits = []
    for i, c in enumerate(choices):
        cn = parse_number(strip_option_label(c))
        if cn is not None and numbers_match(cn, num):
            hits.append(i)
    return hits[0] if len(hits) == 1 else None


_WORDY = re.compile(r"[A-Za-z]{3,}")     # options in words (not math) may be matched loosely
_FILLER = {"it", "its", "they", "this", "that", "there", "value", "is", "are", "will", "be",
           "would", "answer", "option"}


def _content_key(key: str) -> str:
    return " ".join(w for w in key.split() if w not in _FILLER)


_NEGATION = re.compile(r"\b(?:not|no|never|cannot|neither|nor|n't|isn't|doesn't|won't)\b")


def strip_option_label(choice: str) -> str:
    """Options are sometimes stored with their label ("A. 12 cm"); compare the text only."""
    return re.sub(r"^\s*(?:\(([A-Z])\)|([A-Z])[.:)])\s+", "", choice)


def option_text(letter: str, choices: list[str] | None) -> str | None:
    if not choices:
        return None
    idx = ord(letter) - 65
    return strip_option_label(choices[idx]) if 0 <= idx < len(choices) else None


# --------------------------------------------------------------------------------------
# yes / no and text

_YES = {"yes", "true", "correct", "right", "y"}
_NO = {"no", "false", "incorrect", "wrong", "n"}
_YES_NO_PHRASE = re.compile(r"(?i:answer\s*(?:is|:))\s*\W{0,3}(yes|no|true|false)\b", re.IGNORECASE)


def parse_yes_no(text: str) -> bool | None:
    key = text_key(text)
    if not key:
        return None
    first = key.split(" ", 1)[0]
    if first in _YES:
        return True
    if first in _NO:
        return False
    found = _YES_NO_PHRASE.findall(text[-MAX_RULE_LEN:])
    if found:
        return found[-1].lower() in _YES
    return None


_MATHY = re.compile(r"[\\^=<>_{}]|\d|[+*/]|^[a-z]$|\b[a-z]\s*[-+*/]", re.IGNORECASE)


def looks_mathematical(s: str) -> bool:
    return bool(_MATHY.search(s))


def infer_answer_type(gold: str, choices: list[str] | None) -> str:
    """Guess `answer_type` from the gold answer when the caller does not say."""
    s = clean(gold)
    if choices and gold_letters(s, choices) is not None:
        return "choice"
    if not choices and (re.fullmatch(r"[(\[]?[A-J][)\]]?", s)
                        or re.match(r"^[(\[]?[A-J][)\].:]\s", s)):
        return "choice"
    if parse_yes_no(s) is not None and text_key(s) in (_YES | _NO):
        return "yes_no"
    if parse_value(s) is not None:
        return "number"
    if looks_mathematical(s):
        return "expression"
    return "text"


# --------------------------------------------------------------------------------------
# the rule dispatcher


def decide(pred: str, gold: str, answer_type: str, choices: list[str] | None) -> Decision:
    """Decide `pred` against `gold` by rules, or say what should decide instead."""
    if compact(pred) == compact(gold) and (answer_type != "choice" or len(compact(gold)) == 1):
        return Decision(1.0, "rule:exact")
    if len(pred) > MAX_RULE_LEN or len(gold) > MAX_RULE_LEN:
        return Decision(0.0, "guard", f"answer longer than {MAX_RULE_LEN} characters")
    handler = _HANDLERS.get(answer_type, _decide_expression)
    return handler(pred, gold, choices)


def _decide_choice(pred: str, gold: str, choices: list[str] | None) -> Decision:
    want = gold_letters(gold, choices)
    if want is None:
        # not a usable letter gold: compare as whatever else the gold looks like
        kind = infer_answer_type(gold, None)
        return _HANDLERS["text" if kind == "choice" else kind](pred, gold, choices)
    got = parse_letters(pred, choices)
    if got is None:
        if choices and looks_mathematical(clean(pred)) and \
                any(parse_number(strip_option_label(c)) is None and looks_mathematical(c)
                    for c in choices):
            # "1.732" for the option "$\sqrt{3}$": compare with each option symbolically
            return Decision(None, "rule:choice", "answer may state an option's value",
                            next="math_verify_choices")
        return Decision(None, "rule:choice", "no option letter found", next="judge")
    ok = got == want
    return Decision(float(ok), "rule:choice", _letters_detail(got, want))


def _decide_number(pred: str, gold: str, choices: list[str] | None) -> Decision:
    g = parse_value(gold)
    if g is None:
        return _decide_expression(pred, gold, choices)
    p = parse_value(pred)
    if p is None:
        p = parse_number_in_sentence(pred)
    if p is not None:
        ok = numbers_match(g, p)
        return Decision(float(ok), "rule:number", f"pred={_fmt(p)} gold={_fmt(g)}")
    if not looks_mathematical(clean(pred)):
        return Decision(None, "rule:number", "no number in the answer", next="judge")
    return Decision(None, "rule:number", "not a plain number", next="math_verify")


def _decide_yes_no(pred: str, gold: str, choices: list[str] | None) -> Decision:
    want = parse_yes_no(gold)
    if want is None:
        return _decide_text(pred, gold, choices)
    got = yes_no_polarity(pred)
    if got is None:
        if parse_yes_no(pred) is not None:
            return Decision(0.0, "rule:yes_no", "says both yes and no")
        return Decision(None, "rule:yes_no", "no yes/no in the answer", next="judge")
    return Decision(float(got == want), "rule:yes_no",
                    f"pred={'yes' if got else 'no'} gold={'yes' if want else 'no'}")


def _decide_text(pred: str, gold: str, choices: list[str] | None) -> Decision:
    if text_key(pred) == text_key(gold):
        return Decision(1.0, "rule:text")
    g, p = parse_number(gold), parse_number(pred)
    if g is not None and p is not None:
        return Decision(float(numbers_match(g, p)), "rule:number", f"pred={_fmt(p)} gold={_fmt(g)}")
    if choices:
        want, got = gold_letters(gold, choices), parse_letters(pred, choices)
        if want is not None and got is not None:
            return Decision(float(want == got), "rule:choice",
                            _letters_detail(got, want))
    if looks_mathematical(clean(gold)) and looks_mathematical(clean(pred)):
        return Decision(None, "rule:text", "mathematical text", next="math_verify")
    return Decision(None, "rule:text", "text differs", next="judge")


def _decide_expression(pred: str, gold: str, choices: list[str] | None) -> Decision:
    g, p = parse_value(gold), parse_value(pred)
    if g is not None and p is not None:
        return Decision(float(numbers_match(g, p)), "rule:number", f"pred={_fmt(p)} gold={_fmt(g)}")
    if not looks_mathematical(clean(gold)) and not looks_mathematical(clean(pred)):
        return _decide_text(pred, gold, choices)
    return Decision(None, "rule:expression", "needs symbolic comparison", next="math_verify")


_HANDLERS = {
    "choice": _decide_choice,
    "number": _decide_number,
    "yes_no": _decide_yes_no,
    "text": _decide_text,
    "expression": _decide_expression,
}


def _letters_detail(got: frozenset[str], want: frozenset[str]) -> str:
    return f"pred={''.join(sorted(got))} gold={''.join(sorted(want))}"


def _fmt(n: Num) -> str:
    if n.dec is not None:
        return f"{n.dec}{'%' if n.percent else ''}"
    if n.exact is not None:
        return f"{n.exact}{'%' if n.percent else ''}"
    return f"{n.value:.6g}"
