"""Throughput of `score_batch` (rules → math-verify workers) vs serial math-verify.

Both score the same generated (response, gold) pairs, in the answer mix of the RL/SFT
sources: option letters, integers and decimals with units, fractions, radicals,
equations, intervals, sets, logarithms, trigonometry, yes/no. Every pair is unique, so no cache
helps either side (repeated pairs would only measure our pair cache). Serial math-verify is called
as RL frameworks call it (verl's reward: the gold boxed and read as LaTeX, the response read
as expression + LaTeX), one item after another in this process, with math-verify imported
and warm before the clock starts. Ours is timed from nothing: a fresh worker pool is
started, used and closed inside the clock. Prints responses/s for each, the ratio, and the
machine's load average (the ratio moves with load on a shared machine).

    python bench/bench_verify.py [--n 1028] [--workers 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from omr_data.verify import score_batch
from omr_data.verify.mathverify import MathVerifyPool

CHOICES = ["12 cm", "15 cm", "18 cm", "21 cm"]


def _expression(rng: random.Random, i: int) -> tuple[str, str]:
    """A unique symbolic (gold, prediction) pair, right about half the time."""
    a, b = rng.randint(2, 50), rng.randint(2, 50)
    kind = i % 8
    if kind == 6:              # logarithms and trigonometry: only sympy can tell
        gold = rng.choice([f"\\log_{{2}} {a}", f"\\sin^2({a}x)+\\cos^2({a}x)"])
        pred = rng.choice([f"\\frac{{\\ln {a}}}{{\\ln 2}}", "1", f"\\log_{{3}} {a}"])
    elif kind == 7:            # sets: math-verify's structures
        gold = f"\\{{{a}, {a + b}\\}}"
        pred = rng.choice([f"\\{{{a + b}, {a}\\}}", f"\\{{{a}, {a + b + 1}\\}}"])
    elif kind == 0:
        gold = f"{a}\\sqrt{{{b}}}"
        pred = rng.choice([f"\\sqrt{{{a * a * b}}}", f"{a + 1}\\sqrt{{{b}}}"])
    elif kind == 1:
        gold = f"\\frac{{\\sqrt{{{b}}}}}{{{a}}}"
        pred = rng.choice([f"\\frac{{1}}{{{a}}}\\sqrt{{{b}}}",
                           f"\\frac{{\\sqrt{{{b + 1}}}}}{{{a}}}"])
    elif kind == 2:
        gold = f"y={a}x+{b}"
        pred = rng.choice([f"y = {b} + {a}x", f"y={a}x-{b}"])
    elif kind == 3:
        gold = f"[{a},{a + b})"
        pred = rng.choice([f"[{a}, {a + b})", f"[{a},{a + b}]"])
    elif kind == 4:
        gold = f"x^2+{2 * a}x+{a * a}"
        pred = rng.choice([f"(x+{a})^2", f"x^2+{a * a}"])
    else:
        gold = f"{a}\\pi"
        pred = rng.choice([f"{a}\\pi", f"{a * 3.14159:.2f}", f"{a + 1}\\pi"])
    return gold, pred


def make_items(n: int, seed: int = 0) -> list[dict]:
    """`n` unique items (no two share response, gold and type)."""
    rng = random.Random(seed)
    items: list[dict] = []
    seen: set[tuple] = set()
    i = 0
    while len(items) < n:
        i += 1
        kind = rng.random()
        reasoning = f"Reading the figure, the sides are {rng.randint(2, 99)} and " \
                    f"{rng.randint(2, 99)}. " * rng.randint(1, 20)
        if kind < 0.35:
            gold = rng.choice("ABCD")
            pred = rng.choice([gold, f"({gold})", f"{gold}. {CHOICES[ord(gold) - 65]}",
                               f"The answer is {gold}", rng.choice("ABCD")])
            item = {"answer": gold, "answer_type": "choice", "choices": CHOICES}
        elif kind < 0.65:
            value = rng.randint(1, 50000)
            gold = str(value)
            pred = rng.choice([gold, f"{value:,}", f"{value} cm", f"{value + 1}", f"\\${value}",
                               f"{value}.0"])
            item = {"answer": gold, "answer_type": "number"}
        elif kind < 0.75:
            value = rng.randint(1, 9999) / 100
            gold = f"{value:.2f}"
            pred = rng.choice([gold, f"{value + 0.01:.2f}", f"\\frac{{{int(value * 100)}}}{{100}}",
                               f"{value:.3f}"])
            item = {"answer": gold, "answer_type": "number"}
        elif kind < 0.80:
            gold = rng.choice(["Yes", "No"])
            pred = rng.choice(["Yes", "No", "yes.", "No, it is not."])
            item = {"answer": gold, "answer_type": "yes_no"}
        else:
            gold, pred = _expression(rng, i)
            item = {"answer": gold, "answer_type": "expression"}
        item["response"] = f"<think>{reasoning}</think><answer>{pred}</answer>"
        key = (item["response"], item["answer"], item["answer_type"])
        if key not in seen:
            seen.add(key)
            items.append(item)
    return items


def bench_ours_cold(items: list[dict], workers: int) -> float:
    """Responses/s with the worker pool started and stopped inside the clock."""
    start = time.perf_counter()
    with MathVerifyPool(workers=workers, timeout_s=2.0) as pool:
        score_batch(items, workers=workers, pool=pool)
    return len(items) / (time.perf_counter() - start)


def bench_serial_math_verify(items: list[dict]) -> float:
    """math-verify as RL frameworks call it (verl's `math_verify` reward): the gold boxed and
    read with LaTeX extraction, the response read with expression and LaTeX extraction."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    logging.getLogger("latex2sympy2_extended").setLevel(logging.CRITICAL)
    gold_config = [LatexExtractionConfig()]
    pred_config = [ExprExtractionConfig(), LatexExtractionConfig()]
    verify(parse("$1$"), parse("$1$"))                  # imports and lazy parsers warm
    start = time.perf_counter()
    for item in items:
        gold = parse(f"\\boxed{{{item['answer']}}}", extraction_config=gold_config)
        verify(gold, parse(item["response"], extraction_config=pred_config))
    return len(items) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1028, help="unique responses (default 1028)")
    parser.add_argument("--workers", type=int, default=2, help="math-verify processes (default 2)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each, alternating; the median is reported (default 3)")
    args = parser.parse_args()
    items = make_items(args.n)
    symbolic = sum(1 for item in items if item["answer_type"] == "expression")
    ours, plain = [], []
    for _ in range(args.repeat):
        plain.append(bench_serial_math_verify(items))
        ours.append(bench_ours_cold(items, args.workers))
    ours.sort()
    plain.sort()
    mid = args.repeat // 2
    print(f"{len(items)} unique responses ({symbolic} symbolic), load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"score_batch, {args.workers} workers, pool start-up included: "
          f"{ours[mid]:,.0f} responses/s (runs: {', '.join(f'{x:,.0f}' for x in ours)})")
    print(f"serial math-verify (gold boxed; latex + expr extraction): {plain[mid]:,.0f} "
          f"responses/s (runs: {', '.join(f'{x:,.0f}' for x in plain)})")
    print(f"ratio: {ours[mid] / plain[mid]:.1f}x")


if __name__ == "__main__":
    main()
