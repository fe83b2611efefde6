"""The offline vLLM backend: `backend: vllm` runs a `vllm.LLM` engine in this process.

On a GPU machine the teacher can run without a server: `VLLMPool` stands in for the HTTP
`EndpointPool` (same `complete(...)` contract), so the engine's loop is unchanged. The
messages are the ones the HTTP path sends (system prompt, then the images as base64 data
URLs and the question text, which `LLM.chat` accepts in the OpenAI format); a request
becomes `SamplingParams(n, temperature, top_p, max_tokens, seed)` with the same derived
seed, so journal keys, `finish_reason`, token usage and output records match the HTTP
path, and a journal written by one backend is resumed by the other. Each response is
durable in the journal before its row is yielded (the engine's `commit`).

Requests are batched: the pool collects up to `vllm_batch_size` pending requests (each is
one question with its n samples) into one `LLM.chat` call, which vLLM schedules with
continuous batching on the GPUs. The call runs in a background thread, so the loop keeps
rendering the next questions and writing the journal meanwhile. A batch that vLLM refuses
(`ValueError`, e.g. a prompt longer than `max_model_len`) is retried one request at a
time, and a request refused on its own fails alone (it becomes a reject; a rerun retries
it). Any other engine error stops the run with an `LLMError`.

The engine is built lazily, once per process and engine settings (`vllm.LLM(model=...,
tensor_parallel_size=..., gpu_memory_utilization=..., max_model_len=..., **engine_kwargs)`),
and reused by later runs in the same process (the runner's units); building one with other
settings drops the previous engine first.

Install with `pip install 'omr-data[vllm]'` on a GPU machine (a vLLM recent enough to
run an engine outside the main thread: vLLM V1 releases before Aug 2025 refuse to).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from omr_data.distill.config import VLLM_INSTALL_HINT, Settings
from omr_data.llm.client import ClientStats, Completion
from omr_data.llm.errors import LLMError, RequestFailed

log = logging.getLogger("omr_data.distill")

#: after the queue runs dry, wait this long for more requests before starting a batch
LINGER_S = 0.05
#: never hold a non-empty batch back longer than this
MAX_WAIT_S = 1.0
#: vLLM V1 releases from 0.7.3 until vLLM PR #23298 (Aug 2025) refuse to start an engine
#: outside the main thread; the engine here is built and called from background threads
THREAD_SAFE_HINT = "install vllm >= 0.10.2"


def import_vllm() -> Any:
    """The vllm module, or an error that says how to install it."""
    try:
        import vllm
    except ImportError as err:
        raise LLMError(f"backend vllm needs the vllm package: {VLLM_INSTALL_HINT} "
                           f"({type(err).__name__}: {err})") from None
    return vllm


def engine_args(settings: Settings) -> dict:
    """The `vllm.LLM` constructor arguments for these settings."""
    args: dict[str, Any] = {"model": settings.model,
                            "tensor_parallel_size": settings.tensor_parallel_size,
                            "gpu_memory_utilization": settings.gpu_memory_utilization}
    if settings.max_model_len is not None:
        args["max_model_len"] = settings.max_model_len
    args.update(settings.engine_kwargs)
    return args


# One engine per process: a model of this size fills the GPUs, so a second one replaces it.
_ENGINE: dict[str, Any] = {}
_ENGINE_LOCK = threading.Lock()


def get_llm(args: dict) -> tuple[Any, threading.Lock]:
    """The cached `vllm.LLM` for `args` (built on first use) and the lock that serialises
    calls to it (an `LLM` is not thread-safe)."""
    key = json.dumps(args, sort_keys=True, default=str)
    with _ENGINE_LOCK:
        if _ENGINE.get("key") == key:
            return _ENGINE["llm"], _ENGINE["lock"]
        if "llm" in _ENGINE:
            with _ENGINE["lock"]:  # let a call still running on the old engine end
                _ENGINE.clear()
            gc.collect()
        vllm = import_vllm()
        log.info("distill: building vllm.LLM(%s)", ", ".join(f"{k}={v!r}" for k, v in args.items()))
        start = time.monotonic()
        try:
            llm = vllm.LLM(**args)
        except Exception as err:  # noqa: BLE001 - a clear stop, whatever the engine raised
            hint = ""
            if "main thread" in str(err):
                hint = (" (this vLLM refuses to run outside the main thread; the distill loop "
                        f"runs in a background thread: {THREAD_SAFE_HINT})")
            raise LLMError(f"vllm.LLM could not start for model {args['model']!r}: "
                               f"{type(err).__name__}: {err}{hint}") from err
        log.info("distill: vLLM engine ready in %.0f s", time.monotonic() - start)
        _ENGINE.update(key=key, llm=llm, lock=threading.Lock())
        return llm, _ENGINE["lock"]


@dataclass
class EngineCompletion(Completion):
    """A `Completion` with exact per-sample completion token counts (vLLM reports them)."""

    choice_tokens: list[int] | None = None


@dataclass(eq=False)
class _Request:
    messages: list
    params: Any
    future: asyncio.Future


class VLLMPool:
    """`EndpointPool`'s contract over an offline `vllm.LLM`, batching requests."""

    #: vLLM samples n sequences per request natively
    n_param_usable = True

    def __init__(self, settings: Settings):
        self.settings = settings
        self.args = engine_args(settings)
        self.batch_size = settings.vllm_batch_size
        self.stats = ClientStats()
        self.in_flight = 0
        self.max_in_flight = 0
        self.batches = 0
        self._queue: asyncio.Queue | None = None
        self._batcher: asyncio.Task | None = None
        self._endpoint = "vllm-offline"

    # -- the EndpointPool contract ------------------------------------------------------
    async def complete(self, *, model: str, messages: list, n: int, max_tokens: int,
                       sampling: dict, est_tokens: int, headers: dict | None = None,
                       commit: Callable[[Completion], Awaitable[None]]) -> None:
        """Queue the request for the next `LLM.chat` batch, then `await commit(result)`.

        Raises `RequestFailed` (vLLM refused this request) or `LLMError` (the engine
        failed or could not start)."""
        vllm = import_vllm()
        params = vllm.SamplingParams(n=n, max_tokens=max_tokens, **sampling)
        if self._queue is None:
            self._queue = asyncio.Queue()
        if self._batcher is None or self._batcher.done():
            self._batcher = asyncio.ensure_future(self._batch_loop())
        future = asyncio.get_running_loop().create_future()
        await self._queue.put(_Request(messages, params, future))
        try:
            result = await future
        except RequestFailed:
            self.stats.failed += 1
            raise
        self.stats.ok += 1
        self.stats.prompt_tokens += result.prompt_tokens or 0
        self.stats.completion_tokens += result.completion_tokens or 0
        await commit(result)  # durable before the caller moves on

    async def close(self) -> None:
        if self._batcher is not None:
            self._batcher.cancel()
            await asyncio.gather(self._batcher, return_exceptions=True)
        while self._queue is not None and not self._queue.empty():
            request = self._queue.get_nowait()
            if not request.future.done():
                request.future.cancel()

    # -- batching ------------------------------------------------------------------------
    async def _batch_loop(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            started = time.monotonic()
            while len(batch) < self.batch_size:
                try:
                    batch.append(self._queue.get_nowait())
                    continue
                except asyncio.QueueEmpty:
                    pass
                wait = min(LINGER_S, MAX_WAIT_S - (time.monotonic() - started))
                if wait <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), wait))
                except asyncio.TimeoutError:
                    break
            batch = [r for r in batch if not r.future.done()]
            if not batch:
                continue
            self.batches += 1
            self.stats.requests += len(batch)
            self.in_flight = len(batch)
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                outcomes = await _in_thread(self._generate, batch)
            except asyncio.CancelledError:
                for request in batch:
                    request.future.cancel()
                raise
            except Exception as err:  # noqa: BLE001 - the engine failed: every caller sees it
                outcomes = [err] * len(batch)
            finally:
                self.in_flight = 0
            for request, outcome in zip(batch, outcomes):
                if request.future.done():
                    continue
                if isinstance(outcome, BaseException):
                    request.future.set_exception(outcome)
                else:
                    request.future.set_result(outcome)

    def _generate(self, batch: list[_Request]) -> list[Completion | RequestFailed]:
        """Runs in a background thread: one `LLM.chat` call for the batch, or one call per
        request when vLLM refuses the batch, to find the request it refuses."""
        llm, lock = get_llm(self.args)
        with lock:
            start = time.monotonic()
            try:
                outputs = self._chat(llm, batch)
            except ValueError as err:
                if len(batch) == 1:
                    return [_refused(err)]
                log.warning("distill: vLLM refused a batch of %d (%s); retrying one by one",
                            len(batch), err)
            else:
                seconds = time.monotonic() - start
                return [self._completion(out, seconds) for out in outputs]
            results: list[Completion | RequestFailed] = []
            for request in batch:
                start = time.monotonic()
                try:
                    (out,) = self._chat(llm, [request])
                except ValueError as err:
                    results.append(_refused(err))
                else:
                    results.append(self._completion(out, time.monotonic() - start))
            return results

    def _chat(self, llm: Any, batch: list[_Request]) -> list:
        try:
            outputs = llm.chat([r.messages for r in batch], [r.params for r in batch],
                               use_tqdm=False)
        except ValueError:
            raise
        except Exception as err:  # noqa: BLE001 - engine failures stop the run, clearly
            raise LLMError(f"vLLM engine failed on a batch of {len(batch)} request(s): "
                               f"{type(err).__name__}: {err}") from err
        if len(outputs) != len(batch):
            raise LLMError(f"vLLM returned {len(outputs)} outputs for {len(batch)} "
                               "requests")
        return list(outputs)

    def _completion(self, output: Any, seconds: float) -> EngineCompletion:
        """An OpenAI-shaped completion from a `RequestOutput`: text, finish_reason and
        token counts per sample, the prompt's token count."""
        samples = sorted(output.outputs, key=lambda o: getattr(o, "index", 0))
        tokens = [len(o.token_ids) for o in samples]
        prompt_ids = getattr(output, "prompt_token_ids", None)
        prompt_tokens = len(prompt_ids) if prompt_ids is not None else None
        completion_tokens = sum(tokens)
        usage = {"completion_tokens": completion_tokens}
        if prompt_tokens is not None:
            usage.update(prompt_tokens=prompt_tokens,
                         total_tokens=prompt_tokens + completion_tokens)
        return EngineCompletion(
            texts=[o.text for o in samples],
            finish_reasons=[o.finish_reason for o in samples],
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, usage=usage,
            served_model=self.settings.model, system_fingerprint=None,
            endpoint=self._endpoint, seconds=seconds, choice_tokens=tokens)


def _refused(err: ValueError) -> RequestFailed:
    return RequestFailed(f"vLLM refused the request: {type(err).__name__}: {err}"[:1000],
                         retryable=False)


def _in_thread(fn: Callable, *args: Any) -> asyncio.Future:
    """Run `fn(*args)` in a daemon thread; the future settles on this loop. Unlike
    `asyncio.to_thread`, stopping the run (Ctrl-C) does not wait for a GPU batch to end."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def target() -> None:
        try:
            result, error = fn(*args), None
        except BaseException as err:  # noqa: BLE001 - handed to the loop
            result, error = None, err
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:  # the loop is gone: the run was stopped
            pass

    threading.Thread(target=target, daemon=True, name="distill-vllm").start()
    return future
