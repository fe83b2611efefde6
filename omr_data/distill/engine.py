"""The distillation loop: records in, one record per trace out, everything journaled.

For each input record the engine renders the prompt, derives the n request keys, takes
every reusable trace from the journal and sends only the rest (one request with the
protocol's `n`, or one request per sample). With `backend: vllm` the requests go to an
offline `vllm.LLM` engine in batches (`vllm_backend.VLLMPool`, the same contract as the
HTTP pool), with the same keys, journal and rows. A response is written to the journal,
and durable, before its concurrency slot is released; rows leave in input order (k order
within a question), so a rerun produces the same rows. Traces whose request still fails
at its deadline leave as rejects with the last error; a rerun retries them.

Python API (no runner needed)::

    from omr_data.distill import distill
    for row in distill(records, {"teacher": "simulated", "n": 4}, "out/journal.sqlite"):
        ...                                    # records and rejects (rows with "reason")

`distill_async` is the same as an async generator; `estimate` is the dry run.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omr_data.distill.config import DistillConfig, Settings, resolve
from omr_data.distill.progress import Progress
from omr_data.distill.render import Prompt, PromptError, render_prompt
from omr_data.distill.vllm_backend import VLLMPool
from omr_data.diversity import measure, near_form
from omr_data.llm.client import KEY_HEADER, Completion, EndpointPool, api_key_from_env
from omr_data.llm.errors import NUnsupported, RequestFailed
from omr_data.llm.journal import Entry, Journal, request_key
from omr_data.llm.limits import limiter_for
from omr_data.plugins import load_function
from omr_data.prompts import instruction_sha256
from omr_data.records import COLUMNS, dump_meta, load_meta, make_reject

log = logging.getLogger("omr_data.distill")
_END = object()


@dataclass(eq=False)
class _Question:
    record: dict
    prompt: Prompt | None = None
    keys: list[str] = field(default_factory=list)
    traces: dict[int, Entry] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)
    reused: int = 0
    planned: int = 0          # samples asked for so far (keys 0 .. planned-1)
    verdicts: dict[int, bool] = field(default_factory=dict)   # adaptive n: k -> verified
    settled_at: int = -1      # `planned` when the last round was settled (settle once each)
    error: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def settled(self) -> bool:
        return len(self.traces) + len(self.failures) >= self.planned


@dataclass
class RunStats:
    questions: int = 0
    traces: int = 0
    reused: int = 0
    sent_traces: int = 0
    rejected: int = 0
    transient_failures: int = 0     # traces whose deadline passed on retryable errors
    last_transient: str = ""
    seconds: float = 0.0
    identical_questions: int = 0       # several samples, one text: the teacher did not sample
    adaptive_extra_rounds: int = 0
    diversity: Counter = field(default_factory=Counter)      # "distinct_near.3" -> questions
    reported_models: Counter = field(default_factory=Counter)  # model the server named

    def as_dict(self, pool: EndpointPool | None, settings: Settings) -> dict:
        out = {"distill.questions": self.questions, "distill.traces": self.traces,
               "distill.reused": self.reused, "distill.sent_traces": self.sent_traces,
               "distill.rejected": self.rejected,
               "distill.transient_failures": self.transient_failures,
               "distill.identical_questions": self.identical_questions}
        if self.last_transient:
            out["distill.last_transient_error"] = self.last_transient
        if settings.adaptive:
            out["distill.adaptive_extra_rounds"] = self.adaptive_extra_rounds
        for key, count in sorted(self.diversity.items()):
            out[f"distill.diversity.{key}"] = count
        for name, count in sorted(self.reported_models.items()):
            out[f"distill.reported_model.{name}"] = count
        if pool is not None:
            s = pool.stats
            out.update({"distill.requests": s.requests, "distill.responses": s.ok,
                        "distill.retries": s.retries, "distill.failed_requests": s.failed,
                        "distill.prompt_tokens": s.prompt_tokens,
                        "distill.completion_tokens": s.completion_tokens,
                        "distill.max_in_flight": pool.max_in_flight})
            for kind, count in s.errors.items():
                out[f"distill.errors.{kind}"] = count
            if getattr(pool, "batches", None) is not None:
                out["distill.vllm_batches"] = pool.batches
            cost = settings.cost(s.prompt_tokens, s.completion_tokens, self.seconds)
            if cost is not None:
                out["distill.cost_usd"] = round(cost, 4)
        return out


class DistillEngine:
    """One run over a stream of records against one journal."""

    def __init__(self, settings: Settings, journal: Journal, *, total: int | None = None,
                 client_factory: Callable | None = None,
                 verifier: Callable[[list[str], dict], list[bool]] | None = None):
        self.settings = settings
        self.journal = journal
        self.total = total
        self.stats = RunStats()
        self.pool: EndpointPool | Any = None
        self._client_factory = client_factory
        self._window = max(64, 8 * settings.concurrency)
        if settings.backend == "vllm":  # room to render the next batch while one runs
            self._window = max(self._window, 2 * settings.vllm_batch_size)
        self._tasks: set[asyncio.Task] = set()
        self._fatal: BaseException | None = None
        self._open: set = set()   # questions with requests still going
        self.progress: Progress | None = None
        self._system_sha = instruction_sha256(settings.system_prompt)
        if settings.adaptive and verifier is None:
            raise ValueError("adaptive n (until_distinct) needs a verifier: see adaptive_check")
        self._verifier = verifier

    async def run(self, records: Iterable[dict],
                  emit: Callable[[list[dict]], Awaitable[None]]) -> None:
        s = self.settings
        if s.backend == "vllm":
            self.pool = VLLMPool(s)
        else:
            self.pool = EndpointPool(
                list(s.base_urls), api_key=api_key_from_env(s.api_key_env),
                concurrency=s.concurrency, request_timeout_s=s.request_timeout_s,
                request_deadline_s=s.request_deadline_s, rpm=s.rpm, tpm=s.tpm,
                use_n_param=s.use_n_param, client_factory=self._client_factory,
                limiter=limiter_for(s.rpm, s.tpm, s.shared_limiter),
                unreachable_after_s=s.unreachable_after_s)
        self.progress = Progress(s, self.pool, self.stats, total=self.total, enabled=s.progress)
        start = time.monotonic()
        order: asyncio.Queue = asyncio.Queue(maxsize=self._window)
        feeder = asyncio.create_task(self._feed(records, order))
        emitter = asyncio.create_task(self._emit_in_order(order, emit))
        try:
            with self.progress:
                await asyncio.wait({feeder, emitter}, return_when=asyncio.FIRST_EXCEPTION)
                for task in (feeder, emitter):
                    if task.done() and task.exception() is not None:
                        raise task.exception()
                await emitter
        finally:
            self.stats.seconds = time.monotonic() - start
            for task in (feeder, emitter, *self._tasks):
                task.cancel()
            await asyncio.gather(feeder, emitter, *self._tasks, return_exceptions=True)
            await self.pool.close()

    async def _feed(self, records: Iterable[dict], order: asyncio.Queue) -> None:
        for record in records:
            self._check_fatal()
            await order.put(self._start(record))
            await asyncio.sleep(0)
        await order.put(None)

    # -- per question ------------------------------------------------------------------
    def _start(self, record: dict) -> _Question:
        s = self.settings
        question = _Question(record)
        self.stats.questions += 1
        try:
            question.prompt = render_prompt(record, model=s.model, system_prompt=s.system_prompt,
                                            sampling=s.sampling,
                                            max_image_pixels=s.max_image_pixels)
        except PromptError as err:
            question.error = str(err)
            question.done.set()
            return question
        self._open.add(question)
        self._plan(question, s.first_round)
        return question

    def _plan(self, question: _Question, upto: int) -> None:
        """Extend the question to `upto` samples: reuse what the journal holds, send the
        rest; once every sample is in, `_settled` decides whether the question is done."""
        s = self.settings
        ks = list(range(question.planned, upto))
        keys = [request_key(question.prompt.prompt_hash, k) for k in ks]
        question.keys.extend(keys)
        question.planned = upto
        found = self.journal.lookup(keys)
        missing = []
        for k, key in zip(ks, keys):
            entry = found.get(key)
            if entry is not None and entry.reusable(s.max_tokens):
                question.traces[k] = entry
            else:
                missing.append(k)
        question.reused += len(ks) - len(missing)
        self.stats.reused += len(ks) - len(missing)
        if not missing:
            self._settled(question)
            return
        self.journal.put_prompt(question.prompt.prompt_hash, question.prompt.payload)
        use_n = len(missing) > 1 and s.use_n_param != "no" and self.pool.n_param_usable
        groups = [missing] if use_n else [[k] for k in missing]
        for ks_group in groups:
            self._spawn(self._send(question, ks_group))

    def _settled(self, question: _Question) -> None:
        # several sends of one round can each see the round complete: decide once per round
        if question.settled_at == question.planned:
            return
        question.settled_at = question.planned
        if not self.settings.adaptive:
            self._finish(question)
        else:
            self._spawn(self._next_round(question))

    def _finish(self, question: _Question) -> None:
        self._open.discard(question)
        question.done.set()

    async def _next_round(self, question: _Question) -> None:
        """Adaptive n: sample more while the question has fewer than `until_distinct`
        distinct verified traces and fewer than `max_n` samples."""
        s = self.settings
        have = await self._distinct_verified(question)
        if have >= s.until_distinct or question.planned >= s.max_samples:
            self._finish(question)
            return
        self.stats.adaptive_extra_rounds += 1
        self._plan(question, min(s.max_samples, question.planned + s.until_distinct - have))

    async def _distinct_verified(self, question: _Question) -> int:
        todo = [k for k, e in question.traces.items()
                if k not in question.verdicts and e.response is not None]
        cut = [k for k in todo if question.traces[k].finish_reason == "length"]
        question.verdicts.update((k, False) for k in cut)   # truncated: no credit, as in verify
        todo = [k for k in todo if k not in cut]
        if todo:
            record = question.record
            verdicts = await asyncio.to_thread(
                self._verifier, [question.traces[k].response for k in todo], record)
            question.verdicts.update(zip(todo, verdicts))
        return len({near_form(question.traces[k].response)
                    for k, ok in question.verdicts.items() if ok})

    def _spawn(self, coro: Awaitable) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and self._fatal is None:
            self._fatal = task.exception()
            for question in self._open:  # wake the emitter so it can stop the run
                question.done.set()

    def _check_fatal(self) -> None:
        if self._fatal is not None:
            raise self._fatal

    async def _send(self, question: _Question, ks: list[int]) -> None:
        s, prompt = self.settings, question.prompt
        keys = [question.keys[k] for k in ks]
        sampling = {k: v for k, v in s.sampling.items() if k != "seed"}
        if s.seed is not None:
            sampling["seed"] = int(hashlib.sha256(keys[0].encode()).hexdigest()[:8], 16) >> 1
        est = prompt.est_prompt_tokens + len(ks) * min(s.max_tokens, 1024)

        async def commit(result: Completion) -> None:
            entries = _entries(question, ks, result, s)
            now = time.time()
            attempts = [(e.key, now, result.endpoint, e.finish_reason or "ok", result.seconds)
                        for e in entries]
            await self.journal.write_async(entries, attempts)
            for k, entry in zip(ks, entries):
                question.traces[k] = entry
            self.stats.sent_traces += len(entries)

        try:
            await self.pool.complete(model=s.model, messages=prompt.messages, n=len(ks),
                                     max_tokens=s.max_tokens, sampling=sampling,
                                     est_tokens=est, headers={KEY_HEADER: ",".join(keys)},
                                     commit=commit)
        except NUnsupported:
            await asyncio.gather(*(self._send(question, [k]) for k in ks))
            return
        except RequestFailed as err:
            now = time.time()
            failed = [Entry(key=question.keys[k], prompt_hash=prompt.prompt_hash,
                            record_id=question.record["id"], k=k, model=s.model,
                            status="failed", error=err.reason, max_tokens=s.max_tokens,
                            updated=now) for k in ks]
            await self.journal.write_async(failed, [(e.key, now, None, err.reason[:500], None)
                                                    for e in failed])
            for k in ks:
                question.failures[k] = err.reason
            if err.retryable:
                self.stats.transient_failures += len(ks)
                self.stats.last_transient = err.reason[:300]
        left = [k for k in ks if k not in question.traces and k not in question.failures]
        if left:  # the endpoint returned fewer choices than asked for
            await self._send(question, left)
        if question.settled() and not question.done.is_set():
            self._settled(question)

    async def _emit_in_order(self, order: asyncio.Queue,
                             emit: Callable[[list[dict]], Awaitable[None]]) -> None:
        while True:
            question = await order.get()
            if question is None:
                return
            await question.done.wait()
            self._check_fatal()
            rows = self._rows(question)
            self.stats.traces += sum(1 for r in rows if not r.get("reason"))
            self.stats.rejected += sum(1 for r in rows if r.get("reason"))
            if self.progress is not None:
                self.progress.advance(len(rows))
            await emit(rows)

    def _measure(self, question: _Question) -> None:
        """Diversity of this question's traces, and what the server said it was."""
        texts = [e.response for e in question.traces.values() if e.response is not None]
        for entry in question.traces.values():
            self.stats.reported_models[entry.served_model or "(not reported)"] += 1
        if not texts:
            return
        d = measure(texts)
        self.stats.diversity[f"distinct_traces.{len(d.exact)}"] += 1
        self.stats.diversity[f"distinct_near.{len(d.near)}"] += 1
        self.stats.diversity[f"distinct_answers.{len(d.answers)}"] += 1
        if d.identical:
            self.stats.identical_questions += 1
            if self.stats.identical_questions == 1:
                log.warning(
                    "distill: the teacher returned %d identical samples for %s: it is not "
                    "sampling (a server that ignores temperature, e.g. greedy decoding); "
                    "distinct traces are what n buys, see distill.identical_questions in "
                    "the manifest", d.traces, question.record.get("id"))

    def _rows(self, question: _Question) -> list[dict]:
        record = question.record
        if question.error is not None:
            return [make_reject(question.error, **{c: record.get(c) for c in COLUMNS})]
        rows = []
        self._measure(question)
        for k in range(question.planned):
            rid = f"{record['id']}#{k}"
            entry = question.traces.get(k)
            if entry is None or entry.response is None:
                reason = (question.failures.get(k) or
                          f"empty response: finish_reason={entry.finish_reason}")
                if k in question.failures:
                    reason = f"teacher request failed: {reason}"
                rows.append(make_reject(reason, **{**{c: record.get(c) for c in COLUMNS},
                                                   "id": rid}))
                continue
            row = {c: record.get(c) for c in COLUMNS}
            row["id"] = rid
            row["response"] = entry.response
            meta = load_meta(record)
            meta.update({
                "distill.model": entry.model,
                "distill.k": k,
                "distill.finish_reason": entry.finish_reason,
                "distill.usage": entry.usage,
                "distill.request_key": entry.key,
                "distill.system_prompt_sha256": self._system_sha,
            })
            if k in question.verdicts:
                meta["distill.verified"] = question.verdicts[k]
            if entry.system_fingerprint:
                meta["distill.system_fingerprint"] = entry.system_fingerprint
            if entry.served_model and entry.served_model != entry.model:
                meta["distill.served_model"] = entry.served_model
            row["meta"] = dump_meta(meta)
            rows.append(row)
        return rows


def adaptive_check(config: DistillConfig) -> Callable[[list[str], dict], list[bool]] | None:
    """The function adaptive n counts verified traces with (`config.adaptive_check`), or
    None without adaptive n."""
    if config.until_distinct is None:
        return None
    return load_function(config.adaptive_check, "adaptive_check")[0]


def _entries(question: _Question, ks: list[int], result: Completion, s: Settings) -> list[Entry]:
    """One journal entry per returned choice; per-trace usage split from the request's."""
    n = min(len(ks), len(result.texts))
    per_trace = _split_completion_tokens(result, n, s.max_tokens)
    now = time.time()
    entries = []
    for i in range(n):
        usage = {"prompt_tokens": result.prompt_tokens, "completion_tokens": per_trace[i]}
        if len(ks) > 1:
            usage["request_completion_tokens"] = result.completion_tokens
            usage["request_n"] = len(result.texts)
        entries.append(Entry(
            key=question.keys[ks[i]], prompt_hash=question.prompt.prompt_hash,
            record_id=question.record["id"], k=ks[i], model=s.model, status="ok",
            response=result.texts[i], finish_reason=result.finish_reasons[i],
            max_tokens=s.max_tokens, prompt_tokens=result.prompt_tokens,
            completion_tokens=per_trace[i], usage=usage, served_model=result.served_model,
            system_fingerprint=result.system_fingerprint, updated=now))
    return entries


def _split_completion_tokens(result: Completion, n: int, max_tokens: int) -> list[int | None]:
    """A request with n > 1 reports one completion count: traces cut off used max_tokens,
    the others share the rest in proportion to their length. A backend that counts each
    sample (vLLM's engine) gives exact numbers."""
    exact = getattr(result, "choice_tokens", None)
    if exact is not None:
        return list(exact[:n])
    total = result.completion_tokens
    if total is None:
        return [None] * n
    if len(result.texts) == 1:
        return [total]
    cut = [result.finish_reasons[i] == "length" for i in range(n)]
    rest = max(0, total - max_tokens * sum(cut))
    lengths = [len(result.texts[i] or "") if not cut[i] else 0 for i in range(n)]
    whole = sum(lengths) or 1
    return [max_tokens if cut[i] else round(rest * lengths[i] / whole) for i in range(n)]


# ---------------------------------------------------------------------------------------
# Public API


def open_journal(config: DistillConfig | dict | None, journal_path: str | Path | None) -> Journal:
    path = journal_path or (config.journal if isinstance(config, DistillConfig) else
                            (config or {}).get("journal"))
    if not path:
        raise ValueError("distill needs a journal path (journal_path=... or config journal)")
    return Journal(path)


def _as_config(config: DistillConfig | dict | None) -> DistillConfig:
    if config is None:
        return DistillConfig()
    if isinstance(config, dict):
        return DistillConfig(**config)
    return config


async def distill_async(records: Iterable[dict], config: DistillConfig | dict | None = None,
                        journal_path: str | Path | None = None, *, total: int | None = None,
                        stats: dict | None = None, client_factory: Callable | None = None
                        ) -> AsyncIterator[dict]:
    """Async generator of output rows (records and rejects) in input order."""
    config = _as_config(config)
    settings = resolve(config)
    journal = open_journal(config, journal_path)
    engine = DistillEngine(settings, journal, total=total, client_factory=client_factory,
                           verifier=adaptive_check(config))
    out: asyncio.Queue = asyncio.Queue(maxsize=16)

    async def produce() -> None:
        try:
            await engine.run(records, out.put)
        finally:
            await out.put(_END)

    producer = asyncio.create_task(produce())
    try:
        while True:
            rows = await out.get()
            if rows is _END:
                break
            for row in rows:
                yield row
        await producer
    finally:
        producer.cancel()
        await asyncio.gather(producer, return_exceptions=True)
        journal.close()
        if stats is not None:
            stats.update(engine.stats.as_dict(engine.pool, settings))


def distill(records: Iterable[dict], config: DistillConfig | dict | None = None,
            journal_path: str | Path | None = None, *, total: int | None = None,
            stats: dict | None = None, client_factory: Callable | None = None
            ) -> Iterator[dict]:
    """Output rows (records and rejects) in input order; the network loop runs in a
    background thread. Closing the generator (or Ctrl-C) stops sending; every response
    received so far is already in the journal."""
    config = _as_config(config)
    settings = resolve(config)
    journal = open_journal(config, journal_path)
    engine = DistillEngine(settings, journal, total=total, client_factory=client_factory,
                           verifier=adaptive_check(config))
    out: queue.Queue = queue.Queue(maxsize=16)
    handle: dict[str, Any] = {}

    async def emit(rows: list[dict]) -> None:
        while True:
            try:
                out.put_nowait(rows)
                return
            except queue.Full:
                await asyncio.sleep(0.005)

    async def main() -> None:
        handle["loop"], handle["task"] = asyncio.get_running_loop(), asyncio.current_task()
        await engine.run(records, emit)

    def worker() -> None:
        try:
            asyncio.run(main())
        except BaseException as err:  # noqa: BLE001 - handed to the consuming thread
            handle["error"] = err
        finally:
            out.put(_END)

    thread = threading.Thread(target=worker, name="distill-loop", daemon=True)
    thread.start()
    finished = False
    try:
        while True:
            rows = out.get()
            if rows is _END:
                finished = True
                break
            yield from rows
        error = handle.get("error")
        if error is not None and not isinstance(error, asyncio.CancelledError):
            raise error
    finally:
        if not finished:
            loop, task = handle.get("loop"), handle.get("task")
            if loop is not None and task is not None:
                loop.call_soon_threadsafe(task.cancel)
            while thread.is_alive():
                try:
                    if out.get(timeout=0.1) is _END:
                        break
                except queue.Empty:
                    pass
        thread.join()
        journal.close()
        if stats is not None:
            stats.update(engine.stats.as_dict(engine.pool, settings))


def estimate(records: Iterable[dict], config: DistillConfig | dict | None = None,
             journal_path: str | Path | None = None) -> dict:
    """The dry run: how many requests a run would send and a token / cost estimate."""
    config = _as_config(config)
    s = resolve(config)
    journal = open_journal(config, journal_path) if (journal_path or config.journal) else None
    questions = reused = to_send = prompt_tokens = unreadable = requests = 0
    try:
        for record in records:
            questions += 1
            try:
                prompt = render_prompt(record, model=s.model, system_prompt=s.system_prompt,
                                       sampling=s.sampling, max_image_pixels=s.max_image_pixels)
            except PromptError:
                unreadable += 1
                continue
            keys = [request_key(prompt.prompt_hash, k) for k in range(s.max_samples)]
            found = journal.lookup(keys) if journal else {}
            done = sum(1 for key in keys if key in found and found[key].reusable(s.max_tokens))
            reused += done
            to_send += s.max_samples - done
            if s.max_samples - done:
                sends = 1 if s.use_n_param != "no" else s.max_samples - done
                requests += sends
                prompt_tokens += prompt.est_prompt_tokens * sends
    finally:
        if journal:
            journal.close()
    completion_max = to_send * s.max_tokens
    return {
        "model": s.model, "questions": questions, "traces": questions * s.max_samples,
        "reused_traces": reused, "traces_to_send": to_send,
        # with n > 1 in one request; an endpoint that refuses n needs one per trace
        "requests": requests,
        "unreadable_images": unreadable,
        "est_prompt_tokens": prompt_tokens,
        "max_completion_tokens": completion_max,
        "est_cost_usd_max": s.cost(prompt_tokens, completion_max, 0.0)
        if s.price_input_per_m is not None or s.price_output_per_m is not None else None,
    }
