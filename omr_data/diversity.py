"""Answer diversity per question: how many different traces and answers a question got.

OpenMMReasoner's central data finding is that several *different* verified answers per
question beat one; a teacher that ignores `temperature` (e.g. `transformers serve` with
greedy decoding) returns the same trace n times and silently turns ×8 into ×1. Per
question this module counts:

- `traces`: samples (rows) of the question;
- `exact`: distinct traces, byte for byte;
- `near`: distinct traces after normalizing whitespace and numbers (a resampled trace that
  only changes a number or a line break is not a new way to solve the problem);
- `answers`: distinct final answers (the `<answer>` content, whitespace-normalized);
- `verified`: traces that passed verification, where the caller knows it.

A question is the row id without its `#k` trace suffix. `Tally` accumulates rows in any
order and keeps only small per-question sets of 8-byte digests; `summary()` gives the
distributions (how many questions have d distinct traces) that manifests, `omr-data stats`
and dataset cards show.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_SPACE = re.compile(r"\s+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)


def question_key(row_id: str) -> str:
    """The question a trace belongs to: its id without the `#k` suffix."""
    head, sep, tail = str(row_id).rpartition("#")
    return head if sep and tail.isdigit() else str(row_id)


def near_form(text: str) -> str:
    """The trace with whitespace collapsed and every number replaced by `0`."""
    return _SPACE.sub(" ", _NUMBER.sub("0", text or "")).strip().lower()


def final_answer(text: str) -> str | None:
    found = _ANSWER.findall(text or "")
    return _SPACE.sub(" ", found[-1]).strip() if found else None


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()


@dataclass
class QuestionDiversity:
    traces: int = 0
    verified: int = 0
    exact: set = field(default_factory=set)
    near: set = field(default_factory=set)
    answers: set = field(default_factory=set)
    verified_near: set = field(default_factory=set)

    def add(self, response: str, verified: bool | None = None) -> None:
        self.traces += 1
        self.exact.add(_digest(response))
        near = _digest(near_form(response))
        self.near.add(near)
        answer = final_answer(response)
        if answer is not None:
            self.answers.add(_digest(answer))
        if verified:
            self.verified += 1
            self.verified_near.add(near)

    @property
    def identical(self) -> bool:
        """Several samples, all the same text: the teacher did not sample."""
        return self.traces > 1 and len(self.exact) == 1


def measure(responses: Iterable[str]) -> QuestionDiversity:
    q = QuestionDiversity()
    for response in responses:
        q.add(response)
    return q


class Tally:
    """Diversity of every question seen; rows may come in any order."""

    def __init__(self) -> None:
        self.questions: dict[str, QuestionDiversity] = {}

    def add(self, row_id: str, response: str | None, verified: bool | None = None) -> None:
        if response is None:
            return
        key = question_key(row_id)
        q = self.questions.get(key)
        if q is None:
            q = self.questions[key] = QuestionDiversity()
        q.add(response, verified)

    def __len__(self) -> int:
        return len(self.questions)

    def summary(self, k: int | None = None, *, verified_known: bool = False) -> dict[str, Any]:
        """Distributions `{d: questions with d}` (keys as strings, for JSON) and, with `k`,
        the share of questions with fewer than k distinct verified traces (every trace is
        taken as verified unless `verified_known`)."""
        qs = list(self.questions.values())

        def dist(values: Iterable[int]) -> dict[str, int]:
            return {str(d): n for d, n in sorted(Counter(values).items())}

        verified = [len(q.verified_near) if verified_known else len(q.near) for q in qs]
        out: dict[str, Any] = {
            "questions": len(qs),
            "traces": sum(q.traces for q in qs),
            "samples_per_question": dist(q.traces for q in qs),
            "distinct_traces": dist(len(q.exact) for q in qs),
            "distinct_near": dist(len(q.near) for q in qs),
            "distinct_answers": dist(len(q.answers) for q in qs),
            "distinct_verified": dist(verified),
            "identical_questions": sum(1 for q in qs if q.identical),
            "mean_distinct_near": round(sum(len(q.near) for q in qs) / len(qs), 3) if qs else None,
        }
        if verified_known:
            out["verified"] = dist(q.verified for q in qs)
        if k is not None:
            out["k"] = k
            out["share_below_k"] = (round(sum(1 for v in verified if v < k) / len(qs), 4)
                                    if qs else None)
        return out
