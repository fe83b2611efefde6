"""Request and token rate limits for the LLM client, in one process or over a cluster.

`EndpointPool` paces every attempt through a `Limiter`: `await acquire(est_tokens)` before
sending, `correct(actual - est)` once the response reports its usage. Two kinds exist:

* `RateLimiter`, the default: one process, one budget.
* `RayLimiter`: the proxy of a `Budget` that lives in one Ray actor for a whole run, so a
  stage's requests-per-minute and tokens-per-minute caps hold over every worker of the
  run. A stage asks the ray executor for that actor in its `Stage.cluster_plan` (a
  `SharedLimiter`) and names it in the workers' config; `limiter_for` picks the proxy
  from that name.

A `Budget` never blocks: `reserve(tokens)` books the earliest slot that both caps allow
and answers how many seconds the caller must wait for it, so one actor serves every
worker, and slots are handed out first come, first served (each worker books one at a
time, see `RayLimiter`). Its semantics are those of
`RateLimiter`: requests are spaced 60/rpm seconds apart (no burst); tokens come from a
bucket holding one minute of `tpm`, refilled continuously; a request larger than the
bucket waits for a full bucket and leaves it in debt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from omr_data.llm.errors import LLMError

#: the Ray namespace of the run-wide limiter actors
NAMESPACE = "omr-data"


@runtime_checkable
class Limiter(Protocol):
    """What `EndpointPool` needs from a rate limiter."""

    async def acquire(self, tokens: int) -> None:
        """Return when a request estimated at `tokens` tokens may be sent."""

    def correct(self, delta: int) -> None:
        """Charge (delta > 0) or refund (delta < 0) actual minus estimated tokens."""


class RateLimiter:
    """Paces requests per minute and (estimated) tokens per minute in this process;
    None = unlimited."""

    def __init__(self, rpm: int | None, tpm: int | None):
        self.rpm, self.tpm = rpm, tpm
        self._next = 0.0
        self._tokens = float(tpm or 0)
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self, tokens: int) -> None:
        if not self.rpm and not self.tpm:
            return
        async with self._lock:
            now = time.monotonic()
            if self.rpm:
                wait = self._next - now
                if wait > 0:
                    await asyncio.sleep(wait)
                    now = time.monotonic()
                self._next = max(now, self._next) + 60.0 / self.rpm
            if self.tpm:
                need = min(tokens, self.tpm)
                while True:
                    self._refill()
                    if self._tokens >= need:
                        break
                    await asyncio.sleep((need - self._tokens) / (self.tpm / 60.0))
                self._tokens -= tokens

    def correct(self, delta: int) -> None:
        """Charge (or refund) the difference between actual and estimated tokens."""
        if self.tpm:
            self._refill()
            self._tokens = min(float(self.tpm), self._tokens - delta)

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(float(self.tpm), self._tokens + (now - self._stamp) * self.tpm / 60.0)
        self._stamp = now


class _Bucket:
    """One rate as a virtual schedule: `full_at` is when the bucket would be full again
    (in the past: it is full). Level at t = capacity - max(0, full_at - t) * rate."""

    def __init__(self, per_minute: int, capacity: float, now: float):
        self.rate = per_minute / 60.0
        self.capacity = float(capacity)
        self.full_at = now

    def earliest(self, cost: float, now: float) -> float:
        """First time >= now at which min(cost, capacity) is in the bucket, counting every
        reservation already made."""
        need = min(cost, self.capacity)
        return max(now, self.full_at - (self.capacity - need) / self.rate)

    def take(self, cost: float, at: float) -> None:
        self.full_at = max(self.full_at, at) + cost / self.rate

    def adjust(self, delta: float, now: float) -> None:
        if delta > 0:
            self.full_at = max(self.full_at, now) + delta / self.rate
        elif self.full_at > now:   # a refund never fills the bucket beyond its capacity
            self.full_at = max(now, self.full_at + delta / self.rate)


class Budget:
    """Requests per minute and tokens per minute as reservations (None = unlimited).

    `reserve(tokens)` returns the seconds to wait before sending; the slot is taken at
    once, so the next caller queues behind it. `clock` is injectable for tests.
    """

    def __init__(self, rpm: int | None, tpm: int | None, *,
                 clock: Callable[[], float] = time.monotonic):
        for name, value in (("rpm", rpm), ("tpm", tpm)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 or None (unlimited), got {value}")
        self.clock = clock
        now = clock()
        self._requests = _Bucket(rpm, 1, now) if rpm else None   # spacing, no burst
        self._tokens = _Bucket(tpm, tpm, now) if tpm else None    # one minute of tokens
        self.requests = 0
        self.tokens = 0
        self.waited_s = 0.0
        self.max_wait_s = 0.0

    def reserve(self, tokens: int) -> float:
        now = self.clock()
        at = now
        if self._requests is not None:
            at = max(at, self._requests.earliest(1, now))
        if self._tokens is not None:
            at = max(at, self._tokens.earliest(tokens, now))
        if self._requests is not None:
            self._requests.take(1, at)
        if self._tokens is not None:
            self._tokens.take(tokens, at)
        wait = at - now
        self.requests += 1
        self.tokens += tokens
        self.waited_s += wait
        self.max_wait_s = max(self.max_wait_s, wait)
        return wait

    def correct(self, delta: int) -> None:
        if self._tokens is not None and delta:
            self._tokens.adjust(delta, self.clock())
        self.tokens += delta

    def stats(self) -> dict:
        return {"requests": self.requests, "tokens": self.tokens,
                "waited_s": round(self.waited_s, 3), "max_wait_s": round(self.max_wait_s, 3)}


class RayLimiter:
    """Client side of a run-wide `Budget` in the Ray actor `name`: asks it for a slot,
    then sleeps here until the slot comes (the actor never waits for anyone).

    One slot at a time per process, like `RateLimiter`'s lock: the next request books
    only after this one's slot has come. So the actor's queue holds at most one booking
    per worker, the workers' slots interleave (each gets an equal share while all are
    busy, one alone gets the whole rate), and a send made late (a slow reply, a busy
    event loop) pushes the next booking back instead of letting booked requests catch
    up in a burst. In any window of w seconds the server sees at most rpm/60 * w + 1
    requests, plus one late send per worker. One process books at most one slot per
    actor round trip (about a millisecond: a thousand requests a second).
    """

    def __init__(self, name: str):
        try:
            import ray
        except ImportError:
            ray = None
        if ray is None or not ray.is_initialized():
            raise LLMError(f"shared_limiter={name!r} names a Ray actor, but this process is "
                           "not part of a Ray run; it is set by the ray executor: leave it unset")
        try:
            self._handle = ray.get_actor(name, namespace=NAMESPACE)
        except ValueError:
            raise LLMError(f"the run's shared rate limiter (Ray actor {name!r}) does not exist "
                           "(the run that started it has ended or it died); rerun the stage, "
                           "the journals keep every answer received") from None
        self.name = name
        self._died = ray.exceptions.RayActorError
        self._turn = asyncio.Lock()

    async def acquire(self, tokens: int) -> None:
        async with self._turn:
            try:
                wait = await self._handle.reserve.remote(int(tokens))
            except self._died as err:
                raise LLMError(f"the run's shared rate limiter (Ray actor {self.name!r}) died: "
                               f"{str(err).strip().splitlines()[0][:300]}; rerun the stage, "
                               "the journals keep every answer received") from None
            if wait > 0:
                await asyncio.sleep(wait)

    def correct(self, delta: int) -> None:
        if delta:
            self._handle.correct.remote(int(delta))   # fire and forget


def limiter_for(rpm: int | None, tpm: int | None, shared: str | None = None) -> Limiter:
    """The limiter a client uses: the run-wide one named `shared` (a Ray actor), else this
    process's own `RateLimiter` over rpm and tpm."""
    if shared:
        return RayLimiter(shared)
    return RateLimiter(rpm, tpm)


__all__ = ["Budget", "Limiter", "NAMESPACE", "RateLimiter", "RayLimiter", "limiter_for"]
