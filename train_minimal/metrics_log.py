"""A trainer callback that appends every log record to a JSON-lines file.

Whatever the trainer logs (loss, learning rate, and for GRPO the rewards, accuracy,
format, completion lengths and clip ratios) lands in `metrics.jsonl` beside the
checkpoints, one object per logging step, so runs can be compared without a tracker.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from transformers import TrainerCallback


class MetricsLog(TrainerCallback):
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.records: list[dict] = []

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("")

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:
            return
        record = {"step": state.global_step, **{k: _plain(v) for k, v in logs.items()}}
        self.records.append(record)
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def last(self, key: str):
        """The last logged value of `key`, or None."""
        for record in reversed(self.records):
            if key in record:
                return record[key]
        return None


def _plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)
