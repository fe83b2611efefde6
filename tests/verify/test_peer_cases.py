"""Agreement with peer projects' own labelled answer-equivalence cases
(tests/verify/data/peer_cases.jsonl, re-typed with their sources cited in its builder)."""

import importlib.util
import json
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def load():
    return [json.loads(line) for line in (DATA / "peer_cases.jsonl").read_text().splitlines()]


def tagged(pred: str) -> str:
    return f"<think>Working it out.</think><answer>{pred}</answer>"


def test_peer_cases_match_their_builder():
    spec = importlib.util.spec_from_file_location("build_peer_cases", DATA / "build_peer_cases.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build() == load()


@pytest.fixture(scope="module")
def patient_pool():
    """A few peer cases (a symbolic sum, a scaled conic) take sympy seconds on a busy
    machine; agreement is about equivalence, so they get time."""
    from omr_data.verify.mathverify import MathVerifyPool
    with MathVerifyPool(workers=2, timeout_s=10.0) as pool:
        yield pool


def test_agreement_with_peer_labels_is_at_least_97_percent(patient_pool):
    from omr_data.verify import score_batch
    rows = load()
    results = score_batch([{"response": tagged(r["pred"]), "answer": r["gold"]} for r in rows],
                          pool=patient_pool, timeout_s=10.0)
    disagree = [(r["id"], r["gold"], r["pred"], r["label"], res["decided_by"])
                for r, res in zip(rows, results) if res["acc"] != r["label"]]
    assert 1 - len(disagree) / len(rows) >= 0.97, disagree
    # every disagreement is one we argue for in the data file, not an accident (a timeout
    # is the machine's load, not a verdict)
    disputed = {r["id"] for r in rows if r["dispute"]}
    assert {d[0] for d in disagree if d[4] != "timeout"} <= disputed, disagree
