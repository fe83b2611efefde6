"""compute_score: every answer form of issue 5, the near-misses and the known traps."""

import pytest
from verify_helpers import tagged

from omr_data.verify import compute_score

OPTS = ["12 cm", "15 cm", "18 cm", "21 cm"]


# -- multiple choice ---------------------------------------------------------------------

@pytest.mark.parametrize("pred", ["B", "(B)", "B.", "B)", "[B]", "Option B", "The answer is B",
                                  "B. 15 cm", "(B) 15 cm", "15 cm", "15", "b", "**B**",
                                  "\\text{B}", "\\boxed{B}", "B is correct", "Answer: (B)"])
def test_choice_letter_in_common_forms_is_right(score, pred):
    assert score(tagged(pred), "B", "choice", OPTS)["acc"] == 1.0


@pytest.mark.parametrize("pred", ["C", "(C) 18 cm", "18 cm", "AB", "A, B"])
def test_choice_other_option_or_extra_letter_is_wrong(score, pred):
    assert score(tagged(pred), "B", "choice", OPTS)["acc"] == 0.0


def test_choice_word_starting_with_the_letter_is_not_a_letter(score):
    assert score(tagged("Because the side is longer"), "B", "choice", ["x", "y", "z"])["acc"] == 0
    assert score(tagged("Circle"), "C", "choice", ["x", "y", "z"])["acc"] == 0


def test_choice_letter_outside_the_options_is_not_read(score):
    result = score(tagged("E"), "B", "choice", ["1", "2", "3"])
    assert result["acc"] == 0.0 and result["decided_by"] == "rule:choice"


def test_choice_option_text_inside_a_sentence_is_matched(score):
    opts = ["increase", "decrease", "remain the same"]
    assert score(tagged("It will remain the same"), "C", "choice", opts)["acc"] == 1.0
    assert score(tagged("It will not remain the same"), "C", "choice", opts)["acc"] == 0.0


def test_choice_value_of_a_latex_option_is_matched(score):
    opts = ["$\\sqrt{2}$", "$\\sqrt{3}$", "$2$"]
    assert score(tagged("1.732"), "B", "choice", opts)["acc"] == 1.0
    assert score(tagged("1.414"), "B", "choice", opts)["acc"] == 0.0


def test_choice_untagged_trace_uses_the_stated_answer_only_when_relaxed(score):
    text = "Options A and C fail the test. Therefore, the answer is (B)."
    assert score(text, "B", "choice", OPTS, strict=False)["acc"] == 1.0
    strict = score(text, "B", "choice", OPTS)
    assert strict["acc"] == 0.0 and strict["decided_by"] == "no_answer"


# -- numbers ---------------------------------------------------------------------------

@pytest.mark.parametrize("gold,pred", [
    ("12", "12 cm"), ("12", "\\$12"), ("12", "$12.00"), ("1000", "1,000"), ("1000", "1{,}000"),
    ("-5", "−5"), ("0.5", "\\dfrac{1}{2}"), ("30", "30%"), ("0.25", "25%"),
    ("\\frac{2}{3}", "0.6667"), ("3.14", "3.1416"), ("1.6\\times10^{-19}", "1.6e-19"),
    ("1.6\\times10^{-19}", "1.6×10⁻¹⁹"), ("7", "seven"), ("45", "45^\\circ"), ("3", "x = 3"),
])
def test_number_equivalent_forms_are_right(score, gold, pred):
    assert score(tagged(pred), gold, "number")["acc"] == 1.0


@pytest.mark.parametrize("gold,pred", [
    ("0.5", "0.05"), ("3.14", "3.15"), ("1.6\\times10^{-19}", "1.6 \\times 10^{-18}"),
    ("3", "2.99"), ("12.35", "12.4"), ("30", "0.3"), ("7", "7 or 8"), ("2", "\\pm 2"),
])
def test_number_near_misses_are_wrong(score, gold, pred):
    assert score(tagged(pred), gold, "number")["acc"] == 0.0


def test_scientific_notation_is_compared_by_relative_error(score):
    # plain math-verify accepts this pair (decimal rounding); we must not
    from math_verify import parse, verify
    assert verify(parse("$1.6\\times 10^{-19}$"), parse("$1.6\\times 10^{-18}$"))
    assert score(tagged("1.6 \\times 10^{-18}"), "1.6\\times10^{-19}")["acc"] == 0.0


def test_integers_compare_exactly(score):
    assert score(tagged("1000"), "1000", "number")["acc"] == 1.0
    assert score(tagged("1001"), "1000", "number")["acc"] == 0.0


# -- LaTeX and symbolic (math-verify) ---------------------------------------------------

@pytest.mark.parametrize("gold,pred", [
    ("2\\sqrt{3}", "\\sqrt{12}"), ("\\frac{\\sqrt{3}}{2}", "0.866"), ("4\\pi", "12.57"),
    ("[1,2)", "[1, 2)"), ("[1,2)", "1 \\le x < 2"), ("\\{1,2\\}", "\\{2,1\\}"),
    ("(2,3)", "(2, 3)"), ("y=2x+1", "y = 1 + 2x"), ("y=-x+3", "f(x) = 3 - x"),
    ("x^2+2x+1", "(x+1)^2"), ("\\frac{\\pi}{3}", "60^\\circ"), ("\\frac{3}{2}", "1\\frac{1}{2}"),
])
def test_expression_equivalent_forms_are_right(score, gold, pred):
    assert score(tagged(pred), gold, "expression")["acc"] == 1.0


@pytest.mark.parametrize("gold,pred", [
    ("2\\sqrt{3}", "3\\sqrt{2}"), ("[1,2)", "[1,2]"), ("(2,3)", "(3,2)"), ("x=3", "x=-3"),
    ("y=2x+1", "y=2x-1"), ("\\{1,2\\}", "\\{1,2,3\\}"), ("x>2", "x \\ge 2"),
])
def test_expression_near_misses_are_wrong(score, gold, pred):
    assert score(tagged(pred), gold, "expression")["acc"] == 0.0


def test_equation_rhs_trap_is_avoided(score):
    # plain math-verify reads "n=1,2,3" as 1.2 and accepts n=1,2,4
    from math_verify import parse, verify
    assert verify(parse("n=1,2,3"), parse("n=1,2,4"))
    assert score(tagged("n=2,3,4"), "n=1,2,3", "expression")["acc"] == 0.0
    assert score(tagged("n=1,2,4"), "n=1,2,3", "expression")["acc"] == 0.0
    assert score(tagged("n = 1, 2, 3"), "n=1,2,3", "expression")["acc"] == 1.0


def test_plus_minus_is_not_the_positive_root(score):
    from math_verify import parse, verify
    assert verify(parse("2"), parse("\\pm 2"))
    assert score(tagged("\\pm 2"), "2")["acc"] == 0.0
    assert score(tagged("x=\\pm 2"), "x=2")["acc"] == 0.0


def test_markdown_bold_number_is_read_as_the_number(score):
    assert score(tagged("**73**"), "73")["acc"] == 1.0
    assert score("The final answer is **73**.", "37")["acc"] == 0.0


# -- yes/no and text --------------------------------------------------------------------

@pytest.mark.parametrize("pred,acc", [("yes", 1.0), ("Yes, they are equal.", 1.0), ("True", 1.0),
                                      ("No", 0.0), ("no.", 0.0)])
def test_yes_no(score, pred, acc):
    assert score(tagged(pred), "Yes", "yes_no")["acc"] == acc


def test_text_is_case_and_punctuation_insensitive(score):
    assert score(tagged("the Mitochondria."), "mitochondria", "text")["acc"] == 1.0
    assert score(tagged("PARISIAN"), "Parisian", "text")["acc"] == 1.0


def test_different_text_without_judge_is_wrong_and_says_so(score):
    result = score(tagged("nucleus"), "mitochondria", "text")
    assert result["acc"] == 0.0 and result["decided_by"] == "rule:text"
    assert "no judge" in result["detail"]


# -- the result -------------------------------------------------------------------------

def test_score_is_weighted_sum_of_acc_and_format(score):
    assert score(tagged("4"), "4")["score"] == pytest.approx(1.0)
    assert score("<answer>4</answer>", "4")["score"] == pytest.approx(0.9 + 0.1 * 0.5)
    assert score(tagged("5"), "4")["score"] == pytest.approx(0.1)
    assert score(tagged("4"), "4", format_weight=0.5)["score"] == pytest.approx(1.0)
    assert score("<answer>4</answer>", "4", format_weight=0.5)["score"] == pytest.approx(0.75)


def test_every_verdict_records_what_decided_it(score):
    assert score(tagged("B"), "B", "choice", OPTS)["decided_by"] == "rule:exact"
    assert score(tagged("(B)"), "B", "choice", OPTS)["decided_by"] == "rule:choice"
    assert score(tagged("1,000"), "1000")["decided_by"] == "rule:number"
    assert score(tagged("\\sqrt{12}"), "2\\sqrt{3}")["decided_by"] == "rule:algebra"
    # sympy's first logarithm in a fresh worker can take seconds on a busy machine
    assert compute_score(tagged("\\log_2 16"), "4", timeout_s=60)["decided_by"] == "math_verify"
    assert score("The answer is unknown.", "4", "number", strict=False)["decided_by"] == \
        "rule:number"
    assert score("The answer is unknown.", "4", "number")["decided_by"] == "no_answer"
    assert score("", "4")["decided_by"] == "no_answer"


def test_missing_response_scores_zero():
    result = compute_score(None, "4")
    assert result == {"score": 0.0, "acc": 0.0, "format": 0.0, "pred": None,
                      "decided_by": "no_answer", "detail": "empty response"}


def test_answer_type_is_inferred_when_not_given(score):
    assert score(tagged("b"), "B", choices=OPTS)["acc"] == 1.0
    assert score(tagged("yes"), "Yes")["decided_by"] == "rule:yes_no"


def test_empty_gold_is_refused():
    with pytest.raises(ValueError, match="gold"):
        compute_score("<answer>1</answer>", " ")


def test_compute_score_returns_the_documented_keys():
    result = compute_score(tagged("4"), "4")
    assert {"score", "acc", "format", "pred", "decided_by"} <= set(result)


def test_letter_gold_outside_the_options_falls_back_to_text(score):
    result = score(tagged("C"), "C", "choice", ["x", "y"])
    assert result["acc"] == 1.0
    assert score(tagged("(C)"), "(C)", "choice", ["x", "y"])["acc"] == 1.0
    assert score(tagged("D"), "(C)", "choice", ["x", "y"])["acc"] == 0.0


def test_infinities_keep_their_sign(score):
    assert score(tagged("-\\infty"), "\\infty")["acc"] == 0.0
    assert score(tagged("\\infty"), "\\infty")["acc"] == 1.0
