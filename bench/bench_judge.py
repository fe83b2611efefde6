"""Judge throughput against the simulated judge at a fixed latency.

Asks `omr_data.verify.judge.Judge` for verdicts on distinct questions (no cache hits), as
the verify stage does: `judge_many` once per batch of `--batch` requests. Prints achieved
requests/s, its ratio to the ideal concurrency / latency, and the verdicts' checksum (equal
checksums: equal verdicts). The simulated server runs in a separate process.

    python bench/bench_judge.py [--latency 0.2] [--concurrency 16] [--requests 960]
                                [--batch 64] [--fault-rate 0.0]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

from bench_distill import start_server  # the same simulated server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--requests", type=int, default=960)
    parser.add_argument("--batch", type=int, default=64, help="requests per judge_many call")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    args = parser.parse_args()

    from omr_data.verify.judge import Judge, JudgeRequest

    proc, url = start_server(args.latency, args.fault_rate)
    tag = time.time_ns()
    requests = [JudgeRequest(f"[{tag}] question {i}?", str(i % 7), str(i % 5))
                for i in range(args.requests)]
    try:
        with tempfile.TemporaryDirectory() as tmp, \
                Judge(base_url=url, api_key_env="OMR_BENCH_NO_KEY",
                      cache_path=Path(tmp) / "judge.sqlite",
                      concurrency=args.concurrency) as judge:
            start, cpu = time.perf_counter(), time.process_time()
            values = []
            for first in range(0, len(requests), args.batch):
                values += [v.value for v in judge.judge_many(requests[first:first + args.batch])]
            seconds = time.perf_counter() - start
            cpu = time.process_time() - cpu
    finally:
        proc.terminate()
        proc.wait()
    ideal = args.concurrency / args.latency if args.latency else float("inf")
    rate = len(requests) / seconds
    checksum = hashlib.sha256(repr(values).encode()).hexdigest()[:12]
    print(f"judge: {rate:.1f} req/s ({rate / ideal:.2f} of the ideal {ideal:.0f}), "
          f"{cpu / len(requests) * 1000:.2f} ms CPU/request, {len(requests)} requests in "
          f"batches of {args.batch}, concurrency {args.concurrency}, latency {args.latency}s; "
          f"verdicts {sum(v == 1 for v in values)}x1 {sum(v == 0 for v in values)}x0 "
          f"{sum(v is None for v in values)}xNone, checksum {checksum}")


if __name__ == "__main__":
    main()
