import pickle

import pytest

from omr_data.verify.rewards import (
    OverlongPenalty,
    accuracy_reward,
    completion_text,
    composite_reward,
    format_reward,
)

GOOD = "<think>2+2=4</think><answer>4</answer>"


def test_completion_text_reads_strings_and_conversations():
    assert completion_text(GOOD) == GOOD
    assert completion_text([{"role": "assistant", "content": GOOD}]) == GOOD
    parts = [{"type": "text", "text": GOOD}]
    assert completion_text([{"role": "assistant", "content": parts}]) == GOOD


def test_accuracy_reward_scores_each_completion():
    completions = [GOOD, [{"role": "assistant", "content": "<answer>5</answer>"}], "no idea"]
    assert accuracy_reward(completions, answer=["4", "4", "4"]) == [1.0, 0.0, 0.0]


def test_accuracy_reward_uses_answer_type_and_choices_columns():
    completions = ["<think>t</think><answer>15 cm</answer>"] * 2
    rewards = accuracy_reward(completions, answer=["B", "A"], answer_type=["choice", "choice"],
                              choices=[["12 cm", "15 cm"], ["12 cm", "15 cm"]])
    assert rewards == [1.0, 0.0]


def test_accuracy_reward_ignores_other_trainer_columns():
    assert accuracy_reward([GOOD], answer=["4"], prompts=["p"], completion_ids=[[1, 2]],
                           trainer_state=None, id=["x"]) == [1.0]


def test_format_reward_grades_structure():
    assert format_reward([GOOD, "<answer>4</answer>", "4"]) == [1.0, 0.5, 0.0]


def test_composite_reward_is_point_nine_acc_plus_point_one_format():
    rewards = composite_reward([GOOD, "<answer>4</answer>", "<think>t</think><answer>5</answer>"],
                               answer=["4", "4", "4"])
    assert rewards == pytest.approx([1.0, 0.95, 0.1])


def test_reward_refuses_missing_or_mismatched_answers():
    with pytest.raises(TypeError, match="answer"):
        accuracy_reward([GOOD])
    with pytest.raises(ValueError, match="2 entries for 1"):
        accuracy_reward([GOOD], answer=["4", "5"])


def test_overlong_penalty_is_soft_inside_the_buffer():
    penalty = OverlongPenalty(max_completion_len=100, buffer_len=20)
    assert penalty(completion_ids=[[0] * 80, [0] * 90, [0] * 100, [0] * 101]) == \
        pytest.approx([0.0, -0.5, -1.0, -1.0])


def test_overlong_penalty_falls_back_to_text_length():
    penalty = OverlongPenalty(max_completion_len=10, buffer_len=4)
    assert penalty(completions=["w " * 5, "w " * 8]) == pytest.approx([0.0, -0.5])


def test_overlong_penalty_checks_its_settings():
    with pytest.raises(ValueError, match="buffer_len"):
        OverlongPenalty(100, 200)


def test_rewards_pickle_for_trl_rollout_workers():
    for fn in (accuracy_reward, composite_reward, OverlongPenalty(10, 2)):
        assert pickle.loads(pickle.dumps(fn)).__name__ == fn.__name__
