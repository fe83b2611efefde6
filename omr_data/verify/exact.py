r"""Exact values of arithmetic answers: `2^{64}-1`, `10!`, `\binom{10}{3}`, `\frac{3}{4}+1`.

Integers and rationals must compare exactly (`2^{64}-1` is not 18446744073709551616, and
1048577 is not `2^{20}`), but sympy's numbers reach the scorer as floats, where both pairs
look equal. This is a small recursive-descent evaluator over `fractions.Fraction` for the
arithmetic that answers are written in: integers and decimals, `+ - * / \times \cdot \div`,
`^` with an integer exponent, `!`, `\frac`, `\binom` / `C(n,k)` / `{n \choose k}`,
parentheses and braces. Anything else (a symbol, a root of a non-square, π) gives None
and the answer goes on to math-verify.

Sizes are bounded (exponents, factorials, digits), so a hostile answer costs microseconds.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

MAX_EXPONENT = 4096
MAX_FACTORIAL = 1000
MAX_BITS = 20_000
MAX_LEN = 300

_TOKEN = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+|\\[a-zA-Z]+|[-+*/^!(){}\[\],]|[A-Za-z])")
_ALIASES = {"\\times": "*", "\\cdot": "*", "\\div": "/", "\\ast": "*", "\\left": "",
            "\\right": "", "\\dfrac": "\\frac", "\\tfrac": "\\frac", "\\cfrac": "\\frac",
            "\\dbinom": "\\binom", "\\tbinom": "\\binom"}


class _Unsupported(Exception):
    pass


class _Irrational(_Unsupported):
    """A root or π in exact mode: the value exists but is not rational."""


MAX_MAGNITUDE = 1e12      # float mode: larger intermediates make 1e-12 comparisons meaningless
MIN_MAGNITUDE = 1e-6      # … and so do tiny ones


def exact_value(text: str) -> Fraction | None:
    """The exact rational value of an arithmetic answer, or None when it is not one."""
    result = evaluate(text)
    return result if isinstance(result, Fraction) else None


def evaluate(text: str, env: dict[str, Fraction] | None = None, *, floats: bool = False,
             with_degree: bool = False):
    """The value of `text` with the variables in `env`: a Fraction whenever the arithmetic
    is rational, a float (only with `floats=True`) when a root or π makes it irrational;
    None when it cannot be evaluated here. `with_degree` returns (value, degree bound in
    the variables) instead."""
    if not text or len(text) > MAX_LEN:
        return None
    s = text.strip().replace("−", "-").replace("×", "*").replace("·", "*").replace("÷", "/")
    s = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", s)       # thousands separators
    tokens = _tokenize(s)
    if not tokens:
        return None
    parser = _Parser(tokens, env or {}, floats)
    try:
        value, degree = parser.expression()
        if parser.pos != len(tokens):
            return None
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return (value, degree) if with_degree else value
    except (_Unsupported, ZeroDivisionError, OverflowError, ValueError, IndexError, TypeError):
        return None


def is_arithmetic(text: str) -> bool:
    """True when `text` has an operator beyond a plain number (worth evaluating)."""
    return bool(re.search(r"[-+*/^!]|\\(?:frac|dfrac|tfrac|binom|dbinom|times|cdot|div|choose)"
                          r"|\bC\s*\(", text.strip().lstrip("-+")))


def _tokenize(s: str) -> list[str] | None:
    tokens, pos = [], 0
    while pos < len(s):
        if s[pos:].strip() == "":
            break
        m = _TOKEN.match(s, pos)
        if not m:
            return None
        tok = m.group(1)
        tok = _ALIASES.get(tok, tok)
        if tok:
            tokens.append(tok)
        pos = m.end()
    return tokens


class _Parser:
    """expression := term (('+'|'-') term)*; term := unary (('*'|'/'|implicit) unary)*;
    unary := ('-'|'+') unary | power; power := postfix ('^' unary)?; postfix := atom '!'*

    Every method returns (value, degree): the degree bounds the polynomial degree in the
    variables (a quotient counts both parts), which says how many points prove an identity.
    """

    def __init__(self, tokens: list[str], env: dict[str, Fraction], floats: bool):
        self.tokens, self.pos, self.env, self.floats = tokens, 0, env, floats

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise _Unsupported(f"expected {expected!r}, got {tok!r}")
        self.pos += 1
        return tok

    def expression(self):
        value, degree = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            rhs, rdeg = self.term()
            value = value + rhs if op == "+" else value - rhs
            degree = max(degree, rdeg)
            self._check(value)
        return value, degree

    def term(self):
        value, degree = self.unary()
        while True:
            tok = self.peek()
            if tok in ("*", "/"):
                self.take()
                rhs, rdeg = self.unary()
                value = value * rhs if tok == "*" else value / rhs
            elif tok is not None and self._implicit_product(tok):
                rhs, rdeg = self.unary()
                value = value * rhs
            else:
                return value, degree
            degree += rdeg
            self._check(value)

    def _implicit_product(self, tok: str) -> bool:
        """`2(3+1)`, `3!7!`, `2x`, `x y`, `2\\sqrt{3}`, `4\\pi`; never `3\\frac12` (a mixed
        number) or `2 3`."""
        prev = self.tokens[self.pos - 1]
        if tok == "(":
            return True
        if tok[0].isdigit():
            return prev in ("!", ")")
        return tok in self.env or tok in ("\\sqrt", "\\pi")

    def unary(self):
        tok = self.peek()
        if tok == "-":
            self.take()
            value, degree = self.unary()
            return -value, degree
        if tok == "+":
            self.take()
            return self.unary()
        return self.power()

    def power(self):
        base, degree = self.postfix()
        if self.peek() != "^":
            return base, degree
        self.take()
        exponent, edeg = self.unary() if self.peek() != "{" else self.group()
        if edeg or not isinstance(exponent, Fraction):
            raise _Unsupported("exponent")
        if exponent.denominator != 1:
            return self._root(base, degree, exponent)
        if abs(exponent.numerator) > MAX_EXPONENT:
            raise _Unsupported("exponent")
        if base == 0 and exponent < 0:
            raise ZeroDivisionError
        if isinstance(base, Fraction):
            bits = abs(base.numerator).bit_length() + base.denominator.bit_length()
            if bits * abs(exponent.numerator) > MAX_BITS:
                raise _Unsupported("too large")
        value = base ** int(exponent)
        self._check(value)
        return value, degree * abs(exponent.numerator)

    def _root(self, base, degree: int, exponent: Fraction):
        if degree:
            raise _Unsupported("root of a variable")
        root = _exact_root(base, exponent.denominator) if isinstance(base, Fraction) else None
        if root is not None:
            return root ** exponent.numerator, 0
        if not self.floats:
            raise _Irrational("root")
        if base < 0:
            raise _Unsupported("root of a negative")
        return float(base) ** float(exponent), 0

    def postfix(self):
        value, degree = self.atom()
        while self.peek() == "!":
            self.take()
            if degree or not isinstance(value, Fraction) or value.denominator != 1 or \
                    not 0 <= value.numerator <= MAX_FACTORIAL:
                raise _Unsupported("factorial")
            value = Fraction(math.factorial(value.numerator))
        return value, degree

    def group(self):
        self.take("{")
        value, degree = self.expression()
        if self.peek() == "\\choose":
            self.take()
            k, kdeg = self.expression()
            self.take("}")
            if degree or kdeg:
                raise _Unsupported("binomial")
            return _binomial(value, k), 0
        self.take("}")
        return value, degree

    def atom(self):
        tok = self.peek()
        if tok is None:
            raise _Unsupported("end of input")
        if tok[0].isdigit() or tok[0] == ".":
            self.take()
            return Fraction(tok), 0
        if tok in ("(", "["):
            self.take()
            value = self.expression()
            self.take(")" if tok == "(" else "]")
            return value
        if tok == "{":
            return self.group()
        if tok == "\\frac":
            self.take()
            (num, nd), (den, dd) = self._argument(), self._argument()
            return num / den, nd + dd
        if tok == "\\binom":
            self.take()
            (n, nd), (k, kd) = self._argument(), self._argument()
            if nd or kd:
                raise _Unsupported("binomial")
            return _binomial(n, k), 0
        if tok == "\\sqrt":
            self.take()
            index = Fraction(2)
            if self.peek() == "[":
                self.take()
                index, idg = self.expression()
                self.take("]")
                if idg or not isinstance(index, Fraction) or index.denominator != 1 or index < 2:
                    raise _Unsupported("root index")
            value, degree = self._argument()
            return self._root(value, degree, 1 / index)
        if tok == "\\pi":
            self.take()
            if not self.floats:
                raise _Irrational("pi")
            return math.pi, 0
        if tok == "C" and self.pos + 1 < len(self.tokens) and self.tokens[self.pos + 1] == "(" \
                and "C" not in self.env:
            self.take()
            self.take("(")
            n, nd = self.expression()
            self.take(",")
            k, kd = self.expression()
            self.take(")")
            if nd or kd:
                raise _Unsupported("binomial")
            return _binomial(n, k), 0
        if tok in self.env:
            self.take()
            return self.env[tok], 1
        raise _Unsupported(tok)

    def _argument(self):
        """A `\\frac` / `\\sqrt` argument: a braced group or a single digit (`\\frac12`)."""
        tok = self.peek()
        if tok == "{":
            return self.group()
        if tok is not None and tok.isdigit():
            self.take()
            if len(tok) > 1:                      # `\frac12` is 1/2: split the digits
                self.tokens.insert(self.pos, tok[1:])
                return Fraction(int(tok[0])), 0
            return Fraction(int(tok)), 0
        if tok is not None and tok in self.env:
            self.take()
            return self.env[tok], 1
        raise _Unsupported("argument")

    def _check(self, value) -> None:
        if isinstance(value, Fraction):
            _check(value)
        elif not math.isfinite(value) or abs(value) > MAX_MAGNITUDE or \
                (value != 0 and abs(value) < MIN_MAGNITUDE):
            # huge or tiny irrational intermediates would let a near-coincidence pass a
            # 1e-12 comparison (`\\sqrt{2} + (\\sqrt{2}-1)^{40}`): sympy decides those
            raise _Unsupported("float out of range")


def _exact_root(value: Fraction, n: int) -> Fraction | None:
    """The rational n-th root of `value` when it has one (`\\sqrt{16}` = 4), else None."""
    if value < 0:
        if n % 2 == 0:
            return None
        root = _exact_root(-value, n)
        return -root if root is not None else None
    num, den = _int_root(value.numerator, n), _int_root(value.denominator, n)
    return Fraction(num, den) if num is not None and den is not None else None


def _int_root(k: int, n: int) -> int | None:
    if k.bit_length() > 1000:
        return None
    r = round(k ** (1.0 / n))
    for cand in (r - 1, r, r + 1):
        if cand >= 0 and cand ** n == k:
            return cand
    return None


def _binomial(n: Fraction, k: Fraction) -> Fraction:
    if n.denominator != 1 or k.denominator != 1 or not 0 <= n.numerator <= 100_000:
        raise _Unsupported("binomial")
    return Fraction(math.comb(n.numerator, k.numerator)) if k >= 0 else Fraction(0)


def _check(value: Fraction) -> None:
    if value.numerator.bit_length() + value.denominator.bit_length() > MAX_BITS:
        raise _Unsupported("too large")
