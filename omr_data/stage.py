"""The Stage interface.

A stage turns input datasets (or raw source files) into one output dataset directory. Its
work is split into *units*, each an independent, deterministic piece (by default one input
Parquet shard), so units can run in parallel processes, be skipped when already done, and be
redone after a crash without duplicating rows.

Writing a stage::

    @dataclass
    class UppercaseConfig:
        field: str = option("question", help="column to uppercase")   # also --field, YAML field

    class Uppercase(Stage):
        name = "uppercase"
        Config = UppercaseConfig

        def process(self, unit, ctx):
            for row in ctx.read_rows(unit):
                row[self.config.field] = row[self.config.field].upper()
                yield row          # a record; a dict with "reason" goes to rejects/

Stages whose decision needs all the data (dedup, mix) compute it once in `prepare`, write it
under `ctx.workdir`, and apply it per unit in `process` (identify, then remove).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pyarrow.parquet as pq

from omr_data.config_cli import alias_keys, operational_fields, renamed_keys
from omr_data.store import DatasetDir, iter_shard_batches


class ConfigError(ValueError):
    """A stage config that cannot be used; the message says which key and how to fix it."""


@dataclass(frozen=True)
class WorkUnit:
    """One independent piece of a stage's work.

    `info` is the stage's own, plus keys the runner and executors read: `phase` and
    `round` (set by the runner on prepare units), `label` (names a prepare round's progress
    bar) and `heavy` (CPU-bound work on small input files: never run inline).
    """

    name: str                      # unique and sortable, e.g. "unit-00003"
    paths: tuple[str, ...]         # input shards (or raw files for source stages)
    info: Mapping[str, Any] = field(default_factory=dict)  # e.g. which input it came from


@dataclass
class StageContext:
    """What a unit sees while it runs: its prepare() results, the seed, counters."""

    workdir: Path                  # files written by prepare(); read-only during process()
    seed: int = 0
    counters: Counter = field(default_factory=Counter)
    prepare_round: int = 0         # the prepare round whose units just ran (see prepare_merge)

    def count(self, key: str, n: int = 1) -> None:
        self.counters[key] += n

    def read_rows(self, unit: WorkUnit, columns: list[str] | None = None) -> Iterator[dict]:
        for path in unit.paths:
            for batch in iter_shard_batches(Path(path), columns=columns):
                yield from batch.to_pylist()

    def read_batches(self, unit: WorkUnit, columns: list[str] | None = None):
        for path in unit.paths:
            yield from iter_shard_batches(Path(path), columns=columns)


@dataclass(frozen=True)
class SharedLimiter:
    """A run-wide rate budget the executor starts before a stage's workers and stops when
    the stage ends: `omr_data.llm.limits.Budget(rpm, tpm)` as the Ray actor `name` (in the
    `limits.NAMESPACE` namespace); the workers find it by that name in their config."""

    name: str
    rpm: int | None
    tpm: int | None


@dataclass
class ClusterPlan:
    """How a stage runs on many workers of a cluster (`Stage.cluster_plan`): `workers`
    workers built from `worker_config`, and per unit the config `unit_config(worker_config,
    unit_name)` (None: the worker config as is); `shared_limiter`, when set, started before
    the workers and stopped when the stage ends; `notes` are shown beside the progress."""

    workers: int
    worker_config: Any
    unit_config: Callable[[Any, str], Any] | None = None
    notes: tuple[str, ...] = ()
    shared_limiter: SharedLimiter | None = None


class Stage:
    """Base class: subclasses set `name`, `Config` and implement `process`."""

    name: ClassVar[str] = ""
    #: bump when the stage's output for the same input and config changes meaning
    version: ClassVar[str] = "1"
    Config: ClassVar[type] = type(None)
    #: "datasets": inputs are dataset directories; "files": raw source files or folders
    reads: ClassVar[str] = "datasets"
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = None
    #: columns the stage needs in its input rows (checked before any row flows)
    input_columns: ClassVar[tuple[str, ...]] = ()
    #: config fields that do not change the output (endpoints, concurrency, paths of
    #: caches), left out of the cache key so moving a server does not redo the work:
    #: derived from the fields marked `operational` (omr_data.config_cli), never listed
    cache_exclude: ClassVar[tuple[str, ...]] = ()
    #: at most this many worker processes (e.g. 1 for a stage whose own concurrency limit
    #: must hold globally, like distill's requests in flight); None = the executor's choice
    max_workers: ClassVar[int | None] = None
    #: files that `prepare` writes and that should outlive the run (decisions, reports):
    #: copied to OUT/<stage name>/ when the stage finishes
    keep_prepare_files: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "cache_exclude" in cls.__dict__:
            raise TypeError(f"{cls.__name__}: mark config fields operational "
                            "(omr_data.config_cli.option) instead of listing cache_exclude")
        cls.cache_exclude = operational_fields(cls.Config)

    def __init__(self, config: Any = None):
        if config is None:
            config = self.Config()
        elif isinstance(config, Mapping):
            config = config_from_dict(self.Config, config, where=f"stage {self.name!r}")
        self.config = config

    # -- planning (driver) -------------------------------------------------------------
    def check_inputs(self, inputs: list[str]) -> None:
        """Raise `ConfigError` when inputs cannot work; runs before anything is processed."""
        n = len(inputs)
        if n < self.min_inputs or (self.max_inputs is not None and n > self.max_inputs):
            want = (f"{self.min_inputs}" if self.max_inputs == self.min_inputs else
                    f"at least {self.min_inputs}" if self.max_inputs is None else
                    f"{self.min_inputs} to {self.max_inputs}")
            raise ConfigError(f"stage {self.name!r} takes {want} input(s), got {n}")
        if self.reads == "datasets":
            for path in inputs:
                ds = DatasetDir(path)
                missing = [c for c in self.input_columns if ds.shards and c not in
                           _shard_columns(ds.shards[0])]
                if missing:
                    raise ConfigError(f"{path}: stage {self.name!r} needs column(s) {missing}")

    def plan(self, inputs: list[str]) -> list[WorkUnit]:
        """Split the work; default: one unit per input shard, in input order."""
        units = []
        for i, path in enumerate(inputs):
            for shard in DatasetDir(path).shards:
                units.append(WorkUnit(f"unit-{len(units):05d}", (str(shard),), {"input": i}))
        return units

    def prepare(self, inputs: list[str], ctx: StageContext) -> None:
        """Optional global phase (runs once, in the driver, before any unit)."""

    # A global phase that parallelises (hashing, embedding, scoring every shard) splits
    # into units too: `prepare_units` returns them (None: use `prepare`), the executor runs
    # `prepare_unit` on each (in worker processes or on Ray; each must be idempotent and
    # write only under ctx.workdir), then `prepare_merge` combines their files in the driver.
    # `prepare_merge` may return the units of another round (dedup: scan the shards, then
    # search candidates, then verify them); `ctx.prepare_round` tells which round just
    # ended. A resumed run calls every merge again, so a merge must be deterministic.
    def prepare_units(self, inputs: list[str], ctx: StageContext) -> list[WorkUnit] | None:
        return None

    def prepare_unit(self, unit: WorkUnit, ctx: StageContext) -> None:
        raise NotImplementedError(f"stage {self.name!r} returned prepare units but has no "
                                  "prepare_unit()")

    def prepare_merge(self, inputs: list[str], ctx: StageContext) -> list[WorkUnit] | None:
        """Combine what the prepare units wrote (in the driver, once per round); return the
        next round's units, or None when the prepare phase is complete."""
        return None

    def accepts_remote_input(self, path: str) -> bool:
        """Whether a non-existent input path is still readable (e.g. a Hub dataset id)."""
        return False

    def fingerprint_input(self, path: str) -> str | None:
        """A fingerprint for an input the runner cannot hash itself (e.g. a Hub dataset id);
        None means the runner's default (dataset fingerprint or raw file content)."""
        return None

    def rows_in(self, inputs: list[str]) -> int | None:
        """Input row count for the manifest's funnel (None when unknown, e.g. raw files)."""
        if self.reads != "datasets":
            return None
        return sum(DatasetDir(p).num_rows for p in inputs)

    def cluster_plan(self, *, wanted: int, units: int, output: Path) -> ClusterPlan:
        """How to run on a cluster executor (ray) that would start `wanted` workers for
        `units` units writing to `output`. Default: `wanted` workers, never more than
        `max_workers` or the units, each with this config. A stage whose config holds
        run-wide budgets (requests in flight, rates) overrides it to split them over the
        workers or share them through a `SharedLimiter` (distill, verify's judge)."""
        cap = self.max_workers or wanted
        return ClusterPlan(max(1, min(wanted, cap, units)), self.config)

    # -- per worker --------------------------------------------------------------------
    def setup(self) -> None:
        """Load heavy resources (models, pools, clients) once per worker process."""

    def teardown(self) -> None:
        """Release what `setup` acquired."""

    def process(self, unit: WorkUnit, ctx: StageContext) -> Iterator[dict]:
        raise NotImplementedError

    def stats(self, manifest_stats: Mapping[str, Any], ctx: StageContext) -> dict:
        """Extra stage-level statistics for the manifest (after all units)."""
        return {}

    # -- caching -----------------------------------------------------------------------
    def config_dict(self) -> dict:
        return config_to_dict(self.config)

    def cache_config(self) -> dict:
        return {k: v for k, v in self.config_dict().items() if k not in self.cache_exclude}

    def cache_key(self, parent_fingerprints: list[str], seed: int = 0) -> str:
        """Content and configuration only: never timestamps, paths of outputs or run ids."""
        payload = {
            "stage": self.name,
            "version": self.version,
            "config": self.cache_config(),
            "parents": parent_fingerprints,
            "seed": seed,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


# ---------------------------------------------------------------------------------------
# Config dataclasses: defaults < recipe YAML < CLI flags; unknown keys fail.


def config_from_dict(cls: type, values: Mapping[str, Any], *, where: str = "config") -> Any:
    """Build a config dataclass from a mapping, refusing unknown keys and wrong types."""
    if cls is type(None):
        if values:
            raise ConfigError(f"{where}: takes no config, got {sorted(values)}")
        return None
    fields = {f.name: f for f in dataclasses.fields(cls)}
    renamed = renamed_keys(cls)
    for old in sorted(set(values) & set(renamed)):
        raise ConfigError(f"{where}: key {old} is now {renamed[old]}")
    aliases = alias_keys(cls)
    for alias in sorted(set(values) & set(aliases)):
        if aliases[alias] in values:
            raise ConfigError(f"{where}: {alias} and {aliases[alias]} are the same key")
        values = {aliases.get(k, k): v for k, v in values.items()}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(fields))}")
    hints = typing.get_type_hints(cls)
    converted = {}
    for key, value in values.items():
        converted[key] = _coerce(value, hints.get(key, Any), f"{where}: {key}")
    try:
        return cls(**converted)
    except TypeError as err:
        raise ConfigError(f"{where}: {err}") from None
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from None


def config_to_dict(config: Any) -> dict:
    if config is None:
        return {}
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any or hint is object:
        return value
    if origin is typing.Union or (origin is not None
                                  and str(origin) == "<class 'types.UnionType'>"):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__} {value!r}")
        inner = args[0] if args else Any
        return origin(_coerce(v, inner, where) for v in value)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
        return dict(value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if hint is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if hint is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{where}: expected a string, got {type(value).__name__}")
        return str(value)
    return value


def _shard_columns(path: Path) -> list[str]:
    return pq.read_schema(path).names
