"""The LLM client: several OpenAI-compatible endpoints behind one hard concurrency cap.

Distill's teacher requests and the verify judge's both go through `EndpointPool`, so both
get the same limits, retries, deadlines and bounded replies; `role` ("teacher", "judge")
and the option names only change what the errors say.

- `concurrency` is a hard cap on requests in flight over all endpoints (one semaphore);
  a request that waits to be retried gives its slot back while it waits.
- The least-busy endpoint gets each request; an endpoint that answered 429 with
  `Retry-After` (or keeps failing) is avoided until that time passes.
- Retries: 429, 408, 409, 5xx, timeouts and dropped connections are retried with
  exponential backoff and jitter, honouring `retry-after-ms` / `Retry-After`, until the
  request's deadline passes (not a fixed count: at 20% faults a small count loses requests;
  `max_attempts` adds a count for callers that want one).
- A 200 that is not a usable completion (not JSON, no choices, a body over
  `replies.MAX_REPLY_BYTES`, which is never read whole) is a failed attempt like a 500:
  retried with backoff until the deadline, never an answer and never an endless loop.
- Connection failures to every endpoint with no answer for `unreachable_after_s` (30 s)
  stop the run with `LLMError` naming the URLs (credentials masked): a dead or mistyped
  `--base-url` fails within a minute instead of retrying until the deadline.
- 400/413/422 fail the one request (it becomes a reject with the server's message); a 400
  for `n > 1` marks the endpoint as not supporting `n`; 401/403/404 stop the run with a
  clear error (wrong key, URL or model).
- Requests per minute and tokens per minute are paced before sending; token estimates
  are corrected with the usage each response reports. The pacing is a `Limiter`
  (`limits.py`): this process's `RateLimiter` by default, or one budget shared by every
  worker of a Ray run.
- Every reply is read through `omr_data.replies` (size cap while streaming, shape checks);
  every URL shown goes through `mask_url`.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import random
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import openai

try:   # the HTTP library the installed openai is built on: httpx, or its successor httpx2
    import httpx2 as httpx
except ImportError:
    import httpx

from omr_data.llm.errors import LLMError, NUnsupported, RequestFailed
from omr_data.llm.limits import Limiter, RateLimiter
from omr_data.replies import STREAM_BODY_HEADER, MalformedReply, chat_reply, read_capped
from omr_data.urls import mask_url

RETRY_STATUSES = {408, 409, 425, 429}
#: seconds of nothing but connection failures on every endpoint before the run stops
#: (the default of `unreachable_after_s`)
DEAD_AFTER_S = 30.0
#: ... and at least this many failed connections to each
DEAD_AFTER_FAILURES = 3
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 60.0
#: header naming the journal keys a request carries (comma separated); servers ignore it,
#: the simulated teacher counts responses per key with it
KEY_HEADER = "X-Request-Key"

log = logging.getLogger("omr_data.llm")

#: connections per client shard: httpcore scans its whole pool on every request, so one
#: pool of 64+ connections costs more CPU per request than several small ones
SHARD_CONNECTIONS = 16


@dataclass
class Endpoint:
    url: str
    clients: list                    # AsyncOpenAI shards, each with its own small pool
    shard_load: list = field(default_factory=list)
    in_flight: int = 0
    sent: int = 0
    errors: int = 0
    blocked_until: float = 0.0
    supports_n: bool | None = None   # None: not known yet
    down_since: float | None = None  # first connection failure since the last answer
    down_failures: int = 0

    def answered(self) -> None:
        """The server answered (any HTTP status): it is reachable."""
        self.down_since, self.down_failures = None, 0


@dataclass
class Completion:
    """One successful response, reduced to what the journal keeps."""

    texts: list[str | None]
    finish_reasons: list[str | None]
    prompt_tokens: int | None
    completion_tokens: int | None
    usage: dict | None
    served_model: str | None
    system_fingerprint: str | None
    endpoint: str
    seconds: float


@dataclass
class ClientStats:
    requests: int = 0          # attempts sent
    ok: int = 0
    retries: int = 0
    failed: int = 0            # requests given up (deadline or refused)
    errors: dict = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


class EndpointPool:
    """Sends chat completions to the least-busy endpoint under one concurrency cap.

    `limiter` paces every attempt (`limits.Limiter`); default `RateLimiter(rpm, tpm)`.
    `max_attempts` (None: no count) ends a request after that many failed attempts, even
    before its deadline. `role`, `url_option` and `key_option` name the server and the
    options to fix in error messages ("teacher", "--base-url", "api_key_env").
    """

    def __init__(self, base_urls: list[str], *, api_key: str, concurrency: int,
                 request_timeout_s: float, request_deadline_s: float,
                 rpm: int | None = None, tpm: int | None = None,
                 use_n_param: str = "auto", client_factory: Callable | None = None,
                 limiter: Limiter | None = None, unreachable_after_s: float = DEAD_AFTER_S,
                 max_attempts: int | None = None, role: str = "teacher",
                 url_option: str = "--base-url", key_option: str = "api_key_env"):
        if not base_urls:
            raise LLMError(f"no base URL for the {role}: set {url_option} URL")
        if max_attempts is not None and max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1 or None, got {max_attempts}")
        factory = client_factory or _openai_client
        shards = max(1, -(-concurrency // SHARD_CONNECTIONS))
        per_shard = -(-concurrency // shards)
        self.endpoints = []
        for url in base_urls:
            clients = [factory(url, api_key, per_shard, request_timeout_s) for _ in range(shards)]
            self.endpoints.append(Endpoint(url.rstrip("/"), clients, [0] * shards))
        for ep in self.endpoints:
            ep.supports_n = {"yes": True, "no": False}.get(use_n_param)
        self.concurrency = concurrency
        self.request_timeout_s = request_timeout_s
        self.request_deadline_s = request_deadline_s
        self.unreachable_after_s = unreachable_after_s
        self.limiter = limiter if limiter is not None else RateLimiter(rpm, tpm)
        self.max_attempts = max_attempts
        self.role, self.url_option, self.key_option = role, url_option, key_option
        self.stats = ClientStats()
        self.in_flight = 0
        self.max_in_flight = 0
        self._slots = asyncio.Semaphore(concurrency)
        self._rr = 0

    @property
    def n_param_usable(self) -> bool:
        """Whether a request with n > 1 can still go somewhere."""
        return any(ep.supports_n is not False for ep in self.endpoints)

    async def close(self) -> None:
        for ep in self.endpoints:
            for client in ep.clients:
                close = getattr(client, "close", None)
                if close is not None:
                    try:
                        await close()
                    except Exception:  # noqa: BLE001 - closing connections is best effort
                        pass

    async def complete(self, *, model: str, messages: list, n: int, max_tokens: int,
                       sampling: dict, est_tokens: int, headers: dict | None = None,
                       commit: Callable[[Completion], Awaitable[None]]) -> None:
        """Send until success, then `await commit(result)` while still holding the slot.

        Raises `RequestFailed` (deadline or attempts ran out, or refused), `NUnsupported`
        or `LLMError`.
        """
        deadline = time.monotonic() + self.request_deadline_s
        attempt, last_error = 0, "no attempt"
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or attempt == self.max_attempts:
                self.stats.failed += 1
                why = "deadline passed" if remaining <= 0 else "no usable reply"
                tries = f"{attempt} attempt" + ("" if attempt == 1 else "s")
                raise RequestFailed(f"{why} after {tries}: {last_error}", retryable=True)
            await self._wait_unblocked(n, deadline)
            await self.limiter.acquire(est_tokens)
            async with self._slots:
                ep = self._pick(n)
                shard = min(range(len(ep.clients)), key=ep.shard_load.__getitem__)
                ep.shard_load[shard] += 1
                ep.in_flight += 1
                ep.sent += 1
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                self.stats.requests += 1
                start = time.monotonic()
                try:
                    response = await _post_chat(ep.clients[shard], {
                        "model": model, "messages": messages, "n": n, "max_tokens": max_tokens,
                        **sampling}, headers, max(0.001, min(self.request_timeout_s, remaining)))
                except Exception as err:  # noqa: BLE001 - classified below
                    failure = err
                else:
                    failure = None
                finally:
                    ep.shard_load[shard] -= 1
                    ep.in_flight -= 1
                    self.in_flight -= 1
                if failure is None:
                    ep.answered()
                    result = _completion(response, mask_url(ep.url),
                                         time.monotonic() - start)
                    if n > 1 and ep.supports_n is None:
                        # a server that ignores `n` answers with fewer choices
                        ep.supports_n = len(result.texts) >= n
                    self.stats.ok += 1
                    self.stats.prompt_tokens += result.prompt_tokens or 0
                    self.stats.completion_tokens += result.completion_tokens or 0
                    used = (result.prompt_tokens or 0) + (result.completion_tokens or 0)
                    self.limiter.correct(used - est_tokens if used else 0)
                    await commit(result)  # durable before the slot is released
                    return
            attempt += 1
            last_error, delay = self._classify(failure, ep, n, attempt)
            self.stats.retries += 1
            ep.errors += 1
            if ep.down_since is not None:
                self._check_reachable(last_error)
                delay = min(delay, self.unreachable_after_s / 4)  # notice a dead one in time
            if attempt == self.max_attempts:
                continue                                          # no retry to wait for
            delay = min(delay, max(0.0, deadline - time.monotonic()))
            log.debug("retry %d in %.2fs after %s (%s)", attempt, delay, last_error,
                      mask_url(ep.url))
            if delay > 0:
                await asyncio.sleep(delay)

    def _classify(self, err: Exception, ep: Endpoint, n: int, attempt: int) -> tuple[str, float]:
        """(error text, seconds to wait) for a retryable failure; raises otherwise."""
        backoff = _backoff(attempt - 1)
        if isinstance(err, MalformedReply):
            ep.answered()
            self.stats.error("malformed reply")
            return f"malformed reply: {err}", backoff
        if isinstance(err, openai.APIStatusError):
            ep.answered()
            status = err.status_code
            message = _error_message(err)
            kind = f"HTTP {status}"
            self.stats.error(kind)
            if status in RETRY_STATUSES or status >= 500:
                retry_after = _retry_after(err.response.headers)
                if retry_after is not None:
                    ep.blocked_until = max(ep.blocked_until, time.monotonic() + retry_after)
                    jitter = random.uniform(0, 0.1 * retry_after + 0.01)
                    return f"{kind}: {message}", retry_after + jitter
                return f"{kind}: {message}", backoff
            if status in (401, 403):
                raise LLMError(f"{mask_url(ep.url)}: {kind} {message}: check the API key "
                               f"({self.key_option} names the environment variable)")
            if status == 404:
                raise LLMError(f"{mask_url(ep.url)}: {kind} {message}: check the base URL "
                               f"({self.url_option}; it usually ends in /v1) and the model name")
            if status == 400 and n > 1 and ep.supports_n is not True and _mentions_n(message):
                ep.supports_n = False
                raise NUnsupported(message)
            self.stats.failed += 1
            raise RequestFailed(f"{self.role} refused the request: {kind}: {message}",
                                retryable=False)
        if isinstance(err, openai.APITimeoutError):
            self.stats.error("timeout")
            if isinstance(err.__cause__, httpx.ConnectTimeout):
                # no connection at all (a host that drops packets): as dead as a refusal
                if ep.down_since is None:
                    ep.down_since = time.monotonic()
                ep.down_failures += 1
                return "connect timeout", backoff
            return f"timeout after {self.request_timeout_s:g}s", backoff
        if isinstance(err, openai.APIConnectionError):
            self.stats.error("connection")
            if ep.down_since is None:
                ep.down_since = time.monotonic()
            ep.down_failures += 1
            cause = err.__cause__ or err
            return f"connection error: {type(cause).__name__}: {cause}", backoff
        if isinstance(err, (asyncio.CancelledError, KeyboardInterrupt, SystemExit)):
            raise err
        self.stats.error(type(err).__name__)
        return f"{type(err).__name__}: {err}", backoff

    def _check_reachable(self, last_error: str) -> None:
        """Raise `LLMError` when no endpoint has answered for `unreachable_after_s` and
        each refused at least `DEAD_AFTER_FAILURES` connections since."""
        now = time.monotonic()
        if all(ep.down_since is not None and now - ep.down_since >= self.unreachable_after_s
               and ep.down_failures >= DEAD_AFTER_FAILURES for ep in self.endpoints):
            urls = ", ".join(mask_url(ep.url) for ep in self.endpoints)
            seconds = now - min(ep.down_since for ep in self.endpoints)  # type: ignore[type-var]
            raise LLMError(
                f"cannot reach the {self.role} at {urls}: only connection failures for "
                f"{seconds:.0f}s ({last_error}); check {self.url_option} and that the server "
                "is running, then rerun (answers received are kept)")

    async def _wait_unblocked(self, n: int, deadline: float) -> None:
        while True:
            usable = [ep for ep in self.endpoints if n == 1 or ep.supports_n is not False]
            if not usable:
                raise NUnsupported("no endpoint accepts n > 1")
            now = time.monotonic()
            soonest = min(ep.blocked_until for ep in usable)
            if soonest <= now or now >= deadline:
                return
            await asyncio.sleep(min(soonest, deadline) - now)

    def _pick(self, n: int) -> Endpoint:
        now = time.monotonic()
        usable = [ep for ep in self.endpoints if n == 1 or ep.supports_n is not False] \
            or self.endpoints
        ready = [ep for ep in usable if ep.blocked_until <= now] or usable
        if len(ready) == 1:
            return ready[0]
        self._rr += 1
        # Least busy; ties go round-robin so idle endpoints share the load.
        return min(ready, key=lambda ep: (ep.in_flight, (ready.index(ep) - self._rr) % len(ready)))


def _openai_client(url: str, api_key: str, concurrency: int, timeout: float):
    limits = httpx.Limits(max_connections=concurrency + 4,
                          max_keepalive_connections=concurrency + 4)
    http = openai.DefaultAsyncHttpxClient(limits=limits, timeout=timeout)
    return openai.AsyncOpenAI(base_url=url, api_key=api_key, max_retries=0, timeout=timeout,
                              http_client=http)


async def _post_chat(client: Any, body: dict, headers: dict | None, timeout: float) -> dict:
    """POST /chat/completions through the openai client (auth, errors, connection pool),
    without its per-request parameter transform and model parsing, which cost more CPU
    than everything else in the loop together; returns the JSON body."""
    response = await client.post("/chat/completions", cast_to=httpx.Response, body=body,
                                 options={"headers": {**(headers or {}), **STREAM_BODY_HEADER},
                                          "timeout": timeout})
    return chat_reply(await read_capped(response))


def _completion(response: dict, endpoint: str, seconds: float) -> Completion:
    choices = sorted(response["choices"], key=lambda c: c.get("index", 0))
    usage = response.get("usage") or None
    if usage:
        usage = {k: v for k, v in usage.items() if v is not None}
    return Completion(
        texts=[(c.get("message") or {}).get("content") for c in choices],
        finish_reasons=[c.get("finish_reason") for c in choices],
        prompt_tokens=usage.get("prompt_tokens") if usage else None,
        completion_tokens=usage.get("completion_tokens") if usage else None,
        usage=usage, served_model=response.get("model"),
        system_fingerprint=response.get("system_fingerprint"),
        endpoint=endpoint, seconds=seconds)


def _backoff(errors: int) -> float:
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** min(errors, 16))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def _retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _error_message(err: Exception) -> str:
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message")
        if message:
            return str(message)[:300]
    return str(getattr(err, "message", err))[:300]


def _mentions_n(message: str) -> bool:
    text = message.lower()
    return any(s in text for s in ("'n'", '"n"', " n ", "n >", "n>", "n must", "n=", "n is"))


class BackgroundLoop:
    """One event loop in a daemon thread, for a sync caller of the async pool: the pool
    lives on this loop, so its connections, rate budget and Retry-After blocks persist
    between calls, and `run(coro)` works the same from plain code, from inside a running
    event loop (a notebook, an async trainer) and in worker processes. Not fork-safe: a
    forked child must make its own (callers check the pid)."""

    def __init__(self, name: str):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Awaitable) -> Any:
        """The coroutine's result, run on the loop; this thread waits for it."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("BackgroundLoop.run called from its own loop (would deadlock)")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        """Cancel what is still running on the loop, then stop it."""
        async def cancel_rest() -> None:
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        if self.loop.is_running():
            self.run(cancel_rest())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join()
        self.loop.close()


def api_key_from_env(env: str) -> str:
    """The key from the named variable; servers without auth (vLLM) accept any value."""
    return os.environ.get(env) or "EMPTY"


__all__ = ["BackgroundLoop", "Completion", "ClientStats", "EndpointPool", "KEY_HEADER",
           "api_key_from_env"]
