import pytest


@pytest.fixture(scope="session")
def pool():
    """One math-verify pool for the session (workers take about a second to start)."""
    from omr_data.verify.mathverify import MathVerifyPool
    with MathVerifyPool(workers=2, timeout_s=2.0) as p:
        yield p


@pytest.fixture
def score(pool):
    """compute_score-like call on the shared pool."""
    from omr_data.verify import score_batch

    def run(response, gold, answer_type=None, choices=None, **kw):
        item = {"response": response, "answer": gold, "answer_type": answer_type,
                "choices": choices}
        return score_batch([item], pool=pool, **kw)[0]
    return run
