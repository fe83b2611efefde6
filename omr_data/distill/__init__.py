"""Distillation: n teacher traces per question from any OpenAI-compatible endpoint.

- `presets`: teacher presets (`qwen3-vl-235b`, `qwen2.5-vl-72b`, `simulated`).
- `render`: a record as chat messages and its content-addressed prompt hash.
- requests go through the shared client `omr_data.llm` (endpoints, concurrency cap,
  retries, rate limits) and are kept in its request journal (resume, no duplicates).
- `engine`: `distill()` / `distill_async()` / `estimate()`, usable without the runner.
- `stage`: the `distill` stage for the runner.
- `simulated`: the offline SIMULATED teacher and 0/1 judge (a real HTTP server).
"""

from omr_data.distill.config import DistillConfig
from omr_data.distill.engine import distill, distill_async, estimate
from omr_data.distill.presets import PRESETS, TeacherPreset, get_preset

__all__ = ["DistillConfig", "PRESETS", "TeacherPreset", "distill", "distill_async",
           "estimate", "get_preset"]
