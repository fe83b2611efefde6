"""Shared cleanup rules (docs/sources.md §0): question text, options, answers."""

import pytest

from omr_data.sources.answers import normalize_answer
from omr_data.sources.errors import RowError
from omr_data.sources.options import options_from_value, parse_options
from omr_data.sources.text import clean_question
from omr_data.verify.extract import extract_answer as extract_final
from omr_data.verify.extract import last_boxed


@pytest.mark.parametrize("raw", ["<image>What is x?", "<image3> What is x?",
                                 "<image 2>\nWhat is x?", "What is x? <IMAGE>"])
def test_image_placeholders_are_removed_with_their_whitespace(raw):
    assert clean_question(raw) == "What is x?"


def test_known_boilerplate_is_removed_but_hints_stay():
    raw = ("Hint: the answer is an integer.\nQuestion: How many?\nAnswer the question using a "
           "single word or phrase.\nOutput the thinking process in <think> </think> and final "
           "answer in <answer> </answer> tags.")
    assert clean_question(raw) == "Hint: the answer is an integer.\nQuestion: How many?"


@pytest.mark.parametrize("text", [
    "Pick one. Options: (A) x (B) y",
    "Pick one.\nA. x\nB. y",
    "Pick one.\nA: x\nB: y",
    "Pick one.\nA、x\nB、y",
    "Pick one. A. x; B. y",
    "Pick one.\n(A) x\n(B) y",
])
def test_every_seen_option_form_parses(text):
    assert parse_options(text) == ("Pick one.", ["x", "y"])


def test_lines_starting_with_because_are_not_options():
    text = "Why?\nBecause it rains.\nAlso because it snows."
    assert parse_options(text) == (text, None)


def test_option_letters_must_run_without_gap():
    assert parse_options("Pick.\nA. x\nC. y")[1] is None


def test_text_after_the_options_stays_in_the_stem():
    stem, choices = parse_options("Pick one.\nA. x\nB. y\nUse the figure.")
    assert (stem, choices) == ("Pick one.\nUse the figure.", ["x", "y"])


def test_serialized_option_list_is_read():
    assert options_from_value("['1', \"it's\"]") == ["1", "it's"]


def test_boxed_answer_is_unwrapped_brace_balanced():
    assert last_boxed("a \\boxed{1} then \\boxed{\\frac{1}{2}}") == "\\frac{1}{2}"


def test_dollar_math_and_trailing_period_are_stripped():
    assert normalize_answer("$x^2$.").value == "x^2"


def test_the_answer_is_phrase_is_stripped():
    assert normalize_answer("Thus, the answer is 12.").value == "12"


def test_option_text_answer_maps_to_letter_ignoring_case_and_spacing():
    answer = normalize_answer(" saint  paul ", ["Seattle", "Juneau", "Saint Paul"])
    assert (answer.value, answer.type) == ("C", "choice")


def test_lowercase_letter_answer_is_uppercased():
    assert normalize_answer("(c)", ["1", "2", "3"]).value == "C"


def test_answer_matching_no_option_stays_text():
    answer = normalize_answer("Paris", ["Seattle", "Juneau"])
    assert (answer.value, answer.type) == ("Paris", "text")


def test_letter_beyond_the_options_is_rejected():
    with pytest.raises(RowError, match="answer letter out of range: 'E' with 2 choices"):
        normalize_answer("E", ["x", "y"])


def test_number_with_unit_keeps_the_unit_apart():
    answer = normalize_answer("3.5 cm")
    assert (answer.value, answer.type, answer.unit, answer.display) == \
        ("3.5", "number", "cm", "3.5 cm")


def test_thousands_separator_and_percent_are_numbers():
    assert (normalize_answer("1,000").value, normalize_answer("45%").unit) == ("1000", "%")


def test_true_false_is_yes_no_lowercase():
    assert (normalize_answer("True").value, normalize_answer("True").type) == ("true", "yes_no")


def test_latex_answer_is_expression():
    assert normalize_answer("\\boxed{2\\sqrt{3}}").type == "expression"


def test_plain_words_are_text_even_with_hyphens():
    assert normalize_answer("well-known").type == "text"


def test_empty_boxed_answer_is_missing_answer():
    with pytest.raises(RowError, match="^missing answer"):
        normalize_answer("\\boxed{}")


def test_extract_final_prefers_answer_tag_then_boxed_then_last_number():
    assert extract_final("<answer>B</answer> \\boxed{3}") == "B"
    assert extract_final("x \\boxed{3} and 7") == "3"
    assert extract_final("first 2 then 1,250") == "1,250"
