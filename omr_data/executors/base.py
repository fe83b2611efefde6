"""What the runner needs from an executor: run a stage's pending units into a prepared
output directory. Planning, caching, resuming and finalizing stay in the runner, so every
executor gives the same output and fingerprint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from omr_data.stage import Stage, WorkUnit
    from omr_data.store import DatasetBuilder

ProgressFn = Callable[[int, int], None]  # (units finished so far, rows so far)


class Executor(Protocol):
    def run(self, stage: Stage, units: list[WorkUnit], builder: DatasetBuilder, workdir: Path,
            seed: int, progress: ProgressFn | None = None) -> None:
        """Run every unit (each writes its shards and done-marker through `builder`);
        raise when a unit fails for good."""
