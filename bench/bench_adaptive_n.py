"""Teacher requests saved by adaptive n against fixed ×8, on the demo's SFT questions.

    python bench/bench_adaptive_n.py [--accuracy 0.75] [--k 2 4 6] [--max-n 8] [--repeat 4]

The demo's SFT questions (samples/: LLaVA-CoT, OpenVLThinker, We-Math2.0-SFT, normalized
here) are distilled from the simulated teacher (right with probability --accuracy) with a
fixed n = --max-n, then with `until_distinct K, max_n = --max-n` for each K, each on a
fresh journal. One request per sample (`use_n_param: no`, as against a server without `n`),
so requests = samples. For each run: requests sent, the ratio to fixed ×n, and what the
data gets: questions reaching K distinct verified traces (verified = the rules and
math-verify against the gold answer, the check adaptive n itself uses). --repeat replays the
question set with other ids so the counts are less noisy.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def demo_questions(repeat: int) -> list[dict]:
    from omr_data.sources import SOURCES

    records = []
    for name in ("llava_cot", "openvlthinker", "wemath2_sft"):
        adapter = SOURCES[name]
        for path in adapter.discover(ROOT / "samples" / name):
            records += [r for r in adapter.read(path) if not r.get("reason")]
    out = []
    for copy in range(repeat):
        for record in records:
            out.append({**record, "id": f"{record['id']}~{copy}",
                        "question": f"{record['question']}" + (f" (v{copy})" if copy else "")})
    return out


def run(records: list[dict], server, config: dict) -> dict:
    from omr_data.distill import distill
    from omr_data.diversity import Tally
    from omr_data.verify import rule_verdicts

    stats: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        server.reset_counters()
        start = time.perf_counter()
        rows = [r for r in distill(records, config, Path(tmp) / "journal.sqlite", stats=stats)
                if not r.get("reason")]
        seconds = time.perf_counter() - start
    by_id = {r["id"]: r for r in records}
    tally = Tally()
    for row in rows:
        record = by_id[row["id"].rsplit("#", 1)[0]]
        ok = rule_verdicts([row["response"]], record)[0]
        tally.add(row["id"], row["response"], verified=ok)
    return {"requests": server.requests, "traces": len(rows), "seconds": seconds,
            "tally": tally}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accuracy", type=float, default=0.75)
    parser.add_argument("--k", type=int, nargs="+", default=[2, 4, 6])
    parser.add_argument("--max-n", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=4)
    args = parser.parse_args()

    from omr_data.distill.simulated import SimulatedServer

    records = demo_questions(args.repeat)
    base = {"teacher": "simulated", "concurrency": 32, "progress": False,
            "use_n_param": "no", "max_tokens": 4096}
    with SimulatedServer(accuracy=args.accuracy, oracle=records, seed=0,
                         keep_log=False) as server:
        base["base_urls"] = [server.base_url]
        fixed = run(records, server, {**base, "n": args.max_n})
        print(f"{len(records)} questions (demo SFT questions x{args.repeat}), simulated "
              f"teacher accuracy {args.accuracy}, one request per sample")
        print(f"{'run':<28}{'requests':>10}{'vs fixed':>10}"
              + "".join(f"{f'>= {k} distinct':>15}" for k in args.k) + f"{'seconds':>9}")

        def line(label: str, result: dict) -> None:
            qs = result["tally"].questions.values()
            reached = [sum(1 for q in qs if len(q.verified_near) >= k) for k in args.k]
            print(f"{label:<28}{result['requests']:>10}"
                  f"{result['requests'] / fixed['requests']:>10.2f}"
                  + "".join(f"{n:>15}" for n in reached) + f"{result['seconds']:>9.1f}")

        line(f"fixed n={args.max_n}", fixed)
        for k in args.k:
            result = run(records, server, {**base, "until_distinct": k, "max_n": args.max_n})
            line(f"until_distinct={k} max_n={args.max_n}", result)
            saved = fixed["requests"] - result["requests"]
            print(f"{'':<28}saves {saved} requests ({saved / fixed['requests']:.0%}) "
                  f"against fixed n={args.max_n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
