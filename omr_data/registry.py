"""Every stage by name, in one explicit dict.

Entries are import paths, resolved on first use, so `omr-data --help` stays instant and a
stage's heavy dependencies load only when a recipe uses it.
"""

from __future__ import annotations

import importlib

from omr_data.stage import ConfigError, Stage

STAGES: dict[str, str] = {
    "normalize": "omr_data.sources.stage:NormalizeStage",
    "distill": "omr_data.distill.stage:DistillStage",
    "verify": "omr_data.verify.stage:VerifyStage",
    "dedup": "omr_data.dedup.stage:DedupStage",
    "mix": "omr_data.mix:MixStage",
    "filter": "omr_data.filters:FilterStage",
    "pass_rate": "omr_data.pass_rate:PassRateStage",
}


def stage_class(name: str) -> type[Stage]:
    """The Stage class registered as `name`; a clear error for unknown or unavailable ones."""
    target = STAGES.get(name)
    if target is None:
        raise ConfigError(f"unknown stage {name!r}; known stages: {', '.join(sorted(STAGES))}")
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and module_name.startswith(err.name):
            raise ConfigError(f"stage {name!r} is not available in this version "
                              f"({module_name} is missing)") from None
        raise
    return getattr(module, attr)


def available_stages() -> list[str]:
    names = []
    for name in sorted(STAGES):
        try:
            stage_class(name)
        except ConfigError:
            continue
        names.append(name)
    return names
