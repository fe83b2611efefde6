"""Never hangs: guards for known blow-ups, per-item timeouts, killed and replaced workers."""

import os
import signal
import time

import pytest
from verify_helpers import tagged

from omr_data.verify.mathverify import HARD_GRACE_S, MathVerifyPool, too_complex


@pytest.mark.parametrize("pred", [
    "10^{10^{10^{10}}}", "(" * 300 + "2" + ")" * 300, "2^{99999999}", "12345!",
    "x + " * 400 + "1",
])
def test_pathological_answer_comes_back_in_well_under_a_second(score, pred):
    start = time.perf_counter()
    result = score(tagged(pred), "10^{10^{10^{9}}}")
    assert time.perf_counter() - start < 0.5
    assert result["acc"] == 0.0 and result["decided_by"] == "guard"


def test_100k_character_trace_scores_fast(score):
    text = "<think>" + "Consider the expression (a+b)^2. " * 3100 + "</think><answer>7</answer>"
    assert len(text) > 100_000
    start = time.perf_counter()
    assert score(text, "7")["acc"] == 1.0
    assert time.perf_counter() - start < 0.5


def test_guard_leaves_ordinary_exponents_alone():
    assert too_complex("e^{x^{2}}") is None
    assert too_complex("2^{10}") is None
    assert too_complex("\\frac{\\sqrt{3}}{2}") is None


def test_slow_comparison_times_out_and_is_counted():
    with MathVerifyPool(workers=1, timeout_s=0.05) as pool:
        result = pool.compare("x=3", "x=-3 + \\frac{\\sqrt{2}}{\\sqrt{3}} - \\sin(\\pi/7)")
        assert result == ("timeout",)
        assert pool.timeouts == 1


def test_worker_that_stops_answering_is_killed_and_replaced():
    # SIGSTOP stands in for a worker stuck in C code, where its own timer cannot fire
    with MathVerifyPool(workers=1, timeout_s=0.2) as pool:
        pool.compare("1", "1")
        stuck = pool._pool[0].proc
        os.kill(stuck.pid, signal.SIGSTOP)
        start = time.perf_counter()
        assert pool.compare("\\sqrt{8}", "2\\sqrt{2}") == ("timeout",)
        assert time.perf_counter() - start < 0.2 + HARD_GRACE_S + 1.0
        assert stuck.poll() is not None                     # killed, not left behind
        assert pool._pool[0].proc.pid != stuck.pid
        assert pool.compare("2", "\\sqrt{4}")[:2] == ("ok", True)


def test_results_are_cached_per_pair(pool):
    pool.compare("\\sqrt{8}", "2\\sqrt{2}")
    assert ("\\sqrt{8}", "2\\sqrt{2}") in pool._cache


def test_in_process_mode_works_without_child_processes():
    with MathVerifyPool(in_process=True) as pool:
        assert pool.compare("\\sqrt{12}", "2\\sqrt{3}")[:2] == ("ok", True)
        assert pool._pool == []


def test_100k_character_answer_scores_fast(score):
    text = "<think>t</think><answer>" + "1+" * 50_000 + "1</answer>"
    start = time.perf_counter()
    result = score(text, "3")
    assert time.perf_counter() - start < 0.5
    assert result["acc"] == 0.0 and result["decided_by"] == "guard"
