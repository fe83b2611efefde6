"""Exact arithmetic values and unit conversion, the pieces that keep numbers honest."""

from fractions import Fraction

import pytest

from omr_data.verify.exact import exact_value
from omr_data.verify.extract import committed_answer
from omr_data.verify.units import parse_unit, units_agree


@pytest.mark.parametrize("text,value", [
    ("2^{64}-1", 2**64 - 1), ("10!", 3628800), ("\\binom{10}{3}", 120), ("C(10,3)", 120),
    ("{10 \\choose 3}", 120), ("\\frac{10!}{3!7!}", 120), ("\\frac12", Fraction(1, 2)),
    ("2^{-2}", Fraction(1, 4)), ("\\sqrt{16}", 4), ("1,000,000", 10**6), ("2(3+1)", 8),
    ("-3/4", Fraction(-3, 4)),
])
def test_arithmetic_is_evaluated_exactly(text, value):
    assert exact_value(text) == value


@pytest.mark.parametrize("text", ["x+1", "\\sqrt{5}", "[1,2]", "2^{100000}", "99999!", "3 4", ""])
def test_non_arithmetic_or_huge_gives_none_quickly(text):
    assert exact_value(text) is None


def test_units_convert_only_within_a_dimension():
    assert parse_unit("cm") == ("length", Fraction(1, 100))
    assert parse_unit("square meters") == ("length^2", 1)
    assert parse_unit("cm^3")[0] == parse_unit("mL")[0] == "volume"
    assert units_agree("m", "cm")[0] and not units_agree("m", "kg")[0]
    assert not units_agree("cm^2", "cm")[0]
    assert units_agree("apples", "apples")[0] and not units_agree("apples", "pears")[0]
    assert units_agree("", "km")[0] and units_agree("12 square units", "")[0]


@pytest.mark.parametrize("text,pred,problem", [
    ("<think>so \\boxed{5}</think><answer></answer>", None, "empty <answer> tag"),
    ("<think>so \\boxed{5}</think>", None, "no <answer> tag or \\boxed{} outside <think>"),
    ("<think>unfinished \\boxed{5}", None, "no <answer> tag or \\boxed{} outside <think>"),
    ("<think>t</think><answer>4</answer><answer>5</answer>", None,
     "several different <answer> tags"),
    ("<think>t</think><answer>$\\boxed{5}$.</answer>", "5", None),
    ("Thinking…</think>The area is $\\boxed{6}$.", "6", None),
])
def test_committed_answer_never_reads_inside_think(text, pred, problem):
    found = committed_answer(text)
    assert (found.pred, found.problem) == (pred, problem)


def test_relaxed_chain_reads_untagged_prose_but_strict_does_not():
    text = "<think>work</think>The sides are 3 and 4. The final answer is 12."
    assert committed_answer(text).pred is None
    assert committed_answer(text, strict=False).pred == "12"
    assert committed_answer("the sum is 1 + 2 = 3", strict=False).pred == "3"


@pytest.mark.parametrize("gold,pred,equal", [
    ("x^2+2x+1", "(x+1)^2", True), ("x^2+2x+1", "x^2+1", False),
    ("y=2x+1", "4x - 2y + 2 = 0", True), ("y=2x+1", "y=2x-1", False),
    ("x+y=5", "x-y=5", False), ("\\frac{x^2}{4}+\\frac{y^2}{3}=1",
                               "\\frac{x^2}{16}+\\frac{y^2}{12}=\\frac{1}{4}", True),
    ("[1,2)", "[1, 2)", True), ("[1,2)", "[1,2]", False), ("(-\\infty, 3]", "(-\\infty, 3)", False),
    ("\\{3, 7\\}", "\\{7, 3\\}", True), ("\\{1,2\\}", "\\{1,2,3\\}", False),
    ("(3,-1,2)", "(3,2,-1)", False), ("2\\sqrt{3}", "\\sqrt{12}", True),
    ("2\\sqrt{3}", "3\\sqrt{2}", False), ("4\\pi", "12.57", True), ("\\pi", "3.15", False),
    ("22619537", "(1+\\sqrt{2})^{20}", False),
])
def test_fast_path_decides_common_symbolic_answers(gold, pred, equal):
    from omr_data.verify.algebra import fast_equivalence, fast_numbers
    verdict = fast_equivalence(gold, pred) or fast_numbers(gold, pred)
    assert verdict is not None and verdict[0] is equal


@pytest.mark.parametrize("gold,pred", [
    ("\\sqrt{2}", "\\sqrt{2} + (\\sqrt{2}-1)^{40}"),      # a near-coincidence: sympy's call
    ("1", "\\sin^2 x + \\cos^2 x"), ("f(x)", "fx"), ("e^x", "e x"), ("\\{1,2\\}", "(1,2)"),
])
def test_fast_path_leaves_what_it_cannot_prove_to_sympy(gold, pred):
    from omr_data.verify.algebra import fast_equivalence, fast_numbers
    assert fast_equivalence(gold, pred) is None and fast_numbers(gold, pred) is None
