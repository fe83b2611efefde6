r"""Deciding common symbolic answers without sympy: identities by exact evaluation.

Most symbolic answers in the sources are short: `\sqrt{12}` for `2\sqrt{3}`, `(x+1)^2` for
`x^2+2x+1`, `y = 1 + 2x` for `y = 2x + 1`, `[1, 2)` for `[1,2)`. Sending each to sympy
costs a worker round trip and tens of milliseconds; this module decides them in
microseconds, and hands everything else (unknown commands, functions, relations, sets) to
math-verify. Its verdicts are proofs or clear refutations, never guesses:

- rational expressions in single-letter variables are evaluated exactly (fractions) at
  random rational points; two expressions whose difference has degree ≤ d that agree at
  d + 1 points (each point drawn from 2·10^9 values) are equal (a nonzero polynomial has at
  most d roots per variable), and one point where they differ refutes equality;
- equations are equal when one side-difference is a constant non-zero multiple of the other
  (`y - 2x = 1` and `4x - 2y + 2 = 0`);
- constants with roots and π are compared as numbers under the number rules of `rules.py`
  (exact values exactly; decimals by their rounding) only when both are evaluated the same
  way; a float within 1e-12 of an exact rational is left to sympy, which proves or refutes;
- intervals compare their brackets and their end points; tuples of numbers compare in
  order, sets (`\\{…\\}`) and bare lists of numbers in any order, element by element under
  the number rules.
"""

from __future__ import annotations

import random
import re
from fractions import Fraction

from omr_data.verify.exact import evaluate
from omr_data.verify.normalize import clean
from omr_data.verify.rules import Num, numbers_match, parse_value

MAX_DEGREE = 24
_VARIABLE = re.compile(r"(?<![\\a-zA-Z])([a-zA-Z])(?![a-zA-Z])")
_RESERVED = set("eiC")          # Euler's number, the imaginary unit, C(n, k): sympy's job
_INTERVAL = re.compile(r"^\s*([\[(])\s*([^,\[\]()]+?)\s*,\s*([^,\[\]()]+?)\s*([\])])\s*$")


def fast_equivalence(gold: str, pred: str) -> tuple[bool, str] | None:
    """(equal, how it was decided) when this module can decide, else None."""
    g, p = _prepare(gold), _prepare(pred)
    if g is None or p is None:
        return None
    gi, pi = _INTERVAL.match(g), _INTERVAL.match(p)
    if gi or pi:
        return _intervals(gi, pi) if gi and pi else None
    if "," in g or "," in p:
        return _collections(g, p)
    g_eq, p_eq = g.count("="), p.count("=")
    if g_eq > 1 or p_eq > 1 or g_eq != p_eq:
        return None
    names = sorted(set(_VARIABLE.findall(g)) | set(_VARIABLE.findall(p)))
    if any(n in _RESERVED for n in names):
        return None
    if g_eq:
        return _equations(g.split("="), p.split("="), names)
    if not names:
        return None          # constants: the number rules decide (`_constants`)
    return _identity(g, p, names)


def constant_value(text: str):
    """The value of a constant expression (a Fraction, or a float with roots or π), or None."""
    s = _prepare(text)
    if s is None or _VARIABLE.search(s) or "," in s or "=" in s:
        return None
    return evaluate(s, floats=True)


def _prepare(text: str) -> str | None:
    s = clean(text)
    if not s or len(s) > 300 or re.search(r"\\(?!frac|sqrt|pi\b|cdot|times|div|left|right|"
                                          r"binom|choose|infty)[a-zA-Z]+", s):
        return None
    if re.search(r"(?<![\\a-zA-Z])[a-zA-Z]\s*\(", s):
        return None           # `f(x)`, `g(x+1)`: function application, not a product
    return s.replace("\\left", "").replace("\\right", "")


def _points(names: list[str], count: int, seed: str) -> list[dict[str, Fraction]]:
    rng = random.Random(seed)
    return [{n: Fraction(rng.randint(-10**9, 10**9), rng.randint(1, 997)) for n in names}
            for _ in range(count)]


def _joint_degree(g: str, p: str, names: list[str]) -> int | None:
    """A bound on the degree of g - p (None: not rational, or too high to test by points)."""
    probe = _points(names, 1, g + p)[0]
    first = evaluate(g, probe, with_degree=True)
    second = evaluate(p, probe, with_degree=True)
    if first is None or second is None:
        return None
    degree = first[1] + second[1]
    return None if degree > MAX_DEGREE else degree


def _identity(g: str, p: str, names: list[str]) -> tuple[bool, str] | None:
    degree = _joint_degree(g, p, names)
    if degree is None:
        return None
    for env in _points(names, degree + 2, g + "|" + p):
        a, b = evaluate(g, env), evaluate(p, env)
        if a is None or b is None:
            return None        # a pole at the point, or something non-rational
        if a != b:
            return False, f"differ at {_show(env)}"
    return True, f"equal at {degree + 2} points (degree ≤ {degree})"


def _equations(gs: list[str], ps: list[str], names: list[str]) -> tuple[bool, str] | None:
    if not names:
        return None
    g, p = f"({gs[0]})-({gs[1]})", f"({ps[0]})-({ps[1]})"
    degree = _joint_degree(g, p, names)
    if degree is None:
        return None
    ratio = None
    for env in _points(names, degree + 2, g + "|" + p):
        a, b = evaluate(g, env), evaluate(p, env)
        if a is None or b is None:
            return None
        if b == 0 or a == 0:
            if a != b:
                return False, f"one side vanishes at {_show(env)}, the other does not"
            continue
        if ratio is None:
            ratio = a / b
        elif a / b != ratio:
            return False, "not a multiple of each other"
    return True, f"proportional at {degree + 2} points (degree ≤ {degree})"


def _intervals(g: re.Match, p: re.Match) -> tuple[bool, str] | None:
    if (g.group(1), g.group(4)) != (p.group(1), p.group(4)):
        return False, "different brackets"
    ends = []
    for a, b in ((g.group(2), p.group(2)), (g.group(3), p.group(3))):
        if a.replace(" ", "") == b.replace(" ", ""):
            ends.append(True)
            continue
        va, vb = parse_value(a), parse_value(b)
        if va is None or vb is None or va.percent or vb.percent or va.unit or vb.unit:
            return None
        ends.append(numbers_match(va, vb))
    return all(ends), "same end points" if all(ends) else "different end points"


def _show(env: dict[str, Fraction]) -> str:
    return ", ".join(f"{k}={v}" for k, v in env.items())


def fast_numbers(gold: str, pred: str) -> tuple[bool, str] | None:
    """Two constants with roots or π (`\\sqrt{12}` vs `2\\sqrt{3}`, `4\\pi` vs `12.57`) by
    the number rules; None where only sympy can tell (a float next to an exact rational
    or within 1e-9 of the other without being within 1e-12)."""
    sides = []
    for text in (gold, pred):
        num = parse_value(text)
        if num is None:
            value = constant_value(text)
            if value is None:
                return None
            num = Num(float(value), exact=value, is_int=value.denominator == 1) \
                if isinstance(value, Fraction) else Num(value)
        if num.percent or num.unit:
            return None
        sides.append(num)
    g, p = sides
    if g.exact is not None and p.exact is not None:
        return numbers_match(g, p), "exact values"
    if (g.exact is None and p.dec is not None) or (p.exact is None and g.dec is not None):
        return numbers_match(g, p), "a decimal against a root or π, by its rounding"
    rel = abs(g.value - p.value) / max(abs(g.value), abs(p.value), 1e-300)
    if rel > 1e-9:
        return False, f"values differ ({g.value:.12g} vs {p.value:.12g})"
    if g.exact is None and p.exact is None and rel <= 1e-12 and len(gold) <= 60 \
            and len(pred) <= 60:
        return True, "equal values of short constant expressions"
    return None


_SET_LITERAL = re.compile(r"^\\\{(.*)\\\}$", re.DOTALL)
_TUPLE_LITERAL = re.compile(r"^\((.*)\)$", re.DOTALL)


def _collections(g: str, p: str) -> tuple[bool, str] | None:
    """Sets and bare lists of numbers in any order, tuples in order; None for anything else
    (nested structures, symbols, mixed kinds)."""
    gk, gitems = _collection(g)
    pk, pitems = _collection(p)
    if gk is None or gk != pk:
        return None
    gnums = [parse_value(x) for x in gitems]
    pnums = [parse_value(x) for x in pitems]
    if any(n is None or n.percent or n.unit for n in gnums + pnums):
        return None
    if gk == "tuple":
        if len(gnums) != len(pnums):
            return False, "tuples of different lengths"
        ok = all(numbers_match(a, b) for a, b in zip(gnums, pnums))
        return ok, "same entries in order" if ok else "an entry differs"
    unmatched = list(pnums)
    for a in gnums:
        hit = next((b for b in unmatched if numbers_match(a, b)), None)
        if hit is None:
            return False, "an element is missing"
        unmatched.remove(hit)
    if unmatched and not all(any(numbers_match(a, b) for a in gnums) for b in unmatched):
        return False, "an extra element"
    return True, "same elements"


def _collection(s: str) -> tuple[str | None, list[str]]:
    m = _SET_LITERAL.match(s)
    if m:
        kind, body = "set", m.group(1)
    else:
        m = _TUPLE_LITERAL.match(s)
        kind, body = ("tuple", m.group(1)) if m else ("set", s)
    if any(c in body for c in "()[]{}=<>\\;"):
        return None, []
    items = [x.strip() for x in body.split(",")]
    if len(items) < 2 or any(not x for x in items):
        return None, []
    return kind, items
