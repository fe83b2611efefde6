"""The filter stage: sources, difficulty (pass rate), trace length, samples per question.

Scoring is kept apart from deciding: each row's scores are stored in `meta`
(`filter.pass_rate`, `filter.tokens`), then thresholds decide, so a threshold can change
without rescoring and a reader can see why a row was dropped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from omr_data.records import load_meta, make_reject, update_meta
from omr_data.stage import Stage, StageContext, WorkUnit

TOKEN_RE = re.compile(r"\w+|[^\w\s]")
PASS_RATE_KEYS = ("verify.pass_rate", "pass_rate", "PassRate_7BBase", "avg_reward")


@dataclass
class FilterConfig:
    sources: list[str] | None = field(default=None, metadata={
        "help": "keep only rows of these sources (e.g. to publish one config per source); "
                "the others are listed in rejects/ by id, source and reason only"})
    difficulty: str | None = field(default=None, metadata={
        "help": "keep rows whose pass rate lies in LO:HI (inclusive), e.g. '0.1:0.9'; "
                "rows with no pass rate are rejected"})
    min_tokens: int | None = field(default=None, metadata={
        "help": "drop traces shorter than this many tokens"})
    max_tokens: int | None = field(default=None, metadata={
        "help": "drop traces longer than this many tokens"})
    tokenizer: str | None = field(default=None, metadata={
        "help": "Hugging Face tokenizer name or path for lengths (default: a regex word/"
                "punctuation count, no download)"})
    max_samples: int | None = field(default=None, metadata={
        "help": "keep traces with sample index k < max_samples (ids '{question}#k'); the "
                "×1/×2/×4 subsets of one ×8 run are nested by construction"})
    pass_rate_key: str | None = field(default=None, metadata={
        "help": f"meta key holding the pass rate (default: first of {', '.join(PASS_RATE_KEYS)})"})

    def __post_init__(self):
        if self.difficulty is not None:
            self.difficulty_range()
        if self.min_tokens is not None and self.max_tokens is not None \
                and self.min_tokens > self.max_tokens:
            raise ValueError(f"min_tokens {self.min_tokens} > max_tokens {self.max_tokens}")
        if self.max_samples is not None and self.max_samples < 1:
            raise ValueError("max_samples must be at least 1")

    def difficulty_range(self) -> tuple[float, float]:
        try:
            lo, hi = (float(x) for x in str(self.difficulty).split(":"))
        except ValueError:
            raise ValueError(f"difficulty {self.difficulty!r}: use LO:HI, e.g. 0.1:0.9") from None
        if not 0 <= lo <= hi <= 1:
            raise ValueError(f"difficulty {self.difficulty!r}: need 0 <= LO <= HI <= 1")
        return lo, hi


class FilterStage(Stage):
    """Difficulty and length filters; scores go to meta, thresholds decide."""

    name = "filter"
    Config = FilterConfig

    def setup(self) -> None:
        self._tokenizer = None
        if self.config.tokenizer:
            from transformers import AutoTokenizer
            self._tokenizer = AutoTokenizer.from_pretrained(self.config.tokenizer)

    def count_tokens(self, text: str) -> int:
        if getattr(self, "_tokenizer", None) is not None:
            return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])
        return len(TOKEN_RE.findall(text))

    def pass_rate(self, meta: dict) -> float | None:
        keys = (self.config.pass_rate_key,) if self.config.pass_rate_key else PASS_RATE_KEYS
        for key in keys:
            value = meta.get(key)
            if isinstance(value, (int, float)):
                return float(value)
        return None

    def process(self, unit: WorkUnit, ctx: StageContext):
        cfg = self.config
        lo_hi = cfg.difficulty_range() if cfg.difficulty else None
        for row in ctx.read_rows(unit):
            if cfg.sources is not None and row["source"] not in cfg.sources:
                yield make_reject(f"other source: not in {', '.join(cfg.sources)}",
                                  id=row["id"], source=row["source"])
                continue
            meta = load_meta(row)
            scores = {}
            reason = None
            k = sample_index(row)
            if cfg.max_samples is not None and k is not None and k >= cfg.max_samples:
                reason = f"beyond sample budget: k={k} >= {cfg.max_samples}"
            if lo_hi is not None and reason is None:
                rate = self.pass_rate(meta)
                scores["filter.pass_rate"] = rate
                if rate is None:
                    reason = "no pass rate: cannot apply the difficulty filter"
                elif not lo_hi[0] <= rate <= lo_hi[1]:
                    reason = f"difficulty: pass rate {rate:g} outside {cfg.difficulty}"
            if cfg.min_tokens is not None or cfg.max_tokens is not None:
                tokens = self.count_tokens(row.get("response") or "")
                scores["filter.tokens"] = tokens
                if reason is None and cfg.min_tokens is not None and tokens < cfg.min_tokens:
                    reason = f"too short: {tokens} tokens < {cfg.min_tokens}"
                if reason is None and cfg.max_tokens is not None and tokens > cfg.max_tokens:
                    reason = f"too long: {tokens} tokens > {cfg.max_tokens}"
            update_meta(row, **scores)
            if reason:
                ctx.count("filtered")
                yield make_reject(reason, **row)
            else:
                yield row


def sample_index(row: dict) -> int | None:
    """The trace's sample index k from `{id}#k` (or meta `distill.k`); None for raw rows."""
    head, sep, tail = row["id"].rpartition("#")
    if sep and tail.isdigit():
        return int(tail)
    k = json.loads(row.get("meta") or "{}").get("distill.k")
    return int(k) if k is not None else None
