"""The judge client is bounded: an empty or malformed 200 is a failed attempt (never a
cached verdict), a dead endpoint is a quick, clear error with credentials masked."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))
from fake_openai import FakeOpenAI, completion, free_port  # noqa: E402

from omr_data.verify.judge import Judge, JudgeError  # noqa: E402


def test_empty_and_malformed_200s_are_retried_then_refused_and_not_cached(tmp_path):
    bodies = iter([b'{"choices": []}', b"not json"] * 10)
    with FakeOpenAI(lambda _: (200, next(bodies), True)) as srv:
        judge = Judge(base_url=srv.base_url, cache_path=tmp_path / "j.sqlite", max_retries=2)
        with pytest.raises(JudgeError, match="no usable reply after 3 attempts"):
            judge.judge("2+3?", "5", "five")
        assert srv.requests == 3 and len(judge.cache) == 0


def test_a_good_reply_after_an_empty_one_is_used(tmp_path):
    bodies = iter([b'{"choices": []}', completion("1")])
    with FakeOpenAI(lambda _: (200, next(bodies), True)) as srv:
        judge = Judge(base_url=srv.base_url, cache_path=tmp_path / "j.sqlite", max_retries=2)
        assert judge.judge("2+3?", "5", "five").value == 1
        assert srv.requests == 2


def test_dead_judge_endpoint_is_a_clear_error_with_the_url_masked(tmp_path):
    url = f"http://me:pw@127.0.0.1:{free_port()}/v1?key=SECRET"
    judge = Judge(base_url=url, cache_path=tmp_path / "j.sqlite", max_retries=1)
    with pytest.raises(JudgeError) as err:
        judge.judge("2+3?", "5", "five")
    assert "127.0.0.1" in str(err.value) and "pw" not in str(err.value)
    assert "SECRET" not in str(err.value)
