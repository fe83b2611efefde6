"""The request journal: a content-addressed SQLite file of answers, so a rerun asks nothing
twice.

One row per answer (`samples`), keyed by the request it answers; the caller makes the key.
Distill keys sample k of a prompt as `request_key(prompt_hash, k)`, where the prompt hash
covers the model, the rendered messages with image hashes and the sampling settings;
`max_tokens` is *not* in it, so raising it reuses every finished trace and re-sends only
those cut off (`finish_reason == "length"`, see `Entry.reusable`), while changing the
prompt, the model, an image or the sampling settings gives new keys and never reuses old
traces. The judge keys a verdict by the hash of its whole request (model, messages,
sampling, max_tokens) and keeps one row per verdict (`k` = 0). A rendered prompt may be
stored once per prompt hash (`prompts`); every attempt (success or error) is logged in
`attempts`.

The file format (tables, columns, `JOURNAL_VERSION`) and the keys are a resume contract:
a journal written by an earlier omr-data is reused as it is.

Writes go through one writer thread that commits whatever has queued up in one transaction
(group commit, WAL, `synchronous=FULL`), so a response is on disk before its caller's
future resolves, at the cost of one fsync per batch rather than per response. Several
processes may share one journal file (SQLite locking, generous busy timeout).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JOURNAL_VERSION = 1
_BUSY_MS = 120_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS info (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS prompts (
    prompt_hash TEXT PRIMARY KEY,
    payload     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS samples (
    key                TEXT PRIMARY KEY,
    prompt_hash        TEXT NOT NULL,
    record_id          TEXT NOT NULL,
    k                  INTEGER NOT NULL,
    model              TEXT NOT NULL,
    status             TEXT NOT NULL,      -- 'ok' or 'failed'
    response           TEXT,
    finish_reason      TEXT,
    max_tokens         INTEGER,
    prompt_tokens      INTEGER,
    completion_tokens  INTEGER,
    usage              TEXT,
    served_model       TEXT,
    system_fingerprint TEXT,
    error              TEXT,
    attempts           INTEGER NOT NULL DEFAULT 0,
    updated            REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    key      TEXT NOT NULL,
    at       REAL NOT NULL,
    endpoint TEXT,
    outcome  TEXT NOT NULL,               -- 'ok', 'length' or the error
    seconds  REAL
);
"""

# A failure never overwrites a finished trace; a newer trace replaces an older one
# (a `length` trace re-sent with a larger max_tokens).
_UPSERT = """
INSERT INTO samples (key, prompt_hash, record_id, k, model, status, response, finish_reason,
    max_tokens, prompt_tokens, completion_tokens, usage, served_model, system_fingerprint,
    error, attempts, updated)
VALUES (:key, :prompt_hash, :record_id, :k, :model, :status, :response, :finish_reason,
    :max_tokens, :prompt_tokens, :completion_tokens, :usage, :served_model,
    :system_fingerprint, :error, :attempts, :updated)
ON CONFLICT(key) DO UPDATE SET
    status = excluded.status, response = excluded.response,
    finish_reason = excluded.finish_reason, max_tokens = excluded.max_tokens,
    prompt_tokens = excluded.prompt_tokens, completion_tokens = excluded.completion_tokens,
    usage = excluded.usage, served_model = excluded.served_model,
    system_fingerprint = excluded.system_fingerprint, error = excluded.error,
    attempts = samples.attempts + excluded.attempts, updated = excluded.updated
WHERE samples.status != 'ok' OR excluded.status = 'ok'
"""


def stable_hash(obj: Any) -> str:
    return hashlib.sha256(
        json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    ).hexdigest()


def request_key(prompt_hash: str, k: int) -> str:
    """The key of sample k of a prompt (the prompt hash covers model, messages, sampling)."""
    return stable_hash({"prompt": prompt_hash, "k": int(k)})


@dataclass
class Entry:
    """A journaled trace (or failure)."""

    key: str
    prompt_hash: str
    record_id: str
    k: int
    model: str
    status: str
    response: str | None = None
    finish_reason: str | None = None
    max_tokens: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    usage: dict | None = None
    served_model: str | None = None
    system_fingerprint: str | None = None
    error: str | None = None
    attempts: int = 1
    updated: float = 0.0

    def reusable(self, max_tokens: int) -> bool:
        """Whether this entry answers a request with `max_tokens` without re-sending it."""
        if self.status != "ok":
            return False
        if self.finish_reason == "length":
            # Cut off: reuse only if the new budget is not larger than the one it had.
            return self.max_tokens is not None and self.max_tokens >= max_tokens
        # Finished: reuse if it fits in the new budget.
        return self.completion_tokens is None or self.completion_tokens <= max_tokens

    def row(self) -> dict:
        row = dict(self.__dict__)
        row["usage"] = json.dumps(self.usage) if self.usage is not None else None
        row["updated"] = self.updated or time.time()
        return row


class Journal:
    """The SQLite journal: lookups from the caller's thread, writes via one writer thread."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous
        self._reader = self._connect()
        with self._reader:
            self._reader.executescript(_SCHEMA)
            self._reader.execute("INSERT OR IGNORE INTO info VALUES ('version', ?)",
                                 (str(JOURNAL_VERSION),))
        version = self._reader.execute("SELECT value FROM info WHERE name='version'").fetchone()
        if version and int(version[0]) != JOURNAL_VERSION:
            raise RuntimeError(f"{self.path}: journal version {version[0]}, this omr-data "
                               f"writes version {JOURNAL_VERSION}; use a new journal path")
        self._queue: queue.Queue = queue.Queue()
        self._closed = False
        self.commits = 0
        self.rows_written = 0
        self._writer = threading.Thread(target=self._write_loop, daemon=True,
                                        name="omr-journal")
        self._writer.start()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=_BUSY_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
        return conn

    # -- reads -------------------------------------------------------------------------
    def lookup(self, keys: Sequence[str]) -> dict[str, Entry]:
        found = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start:start + 500])
            marks = ",".join("?" * len(chunk))
            cursor = self._reader.execute(
                f"SELECT {', '.join(_ENTRY_COLUMNS)} FROM samples WHERE key IN ({marks})", chunk)
            for values in cursor:
                entry = Entry(**dict(zip(_ENTRY_COLUMNS, values)))
                entry.usage = json.loads(entry.usage) if entry.usage else None
                found[entry.key] = entry
        return found

    def counts(self) -> dict[str, int]:
        rows = self._reader.execute(
            "SELECT status, COALESCE(finish_reason, ''), COUNT(*) FROM samples GROUP BY 1, 2")
        out: dict[str, int] = {}
        for status, finish, n in rows:
            name = status if status != "ok" else f"ok:{finish or 'unknown'}"
            out[name] = out.get(name, 0) + n
        return out

    def __len__(self) -> int:
        """Answers held (rows with status 'ok'; failures are not answers)."""
        return self._reader.execute("SELECT COUNT(*) FROM samples WHERE status = 'ok'"
                                    ).fetchone()[0]

    def prompt(self, prompt_hash: str) -> Any:
        row = self._reader.execute("SELECT payload FROM prompts WHERE prompt_hash=?",
                                   (prompt_hash,)).fetchone()
        return json.loads(row[0]) if row else None

    # -- writes ------------------------------------------------------------------------
    def put_prompt(self, prompt_hash: str, payload: Any) -> None:
        """Queue the rendered prompt (no need to wait: samples without it are still valid)."""
        self._submit(("prompt", (prompt_hash, json.dumps(payload, ensure_ascii=False))), None)

    def write(self, entries: Iterable[Entry], attempts: Iterable[tuple] = (),
              done: Callable[[BaseException | None], None] | None = None) -> None:
        """Queue entries (and attempt log rows); `done(error)` runs once they are committed."""
        self._submit(("samples", ([e.row() for e in entries], list(attempts))), done)

    def log_attempts(self, attempts: Iterable[tuple]) -> None:
        self._submit(("samples", ([], list(attempts))), None)

    async def write_async(self, entries: Iterable[Entry], attempts: Iterable[tuple] = ()) -> None:
        """Write and wait until the rows are durable (the writer thread committed them)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def done(error: BaseException | None) -> None:
            loop.call_soon_threadsafe(_settle, future, error)

        self.write(entries, attempts, done)
        await future

    def write_sync(self, entries: Iterable[Entry], attempts: Iterable[tuple] = ()) -> None:
        event, box = threading.Event(), []

        def done(error: BaseException | None) -> None:
            box.append(error)
            event.set()

        self.write(entries, attempts, done)
        event.wait()
        if box and box[0] is not None:
            raise box[0]

    def flush(self) -> None:
        self.write_sync([])

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._writer.join()
        self._reader.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _submit(self, item: tuple, done: Callable | None) -> None:
        if self._closed:
            raise RuntimeError(f"{self.path}: journal is closed")
        self._queue.put((item, done))

    def _write_loop(self) -> None:
        conn = self._connect()
        try:
            while True:
                first = self._queue.get()
                batch = [first]
                while len(batch) < 4096:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stop = any(item is None for item in batch)
                batch = [item for item in batch if item is not None]
                error = self._commit(conn, batch)
                for _, done in batch:
                    if done is not None:
                        done(error)
                if stop:
                    return
        finally:
            conn.close()

    def _commit(self, conn: sqlite3.Connection, batch: list) -> BaseException | None:
        prompts, samples, attempts = [], [], []
        for (kind, payload), _ in batch:
            if kind == "prompt":
                prompts.append(payload)
            else:
                samples.extend(payload[0])
                attempts.extend(payload[1])
        if not (prompts or samples or attempts):
            return None
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT OR IGNORE INTO prompts VALUES (?, ?)", prompts)
            conn.executemany(_UPSERT, samples)
            conn.executemany("INSERT INTO attempts VALUES (?, ?, ?, ?, ?)", attempts)
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            return RuntimeError(f"{self.path}: journal write failed: {err}")
        self.commits += 1
        self.rows_written += len(samples)
        return None


_ENTRY_COLUMNS = ("key", "prompt_hash", "record_id", "k", "model", "status", "response",
                  "finish_reason", "max_tokens", "prompt_tokens", "completion_tokens", "usage",
                  "served_model", "system_fingerprint", "error", "attempts", "updated")


def _settle(future: asyncio.Future, error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
