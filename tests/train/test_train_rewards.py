"""GSPO's rewards come from omr_data.verify: right beats wrong, R = 0.9·acc + 0.1·fmt."""

import pytest

import gspo
from script_args import parse_args


def weighted(args, completions, **columns):
    """Total reward per completion, as GRPOTrainer combines the functions."""
    funcs, weights = gspo.reward_functions(args), gspo.reward_weights(args)
    per_func = [f(completions=completions, **columns) for f in funcs]
    return [sum(w * r[i] for w, r in zip(weights, per_func)) for i in range(len(completions))]


def conversational(text):
    return [{"role": "assistant", "content": text}]


def test_a_correct_completion_is_rewarded_above_a_wrong_one():
    from omr_data.verify import compute_score

    args = parse_args(gspo.GSPOArgs, ["--no-overlong-penalty", "--verify-workers", "1"])
    texts = ["<think>3+4=7</think><answer>7</answer>", "<think>3+4=8</think><answer>8</answer>",
             "<think>pick</think><answer>B</answer>", "<think>pick</think><answer>A</answer>"]
    rewards = weighted(args, [conversational(t) for t in texts],
                       answer=["7", "7", "B", "B"],
                       answer_type=["number", "number", "choice", "choice"],
                       choices=[None, None, ["1", "2"], ["1", "2"]])
    assert rewards[0] > rewards[1] and rewards[2] > rewards[3]
    expected = [compute_score(t, a, answer_type=k, choices=c)["score"] for t, a, k, c in
                zip(texts, ["7", "7", "B", "B"], ["number", "number", "choice", "choice"],
                    [None, None, ["1", "2"], ["1", "2"]])]
    assert rewards == pytest.approx(expected)
    assert rewards[0] == pytest.approx(1.0) and rewards[1] == pytest.approx(0.1)


def test_format_weight_shapes_the_reward():
    args = parse_args(gspo.GSPOArgs, ["--no-overlong-penalty", "--format-weight", "0.5",
                                      "--verify-workers", "1"])
    # a bare boxed answer: right (acc 1) but no think/answer structure (format 0.5)
    rewards = weighted(args, ["<think>x</think><answer>5</answer>", "\\boxed{5}"],
                       answer=["5", "5"])
    assert rewards[0] == pytest.approx(1.0) and rewards[1] == pytest.approx(0.75)


def test_overlong_penalty_ramps_over_the_buffer_before_the_limit():
    args = parse_args(gspo.GSPOArgs, ["--max-completion-length", "100", "--overlong-buffer",
                                      "20", "--verify-workers", "1"])
    completion = "<think>x</think><answer>5</answer>"
    ids = [[0] * 80, [0] * 90, [0] * 100]
    funcs, weights = gspo.reward_functions(args), gspo.reward_weights(args)
    penalty = funcs[-1]([completion] * 3, completion_ids=ids)
    assert penalty == pytest.approx([0.0, -0.5, -1.0]) and weights[-1] == 1.0
    assert len(gspo.reward_functions(parse_args(gspo.GSPOArgs, ["--no-overlong-penalty"]))) == 2
