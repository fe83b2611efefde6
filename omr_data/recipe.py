"""YAML recipes: a list of steps, validated as a whole before anything runs.

    name: demo
    workdir: runs/demo            # step outputs default to {workdir}/{step id}
    seed: 0
    services:                     # started only if a step that needs them must run
      teacher: {kind: simulated_teacher, accuracy: 0.8, oracle: llava}
    steps:
      - id: llava
        stage: normalize
        inputs: [samples/llava_cot]
        config: {source: llava_cot}
      - id: traces
        stage: distill
        inputs: [llava]           # a step id, or a path
        config: {teacher: qwen3-vl-235b, n: 8, base_urls: ["${services.teacher.base_url}"]}
      - id: publish
        publish: {repo: omr/sft-874k, version: v0.1, hub_dir: hub}
        inputs: [traces]

`vars:` holds defaults (e.g. where each source lives) used as `${vars.NAME}` anywhere;
`omr-data run recipe.yaml --set NAME=VALUE` overrides them.

Inputs are step ids or paths (relative to the current directory); in a config,
`${steps.ID}` is an earlier step's output directory. `${services.NAME.ATTR}`
placeholders are filled when the step runs; put them only in fields a stage leaves out of
its cache key (endpoints), so moving a server does not redo work.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from omr_data.distill.simulated import SimulatedServer
from omr_data.executors import make_executor
from omr_data.hub import parse_config_split, publish, publish_release
from omr_data.registry import stage_class
from omr_data.runner import StageResult, is_cached, run_stage, stage_cache_key
from omr_data.stage import ConfigError, Stage
from omr_data.stats import compute_stats, save_stats, write_plots

PLACEHOLDER = re.compile(r"\$\{services\.([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\}")
STEP_OUTPUT = re.compile(r"\$\{steps\.([A-Za-z0-9_.-]+)\}")
VAR = re.compile(r"\$\{vars\.([A-Za-z0-9_]+)\}")
STEP_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*")
STEP_KEYS = {"id", "stage", "inputs", "config", "output", "publish", "workers"}
RECIPE_KEYS = {"name", "description", "workdir", "seed", "vars", "services", "steps"}
SERVICE_KINDS = {"simulated_teacher"}


class RecipeError(ConfigError):
    """A recipe that cannot run; the message names the file and line."""


@dataclass
class Step:
    id: str
    line: int
    inputs: list[str]
    stage: str | None = None
    config: dict = field(default_factory=dict)
    output: Path | None = None
    publish: dict | None = None
    workers: int | None = None


@dataclass
class Recipe:
    path: Path
    name: str
    workdir: Path
    seed: int
    steps: list[Step]
    services: dict[str, dict]
    description: str = ""

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)


# ---------------------------------------------------------------------------------------
# Loading and validation


class _LineLoader(yaml.SafeLoader):
    """Keeps each mapping's line number under the key `__line__`."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _fill_vars(value: Any, variables: dict[str, str], fail, line: int = 1) -> Any:
    """`${vars.NAME}` anywhere in the recipe becomes the var's value."""
    if isinstance(value, dict):
        line = value.get("__line__", line)
        return {k: _fill_vars(v, variables, fail, line) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_vars(v, variables, fail, line) for v in value]
    if isinstance(value, str):
        def lookup(match: re.Match) -> str:
            if match.group(1) not in variables:
                raise fail(line, f"${{vars.{match.group(1)}}} is not defined under vars:")
            return variables[match.group(1)]
        return VAR.sub(lookup, value)
    return value


def _strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def load_recipe(path: str | Path, *, workdir: str | None = None,
                overrides: dict[str, str] | None = None) -> Recipe:
    """Parse and validate a recipe; every problem is a `RecipeError` naming `file:line`.

    `overrides` replace the recipe's `vars:` defaults (`omr-data run … --set NAME=VALUE`)."""
    path = Path(path)
    if not path.exists():
        raise RecipeError(f"{path}: recipe not found")
    try:
        data = yaml.load(path.read_text(), Loader=_LineLoader)
    except yaml.YAMLError as err:
        raise RecipeError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe is a mapping with 'steps'")

    def fail(line: int, message: str) -> RecipeError:
        return RecipeError(f"{path}:{line}: {message}")

    unknown = sorted(set(data) - RECIPE_KEYS - {"__line__"})
    if unknown:
        raise fail(1, f"unknown key(s) {unknown}; known: {sorted(RECIPE_KEYS)}")
    variables = {k: str(v) for k, v in _strip_lines(data.get("vars") or {}).items()}
    unknown = sorted(set(overrides or {}) - set(variables))
    if unknown:
        raise RecipeError(f"{path}: --set {', '.join(unknown)}: not a var of this recipe; "
                          f"its vars: {', '.join(sorted(variables)) or 'none'}")
    variables.update(overrides or {})
    data = _fill_vars(data, variables, fail)
    name = str(data.get("name") or path.stem)
    recipe = Recipe(
        path=path, name=name, description=str(data.get("description", "")),
        workdir=Path(workdir or data.get("workdir") or f"runs/{name}"),
        seed=int(data.get("seed", 0)), steps=[], services={})

    for service_name, spec in (data.get("services") or {}).items():
        if service_name == "__line__":
            continue
        line = spec.get("__line__", 1) if isinstance(spec, dict) else 1
        if not isinstance(spec, dict) or spec.get("kind") not in SERVICE_KINDS:
            raise fail(line, f"service {service_name!r} needs kind: one of {sorted(SERVICE_KINDS)}")
        recipe.services[service_name] = _strip_lines(spec)

    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise fail(data.get("__line__", 1), "a recipe needs a non-empty list of steps")
    for raw in steps:
        recipe.steps.append(_parse_step(raw, recipe, fail))
    _check_services(recipe, fail)
    return recipe


def _parse_step(raw: Any, recipe: Recipe, fail: Callable[[int, str], RecipeError]) -> Step:
    if not isinstance(raw, dict):
        raise fail(1, f"each step is a mapping, got {raw!r}")
    line = raw["__line__"]
    unknown = sorted(set(raw) - STEP_KEYS - {"__line__"})
    if unknown:
        raise fail(line, f"unknown step key(s) {unknown}; known: {sorted(STEP_KEYS)}")
    step_id = raw.get("id")
    if not isinstance(step_id, (str, int)) or not STEP_ID.fullmatch(str(step_id)):
        # an id names the step's folder under workdir: a name, never a path ('..', '/')
        raise fail(line, f"step id {step_id!r}: use a name of letters, digits, '_', '-' and "
                         "inner dots (not a path, not '.' or '..')")
    if any(s.id == step_id for s in recipe.steps):
        raise fail(line, f"duplicate step id {step_id!r}")
    if bool(raw.get("stage")) == bool(raw.get("publish")):
        raise fail(line, f"step {step_id!r}: give either 'stage: NAME' or 'publish: {{...}}'")
    inputs = raw.get("inputs") or []
    if isinstance(inputs, str):
        inputs = [inputs]
    step = Step(id=str(step_id), line=line, inputs=[str(i) for i in inputs],
                stage=raw.get("stage"), config=_strip_lines(raw.get("config") or {}),
                output=Path(raw["output"]) if raw.get("output") else None,
                publish=_strip_lines(raw["publish"]) if raw.get("publish") else None,
                workers=raw.get("workers"))
    known = {s.id for s in recipe.steps}
    step.config = _fill_step_outputs(step.config, recipe, fail, line)
    stage = None
    if step.stage:
        try:
            stage = stage_class(step.stage)(_config_for_check(step.config))
        except ConfigError as err:
            raise fail(line, f"step {step.id!r}: {err}") from None
    for item in step.inputs:
        if item in known or Path(item).exists():
            continue
        if stage is not None and stage.accepts_remote_input(item):
            continue  # e.g. a Hub dataset id that normalize reads with `datasets`
        raise fail(line, f"step {step.id!r}: input {item!r} is neither an earlier step "
                         "nor an existing path" + (" (set it with --set NAME=PATH)"
                                                   if recipe.path else ""))
    if step.stage:
        if step.output is None:
            step.output = recipe.workdir / step.id
    else:
        _check_publish(step, known, fail)
    return step


PUBLISH_KEYS = {"repo", "version", "hub_dir", "to_hub", "config", "split", "configs", "title",
                "summary", "message", "private", "max_shard_bytes", "instruction"}


def _check_publish(step: Step, known: set[str], fail) -> None:
    """A publish step: one config from `inputs`, or a release of several `configs`."""
    options, line = step.publish, step.line
    unknown = sorted(set(options) - PUBLISH_KEYS)
    if unknown:
        raise fail(line, f"step {step.id!r}: unknown publish key(s) {unknown}; "
                         f"known: {sorted(PUBLISH_KEYS)}")
    for key in ("repo", "version"):
        if not options.get(key):
            raise fail(line, f"step {step.id!r}: publish needs {key!r}")
    configs = options.get("configs")
    if configs is None:
        if not step.inputs:
            raise fail(line, f"step {step.id!r}: publish needs inputs (or configs:)")
        return
    if step.inputs or options.get("config"):
        raise fail(line, f"step {step.id!r}: give either inputs (+ config) or configs:, "
                         "not both")
    if not isinstance(configs, dict) or not configs:
        raise fail(line, f"step {step.id!r}: configs maps CONFIG[:SPLIT] to a list of inputs")
    for name, items in configs.items():
        items = [items] if isinstance(items, str) else items
        for item in items or []:
            if str(item) not in known and not Path(str(item)).exists():
                raise fail(line, f"step {step.id!r}: config {name!r}: input {item!r} is "
                                 "neither an earlier step nor an existing path")
        if not items:
            raise fail(line, f"step {step.id!r}: config {name!r} has no inputs")


def publish_parts(configs: dict, outputs: dict[str, str]) -> list[tuple[str, str, list[str]]]:
    """`{CONFIG[:SPLIT]: [inputs]}` → `[(config, split, paths)]` for `publish_release`."""

    parts = []
    for key, items in configs.items():
        items = [items] if isinstance(items, str) else items
        parts.append((*parse_config_split(str(key)), [outputs.get(str(i), str(i)) for i in items]))
    return parts


def _fill_step_outputs(value: Any, recipe: Recipe, fail, line: int) -> Any:
    """`${steps.ID}` in a config becomes that earlier step's output directory."""
    def output_of(match: re.Match) -> str:
        for step in recipe.steps:
            if step.id == match.group(1) and step.output is not None:
                return str(step.output)
        raise fail(line, f"${{steps.{match.group(1)}}} does not name an earlier stage step")

    if isinstance(value, str):
        return STEP_OUTPUT.sub(output_of, value)
    if isinstance(value, dict):
        return {k: _fill_step_outputs(v, recipe, fail, line) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_step_outputs(v, recipe, fail, line) for v in value]
    return value


def _config_for_check(config: dict) -> dict:
    """Validate configs with placeholders filled by a dummy URL (they are filled at run time)."""
    return _substitute(config, lambda service, attr: "http://127.0.0.1:1/v1")


def _check_services(recipe: Recipe, fail) -> None:
    for step in recipe.steps:
        for service, _attr in PLACEHOLDER.findall(repr(step.config)):
            if service not in recipe.services:
                raise fail(step.line, f"step {step.id!r} uses undefined service {service!r}")
    for spec in recipe.services.values():
        oracle = spec.get("oracle")
        if oracle and oracle not in {s.id for s in recipe.steps} and not Path(oracle).exists():
            raise fail(1, f"service oracle {oracle!r} is neither a step id nor a path")


def _substitute(value: Any, resolve: Callable[[str, str], str]) -> Any:
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: str(resolve(m.group(1), m.group(2))), value)
    if isinstance(value, dict):
        return {k: _substitute(v, resolve) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, resolve) for v in value]
    return value


# ---------------------------------------------------------------------------------------
# Running


@dataclass
class StepReport:
    step: Step
    result: StageResult | None = None
    publish: Any = None


def run_recipe(recipe: Recipe, *, executor=None, progress: bool = True,
               only: list[str] | None = None,
               echo: Callable[[str], None] = print) -> list[StepReport]:
    """Run the steps in order; cached steps are skipped, services start only when needed."""
    outputs: dict[str, str] = {}
    reports = []
    with _Services(recipe, outputs) as services:
        for step in recipe.steps:
            inputs = [outputs.get(i, i) for i in step.inputs]
            if only and step.id not in only:
                if step.output is not None:
                    outputs[step.id] = str(step.output)
                continue
            if step.publish is not None:
                options = dict(step.publish)
                repo, version = options.pop("repo"), str(options.pop("version"))
                if options.get("hub_dir"):
                    options["hub_dir"] = str(Path(options["hub_dir"]).resolve())
                if "configs" in options:
                    parts = publish_parts(options.pop("configs"), outputs)
                    _ensure_stats([p for _, _, paths in parts for p in paths])
                    result = publish_release(parts, repo, version=version, **options)
                else:
                    _ensure_stats(inputs)
                    result = publish(inputs, repo, version=version, **options)
                echo(f"[{step.id}] {result.summary()}")
                reports.append(StepReport(step, publish=result))
                continue
            stage = _build_stage(step, placeholder_only=True)
            key, _ = stage_cache_key(stage, inputs, recipe.seed)
            if is_cached(step.output, key) is None and PLACEHOLDER.search(repr(step.config)):
                stage = _build_stage(step, resolve=services.resolve)
            step_executor = executor
            if step.workers and executor is None:
                step_executor = make_executor("local", workers=step.workers)
            result = run_stage(stage, inputs, step.output, executor=step_executor,
                               seed=recipe.seed, progress=progress, label=step.id)
            echo(f"[{step.id}] {result.summary}")
            outputs[step.id] = str(step.output)
            reports.append(StepReport(step, result=result))
    return reports


def _ensure_stats(inputs: list[str]) -> None:
    """Statistics and plots beside each dataset, so the card can show them."""

    for path in inputs:
        out = Path(path) / "stats"
        if not (out / "stats.json").exists():
            stats = compute_stats(path)
            write_plots(stats, out)
            save_stats(stats, out)


def _build_stage(step: Step, *, placeholder_only: bool = False,
                 resolve: Callable[[str, str], str] | None = None) -> Stage:
    # For the cache check, placeholders get a dummy endpoint: they sit in fields the cache
    # key leaves out, so the key is the same as the real run's.
    config = _config_for_check(step.config) if placeholder_only else \
        _substitute(step.config, resolve)
    return stage_class(step.stage)(config)


class _Services(contextlib.ExitStack):
    """Recipe services, started on first use and stopped when the recipe ends."""

    def __init__(self, recipe: Recipe, outputs: dict[str, str]):
        super().__init__()
        self.recipe, self.outputs = recipe, outputs
        self.running: dict[str, Any] = {}

    def resolve(self, name: str, attr: str) -> str:
        if name not in self.running:
            self.running[name] = self.enter_context(self._start(name))
        return getattr(self.running[name], attr)

    def _start(self, name: str):
        spec = dict(self.recipe.services[name])
        kind = spec.pop("kind")
        if kind == "simulated_teacher":
            if spec.get("oracle"):
                spec["oracle"] = self.outputs.get(spec["oracle"], spec["oracle"])
            return SimulatedServer(**spec)
        raise RecipeError(f"unknown service kind {kind!r}")
