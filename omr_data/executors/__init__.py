"""Executors run a stage's units: `local` (processes on this machine, the default) and `ray`."""

from __future__ import annotations

from omr_data.executors.base import Executor, ProgressFn
from omr_data.executors.local import LocalExecutor

__all__ = ["Executor", "LocalExecutor", "ProgressFn", "make_executor"]


def make_executor(name: str = "local", **options) -> Executor:
    if name == "local":
        return LocalExecutor(workers=options.get("workers"))
    if name == "ray":
        try:
            from omr_data.executors.ray import RayExecutor
        except ImportError as err:
            raise RuntimeError(
                "the ray executor needs the [ray] extra: pip install 'omr-data[ray]' "
                f"({err})") from None
        return RayExecutor(**options)
    raise ValueError(f"unknown executor {name!r}; use 'local' or 'ray'")
