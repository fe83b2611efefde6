"""The one exception adapters raise for a row they cannot use."""

from __future__ import annotations


class RowError(ValueError):
    """A row that becomes a reject. `reason` is counted by its text before the first ':'
    (e.g. "missing answer", "missing image: a/b.png"), so put the kind first."""

    def __init__(self, reason: str, *, source_id: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.source_id = source_id


class SourceFileError(RuntimeError):
    """A file that cannot be read at all (not a row problem); the message names the file."""
