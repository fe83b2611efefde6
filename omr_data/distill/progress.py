"""Live progress of a distill run: traces done, requests failed, req/s, tokens, cost, ETA.

On a terminal it is a `rich` progress bar, or, when another live display is already
running (the runner's bar), a status line printed above it every 10 s; otherwise (logs,
CI, nohup) a plain line on stderr every 15 s: rows, req/s, tokens, ETA.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from rich import get_console
from rich.errors import LiveError
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as Bar

log = logging.getLogger("omr_data.distill")


class Progress:
    def __init__(self, settings: Any, pool: Any, stats: Any, *, total: int | None,
                 enabled: bool = True, interval_s: float = 15.0):
        self.settings, self.pool, self.stats = settings, pool, stats
        self.total = total
        self.enabled = enabled
        self.interval_s = interval_s
        self.done = 0
        self._start = time.monotonic()
        self._last_line = self._start
        self._bar = None
        self._task = None
        self._console = None

    def __enter__(self) -> Progress:
        self._start = self._last_line = time.monotonic()
        if self.enabled and sys.stderr.isatty():
            self._bar = Bar(TextColumn("distill"), BarColumn(), MofNCompleteColumn(),
                            TimeRemainingColumn(), TextColumn("{task.fields[line]}"),
                            transient=False)
            try:
                self._bar.start()
                self._task = self._bar.add_task("distill", total=self.total, line="")
            except LiveError:  # the runner's bar is live: print lines above it
                self._bar = None
                self._console = get_console()
                self.interval_s = min(self.interval_s, 10.0)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, line=self.line())
            self._bar.stop()
        elif self._console is not None:
            self._console.print(f"distill: {self.line(final=True)}")
        elif self.enabled:
            _plain(f"distill: {self.line(final=True)}")

    def advance(self, rows: int) -> None:
        self.done += rows
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, line=self.line())
        elif self.enabled and time.monotonic() - self._last_line >= self.interval_s:
            self._last_line = time.monotonic()
            if self._console is not None:
                self._console.print(f"distill: {self.line()}")
            else:
                _plain(f"distill: {self.line()}")

    def line(self, final: bool = False) -> str:
        elapsed = max(1e-9, time.monotonic() - self._start)
        s = self.pool.stats
        parts = [f"{self.done}{'/' + str(self.total) if self.total else ''} rows",
                 f"reused {self.stats.reused}",
                 f"requests {s.ok} ok / {s.retries} retried / {s.failed} failed",
                 f"{s.ok / elapsed:.1f} req/s",
                 f"tokens in {_si(s.prompt_tokens)} out {_si(s.completion_tokens)}"]
        cost = self.settings.cost(s.prompt_tokens, s.completion_tokens, elapsed)
        if cost is not None:
            parts.append(f"${cost:,.2f}")
        if not final and self.total and self.done:
            eta = elapsed / self.done * (self.total - self.done)
            parts.append(f"ETA {eta / 60:.1f} min")
        return ", ".join(parts)


def _plain(line: str) -> None:
    """A progress line where no terminal shows a bar (stderr, flushed: logs see it now)."""
    print(line, file=sys.stderr, flush=True)
    log.debug(line)


def _si(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)
