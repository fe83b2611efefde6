"""Agreement with labelled answer-equivalence cases: our scorer vs math-verify as RL
frameworks call it, on the same cases.

Reads tests/verify/data/peer_cases.jsonl (re-typed from peer projects' own test suites, see
its builder for sources) and tests/verify/data/adversarial.jsonl (our adversarial corpus).
Ours: `score_batch` on `<think>…</think><answer>{prediction}</answer>` (the corpus's own
responses for the adversarial set). math-verify: the gold boxed and read as LaTeX, the
prediction (bare, and as the same tagged response) read as expression + LaTeX, then
`verify` — verl's `math_verify` reward.

    python bench/bench_verify_agreement.py [--timeout-s 10]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from omr_data.verify import score_batch  # noqa: E402 - after the sys.path line
from omr_data.verify.mathverify import MathVerifyPool  # noqa: E402

DATA = ROOT / "tests" / "verify" / "data"


def tagged(pred: str) -> str:
    return f"<think>Working it out.</think><answer>{pred}</answer>"


def math_verify_accepts(gold: str, response: str) -> bool:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
    try:
        parsed_gold = parse(f"\\boxed{{{gold}}}", extraction_config=[LatexExtractionConfig()])
        parsed = parse(response, extraction_config=[ExprExtractionConfig(),
                                                    LatexExtractionConfig()])
        return bool(verify(parsed_gold, parsed))
    except Exception:  # noqa: BLE001 - a crash is a rejection, as in a reward function
        return False


def load(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout-s", type=float, default=10.0,
                        help="math-verify time per item for our scorer (default 10)")
    args = parser.parse_args()
    for name in ("math_verify", "latex2sympy2_extended"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    peers = load("peer_cases.jsonl")
    adversarial = load("adversarial.jsonl")
    with MathVerifyPool(workers=2, timeout_s=args.timeout_s) as pool:
        ours = score_batch([{"response": tagged(r["pred"]), "answer": r["gold"]} for r in peers],
                           pool=pool, timeout_s=args.timeout_s)
        ours_adv = score_batch([{"response": r["response"], "answer": r["gold"],
                                 "answer_type": r["answer_type"], "choices": r["choices"],
                                 "finish_reason": r["finish_reason"]} for r in adversarial],
                               pool=pool, timeout_s=args.timeout_s)
    agree = sum(res["acc"] == r["label"] for r, res in zip(peers, ours)) / len(peers)
    bare = sum(math_verify_accepts(r["gold"], r["pred"]) == bool(r["label"])
               for r in peers) / len(peers)
    same = sum(math_verify_accepts(r["gold"], tagged(r["pred"])) == bool(r["label"])
               for r in peers) / len(peers)
    print(f"peer-labelled cases: {len(peers)}")
    print(f"  ours (tagged responses):                  {agree:.1%}")
    print(f"  math-verify, verl-style, bare predictions: {bare:.1%}")
    print(f"  math-verify, verl-style, same responses:   {same:.1%}")

    def counts(accepts):
        wrong = [r for r, ok in zip(adversarial, accepts) if r["label"] == 0 and ok]
        missed = [r for r, ok in zip(adversarial, accepts) if r["label"] == 1 and not ok]
        return len(wrong), len(missed)

    gamed = sum(r["label"] == 0 for r in adversarial)
    legit = len(adversarial) - gamed
    fa, fr = counts([res["acc"] >= 1 for res in ours_adv])
    mfa, mfr = counts([math_verify_accepts(r["gold"], r["response"]) for r in adversarial])
    print(f"adversarial corpus: {gamed} gamed, {legit} legitimate")
    print(f"  ours:        {fa} false accepts, {fr} legitimate refused")
    print(f"  math-verify: {mfa} false accepts, {mfr} legitimate refused")


if __name__ == "__main__":
    main()
