"""Executors run a stage's units: `local` (processes on this machine, the default) and `ray`."""

from __future__ import annotations

from omr_data.executors.base import Executor, ProgressFn

__all__ = ["Executor", "ProgressFn", "make_executor"]


def make_executor(name: str = "local", **options) -> Executor:
    if name == "local":
        from omr_data.executors.local import LocalExecutor
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
