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


def exact_value(text: str) -> Fraction | None:
    """The exact rational value of an arithmetic answer, or None when it is not one."""
    if not text or len(text) > MAX_LEN:
        return None
    s = text.strip().replace("−", "-").replace("×", "*").replace("·", "*").replace("÷", "/")
    s = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", s)       # thousands separators
    tokens = _tokenize(s)
    if tokens is None or not tokens:
        return None
    parser = _Parser(tokens)
    try:
        value = parser.expression()
        if parser.pos != len(tokens):
            return None
        return value
    except (_Unsupported, ZeroDivisionError, OverflowError, ValueError, IndexError):
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
    unary := ('-'|'+') unary | power; power := postfix ('^' unary)?; postfix := atom '!'*"""

    def __init__(self, tokens: list[str]):
        self.tokens, self.pos = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise _Unsupported(f"expected {expected!r}, got {tok!r}")
        self.pos += 1
        return tok

    def expression(self) -> Fraction:
        value = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            rhs = self.term()
            value = value + rhs if op == "+" else value - rhs
            _check(value)
        return value

    def term(self) -> Fraction:
        value = self.unary()
        while True:
            tok = self.peek()
            if tok in ("*", "/"):
                self.take()
                rhs = self.unary()
                value = value * rhs if tok == "*" else value / rhs
            elif tok == "(" or (tok is not None and tok[0].isdigit()
                                and self.tokens[self.pos - 1] in ("!", ")")):
                # implicit products `2(3+1)`, `3!7!`; not `3\frac12` (a mixed number)
                value = value * self.unary()
            else:
                return value
            _check(value)

    def unary(self) -> Fraction:
        tok = self.peek()
        if tok == "-":
            self.take()
            return -self.unary()
        if tok == "+":
            self.take()
            return self.unary()
        return self.power()

    def power(self) -> Fraction:
        base = self.postfix()
        if self.peek() == "^":
            self.take()
            exponent = self.unary() if self.peek() != "{" else self.group()
            if exponent.denominator != 1 or abs(exponent.numerator) > MAX_EXPONENT:
                raise _Unsupported("exponent")
            if base == 0 and exponent < 0:
                raise ZeroDivisionError
            bits = abs(base.numerator).bit_length() + base.denominator.bit_length()
            if bits * abs(exponent.numerator) > MAX_BITS:
                raise _Unsupported("too large")
            return base ** int(exponent)
        return base

    def postfix(self) -> Fraction:
        value = self.atom()
        while self.peek() == "!":
            self.take()
            if value.denominator != 1 or not 0 <= value.numerator <= MAX_FACTORIAL:
                raise _Unsupported("factorial")
            value = Fraction(math.factorial(value.numerator))
        return value

    def group(self) -> Fraction:
        self.take("{")
        value = self.expression()
        if self.peek() == "\\choose":
            self.take()
            k = self.expression()
            self.take("}")
            return _binomial(value, k)
        self.take("}")
        return value

    def atom(self) -> Fraction:
        tok = self.peek()
        if tok is None:
            raise _Unsupported("end of input")
        if tok[0].isdigit() or tok[0] == ".":
            self.take()
            return Fraction(tok)
        if tok == "(" or tok == "[":
            self.take()
            value = self.expression()
            self.take(")" if tok == "(" else "]")
            return value
        if tok == "{":
            return self.group()
        if tok == "\\frac":
            self.take()
            num, den = self._argument(), self._argument()
            return num / den
        if tok == "\\binom":
            self.take()
            n, k = self._argument(), self._argument()
            return _binomial(n, k)
        if tok == "C" and self.pos + 1 < len(self.tokens) and self.tokens[self.pos + 1] == "(":
            self.take()
            self.take("(")
            n = self.expression()
            self.take(",")
            k = self.expression()
            self.take(")")
            return _binomial(n, k)
        raise _Unsupported(tok)

    def _argument(self) -> Fraction:
        """A `\\frac` argument: a braced group or a single digit (`\\frac12`)."""
        tok = self.peek()
        if tok == "{":
            return self.group()
        if tok is not None and tok.isdigit():
            self.take()
            if len(tok) > 1:                      # `\frac12` is 1/2: split the digits
                self.tokens.insert(self.pos, tok[1:])
                return Fraction(int(tok[0]))
            return Fraction(int(tok))
        raise _Unsupported("frac argument")


def _binomial(n: Fraction, k: Fraction) -> Fraction:
    if n.denominator != 1 or k.denominator != 1 or not 0 <= n.numerator <= 100_000:
        raise _Unsupported("binomial")
    return Fraction(math.comb(n.numerator, k.numerator)) if k >= 0 else Fraction(0)


def _check(value: Fraction) -> None:
    if value.numerator.bit_length() + value.denominator.bit_length() > MAX_BITS:
        raise _Unsupported("too large")
