"""Stages for the Ray executor tests (importable by Ray workers through PYTHONPATH)."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from toy_stages import Uppercase, UppercaseConfig

from omr_data.config_cli import option
from omr_data.distill.config import DistillConfig
from omr_data.distill.stage import DistillStage
from omr_data.stage import Stage


@dataclass
class KillOnceConfig(UppercaseConfig):
    kill_unit: str = option("", operational=True, help="unit whose worker dies once")
    marker: str = option("", operational=True, help="file that says the kill happened")
    pid_log: str = option("", operational=True, help="append 'unit pid' per unit")
    every_time: bool = option(False, operational=True, help="kill at every attempt")


class KillOnce(Uppercase):
    """Uppercase, but the worker running `kill_unit` SIGKILLs itself once, mid-unit."""

    name = "uppercase"   # same stage as far as outputs go
    Config = KillOnceConfig

    def process(self, unit, ctx):
        if self.config.pid_log:
            with open(self.config.pid_log, "a") as log:
                log.write(f"{unit.name} {os.getpid()}\n")
        for i, row in enumerate(super().process(unit, ctx)):
            if (unit.name == self.config.kill_unit and i == 3
                    and (self.config.every_time or not os.path.exists(self.config.marker))):
                Path(self.config.marker).touch()
                os.kill(os.getpid(), signal.SIGKILL)
            yield row


class OneWorker(KillOnce):
    """A stage that allows one worker process at a time."""

    max_workers = 1


@dataclass
class ExplodeConfig:
    bad_unit: str = option("unit-00001", operational=True, help="unit that raises")
    log_path: str = option("", operational=True, help="append each started unit's name")


class Explode(Stage):
    """Passes rows through; `bad_unit` raises (left out of the cache key, so a run with the
    problem fixed resumes the failed one)."""

    name = "explode"
    Config = ExplodeConfig

    def process(self, unit, ctx):
        if self.config.log_path:
            with open(self.config.log_path, "a") as log:
                log.write(unit.name + "\n")
        for row in ctx.read_rows(unit):
            if unit.name == self.config.bad_unit:
                raise ValueError(f"cannot handle {row['id']}")
            yield row


@dataclass
class KillingDistillConfig(DistillConfig):
    kill_unit: str = field(default="", metadata={"help": "unit whose worker dies once"})
    kill_after: int = field(default=4, metadata={"help": "rows yielded before the kill"})
    marker: str = field(default="", metadata={"help": "file that says the kill happened"})


class KillingDistill(DistillStage):
    """The real distill stage; the worker running `kill_unit` SIGKILLs itself once after
    `kill_after` output rows, with requests still in flight."""

    Config = KillingDistillConfig

    def process(self, unit, ctx):
        for i, row in enumerate(super().process(unit, ctx)):
            if (unit.name == self.config.kill_unit and i == self.config.kill_after
                    and not os.path.exists(self.config.marker)):
                Path(self.config.marker).touch()
                os.kill(os.getpid(), signal.SIGKILL)
            yield row


class BrokenSetup(Uppercase):
    """A stage whose per-worker setup fails (e.g. a model that cannot load)."""

    def setup(self):
        raise OSError("model weights not found at /nowhere")


@dataclass
class DistillProbeConfig(DistillConfig):
    start_together: str = field(default="", metadata={
        "help": "folder: each unit waits there until `units_together` units have started"})
    units_together: int = field(default=2, metadata={"help": "units that start together"})
    kill_limiter_in: str = field(default="", metadata={
        "help": "unit that kills the run's shared rate limiter actor before it starts"})
    fail_unit: str = field(default="", metadata={"help": "unit that raises before it starts"})


class DistillProbe(DistillStage):
    """The real distill stage; units can wait for each other before they start (Ray
    starts actors one after another), one unit can kill the run's shared limiter, or
    raise."""

    Config = DistillProbeConfig

    def process(self, unit, ctx):
        if self.config.start_together:
            folder = Path(self.config.start_together)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / unit.name).touch()
            deadline = time.monotonic() + 60
            while (len(list(folder.iterdir())) < self.config.units_together
                   and time.monotonic() < deadline):
                time.sleep(0.01)
        if unit.name == self.config.kill_limiter_in:
            import ray

            from omr_data.llm.limits import NAMESPACE
            ray.kill(ray.get_actor(self.config.shared_limiter, namespace=NAMESPACE))
            for _ in range(100):   # until the kill has landed
                try:
                    ray.get_actor(self.config.shared_limiter, namespace=NAMESPACE)
                except ValueError:
                    break
                time.sleep(0.05)
        if unit.name == self.config.fail_unit:
            raise ValueError(f"{unit.name} cannot go on")
        yield from super().process(unit, ctx)
