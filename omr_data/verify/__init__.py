"""Verification: answer extraction, rule checks, math-verify, the LLM judge, rewards.

The same code decides which distilled traces survive (the `verify` stage) and what reward
a rollout gets (`rewards.py`, used by `train_minimal/gspo.py`), so data and trainer agree
on what "correct" means.

    >>> from omr_data.verify import compute_score
    >>> compute_score("<think>2+2</think><answer>4</answer>", "4")["score"]
    1.0
"""

from omr_data.verify.extract import extract_answer, format_score
from omr_data.verify.score import compute_score, rule_verdicts, score_batch

__all__ = ["compute_score", "extract_answer", "format_score", "rule_verdicts", "score_batch"]
