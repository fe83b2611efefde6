"""Rate limiters: the reservation budget (deterministic, on an injected clock), the
EndpointPool's limiter hook, and which limiter a run picks."""

import asyncio
import random

import pytest
from distill_helpers import config

from omr_data.distill.config import DistillConfig, resolve
from omr_data.distill.stage import DistillStage
from omr_data.llm.client import EndpointPool, api_key_from_env
from omr_data.llm.errors import LLMError
from omr_data.llm.limits import Budget, Limiter, RateLimiter, limiter_for


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_requests_per_minute_are_spaced_without_burst():
    clock = Clock()
    budget = Budget(60, None, clock=clock)           # one request a second
    assert [budget.reserve(10) for _ in range(3)] == [0.0, 1.0, 2.0]
    clock.t += 2.5                                    # the third slot is at +3
    assert budget.reserve(10) == pytest.approx(0.5)
    clock.t += 60                                     # idle time does not pile up a burst
    assert [budget.reserve(10) for _ in range(2)] == [0.0, 1.0]
    assert budget.stats() == {"requests": 6, "tokens": 60, "waited_s": 4.5, "max_wait_s": 2.0}


def test_tokens_per_minute_bucket_holds_one_minute_and_queues_in_order():
    clock = Clock()
    budget = Budget(None, 600, clock=clock)          # 10 tokens/s, bucket of 600
    assert budget.reserve(400) == 0.0
    assert budget.reserve(400) == pytest.approx(20.0)   # 200 left: 200 more take 20 s
    # larger than the bucket: waits for a full bucket (after the booked 800), leaves debt
    assert budget.reserve(1000) == pytest.approx(80.0)
    assert budget.reserve(1) == pytest.approx(80.0 + 100.0 - 59.9)
    clock.t += 1000
    assert budget.reserve(600) == 0.0


def test_corrections_charge_and_refund_but_never_overfill():
    clock = Clock()
    budget = Budget(None, 600, clock=clock)
    assert budget.reserve(600) == 0.0
    budget.correct(-300)                              # used 300 less than estimated
    assert budget.reserve(300) == 0.0
    budget.correct(+100)                              # used 100 more
    assert budget.reserve(100) == pytest.approx(20.0)
    clock.t += 1000                                   # full again; a refund adds nothing
    budget.correct(-5000)
    assert budget.reserve(600) == 0.0
    assert budget.reserve(600) == pytest.approx(60.0)


def test_a_request_held_back_by_tokens_pushes_the_next_request_slot():
    """Both caps are booked at the same send time: a token wait cannot let the requests
    behind it bunch up faster than rpm allows."""
    clock = Clock()
    budget = Budget(60, 6000, clock=clock)           # 1 request/s, 100 tokens/s
    assert budget.reserve(6000) == 0.0
    assert budget.reserve(6000) == pytest.approx(60.0)
    assert budget.reserve(1) == pytest.approx(61.0)   # not 60.01: one second after
    assert budget.reserve(1) == pytest.approx(62.0)


def test_sends_at_the_booked_times_never_exceed_either_cap():
    rng = random.Random(3)
    clock = Clock()
    rpm, tpm = 120, 3000                              # 2 req/s, 50 tokens/s, bucket 3000
    budget = Budget(rpm, tpm, clock=clock)
    sends = []
    for _ in range(400):
        clock.t += rng.expovariate(4.0)               # callers arrive faster than allowed
        tokens = rng.randint(1, 400)
        sends.append((clock.t + budget.reserve(tokens), tokens))
    sends.sort()
    times = [t for t, _ in sends]
    assert min(b - a for a, b in zip(times, times[1:])) >= 60 / rpm - 1e-9
    for i, (start, _) in enumerate(sends):            # token envelope: bucket + rate * w
        for w in (1.0, 10.0, 60.0):
            used = sum(tok for t, tok in sends[i:] if t < start + w)
            assert used <= tpm + tpm / 60 * w + 1e-6
    assert budget.stats()["requests"] == 400


def test_unlimited_and_bad_values():
    assert Budget(None, None).reserve(10 ** 9) == 0.0
    with pytest.raises(ValueError, match="rpm must be >= 1"):
        Budget(0, None)


class Recording:
    """A limiter that books slots in a Budget and records what the pool asked for."""

    def __init__(self, budget: Budget):
        self.budget, self.acquired, self.corrections = budget, [], []

    async def acquire(self, tokens: int) -> None:
        self.acquired.append(tokens)
        wait = self.budget.reserve(tokens)
        if wait > 0:
            await asyncio.sleep(wait)

    def correct(self, delta: int) -> None:
        self.corrections.append(delta)
        self.budget.correct(delta)


def test_teacher_pool_paces_every_attempt_through_the_given_limiter(server):
    limiter = Recording(Budget(1200, None))           # 20 requests/s
    assert isinstance(limiter, Limiter)

    async def go():
        pool = EndpointPool([server.base_url], api_key="x", concurrency=8,
                            request_timeout_s=5, request_deadline_s=30, limiter=limiter)
        done = []

        async def commit(result):
            done.append(result)

        async def one(i):
            await pool.complete(model="omr-data/simulated-teacher", n=1, max_tokens=256,
                                messages=[{"role": "user", "content": f"What is {i} + 1?"}],
                                sampling={"temperature": 0.7}, est_tokens=500, commit=commit)
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.gather(*(one(i) for i in range(6)))
        elapsed = loop.time() - start
        await pool.close()
        return pool, done, elapsed

    pool, done, elapsed = asyncio.run(go())
    assert len(done) == 6 and pool.limiter is limiter
    assert limiter.acquired == [500] * 6
    used = [r.prompt_tokens + r.completion_tokens for r in done]
    assert sorted(limiter.corrections) == sorted(u - 500 for u in used)
    assert elapsed >= 5 * 60 / 1200 - 0.01           # six requests, 50 ms apart


def test_the_default_limiter_is_the_in_process_one(server):
    pool = EndpointPool([server.base_url], api_key="x", concurrency=2, request_timeout_s=5,
                        request_deadline_s=5, rpm=30, tpm=1000)
    assert isinstance(pool.limiter, RateLimiter)
    assert (pool.limiter.rpm, pool.limiter.tpm) == (30, 1000)
    settings = resolve(config(server, max_requests_per_minute=30))
    limiter = limiter_for(settings.rpm, settings.tpm, settings.shared_limiter)
    assert isinstance(limiter, RateLimiter) and limiter.rpm == 30
    assert api_key_from_env("OMR_DATA_NO_SUCH_KEY") == "EMPTY"


def test_shared_limiter_outside_a_ray_run_is_a_clear_error(server):
    pytest.importorskip("ray")
    import ray
    if ray.is_initialized():
        pytest.skip("Ray is running in this process")
    settings = resolve(config(server, shared_limiter="distill-limiter-x"))
    with pytest.raises(LLMError, match="not part of a Ray run.*leave it unset"):
        limiter_for(settings.rpm, settings.tpm, settings.shared_limiter)


def test_shared_limiter_is_operational_and_http_only():
    base = {"teacher": "simulated", "n": 2, "max_requests_per_minute": 60}
    assert DistillStage(base).cache_key(["p"]) == \
        DistillStage({**base, "shared_limiter": "distill-limiter-abc"}).cache_key(["p"])
    assert DistillStage(base).cache_key(["p"]) != \
        DistillStage({**base, "n": 3}).cache_key(["p"])
    assert "shared_limiter" in DistillStage.cache_exclude
    assert DistillConfig(teacher="simulated").shared_limiter is None
    with pytest.raises(ValueError, match="shared_limiter: not used with backend vllm"):
        DistillConfig(teacher="simulated", backend="vllm", shared_limiter="distill-limiter-x")


def test_distill_plans_its_cluster_run_split_shared_and_one_journal_per_unit(tmp_path):
    stage = DistillStage({"teacher": "simulated", "concurrency": 10,
                          "max_requests_per_minute": 120})
    plan = stage.cluster_plan(wanted=8, units=3, output=tmp_path)
    assert plan.workers == 3 and plan.worker_config.concurrency == 3       # 3 * 3 <= 10
    assert (plan.shared_limiter.rpm, plan.shared_limiter.tpm) == (120, None)
    assert plan.worker_config.shared_limiter == plan.shared_limiter.name
    assert plan.worker_config.progress is False
    unit = plan.unit_config(plan.worker_config, "unit-00002")
    assert unit.journal == str(tmp_path.resolve() / "journal.units" / "unit-00002.sqlite")
    assert stage.cache_key(["p"]) == DistillStage(unit).cache_key(["p"])
    few = DistillStage({"teacher": "simulated", "concurrency": 2}).cluster_plan(
        wanted=8, units=5, output=tmp_path)
    assert few.workers == 2 and few.shared_limiter is None   # every actor keeps a slot
