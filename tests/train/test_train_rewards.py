"""GSPO's rewards come from omr_data.verify: right beats wrong, R = 0.9·acc + 0.1·fmt."""

import gspo
import pytest
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


def strict_rewards(**flags):
    args = parse_args(gspo.GSPOArgs, ["--no-overlong-penalty", "--verify-workers", "1",
                                      "--max-completion-length", "8"])
    return gspo.reward_functions(args, eos_token_ids=[99], **flags)


def test_a_truncated_completion_earns_nothing_even_with_the_right_number():
    accuracy, fmt = strict_rewards()
    texts = ["<think>2+2</think><answer>4</answer>", "<think>2+2</think><answer>4"]
    ids = [[1, 2, 3, 99], [1, 2, 3, 4, 5, 6, 7, 8]]          # finished at EOS / cut at the limit
    assert accuracy(texts, answer=["4", "4"], completion_ids=ids) == [1.0, 0.0]
    assert fmt(texts, completion_ids=ids) == [1.0, 0.0]
    # the lenient scorer would have given the cut one credit: "<answer>4" runs to the end
    from omr_data.verify import compute_score
    assert compute_score(texts[1], "4")["acc"] == 1.0


def test_an_untagged_answer_earns_no_accuracy_and_refusals_are_logged():
    accuracy, _ = strict_rewards()
    logged = {}
    texts = ["so the answer is 4", "<think>x</think>\\boxed{4}", "<answer>4</answer>"]
    scores = accuracy(texts, answer=["4"] * 3, completion_ids=[[1, 99]] * 3,
                      log_metric=logged.__setitem__)
    assert scores == [0.0, 1.0, 1.0]
    assert logged == {"strict/truncated_frac": 0.0, "strict/untagged_frac": 1 / 3}


def test_truncation_without_eos_ids_is_read_from_the_length():
    from rl_rewards import is_truncated

    assert is_truncated([1] * 8, eos_token_ids=None, max_completion_length=8)
    assert not is_truncated([1] * 7, eos_token_ids=None, max_completion_length=8)
    assert not is_truncated([5, 6, 99], eos_token_ids=[99], max_completion_length=3)


def test_the_scorer_is_told_which_completions_were_cut(monkeypatch):
    """The strict verifier takes finish_reason per item: truncated ones go as "length"."""
    from omr_data import verify

    real, seen = verify.score_batch, []

    def spy(items, *, strict=True, **kwargs):
        items = list(items)
        seen.append(([item.get("finish_reason") for item in items], strict))
        return real(items, strict=strict, **kwargs)

    monkeypatch.setattr(verify, "score_batch", spy)
    accuracy, _ = strict_rewards()
    assert accuracy(["<answer>4", "<answer>4</answer>"], answer=["4", "4"],
                    completion_ids=[[1] * 8, [1, 99]]) == [0.0, 1.0]
    assert seen == [(["length", "stop"], True)]


def test_an_older_scorer_never_sees_cut_or_untagged_completions(monkeypatch):
    from omr_data import verify

    seen = []

    def old_score_batch(items, *, workers=2, judge=None):   # no strict, no finish_reason
        items = list(items)
        seen.extend(item["response"] for item in items)
        return [{"acc": 1.0} for _ in items]

    monkeypatch.setattr(verify, "score_batch", old_score_batch)
    accuracy, _ = strict_rewards()
    texts = ["<answer>4", "the answer is 4", "<answer>4</answer>"]
    assert accuracy(texts, answer=["4"] * 3, completion_ids=[[1] * 8, [1, 99], [1, 99]]) == \
        [0.0, 0.0, 1.0]
    assert seen == ["<answer>4</answer>"]


def test_the_judge_flag_builds_a_judge_from_the_public_api(tmp_path, monkeypatch):
    from omr_data.verify.judge import Judge

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))       # the judge's reply cache

    args = parse_args(gspo.GSPOArgs, ["--judge", "qwen3-235b-judge", "--judge-base-url",
                                      "http://127.0.0.1:9/v1", "--judge-model", "judge"])
    from rl_rewards import make_judge

    judge = make_judge(args.judge, base_url=args.judge_base_url, model=args.judge_model)
    assert isinstance(judge, Judge) and judge.model == "judge"
    assert gspo.reward_functions(args, judge=judge)[0].judge is judge
    assert make_judge(None) is None
