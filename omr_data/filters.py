"""The filter stage: sources, difficulty (pass rate), trace length, samples per question, and
model-based scores (perplexity under a causal LM, or any batch scorer you name).

Scoring is kept apart from deciding: each row's scores are stored in `meta`
(`filter.pass_rate`, `filter.tokens`, `filter.perplexity`, `filter.score`), then thresholds
decide, so a threshold can change without rescoring and a reader can see why a row was
dropped. Model scores already in a row's meta, made by the same model (or scorer), are
reused: score once with no threshold, then filter the scored set at any threshold.

    omr-data filter traces/ scored/ --perplexity-model Qwen/Qwen2.5-0.5B   # score only
    omr-data filter scored/ out/ --perplexity-model Qwen/Qwen2.5-0.5B --max-perplexity 40
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from omr_data.extras import require
from omr_data.plugins import load_function
from omr_data.records import load_meta, make_reject, update_meta
from omr_data.stage import ConfigError, Stage, StageContext, WorkUnit

TOKEN_RE = re.compile(r"\w+|[^\w\s]")
PASS_RATE_KEYS = ("verify.pass_rate", "pass_rate", "PassRate_7BBase", "avg_reward")
SCORER_SPEC = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


@dataclass
class FilterConfig:
    sources: list[str] | None = field(default=None, metadata={
        "help": "keep only rows of these sources (e.g. to publish one config per source); "
                "the others are listed in rejects/ by id, source and reason only"})
    difficulty: str | None = field(default=None, metadata={
        "metavar": "LO:HI",
        "help": "keep rows whose pass rate lies in LO:HI (inclusive), e.g. '0.1:0.9'; "
                "rows with no pass rate are rejected"})
    # a length filter, not a generation cap like distill's max_tokens: hence `response`;
    # max_tokens here fails naming max_response_tokens
    min_response_tokens: int | None = field(default=None, metadata={
        "aliases": ("--min-tokens",),   # unambiguous, so kept (also as key min_tokens)
        "help": "drop traces (responses) shorter than this many tokens"})
    max_response_tokens: int | None = field(default=None, metadata={
        "renamed_from": ("max_tokens",),
        "help": "drop traces (responses) longer than this many tokens"})
    tokenizer: str | None = field(default=None, metadata={
        "help": "Hugging Face tokenizer name or path for lengths (default: a regex word/"
                "punctuation count, no download)"})
    max_samples: int | None = field(default=None, metadata={
        "help": "keep traces with sample index k < max_samples (ids '{question}#k'); the "
                "×1/×2/×4 subsets of one ×8 run are nested by construction"})
    pass_rate_key: str | None = field(default=None, metadata={
        "help": f"meta key holding the pass rate (default: first of {', '.join(PASS_RATE_KEYS)})"})
    perplexity_model: str | None = field(default=None, metadata={
        "help": "causal LM (Hugging Face name or local path; its tokenizer from the same "
                "place) under which each trace's perplexity is stored in meta "
                "filter.perplexity; alone it only scores"})
    max_perplexity: float | None = field(default=None, metadata={
        "help": "drop traces whose perplexity under perplexity_model is above this"})
    perplexity_max_tokens: int = field(default=1024, metadata={
        "help": "score at most this many tokens of each trace (the rest is cut)"})
    perplexity_batch_size: int = field(default=8, metadata={
        "operational": True,
        "help": "traces per forward pass (the logits take batch x tokens x vocabulary floats)"})
    perplexity_device: str = field(default="auto", metadata={
        "operational": True,
        "help": "torch device for the model: auto (cuda when present, else cpu), cpu, cuda:0…"})
    scorer: str | None = field(default=None, metadata={
        "help": "'module:function', a batch scorer f(rows: list[dict]) -> list[float | None] "
                "imported from your Python path (it runs your code: use recipes you trust); "
                "its scores go to meta filter.score"})
    min_score: float | None = field(default=None, metadata={
        "help": "drop rows whose scorer score is below this"})
    max_score: float | None = field(default=None, metadata={
        "help": "drop rows whose scorer score is above this"})
    model_workers: int = field(default=1, metadata={
        "operational": True,
        "help": "worker processes when a model or scorer runs (each loads its own copy)"})

    def __post_init__(self):
        if self.difficulty is not None:
            self.difficulty_range()
        lo, hi = self.min_response_tokens, self.max_response_tokens
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"min_response_tokens {lo} > max_response_tokens {hi}")
        if self.max_samples is not None and self.max_samples < 1:
            raise ValueError("max_samples must be at least 1")
        if self.max_perplexity is not None:
            if not self.perplexity_model:
                raise ValueError("max_perplexity needs perplexity_model: the causal LM to "
                                 "score traces with (e.g. Qwen/Qwen2.5-0.5B or a local path)")
            if not self.max_perplexity > 0:
                raise ValueError(f"max_perplexity must be > 0, got {self.max_perplexity}")
        if self.perplexity_max_tokens < 2:
            raise ValueError("perplexity_max_tokens must be at least 2")
        if self.perplexity_batch_size < 1:
            raise ValueError("perplexity_batch_size must be at least 1")
        if self.scorer is not None and not SCORER_SPEC.fullmatch(self.scorer):
            raise ValueError(f"scorer {self.scorer!r}: use 'module:function', e.g. "
                             "'my_scores:quality'")
        if (self.min_score is not None or self.max_score is not None) and not self.scorer:
            raise ValueError("min_score/max_score need scorer: 'module:function'")
        if self.min_score is not None and self.max_score is not None \
                and self.min_score > self.max_score:
            raise ValueError(f"min_score {self.min_score} > max_score {self.max_score}")
        if self.model_workers < 1:
            raise ValueError("model_workers must be at least 1")

    def difficulty_range(self) -> tuple[float, float]:
        try:
            lo, hi = (float(x) for x in str(self.difficulty).split(":"))
        except ValueError:
            raise ValueError(f"difficulty {self.difficulty!r}: use LO:HI, e.g. 0.1:0.9") from None
        if not 0 <= lo <= hi <= 1:
            raise ValueError(f"difficulty {self.difficulty!r}: need 0 <= LO <= HI <= 1")
        return lo, hi


class FilterStage(Stage):
    """Difficulty, length and model-score filters; scores go to meta, thresholds decide."""

    name = "filter"
    Config = FilterConfig

    def __init__(self, config: Any = None):
        super().__init__(config)
        if self.config.perplexity_model or self.config.scorer:
            self.max_workers = self.config.model_workers  # type: ignore[misc]

    def check_inputs(self, inputs: list[str]) -> None:
        super().check_inputs(inputs)
        if self.config.tokenizer:
            require("filter by tokenizer lengths", "transformers")
        if self.config.perplexity_model:
            require("filter by perplexity", "torch", "transformers")
        if self.config.scorer:
            load_scorer(self.config.scorer)

    def cache_config(self) -> dict:
        """The config, plus the scorer's source hash: editing the scorer redoes the stage."""
        config = super().cache_config()
        if self.config.scorer:
            config["scorer"] = load_scorer(self.config.scorer)[1]
        return config

    def setup(self) -> None:
        cfg = self.config
        self._tokenizer = self._perplexity = self._scorer = None
        if cfg.tokenizer:
            from transformers import AutoTokenizer
            self._tokenizer = AutoTokenizer.from_pretrained(cfg.tokenizer)
        if cfg.perplexity_model:
            self._perplexity = Perplexity(cfg.perplexity_model, device=cfg.perplexity_device,
                                          max_tokens=cfg.perplexity_max_tokens,
                                          batch_size=cfg.perplexity_batch_size)
        if cfg.scorer:
            self._scorer = load_scorer(cfg.scorer)

    def teardown(self) -> None:
        self._tokenizer = self._perplexity = self._scorer = None

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
        for batch in ctx.read_batches(unit):
            pending: list[_Row] = []
            for row in batch.to_pylist():
                if cfg.sources is not None and row["source"] not in cfg.sources:
                    pending.append(_Row(row, {}, reject=make_reject(
                        f"other source: not in {', '.join(cfg.sources)}",
                        id=row["id"], source=row["source"])))
                    continue
                pending.append(self._cheap_checks(row, lo_hi))
            live = [item for item in pending if item.reason is None and item.reject is None]
            if cfg.perplexity_model:
                self._score_perplexity(live, ctx)
            if cfg.scorer:
                self._score_with_scorer(live, ctx)
            for item in pending:
                if item.reject is not None:
                    yield item.reject
                    continue
                update_meta(item.row, **item.scores)
                if item.reason:
                    ctx.count("filtered")
                    yield make_reject(item.reason, **item.row)
                else:
                    yield item.row

    def _cheap_checks(self, row: dict, lo_hi: tuple[float, float] | None) -> _Row:
        cfg = self.config
        item = _Row(row, load_meta(row))
        k = sample_index(row)
        if cfg.max_samples is not None and k is not None and k >= cfg.max_samples:
            item.reason = f"beyond sample budget: k={k} >= {cfg.max_samples}"
        if lo_hi is not None and item.reason is None:
            rate = self.pass_rate(item.meta)
            item.scores["filter.pass_rate"] = rate
            if rate is None:
                item.reason = "no pass rate: cannot apply the difficulty filter"
            elif not lo_hi[0] <= rate <= lo_hi[1]:
                item.reason = f"difficulty: pass rate {rate:g} outside {cfg.difficulty}"
        lo, hi = cfg.min_response_tokens, cfg.max_response_tokens
        if lo is not None or hi is not None:
            tokens = self.count_tokens(row.get("response") or "")
            item.scores["filter.tokens"] = tokens
            if item.reason is None and lo is not None and tokens < lo:
                item.reason = f"too short: {tokens} tokens < {lo}"
            if item.reason is None and hi is not None and tokens > hi:
                item.reason = f"too long: {tokens} tokens > {hi}"
        return item

    def _score_perplexity(self, live: list[_Row], ctx: StageContext) -> None:
        cfg = self.config
        made_by = {"filter.perplexity_model": cfg.perplexity_model,
                   "filter.perplexity_max_tokens": cfg.perplexity_max_tokens}
        todo = []
        for item in live:
            if _stored(item.meta, "filter.perplexity", made_by):
                ctx.count("perplexity_reused")
                continue
            if item.row.get("response"):
                todo.append(item)
            else:
                ctx.count("perplexity_no_response")
        if todo:
            values = self._perplexity([item.row["response"] for item in todo])
            for item, value in zip(todo, values):
                item.meta.update({"filter.perplexity": value, **made_by})
                item.scores.update({"filter.perplexity": value, **made_by})
            ctx.count("perplexity_scored", len(todo))
        if cfg.max_perplexity is None:
            return
        for item in live:
            value = item.meta.get("filter.perplexity") if _stored(
                item.meta, "filter.perplexity", made_by) else None
            if value is None:
                item.reason = ("no perplexity: no response to score" if not
                               item.row.get("response") else
                               "no perplexity: the trace has fewer than 2 tokens")
            elif value > cfg.max_perplexity:
                item.reason = f"perplexity too high: {value:.4g} > {cfg.max_perplexity:g}"

    def _score_with_scorer(self, live: list[_Row], ctx: StageContext) -> None:
        cfg = self.config
        function, identity = self._scorer
        made_by = {"filter.scorer": identity}
        todo = [item for item in live
                if item.reason is None and not _stored(item.meta, "filter.score", made_by)]
        if todo:
            values = list(function([dict(item.row) for item in todo]))
            if len(values) != len(todo):
                raise RuntimeError(f"scorer {cfg.scorer}: returned {len(values)} scores for "
                                   f"{len(todo)} rows; return one float (or None) per row")
            for item, value in zip(todo, values):
                value = _finite(value, cfg.scorer)
                item.meta.update({"filter.score": value, **made_by})
                item.scores.update({"filter.score": value, **made_by})
            ctx.count("scorer_scored", len(todo))
        if cfg.min_score is None and cfg.max_score is None:
            return
        for item in live:
            if item.reason is not None:
                continue
            value = item.meta.get("filter.score")
            if value is None:
                item.reason = f"no score: {cfg.scorer} could not score this row"
            elif cfg.min_score is not None and value < cfg.min_score:
                item.reason = f"score too low: {value:.4g} < {cfg.min_score:g}"
            elif cfg.max_score is not None and value > cfg.max_score:
                item.reason = f"score too high: {value:.4g} > {cfg.max_score:g}"


@dataclass
class _Row:
    row: dict
    meta: dict
    scores: dict = field(default_factory=dict)
    reason: str | None = None
    reject: dict | None = None


def _stored(meta: dict, key: str, made_by: dict) -> bool:
    """Whether `meta` already holds `key`, scored by the same model/scorer and settings."""
    return key in meta and all(meta.get(k) == v for k, v in made_by.items())


def _finite(value: Any, scorer: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RuntimeError(f"scorer {scorer}: returned {value!r}; return floats (or None)")
    return float(value) if math.isfinite(value) else None


def load_scorer(spec: str) -> tuple[Callable[[list[dict]], list[float | None]], str]:
    """The function named 'module:function' and an identity naming its source's hash."""
    return load_function(spec, "scorer")


class Perplexity:
    """Perplexity of texts under a causal LM: exp(mean token negative log-likelihood).

    Texts are cut to `max_tokens`, sorted by length and scored `batch_size` at a time
    (right-padded, masked); a text of fewer than 2 tokens has no perplexity (None).
    """

    def __init__(self, name_or_path: str, *, device: str = "auto", max_tokens: int = 1024,
                 batch_size: int = 8):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device, self.batch_size = device, batch_size
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(name_or_path)
            self.model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=dtype)
        except (OSError, ValueError) as err:
            raise ConfigError(f"perplexity_model {name_or_path!r}: cannot load a causal LM "
                              f"and its tokenizer ({err})") from None
        self.model.to(device).eval()
        limit = getattr(self.model.config, "max_position_embeddings", None) \
            or getattr(self.model.config, "n_positions", None)
        self.max_tokens = min(max_tokens, limit) if limit else max_tokens
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (self.tokenizer.eos_token_id or 0)

    def __call__(self, texts: list[str]) -> list[float | None]:
        ids = [self.tokenizer(text, truncation=True, max_length=self.max_tokens)["input_ids"]
               for text in texts]
        out: list[float | None] = [None] * len(texts)
        order = sorted((i for i in range(len(ids)) if len(ids[i]) >= 2), key=lambda i: len(ids[i]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            for i, value in zip(chunk, self._score([ids[i] for i in chunk])):
                out[i] = value
        return out

    def _score(self, batch: list[list[int]]) -> list[float]:
        import torch

        width = max(len(x) for x in batch)
        input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, tokens in enumerate(batch):
            input_ids[row, :len(tokens)] = torch.tensor(tokens)
            mask[row, :len(tokens)] = 1
        input_ids, mask = input_ids.to(self.device), mask.to(self.device)
        with torch.inference_mode():
            logits = self.model(input_ids=input_ids, attention_mask=mask).logits[:, :-1]
            nll = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]).float(), input_ids[:, 1:].reshape(-1),
                reduction="none").view(len(batch), width - 1)
            target_mask = mask[:, 1:].float()
            mean_nll = (nll * target_mask).sum(1) / target_mask.sum(1)
        return [float(math.exp(v)) for v in mean_nll.cpu().tolist()]


def sample_index(row: dict) -> int | None:
    """The trace's sample index k from `{id}#k` (or meta `distill.k`); None for raw rows."""
    head, sep, tail = row["id"].rpartition("#")
    if sep and tail.isdigit():
        return int(tail)
    k = json.loads(row.get("meta") or "{}").get("distill.k")
    return int(k) if k is not None else None
