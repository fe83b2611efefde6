"""Throughput of `score_batch` (rules → math-verify workers) vs plain math-verify.

Both score the same generated (response, gold) pairs, in the answer mix of the RL/SFT
sources: option letters, integers and decimals with units, fractions, radicals,
equations, intervals, yes/no. Plain math-verify is `verify(parse(gold), parse(response))`
in one process, as most reward functions call it. Prints responses/s for each and the
ratio; finishes in well under a minute on 2 cores.

    python bench/bench_verify.py [--n 4000] [--workers 2]
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from omr_data.verify import score_batch
from omr_data.verify.mathverify import MathVerifyPool

CHOICES = ["12 cm", "15 cm", "18 cm", "21 cm"]
EXPRESSIONS = [("2\\sqrt{3}", ["\\sqrt{12}", "2\\sqrt{2}", "3.46"]),
               ("\\frac{\\sqrt{3}}{2}", ["\\frac{1}{2}\\sqrt{3}", "\\frac{\\sqrt{2}}{2}"]),
               ("y=2x+1", ["y = 1 + 2x", "y=2x-1"]),
               ("[1,2)", ["[1, 2)", "[1,2]"]),
               ("x^2+2x+1", ["(x+1)^2", "x^2+1"]),
               ("4\\pi", ["4\\pi", "12.57", "8\\pi"])]


def make_items(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    items = []
    for i in range(n):
        kind = rng.random()
        reasoning = "Reading the figure, the sides are 3 and 4. " * rng.randint(1, 20)
        if kind < 0.40:
            gold = rng.choice("ABCD")
            pred = rng.choice([gold, f"({gold})", f"{gold}. {CHOICES[ord(gold) - 65]}",
                               f"The answer is {gold}", rng.choice("ABCD")])
            item = {"answer": gold, "answer_type": "choice", "choices": CHOICES}
        elif kind < 0.75:
            value = rng.randint(1, 5000)
            gold = str(value)
            pred = rng.choice([gold, f"{value:,}", f"{value} cm", f"{value + 1}", f"\\${value}",
                               f"{value}.0"])
            item = {"answer": gold, "answer_type": "number"}
        elif kind < 0.85:
            gold = rng.choice(["0.5", "1.25", "3.14", "0.67"])
            pred = rng.choice([gold, "\\frac{1}{2}", "2/3", "1.250", "3.1416", "0.05"])
            item = {"answer": gold, "answer_type": "number"}
        elif kind < 0.90:
            gold = rng.choice(["Yes", "No"])
            pred = rng.choice(["Yes", "No", "yes.", "No, it is not."])
            item = {"answer": gold, "answer_type": "yes_no"}
        else:
            gold, preds = rng.choice(EXPRESSIONS)
            pred = rng.choice(preds + [f"{preds[0]} + {i % 7}"])   # some unique, some repeated
            item = {"answer": gold, "answer_type": "expression"}
        item["response"] = f"<think>{reasoning}</think><answer>{pred}</answer>"
        items.append(item)
    return items


def bench_ours(items: list[dict], workers: int) -> float:
    with MathVerifyPool(workers=workers, timeout_s=2.0) as pool:
        pool.compare("1", "1")                          # start the workers outside the clock
        start = time.perf_counter()
        score_batch(items, workers=workers, pool=pool)
        return len(items) / (time.perf_counter() - start)


def bench_single(items: list[dict]) -> float:
    from omr_data.verify import compute_score
    compute_score("<answer>1</answer>", "1", answer_type="expression")   # warm the pool
    start = time.perf_counter()
    for item in items:
        compute_score(item["response"], item["answer"], answer_type=item["answer_type"],
                      choices=item.get("choices"))
    return len(items) / (time.perf_counter() - start)


def bench_plain(items: list[dict], budget_s: float) -> tuple[float, int]:
    from math_verify import parse, verify
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    start = time.perf_counter()
    done = 0
    for item in items:
        verify(parse(item["answer"]), parse(item["response"]))
        done += 1
        if time.perf_counter() - start > budget_s:
            break
    return done / (time.perf_counter() - start), done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=4000, help="generated responses (default 4000)")
    parser.add_argument("--workers", type=int, default=2, help="math-verify processes (default 2)")
    parser.add_argument("--plain-budget-s", type=float, default=15.0,
                        help="stop plain math-verify after this many seconds (default 15)")
    args = parser.parse_args()
    items = make_items(args.n)
    ours = bench_ours(items, args.workers)
    single = bench_single(items[:1000])
    plain, plain_n = bench_plain(items, args.plain_budget_s)
    print(f"compute_score (score_batch, {args.workers} workers): {ours:,.0f} responses/s "
          f"over {len(items)}")
    print(f"compute_score one call at a time: {single:,.0f} responses/s over 1000")
    print(f"plain math_verify.verify(parse(gold), parse(pred)): {plain:,.0f} responses/s "
          f"over {plain_n}")
    print(f"ratio: {ours / plain:.1f}x")


if __name__ == "__main__":
    main()
