"""TRL-shaped reward functions: `f(completions, **columns) -> list[float]`.

`train_minimal/gspo.py` uses these, and they call the same `score_batch` as the verify
stage, so the trainer and the data agree on "correct". Dataset columns arrive as keyword
arguments (TRL passes every column): `answer`, `answer_type`, `choices`, `question`.
Completions may be strings or conversations (``[{"role": "assistant", "content": …}]``,
content a string or a list of ``{"type": "text", "text": …}`` parts).

    GRPOTrainer(..., reward_funcs=[composite_reward, OverlongPenalty(4096, 512)])

The reward classes are callables (not closures) so they pickle, as TRL's async rollout
workers need.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omr_data.verify.extract import format_score
from omr_data.verify.score import DEFAULT_FORMAT_WEIGHT, DEFAULT_TIMEOUT_S, score_batch


def completion_text(completion: Any) -> str:
    """The assistant text of one completion (string or conversational form)."""
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return _content_text(completion.get("content"))
    if isinstance(completion, (list, tuple)):
        turns = [m for m in completion if isinstance(m, dict)]
        assistant = [m for m in turns if m.get("role", "assistant") == "assistant"]
        return "".join(_content_text(m.get("content")) for m in (assistant or turns))
    raise TypeError(f"a completion must be a string or a list of messages, "
                    f"got {type(completion).__name__}")


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content
                       if isinstance(p, dict) and p.get("type", "text") == "text")
    return str(content)


def _column(values: Any, n: int, name: str) -> list:
    if values is None:
        return [None] * n
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a list with one entry per completion")
    values = list(values)
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} entries for {n} completions")
    return values


class RewardScorer:
    """Scores a batch of completions once and returns one field of the results.

    `field`: "acc", "format" or "score"; `workers` math-verify processes; `judge` an
    optional `Judge` for answers the rules cannot decide; `strict` as in `compute_score`.
    A `finish_reason` column (one per completion), where given, zeroes truncated ones.
    """

    def __init__(self, field: str = "score", *, format_weight: float = DEFAULT_FORMAT_WEIGHT,
                 workers: int = 2, timeout_s: float = DEFAULT_TIMEOUT_S, judge: Any = None,
                 name: str | None = None, strict: bool = True):
        if field not in ("acc", "format", "score"):
            raise ValueError(f"field must be acc, format or score, got {field!r}")
        self.field, self.format_weight = field, format_weight
        self.workers, self.timeout_s, self.judge = workers, timeout_s, judge
        self.strict = strict        # RL: only a tag or a box outside <think> earns credit
        self.__name__ = name or f"{field}_reward"

    def __call__(self, completions: Sequence[Any], answer: Sequence[str] | None = None,
                 answer_type: Sequence[str | None] | None = None,
                 choices: Sequence[list[str] | None] | None = None,
                 question: Sequence[str] | None = None, **kwargs: Any) -> list[float]:
        n = len(completions)
        if answer is None:
            answer = kwargs.get("solution")      # TRL's own math datasets call it so
        if answer is None:
            raise TypeError(f"{self.__name__} needs the gold answers: an 'answer' column")
        answers = _column(answer, n, "answer")
        types = _column(answer_type, n, "answer_type")
        options = _column(choices, n, "choices")
        questions = _column(question, n, "question")
        items = [{"response": completion_text(c), "answer": a, "answer_type": t,
                  "choices": list(o) if o is not None else None, "question": q}
                 for c, a, t, o, q in zip(completions, answers, types, options, questions)]
        finish = kwargs.get("finish_reason")       # a column, where the caller keeps one
        if finish is not None:
            for item, reason in zip(items, _column(finish, n, "finish_reason")):
                item["finish_reason"] = reason
        results = score_batch(items, workers=self.workers, judge=self.judge,
                              format_weight=self.format_weight, timeout_s=self.timeout_s,
                              strict=self.strict)
        return [float(r[self.field]) for r in results]


accuracy_reward = RewardScorer("acc", name="accuracy_reward")
accuracy_reward.__doc__ = "1.0 when the completion's final answer equals the gold `answer`."
composite_reward = RewardScorer("score", name="composite_reward")
composite_reward.__doc__ = "0.9·acc + 0.1·format (the OpenMMReasoner reward)."


def format_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """1.0 / 0.5 / 0.0 for a well-formed / partial / missing `<think>…<answer>` structure."""
    return [format_score(completion_text(c)) for c in completions]


class OverlongPenalty:
    """Soft overlength penalty (DAPO eq. 13): 0 up to `max_completion_len - buffer_len`
    tokens, then falling linearly to `-penalty` at `max_completion_len`, `-penalty` beyond.

    Lengths come from TRL's `completion_ids` keyword (tokens); without it, from
    `completions` with `count_tokens` (default: whitespace words, a rough stand-in).
    """

    def __init__(self, max_completion_len: int, buffer_len: int, penalty: float = 1.0,
                 count_tokens: Any = None):
        if max_completion_len <= 0:
            raise ValueError(f"max_completion_len must be > 0, got {max_completion_len}")
        if not 0 <= buffer_len <= max_completion_len:
            raise ValueError(f"buffer_len must be within [0, max_completion_len], got {buffer_len}")
        if penalty < 0:
            raise ValueError(f"penalty is a magnitude and must be >= 0, got {penalty}")
        self.max_completion_len = max_completion_len
        self.buffer_len, self.penalty = buffer_len, penalty
        self.count_tokens = count_tokens
        self.__name__ = "overlong_penalty"

    def penalty_for(self, length: int) -> float:
        start = self.max_completion_len - self.buffer_len
        if length <= start:
            return 0.0
        if length > self.max_completion_len or self.buffer_len == 0:
            return -self.penalty
        return -self.penalty * (length - start) / self.buffer_len

    def __call__(self, completions: Sequence[Any] | None = None,
                 completion_ids: Sequence[Sequence[int]] | None = None,
                 **kwargs: Any) -> list[float]:
        if completion_ids is not None:
            lengths = [len(ids) for ids in completion_ids]
        elif completions is not None:
            count = self.count_tokens or (lambda text: len(text.split()))
            lengths = [count(completion_text(c)) for c in completions]
        else:
            raise TypeError("overlong_penalty needs completion_ids or completions")
        return [self.penalty_for(n) for n in lengths]
