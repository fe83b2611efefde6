"""Distill throughput against the simulated teacher at a fixed latency.

Prints achieved requests/s of `omr_data.distill.distill` (journal, retries, ordered
output) beside a plain `AsyncOpenAI` + semaphore loop (no journal), both against the same
simulated server (a separate process) in the same run, and each as a ratio of the ideal
concurrency / latency. Target: distill >= 0.85 of the ideal.

    python bench/bench_distill.py [--latency 0.2] [--concurrency 64] [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def start_server(latency: float, fault_rate: float = 0.0) -> tuple[subprocess.Popen, str]:
    """The simulated teacher on a free port (also bench_judge's judge): (process, base URL)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "omr_data.distill.simulated", "--simulated", "--port", "0",
         "--latency", str(latency), "--fault-rate", str(fault_rate), "--quiet"],
        stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    match = re.search(r"http://\S+/v1", line)
    if not match:
        proc.kill()
        raise SystemExit(f"simulated server did not start: {line!r}")
    return proc, match.group(0)


def records(count: int, tag: str) -> list[dict]:
    from omr_data.records import make_record
    return [make_record(source="bench", source_id=f"{tag}-{i}", answer=str(i % 10),
                        question=f"[{tag}] What is {i} modulo 10?", answer_type="number")
            for i in range(count)]


async def plain_client(url: str, rows: list[dict], concurrency: int,
                       max_tokens: int) -> tuple[float, float]:
    import openai
    client = openai.AsyncOpenAI(base_url=url, api_key="x", max_retries=0)
    slots = asyncio.Semaphore(concurrency)

    async def one(row: dict) -> None:
        async with slots:
            await client.chat.completions.create(
                model="omr-data/simulated-teacher", max_tokens=max_tokens,
                messages=[{"role": "user", "content": row["question"]}])

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(r) for r in rows))
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    await client.close()
    return len(rows) / seconds, cpu / len(rows) * 1000


def ours(url: str, rows: list[dict], concurrency: int, max_tokens: int,
         journal: Path) -> tuple[float, float, dict]:
    from omr_data.distill import distill
    config = {"teacher": "simulated", "base_urls": [url], "n": 1, "concurrency": concurrency,
              "max_tokens": max_tokens, "progress": False}
    stats: dict = {}
    start, cpu = time.perf_counter(), time.process_time()
    out = sum(1 for _ in distill(rows, config, journal, stats=stats))
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    assert out == len(rows), (out, len(rows))
    return stats["distill.responses"] / seconds, cpu / len(rows) * 1000, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--max-tokens", type=int, default=256)
    args = parser.parse_args()
    ideal = args.concurrency / args.latency
    proc, url = start_server(args.latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            plain, plain_cpu = asyncio.run(plain_client(url, records(args.requests, "plain"),
                                             args.concurrency, args.max_tokens))
            rate, cpu, stats = ours(url, records(args.requests, "ours"), args.concurrency,
                               args.max_tokens, Path(tmp) / "journal.sqlite")
            again = time.perf_counter()
            from omr_data.distill import distill
            resumed = sum(1 for _ in distill(records(args.requests, "ours"), {
                "teacher": "simulated", "base_urls": [url], "n": 1, "max_tokens": args.max_tokens,
                "progress": False}, Path(tmp) / "journal.sqlite"))
            rerun_s = time.perf_counter() - again
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"simulated teacher, latency {args.latency}s, concurrency {args.concurrency}, "
          f"{args.requests} requests; ideal {ideal:.0f} req/s")
    print(f"  plain AsyncOpenAI + semaphore : {plain:7.1f} req/s  = {plain / ideal:.3f} of ideal"
          f"  (client CPU {plain_cpu:.2f} ms/request)")
    print(f"  omr-data distill (journaled)  : {rate:7.1f} req/s  = {rate / ideal:.3f} of ideal"
          f"  (client CPU {cpu:.2f} ms/request; {rate / plain:.3f} of plain; "
          f"max in flight {stats['distill.max_in_flight']})")
    print(f"  rerun from the journal        : {resumed} rows in {rerun_s:.2f}s, 0 requests")


if __name__ == "__main__":
    main()
