"""The `verify` stage: score every trace, keep the correct ones, record pass rates.

Pass rates need every trace of a question (`{id}#k` → question `{id}`), and nothing
guarantees that the traces of one question share an input shard (a distill run can be
resumed, mixed or re-sharded). So the stage is two-phase, "identify, then apply":

1. One prepare unit per input shard (run by the executor: worker processes or Ray) scores
   its rows with the math-verify pool and the judge and writes one verdict file,
   `workdir/verdicts/<shard hash>.parquet` (row order = the shard's row order). A killed
   run keeps finished verdict files and resumes with the rest. Then `prepare_merge`
   (driver) aggregates them into `workdir/pass_rates.parquet` (question id → k of n).
2. `process(unit)` (any worker) reads its shard, the shard's verdict file and the pass
   rates of the questions in it, writes `verify.*` into `meta`, and keeps or rejects.

Scoring happens once; `process` is a join. Memory stays bounded by one shard plus the
pass-rate rows of its questions.

Rows without a response (RL rows) are gold-answer checks: kept when the gold answer is
well-formed for its `answer_type` (a letter among the options, a parsable number, an
expression math-verify can parse, yes/no), else rejected with the reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from omr_data import __version__
from omr_data.records import load_meta, make_reject, option_letters, update_meta
from omr_data.stage import ClusterPlan, SharedLimiter, Stage, StageContext, WorkUnit
from omr_data.store import iter_shard_batches
from omr_data.verify.extract import format_problem
from omr_data.verify.judge import PRESETS, SYSTEM_PROMPT, Judge, judge_prompt
from omr_data.verify.mathverify import default_pool, too_complex
from omr_data.verify.rules import parse_number, parse_yes_no, text_key
from omr_data.verify.score import math_form, score_batch

VERDICT_COLUMNS = ("id", "question", "answer", "answer_type", "choices", "response", "meta")
BATCH_ROWS = 1000


@dataclass
class VerifyConfig:
    judge: str | None = field(default=None, metadata={
        "help": "LLM judge preset for answers the rules cannot decide, e.g. qwen3-235b-judge "
                "(default: rules and math-verify only)"})
    judge_base_url: str | None = field(default=None, metadata={"operational": True,
        "help": "OpenAI-compatible endpoint of the judge, e.g. http://localhost:8000/v1"})
    judge_api_key_env: str = field(default="OPENAI_API_KEY", metadata={"operational": True,
        "help": "environment variable holding the judge's API key (any key works for "
                "servers without auth)"})
    judge_concurrency: int = field(default=16, metadata={"operational": True,
        "help": "judge requests in flight at once"})
    judge_model: str | None = field(default=None, metadata={
        "help": "model name the judge server uses, if it differs from the preset's"})
    judge_cache: str | None = field(default=None, metadata={"operational": True,
        "help": "SQLite request journal keeping judge replies, so a rerun asks nothing twice "
                "(default: ~/.cache/omr-data/judge.sqlite)"})
    judge_max_requests_per_minute: int | None = field(default=None, metadata={
        "operational": True,
        "help": "pace judge requests (null = unlimited); per worker process locally, one "
                "budget over the whole run with the ray executor"})
    judge_max_tokens_per_minute: int | None = field(default=None, metadata={
        "operational": True,
        "help": "pace the judge's estimated prompt + completion tokens (null = unlimited); "
                "shared like judge_max_requests_per_minute"})
    judge_request_deadline_s: float = field(default=600.0, metadata={
        "operational": True,
        "help": "a judge request is retried (backoff with jitter, Retry-After honoured) until "
                "this many seconds have passed; then the unit fails and a rerun asks only "
                "what is missing"})
    judge_shared_limiter: str | None = field(default=None, metadata={
        "operational": True, "cli": "internal",
        "help": "name of the Ray actor that paces the judge's rates over every worker of a "
                "run; internal: the ray executor sets it"})
    format_weight: float = field(default=0.1, metadata={
        "help": "λ in score = (1-λ)·acc + λ·format"})
    keep: Literal["correct", "all"] = field(default="correct", metadata={
        "help": "correct: keep correct, well-formed traces and reject the rest; all: keep "
                "every trace with its verdict in meta (e.g. to measure pass rates)"})
    require_format: bool = field(default=True, metadata={
        "help": "with keep=correct, also reject correct traces whose <think>/<answer> "
                "structure is incomplete (format < 1)"})
    timeout_s: float = field(default=2.0, metadata={
        "help": "seconds per answer for math-verify; a timeout scores 0 and is counted"})
    # its flag is --math-workers: --workers is every verb's count of stage worker processes
    workers: int = field(default=2, metadata={
        "operational": True, "flag": "--math-workers",
        "help": "math-verify worker processes in each stage worker process"})
    strict: bool = field(default=True, metadata={
        "false_flags": ("--relaxed",),
        "help": "credit only an <answer> tag or a \\boxed{} outside <think>, as the RL reward "
                "does; false also reads untagged traces' \"final answer is …\", last line or "
                "last number"})

    def __post_init__(self):
        if self.judge is not None:
            if self.judge not in PRESETS:
                raise ValueError(f"judge: unknown preset {self.judge!r}; known: "
                                 f"{', '.join(sorted(PRESETS))}")
        elif self.judge_base_url:
            raise ValueError("judge_base_url is set but judge is not: add --judge "
                             "qwen3-235b-judge (or drop --judge-base-url)")
        if self.keep not in ("correct", "all"):
            raise ValueError(f"keep: {self.keep!r} is not one of 'correct', 'all'")
        if not 0.0 <= self.format_weight <= 1.0:
            raise ValueError(f"format_weight: {self.format_weight} is outside [0, 1]")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s: must be > 0, got {self.timeout_s}")
        if self.workers < 1:
            raise ValueError(f"workers: must be >= 1, got {self.workers}")
        if self.judge_concurrency < 1:
            raise ValueError(f"judge_concurrency: must be >= 1, got {self.judge_concurrency}")
        for name in ("judge_max_requests_per_minute", "judge_max_tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name}: must be >= 1 or null (unlimited), got {value}")
        if self.judge_request_deadline_s <= 0:
            raise ValueError(f"judge_request_deadline_s: must be > 0, got "
                             f"{self.judge_request_deadline_s}")


class VerifyStage(Stage):
    """Scores traces (rules → math-verify → judge), keeps correct ones, adds pass rates."""

    name = "verify"
    Config = VerifyConfig
    reads = "datasets"
    input_columns = ("id", "answer", "answer_type", "choices", "response")

    # -- phase 1: score everything once, one prepare unit per shard --------------------
    # The units run on the executor (worker processes or Ray), each with its own
    # math-verify pool and judge client; `prepare_merge` then aggregates pass rates.
    def prepare_units(self, inputs: list[str], ctx: StageContext) -> list[WorkUnit]:
        (ctx.workdir / "verdicts").mkdir(parents=True, exist_ok=True)
        return self.plan(inputs)

    def prepare_unit(self, unit: WorkUnit, ctx: StageContext) -> None:

        shard = Path(unit.paths[0])
        target = ctx.workdir / "verdicts" / f"{shard_key(shard)}.parquet"
        if target.exists():        # written atomically: a finished shard stays
            return
        pool = default_pool(self.config.workers, self.config.timeout_s)  # per process
        _write_parquet(target, self._score_shard(shard, pool, self._process_judge()))

    def prepare_merge(self, inputs: list[str], ctx: StageContext) -> None:
        verdict_dir = ctx.workdir / "verdicts"
        _write_pass_rates(verdict_dir, ctx.workdir / "pass_rates.parquet")
        for key, n in _verdict_counts(verdict_dir).items():
            ctx.count(key, n)

    def teardown(self) -> None:
        judge = getattr(self, "_judge", None)
        if judge is not None:
            judge.close()
            self._judge = None

    def _process_judge(self):
        if not hasattr(self, "_judge") or self._judge is None:
            self._judge = self._make_judge()
        return self._judge

    def stats(self, manifest_stats, ctx: StageContext) -> dict:
        """What a card needs to reproduce the verdicts: verifier versions and, with a judge,
        its model and the sha256 of its prompt (`judge_prompt_sha256`)."""
        out: dict[str, Any] = {"verify.version": verifier_version(self.version)}
        if self.config.judge is not None:
            out["verify.judge_model"] = self.config.judge_model or \
                PRESETS[self.config.judge].model
            out["verify.judge_prompt_sha256"] = judge_prompt_sha256()
        return out

    def cluster_plan(self, *, wanted: int, units: int, output: Path) -> ClusterPlan:
        """The default plan; with judge rate caps, one limiter actor holds them for the
        whole run (each worker's judge finds it by `judge_shared_limiter`)."""
        plan = super().cluster_plan(wanted=wanted, units=units, output=output)
        cfg = self.config
        rpm, tpm = cfg.judge_max_requests_per_minute, cfg.judge_max_tokens_per_minute
        if cfg.judge is None or not (rpm or tpm):
            return plan
        plan.shared_limiter = SharedLimiter(f"judge-limiter-{uuid.uuid4().hex[:12]}", rpm, tpm)
        plan.worker_config = dataclasses.replace(cfg, judge_shared_limiter=plan.shared_limiter.name)
        plan.notes += ("judge rate caps for the whole run (one shared limiter actor): "
                       f"requests/min={rpm}, tokens/min={tpm}",)
        return plan

    def _make_judge(self):
        if self.config.judge is None:
            return None
        cfg = self.config
        return Judge(cfg.judge, base_url=cfg.judge_base_url, api_key_env=cfg.judge_api_key_env,
                     concurrency=cfg.judge_concurrency, cache_path=cfg.judge_cache,
                     model=cfg.judge_model, deadline_s=cfg.judge_request_deadline_s,
                     max_requests_per_minute=cfg.judge_max_requests_per_minute,
                     max_tokens_per_minute=cfg.judge_max_tokens_per_minute,
                     shared_limiter=cfg.judge_shared_limiter)

    def _score_shard(self, shard: Path, pool, judge) -> list[dict]:

        out: list[dict] = []
        for batch in iter_shard_batches(shard, columns=list(VERDICT_COLUMNS),
                                        batch_size=BATCH_ROWS):
            rows = batch.to_pylist()
            traces = [i for i, r in enumerate(rows) if r.get("response") is not None]
            results = score_batch([_with_finish_reason(rows[i]) for i in traces], judge=judge,
                                  pool=pool, format_weight=self.config.format_weight,
                                  timeout_s=self.config.timeout_s,
                                  strict=self.config.strict) if traces else []
            by_row = dict(zip(traces, results))
            gold_rows = [i for i, r in enumerate(rows) if r.get("response") is None]
            gold_problems = dict(zip(gold_rows, gold_check_many([rows[i] for i in gold_rows],
                                                                pool)))
            for i, row in enumerate(rows):
                if i in by_row:
                    out.append(_trace_verdict(row, by_row[i], self.config))
                else:
                    out.append(_gold_verdict(row, gold_problems[i]))
        return out

    # -- phase 2: apply ------------------------------------------------------------------
    def process(self, unit: WorkUnit, ctx: StageContext) -> Iterator[dict]:

        import polars as pl
        rates_path = ctx.workdir / "pass_rates.parquet"
        for path in unit.paths:
            verdict_path = ctx.workdir / "verdicts" / f"{shard_key(path)}.parquet"
            if not verdict_path.exists():
                raise RuntimeError(f"{path}: no verdicts in {verdict_path.parent}; the verify "
                                   f"stage's prepare phase did not run for this input")
            verdicts = pl.read_parquet(verdict_path).to_dicts()
            qids = sorted({v["qid"] for v in verdicts if v["has_response"]})
            rates = {r["qid"]: r for r in pl.scan_parquet(rates_path)
                     .filter(pl.col("qid").is_in(qids)).collect().to_dicts()} if qids else {}
            n = 0
            for row in ctx.read_rows(unit_of(path)):
                if n >= len(verdicts):
                    raise RuntimeError(f"{path}: more rows than verdicts; the input changed "
                                       f"after prepare")
                verdict = verdicts[n]
                n += 1
                if row["id"] != verdict["id"]:
                    raise RuntimeError(f"{path}: row {n} is {row['id']!r} but its verdict is for "
                                       f"{verdict['id']!r}; the input changed after prepare")
                yield self._apply(row, verdict, rates.get(verdict["qid"]), ctx)
            if n != len(verdicts):
                raise RuntimeError(f"{path}: {n} rows but {len(verdicts)} verdicts; the input "
                                   f"changed after prepare")

    def _apply(self, row: dict, verdict: dict, rate: dict | None, ctx: StageContext) -> dict:
        if not verdict["has_response"]:
            if verdict["reason"]:
                ctx.count("rejected_gold")
                return make_reject(verdict["reason"], **row)
            ctx.count("kept_gold")
            return update_meta(row, **{"verify.decided_by": "gold_check", "verify.gold_ok": True})
        entries: dict[str, Any] = {
            "verify.acc": verdict["acc"], "verify.format": verdict["format"],
            "verify.score": verdict["score"], "verify.pred": verdict["pred"],
            "verify.decided_by": verdict["decided_by"],
        }
        if rate is not None:
            entries.update({"verify.pass_rate": rate["k"] / rate["n"],
                            "verify.pass_k": rate["k"], "verify.pass_n": rate["n"]})
        row = update_meta(row, **entries)
        if self.config.keep == "correct" and verdict["reason"]:
            ctx.count("rejected")
            return make_reject(verdict["reason"], **row)
        ctx.count("kept")
        return row


# ---------------------------------------------------------------------------------------


def verifier_version(stage_version: str) -> str:
    """omr-data's version, the stage's version and math-verify's: what decides a verdict."""

    try:
        math_verify = version("math-verify")
    except PackageNotFoundError:
        math_verify = "?"
    return f"omr-data {__version__}, verify stage v{stage_version}, math-verify {math_verify}"


def judge_prompt_sha256() -> str:
    """sha256 of the judge's system prompt, a blank line, and its user message with the
    placeholders {question}, {reference} and {candidate} (UTF-8)."""
    template = judge_prompt("{question}", "{reference}", "{candidate}")
    return hashlib.sha256(f"{SYSTEM_PROMPT}\n\n{template}".encode()).hexdigest()


def shard_key(path: str | os.PathLike) -> str:
    return hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:24]


def unit_of(path: str | os.PathLike) -> WorkUnit:
    return WorkUnit(name="verify-read", paths=(str(path),))


def question_id(trace_id: str) -> str:
    """`src/q1#3` → `src/q1`: the distilled traces of one question share it."""
    return trace_id.split("#", 1)[0]


def _short(value: Any, limit: int = 60) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _with_finish_reason(row: dict) -> dict:
    """The row with the generator's `finish_reason` (kept by distill in `meta`), so a trace
    cut off at max_tokens earns no credit."""
    meta = row.get("meta")
    if not meta:
        return row
    try:
        finish = load_meta(row).get("distill.finish_reason")
    except ValueError:
        return row
    return {**row, "finish_reason": finish} if finish else row


def _trace_verdict(row: dict, result: dict, cfg: VerifyConfig) -> dict:
    return {
        "id": row["id"], "qid": question_id(row["id"]), "has_response": True,
        "acc": float(result["acc"]), "format": float(result["format"]),
        "score": float(result["score"]), "pred": result["pred"],
        "decided_by": result["decided_by"],
        "reason": reject_reason(row, result, format_problem(row.get("response")) if
                                cfg.require_format else None),
    }


def reject_reason(row: dict, result: dict, format_problem: str | None) -> str | None:
    """Why a scored trace is not kept (None when it is), in the counted reason vocabulary:
    bad format, wrong answer, timeout, judge said no, judge unparsable."""
    by = result["decided_by"]
    pair = f"pred={_short(result['pred'])!r} gold={_short(row['answer'])!r}"
    if by == "no_answer":
        return "bad format: no final answer found"
    if format_problem and result["format"] == 0.0:
        return f"bad format: {format_problem}"     # no tagged answer: the guess is moot
    if result["acc"] >= 1.0:
        return f"bad format: {format_problem}" if format_problem else None
    if by in ("timeout", "guard"):
        return f"timeout: {result['detail']}"
    if by == "truncated":
        return "truncated: the response was cut off at max_tokens (finish_reason=length)"
    if by in ("commitment", "structure"):
        return f"wrong answer: {result['detail']}; {pair} ({by})"
    if by == "judge":
        return f"judge said no: {pair}"
    if by == "judge_unparsable":
        return f"judge unparsable: {result['detail']}; {pair}"
    return f"wrong answer: {pair} ({by})"


def _gold_verdict(row: dict, problem: str | None) -> dict:
    return {"id": row["id"], "qid": question_id(row["id"]), "has_response": False,
            "acc": None, "format": None, "score": None, "pred": None,
            "decided_by": "gold_check", "reason": problem}


def gold_check_many(rows: list[dict], pool) -> list[str | None]:
    """For rows without a response: why each gold answer is malformed, or None."""

    problems: list[str | None] = [None] * len(rows)
    symbolic: list[int] = []
    for i, row in enumerate(rows):
        gold, kind, choices = (row.get("answer") or "").strip(), row.get("answer_type"), \
            row.get("choices")
        if not gold:
            problems[i] = "bad gold answer: empty"
        elif kind == "choice":
            letters = option_letters(len(choices or []))
            if gold not in letters:
                problems[i] = (f"bad gold answer: {_short(gold)!r} is not one of the "
                               f"{len(letters)} option letters")
        elif kind == "yes_no":
            if parse_yes_no(gold) is None:
                problems[i] = f"bad gold answer: {_short(gold)!r} is not yes or no"
        elif kind == "text":
            if not text_key(gold):
                problems[i] = f"bad gold answer: {_short(gold)!r} has no text"
        elif kind == "number" and parse_number(gold) is not None:
            pass
        else:       # expressions, and numbers only sympy can read (\frac{\sqrt{3}}{2})
            why = too_complex(math_form(gold))
            if why:
                problems[i] = f"bad gold answer: too complex to check ({why})"
            else:
                symbolic.append(i)
    if symbolic:
        forms = [math_form(rows[i]["answer"]) for i in symbolic]
        for i, result in zip(symbolic, pool.compare_many([(f, f) for f in forms])):
            kind = rows[i].get("answer_type")
            if result[0] == "timeout":
                problems[i] = "timeout: checking the gold answer ran out of time"
            elif result[0] != "ok":
                problems[i] = f"bad gold answer: {_short(rows[i]['answer'])!r} does not parse"
            elif kind == "number" and result[2] is None:
                problems[i] = f"bad gold answer: {_short(rows[i]['answer'])!r} is not a number"
    return problems


def _write_parquet(target: Path, rows: list[dict]) -> None:
    import polars as pl
    schema = {"id": pl.String, "qid": pl.String, "has_response": pl.Boolean, "acc": pl.Float64,
              "format": pl.Float64, "score": pl.Float64, "pred": pl.String,
              "decided_by": pl.String, "reason": pl.String}
    tmp = target.with_suffix(".tmp")
    pl.DataFrame(rows, schema=schema).write_parquet(tmp)
    os.replace(tmp, target)


def _write_pass_rates(verdict_dir: Path, target: Path) -> None:
    import polars as pl
    files = sorted(verdict_dir.glob("*.parquet"))
    if not files:
        pl.DataFrame(schema={"qid": pl.String, "k": pl.Int64, "n": pl.Int64}).write_parquet(target)
        return
    (pl.scan_parquet(files)
     .filter(pl.col("has_response"))
     .group_by("qid")
     .agg(k=(pl.col("acc") >= 1.0).sum().cast(pl.Int64), n=pl.len().cast(pl.Int64))
     .sort("qid")
     .collect()
     .write_parquet(target))


def _verdict_counts(verdict_dir: Path) -> Counter:
    import polars as pl
    counts: Counter = Counter()
    files = sorted(verdict_dir.glob("*.parquet"))
    if not files:
        return counts
    frame = pl.scan_parquet(files).select("has_response", "acc", "decided_by").collect()
    traces = frame.filter(pl.col("has_response"))
    counts["traces"] = traces.height
    counts["traces_correct"] = traces.filter(pl.col("acc") >= 1.0).height
    counts["gold_rows"] = frame.height - traces.height
    for by, n in traces.group_by("decided_by").len().iter_rows():
        counts[f"decided_by.{by}"] = n
    counts["timeouts"] = counts["decided_by.timeout"] + counts["decided_by.guard"]
    return counts
