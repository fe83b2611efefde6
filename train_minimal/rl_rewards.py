"""Strict RL rewards for gspo.py: no accuracy for truncated or untagged completions.

R = (1 - w)·acc + w·fmt (+ the overlength penalty), each a separate TRL reward function so
TRL logs each and dynamic sampling can filter on the raw accuracy. Stricter than the scorer
that filtered the data, because a policy learns to exploit leniency:

- **truncated**: a completion that ran into `max_completion_length` without an end-of-turn
  token earns neither accuracy nor format, even if a number it wrote so far matches (an
  unclosed `<answer>12` cut mid-number would otherwise count). Truncation is read from the
  token ids TRL passes (`completion_ids`): the last id is not an EOS id, or, without EOS ids,
  the length reached the limit. The scorer is told too (`finish_reason="length"`, strict
  mode) where it takes that; an older scorer never sees such completions.
- **untagged**: only an answer the completion marks, in `<answer>…</answer>` or
  `\\boxed{}`, can earn accuracy; "the last number in the text" does not.
- the rest is scored by `omr_data.verify.score_batch` (rules, math-verify in worker
  processes, and the optional LLM judge for what the rules cannot decide, as the released
  `gspo_n16.sh` enables with `USE_LLM_JUDGE`).

Each call logs the fractions it refused through TRL's `log_metric` (`strict/truncated_frac`,
`strict/untagged_frac`).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any


def is_truncated(ids: Sequence[int] | None, *, eos_token_ids: Sequence[int] | None,
                 max_completion_length: int | None) -> bool:
    """Did generation stop at the length limit rather than at an end-of-turn token?"""
    if ids is None:
        return False
    ids = list(ids)
    if eos_token_ids:
        return not ids or ids[-1] not in set(eos_token_ids)
    return max_completion_length is not None and len(ids) >= max_completion_length


def _question(prompt: Any) -> str | None:
    """The last user turn's text of a conversational prompt (what a judge is shown)."""
    from omr_data.verify.rewards import completion_text

    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list):
        users = [m for m in prompt if isinstance(m, dict) and m.get("role") == "user"]
        if users:
            return completion_text([{**users[-1], "role": "assistant"}])
    return None


def _scorer_takes_finish_reason(score_batch) -> bool:
    """Does this `score_batch` read `finish_reason` items and a `strict` flag (the strict
    verifier)? An older one is guarded here instead."""
    return "strict" in inspect.signature(score_batch).parameters


class _Strict:
    """Shared truncation test: `eos_token_ids` from the tokenizer/generation config."""

    def __init__(self, *, eos_token_ids: Sequence[int] | None = None,
                 max_completion_length: int | None = None):
        self.eos_token_ids = list(eos_token_ids or [])
        self.max_completion_length = max_completion_length

    def truncated(self, completion_ids, n: int) -> list[bool]:
        if completion_ids is None:
            return [False] * n
        return [is_truncated(ids, eos_token_ids=self.eos_token_ids,
                             max_completion_length=self.max_completion_length)
                for ids in completion_ids]


class StrictAccuracy(_Strict):
    """1.0 when a completion that finished and marked its answer is right, else 0.0."""

    def __init__(self, *, workers: int = 2, judge: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.workers, self.judge = workers, judge
        self.__name__ = "accuracy_reward"

    def __call__(self, completions: Sequence[Any], answer: Sequence[str] | None = None,
                 answer_type: Sequence[str | None] | None = None,
                 choices: Sequence[list[str] | None] | None = None,
                 completion_ids: Sequence[Sequence[int]] | None = None,
                 prompts: Sequence[Any] | None = None, question: Sequence[str] | None = None,
                 log_metric: Any = None, **kwargs: Any) -> list[float]:
        from omr_data.verify import score_batch
        from omr_data.verify.extract import tagged_or_boxed
        from omr_data.verify.rewards import completion_text

        n = len(completions)
        if answer is None:
            raise TypeError("accuracy_reward needs the gold answers: an 'answer' column")
        texts = [completion_text(c) for c in completions]
        truncated = self.truncated(completion_ids, n)
        untagged = [tagged_or_boxed(text) is None for text in texts]
        types = list(answer_type) if answer_type is not None else [None] * n
        options = list(choices) if choices is not None else [None] * n
        questions = list(question) if question is not None else (
            [_question(p) for p in prompts] if prompts is not None else [None] * n)
        strict_scorer = _scorer_takes_finish_reason(score_batch)
        # the strict verifier is told which completions were cut (finish_reason "length")
        # and decides on all of them; an older scorer sees only finished, tagged ones
        pending = [i for i in range(n) if strict_scorer or not (truncated[i] or untagged[i])]
        scores = [0.0] * n
        if pending:
            items = []
            for i in pending:
                item = {"response": texts[i], "answer": answer[i], "answer_type": types[i],
                        "choices": list(options[i]) if options[i] is not None else None,
                        "question": questions[i]}
                if strict_scorer:
                    item["finish_reason"] = "length" if truncated[i] else "stop"
                items.append(item)
            extra = {"strict": True} if strict_scorer else {}
            for i, result in zip(pending, score_batch(items, workers=self.workers,
                                                       judge=self.judge, **extra)):
                scores[i] = float(result["acc"])
        for i in range(n):          # never credit for a cut or unmarked answer, whatever scored it
            if truncated[i] or untagged[i]:
                scores[i] = 0.0
        if log_metric is not None and n:
            log_metric("strict/truncated_frac", sum(truncated) / n)
            log_metric("strict/untagged_frac",
                       sum(u and not t for u, t in zip(untagged, truncated)) / n)
        return scores


class StrictFormat(_Strict):
    """`format_score` (1 / 0.5 / 0) of a finished completion; 0 for a truncated one."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.__name__ = "format_reward"

    def __call__(self, completions: Sequence[Any],
                 completion_ids: Sequence[Sequence[int]] | None = None,
                 **kwargs: Any) -> list[float]:
        from omr_data.verify.extract import format_score
        from omr_data.verify.rewards import completion_text

        truncated = self.truncated(completion_ids, len(completions))
        return [0.0 if cut else format_score(completion_text(c))
                for c, cut in zip(completions, truncated)]


def make_judge(preset: str | None, *, base_url: str | None = None, model: str | None = None):
    """An `omr_data.verify.judge.Judge` for `--judge PRESET`, or None."""
    if not preset:
        return None
    from omr_data.verify.judge import Judge

    return Judge(preset, base_url=base_url, model=model)
