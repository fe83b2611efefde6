import time

from omr_data.verify import extract_answer, format_score
from omr_data.verify.extract import format_problem


def test_answer_tag_content_wins():
    assert extract_answer("<think>so \\boxed{3}</think><answer> 5 </answer>") == "5"


def test_last_answer_tag_is_used():
    assert extract_answer("<answer>1</answer> then <answer>2</answer>") == "2"


def test_boxed_inside_answer_tag_is_unwrapped():
    assert extract_answer("<answer>\\boxed{\\frac{1}{2}}</answer>") == "\\frac{1}{2}"


def test_last_boxed_with_nested_braces():
    text = "first \\boxed{1} then \\boxed{\\frac{\\sqrt{3}}{2}} done"
    assert extract_answer(text) == "\\frac{\\sqrt{3}}{2}"


def test_unbalanced_last_box_falls_back_to_previous_box():
    assert extract_answer("\\boxed{7} and \\boxed{8") == "7"


def test_last_number_when_nothing_is_tagged():
    assert extract_answer("The sides are 3 and 4, so the area is 1,200.5 m") == "1,200.5"


def test_nothing_to_extract_gives_none():
    assert extract_answer("I cannot tell.") is None
    assert extract_answer("") is None
    assert extract_answer(None) is None


def test_unclosed_final_answer_tag_runs_to_the_end():
    assert extract_answer("<think>x</think><answer>42") == "42"


def test_extraction_of_100k_character_trace_is_fast():
    text = "<think>" + "(((" * 33_000 + "</think>" + "9 " * 500
    start = time.perf_counter()
    extract_answer(text)
    format_score(text)
    assert time.perf_counter() - start < 0.1


def test_format_well_formed_think_answer_is_one():
    assert format_score("<think>reason</think>\n<answer>B</answer>\n") == 1.0


def test_format_think_then_boxed_is_one():
    assert format_score("<think>reason</think> The answer is \\boxed{4}.") == 1.0


def test_format_answer_without_think_is_partial():
    assert format_score("<answer>B</answer>") == 0.5


def test_format_text_after_answer_is_partial():
    assert format_score("<think>r</think><answer>B</answer> trailing") == 0.5


def test_format_empty_think_is_partial():
    assert format_score("<think> </think><answer>B</answer>") == 0.5


def test_format_boxed_only_inside_think_is_partial():
    assert format_score("<think>so \\boxed{4}</think>") == 0.5


def test_format_without_tag_or_box_is_zero():
    assert format_score("The answer is 4.") == 0.0


def test_format_problem_names_the_defect():
    assert format_problem("<think>r</think><answer>B</answer>") is None
    assert format_problem("<answer>B</answer>") == "does not start with <think>"
    assert format_problem("<think>r</think><answer>B</answer> x") == "text after </answer>"
    assert format_problem("just text") == "no <answer> tag or \\boxed{} answer"
