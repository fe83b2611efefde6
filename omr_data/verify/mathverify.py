"""math-verify in worker processes, with per-item timeouts that always fire.

math-verify's own timeouts use `signal.alarm` (whole seconds, main thread only) and sympy
can sit in C code (a big-integer power) where no signal is handled. So comparisons run in
worker processes: each worker arms a sub-second interval timer per item (raising an
exception math-verify cannot swallow), and the parent kills and replaces a worker that has
not answered by the deadline. Answers known to blow up (exponent towers, deep nesting,
huge exponents) are refused before they reach sympy (`too_complex`), so they come back in
microseconds instead of after a timeout.

Workers are plain subprocesses (`python -c …`) talking over two pipes, not
`multiprocessing` children: they never re-import the caller's `__main__`, work from
threads and from daemonic pool workers, and a stuck one is simply killed and replaced
(about a second to import sympy again; rare, since the guard stops the known blow-ups).
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_connections
from pathlib import Path

# result tuples: ("ok", verified, gold_value, pred_value) | ("unparsed", None, g, p)
#                | ("timeout",) | ("error", message); a value is (float, exact "p/q" or
#                None) for a plain number, else None
Result = tuple

MAX_MATH_LEN = 1000
MAX_NESTING = 24
HARD_GRACE_S = 1.0        # parent waits this much past the worker's own timer before killing
STARTUP_TIMEOUT_S = 120.0  # a new worker imports sympy + math-verify: slow on a loaded machine
CACHE_SIZE = 50_000


# --------------------------------------------------------------------------------------
# guard


_POWER_TOWER = re.compile(r"\^\s*\{?\s*\(?\s*\d+\s*\)?\s*\^")
_BIG_EXPONENT = re.compile(r"\^\s*\{?\s*\(?\s*[-+]?\d{5,}")
_BIG_FACTORIAL = re.compile(r"\d{4,}\s*!")


def too_complex(s: str) -> str | None:
    """Why `s` must not reach sympy (it could run for minutes or eat memory), or None."""
    if len(s) > MAX_MATH_LEN:
        return f"{len(s)} characters"
    depth = deepest = 0
    carets = 0
    for c in s:
        if c in "({[":
            depth += 1
            deepest = max(deepest, depth)
        elif c in ")}]":
            depth -= 1
        elif c == "^":
            carets += 1
    if deepest > MAX_NESTING:
        return f"nested {deepest} levels deep"
    if carets >= 2 and (_POWER_TOWER.search(s) or _tower_depth(s) >= 3):
        return "exponent tower"
    if _BIG_EXPONENT.search(s):
        return "huge exponent"
    if _BIG_FACTORIAL.search(s):
        return "huge factorial"
    return None


def _tower_depth(s: str) -> int:
    """How deeply `^` exponents nest (`e^{x^{2}}` is 2)."""
    best = 0
    stack: list[int] = []       # caret depth at each open brace
    level = 0
    pending = False
    for c in s:
        if c == "^":
            pending = True
            best = max(best, level + 1)
        elif c == "{":
            stack.append(level)
            if pending:
                level += 1
            pending = False
        elif c == "}":
            level = stack.pop() if stack else 0
        elif not c.isspace():
            pending = False
    return best


# --------------------------------------------------------------------------------------
# the comparison itself (runs in a worker)


class _ItemTimeout(BaseException):
    """Raised by the interval timer; a BaseException so math-verify's `except Exception`
    handlers cannot swallow it."""


def _on_alarm(signum, frame):
    raise _ItemTimeout()


def _quiet_math_verify() -> None:
    for name in ("math_verify", "latex2sympy2_extended"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    from math_verify import grader, parser
    grader.TIMEOUT_WARNING_SHOWN = True     # we pass timeout=None on purpose: we time items
    parser.TIMEOUT_WARNING_SHOWN = True


def compare(gold: str, pred: str) -> Result:
    """Parse both with math-verify, verify, and evaluate numbers where sympy can."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    def parse_one(s: str):
        if _is_prose(s):       # a sentence: math-verify finds the answer in it itself
            out = parse(s, extraction_config=[LatexExtractionConfig(), ExprExtractionConfig()],
                        parsing_timeout=None)
            return out if out and not isinstance(out[0], str) else []
        wrapped = s if "$" in s else f"${s}$"
        out = parse(wrapped, extraction_config=[LatexExtractionConfig()], parsing_timeout=None)
        if not out or isinstance(out[0], str):      # only the raw string back: no parse
            out = parse(s, extraction_config=[ExprExtractionConfig()], parsing_timeout=None)
        return out if out and not isinstance(out[0], str) else []

    g, p = parse_one(gold), parse_one(pred)
    gv, pv = _numeric(g), _numeric(p)
    if not g or not p:
        return ("unparsed", None, gv, pv)
    return ("ok", bool(verify(g, p, timeout_seconds=None)), gv, pv)


_PROSE_WORD = re.compile(r"(?<![\\a-zA-Z])[A-Za-z]{3,}")


def _is_prose(s: str) -> bool:
    """Two or more words outside LaTeX commands and environments: a sentence, not a formula
    (the words of `\\text{…}` count)."""
    bare = re.sub(r"\\(?:begin|end)\s*\{[^{}]*\}|\\[a-zA-Z]+", " ", s)
    return len(_PROSE_WORD.findall(bare)) >= 2


def _numeric(parsed) -> tuple[float, str | None] | None:
    """(value, exact "p/q" when sympy holds a rational) of a plain number, else None."""
    if not parsed:
        return None
    import sympy
    expr = parsed[0]
    if not isinstance(expr, sympy.Expr) or getattr(expr, "is_Matrix", False) or \
            expr.free_symbols or not expr.is_number:
        return None          # matrices are Exprs to sympy, but not numbers
    try:
        evaluated = expr.doit()
    except Exception:  # noqa: BLE001 - sympy raises anything
        evaluated = expr
    if evaluated.is_Rational:
        return float(evaluated), str(evaluated)
    try:
        value = complex(expr.evalf(20))
    except (TypeError, ValueError, ArithmeticError):
        return None
    if abs(value.imag) > 1e-12 * max(1.0, abs(value.real)) or not math.isfinite(value.real):
        return None          # complex or infinite: leave it to math-verify's own comparison
    return float(value.real), None


def compare_timed(gold: str, pred: str, timeout_s: float) -> Result:
    """`compare` under an interval timer (main thread only; elsewhere untimed)."""
    if threading.current_thread() is not threading.main_thread():
        return _safe_compare(gold, pred)
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s, 0.05)   # re-fires until disarmed
    try:
        return _safe_compare(gold, pred)
    except _ItemTimeout:
        return ("timeout",)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _safe_compare(gold: str, pred: str) -> Result:
    try:
        return compare(gold, pred)
    except _ItemTimeout:
        raise
    except Exception as err:  # noqa: BLE001 - sympy raises anything; record it, never crash
        return ("error", f"{type(err).__name__}: {err}"[:200])


def worker_main(conn_in, conn_out, timeout_s: float) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # the parent decides when we stop
    _quiet_math_verify()
    _safe_compare("1", "1")          # warm math-verify's lazy parsers outside any item's timer
    conn_out.send(("ready", None))   # the parent starts item deadlines only after this
    while True:
        try:
            msg = conn_in.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        idx, gold, pred = msg
        try:
            result = compare_timed(gold, pred, timeout_s)
        except _ItemTimeout:        # a late tick after the item finished
            result = ("timeout",)
        conn_out.send((idx, result))


def _subprocess_entry() -> None:
    """`python -c` entry of a worker: fds of its two pipes and the timeout in argv."""
    fd_in, fd_out, timeout_s = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    worker_main(Connection(fd_in, writable=False), Connection(fd_out, readable=False), timeout_s)


# --------------------------------------------------------------------------------------
# the pool (runs in the parent)


class _Worker:
    """One worker: a plain subprocess (not multiprocessing), so it works from any parent:
    threads, daemonic pool workers, scripts without a `__main__` guard."""

    def __init__(self, timeout_s: float):
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        code = "from omr_data.verify.mathverify import _subprocess_entry; _subprocess_entry()"
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code, str(to_child_r), str(from_child_w), repr(timeout_s)],
                pass_fds=(to_child_r, from_child_w), env=env, stdin=subprocess.DEVNULL,
                start_new_session=True)
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self.send_conn = Connection(to_child_w, readable=False)
        self.conn = Connection(from_child_r, writable=False)
        self.item: int | None = None
        self.deadline = 0.0
        self.ready = False

    def wait_ready(self) -> None:
        """Block until the worker has imported and warmed math-verify, so its start-up never
        counts against an item's time limit."""
        if self.ready:
            return
        if not self.conn.poll(STARTUP_TIMEOUT_S):
            raise RuntimeError(f"a math-verify worker did not start within "
                               f"{STARTUP_TIMEOUT_S:.0f} s")
        tag, _ = self.conn.recv()
        if tag != "ready":
            raise RuntimeError(f"a math-verify worker sent {tag!r} before it was ready")
        self.ready = True

    def send(self, msg) -> None:
        self.wait_ready()
        self.send_conn.send(msg)

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        finally:
            self._close()

    def stop(self) -> None:
        try:
            self.send_conn.send(None)
            self.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if self.proc.poll() is None:
            self.kill()
        else:
            self._close()

    def _close(self) -> None:
        for conn in (self.send_conn, self.conn):
            try:
                conn.close()
            except OSError:
                pass


class MathVerifyPool:
    """`compare_many(pairs)` → results, in order, each within `timeout_s` (+ grace).

    `in_process=True` compares in this process instead (interval timer and guard only, no
    hard kill): for callers that must not start processes.
    """

    def __init__(self, workers: int = 1, timeout_s: float = 2.0, *, in_process: bool = False):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self.workers = workers
        self.timeout_s = float(timeout_s)
        self.timeouts = 0
        self._pool: list[_Worker] = []
        self._pid = os.getpid()
        self._cache: OrderedDict[tuple[str, str], Result] = OrderedDict()
        self._lock = threading.Lock()
        self.in_process = in_process

    # -- lifecycle ---------------------------------------------------------------------
    def _ensure_workers(self, n: int) -> None:
        if os.getpid() != self._pid:      # we were forked: the pipes belong to the parent
            self._pool, self._pid = [], os.getpid()
        while len(self._pool) < n:
            self._pool.append(_Worker(self.timeout_s))

    def warm(self, n: int | None = None) -> None:
        """Start up to `n` workers (default: all) without waiting for them, so their imports
        overlap with the caller's own work; items sent later wait until they are ready."""
        if not self.in_process:
            with self._lock:
                self._ensure_workers(min(self.workers, n or self.workers))

    def close(self) -> None:
        if os.getpid() == self._pid:
            for worker in self._pool:
                worker.stop()
        self._pool = []

    def __enter__(self) -> MathVerifyPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- work --------------------------------------------------------------------------
    def compare_many(self, pairs: Sequence[tuple[str, str]]) -> list[Result]:
        with self._lock:
            results: list[Result | None] = [None] * len(pairs)
            todo: dict[tuple[str, str], list[int]] = {}
            for i, pair in enumerate(pairs):
                hit = self._cache.get(pair)
                if hit is not None:
                    results[i] = hit
                else:
                    todo.setdefault(pair, []).append(i)
            if todo:
                unique = list(todo)
                done = self._run_in_process(unique) if self.in_process else self._run(unique)
                for pair, result in zip(unique, done):
                    self._remember(pair, result)
                    for i in todo[pair]:
                        results[i] = result
            return results  # type: ignore[return-value]

    def compare(self, gold: str, pred: str) -> Result:
        return self.compare_many([(gold, pred)])[0]

    def _remember(self, pair: tuple[str, str], result: Result) -> None:
        if result[0] == "error":
            return
        self._cache[pair] = result
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def _run_in_process(self, pairs: list[tuple[str, str]]) -> list[Result]:
        _quiet_math_verify()
        out = []
        for gold, pred in pairs:
            result = compare_timed(gold, pred, self.timeout_s)
            self.timeouts += result[0] == "timeout"
            out.append(result)
        return out

    def _run(self, pairs: list[tuple[str, str]]) -> list[Result]:
        self._ensure_workers(min(self.workers, len(pairs)))
        results: list[Result | None] = [None] * len(pairs)
        queue = deque(range(len(pairs)))
        busy: dict[object, _Worker] = {}
        while queue or busy:
            for worker in self._pool:
                if worker.item is None and queue:
                    idx = queue.popleft()
                    try:
                        worker.send((idx, *pairs[idx]))
                    except (OSError, EOFError):   # died before or while starting
                        queue.appendleft(idx)
                        self._replace(worker)
                        continue
                    worker.item = idx
                    worker.deadline = time.monotonic() + self.timeout_s + HARD_GRACE_S
                    busy[worker.conn] = worker
            if not busy:
                continue
            wait_s = max(0.0, min(w.deadline for w in busy.values()) - time.monotonic())
            for conn in wait_connections(list(busy), timeout=wait_s):
                worker = busy.pop(conn)
                try:
                    idx, result = conn.recv()
                except (EOFError, OSError):
                    results[worker.item] = ("error", "math-verify worker died")
                    self._replace(worker)
                    continue
                results[idx] = result
                self.timeouts += result[0] == "timeout"
                worker.item = None
            now = time.monotonic()
            for conn, worker in list(busy.items()):
                if worker.deadline <= now:
                    del busy[conn]
                    results[worker.item] = ("timeout",)
                    self.timeouts += 1
                    self._replace(worker)
        return results  # type: ignore[return-value]

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        i = self._pool.index(worker)
        self._pool[i] = _Worker(self.timeout_s)


_DEFAULT_POOLS: dict[tuple[int, float], MathVerifyPool] = {}


def default_pool(workers: int = 1, timeout_s: float = 2.0) -> MathVerifyPool:
    """A process-wide pool per (workers, timeout), closed at exit."""
    key = (workers, float(timeout_s))
    pool = _DEFAULT_POOLS.get(key)
    if pool is None:
        pool = _DEFAULT_POOLS[key] = MathVerifyPool(workers, timeout_s)
    return pool


@atexit.register
def _close_default_pools() -> None:
    for pool in _DEFAULT_POOLS.values():
        pool.close()
