"""Launch arithmetic, checked before anything is loaded: does the batch split over the processes?

GRPOTrainer (TRL 1.16) generates one *rollout batch* of `prompts × num_generations`
completions, then trains on it in optimizer steps of `per_device_train_batch_size × processes
× gradient_accumulation_steps` completions each. That only works when the numbers divide; TRL
finds out after the model and the dataset are loaded (minutes for a 7B). Here the same checks
run from the flags and `WORLD_SIZE` alone, and a refusal names settings that would work:

    >>> gspo_layout(prompts=128, generations=16, per_device=2, world=6, updates=1)
    Traceback (most recent call last):
    LaunchError: 2,048 completions per optimizer step ... --prompts-per-step 120 or 132 ...

Only the standard library is imported, so `--check-only` answers in well under a second
for this part.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from script_args import ArgsError


class LaunchError(ArgsError):
    """The launch cannot run as configured; the message proposes settings that can."""


def world_size(flag: int | None = None) -> int:
    """Processes of this launch: `--world-size`, else `WORLD_SIZE` (set by accelerate/torchrun),
    else 1. A flag that contradicts the launcher is an error."""
    env = os.environ.get("WORLD_SIZE")
    try:
        launched = int(env) if env else None
    except ValueError:
        raise LaunchError(f"WORLD_SIZE={env!r} is not a number") from None
    if flag is not None and launched is not None and flag != launched:
        raise LaunchError(f"--world-size {flag} but this launch has WORLD_SIZE={launched}; drop "
                          "--world-size (it is for checking a launch from a single process)")
    size = flag if flag is not None else (launched or 1)
    if size < 1:
        raise LaunchError(f"world size must be >= 1, got {size}")
    return size


@dataclass(frozen=True)
class GSPOLayout:
    world: int
    completions: int            # per rollout batch (all processes)
    per_update: int             # completions per optimizer step
    gradient_accumulation_steps: int
    steps_per_generation: int

    def describe(self, per_device: int) -> str:
        return (f"{self.completions:,} completions per rollout batch over {self.world} "
                f"{_procs(self.world)[len(str(self.world)) + 1:]}: {self.per_update:,} per "
                f"optimizer step "
                f"= {per_device} per device × {self.world} × {self.gradient_accumulation_steps} "
                f"accumulation steps; {self.steps_per_generation} micro-steps per rollout batch")


def _procs(n: int) -> str:
    return f"{n} process" if n == 1 else f"{n} processes"


def _problem(prompts: int, generations: int, per_device: int, world: int, updates: int,
             whole_groups: bool, tensor_parallel: int) -> str | None:
    completions = prompts * generations
    if completions % updates:
        return (f"{completions:,} completions ({prompts} prompts × {generations}) do not split "
                f"into {updates} equal optimizer steps (--updates-per-generation)")
    per_update = completions // updates
    if per_update % (per_device * world):
        return (f"{per_update:,} completions per optimizer step ({prompts} prompts × "
                f"{generations}{f' / {updates}' if updates > 1 else ''}) do not split into "
                f"micro-batches of per_device_train_batch_size {per_device} × {_procs(world)} = "
                f"{per_device * world}")
    if whole_groups and prompts % world:
        return (f"DAPO re-sampling keeps whole groups on each process: {prompts} prompts per "
                f"rollout batch must divide over {world} processes")
    if world % tensor_parallel:
        return (f"vLLM colocate: tensor parallel size {tensor_parallel} must divide the "
                f"{world} processes")
    return None


def _nearest(values, target: int, limit: int = 2) -> list[int]:
    return sorted(sorted(values, key=lambda v: (abs(v - target), v))[:limit])


def _alternatives(prompts: int, generations: int, per_device: int, world: int, updates: int,
                  whole_groups: bool, tensor_parallel: int) -> list[str]:
    def ok(p=prompts, b=per_device, w=world, u=updates):
        return _problem(p, generations, b, w, u, whole_groups, tensor_parallel) is None

    out = []
    devices = [b for b in range(1, 4 * per_device + 1) if ok(b=b)]
    if devices:
        smaller = [b for b in devices if b <= per_device]
        pick = (smaller[-1:] if smaller else []) + [b for b in devices if b > per_device][:1]
        out.append(" or ".join(f"--per-device-train-batch-size {b}" for b in pick))
    nearby = [p for p in range(max(1, prompts // 2), 2 * prompts + 1) if ok(p=p)]
    if nearby:
        out.append(" or ".join(str(p) for p in _nearest(nearby, prompts)).join(
            ("--prompts-per-step ", f" (keeping {_procs(world)} × {per_device} per device)")))
    worlds = [w for w in range(1, 2 * world + 1) if w != world and ok(w=w)]
    if worlds:
        out.append(" or ".join(str(w) for w in _nearest(worlds, world)) +
                   f" processes (keeping {prompts} prompts × {per_device} per device)")
    return out


def gspo_layout(*, prompts: int, generations: int, per_device: int, world: int,
                updates: int = 1, whole_groups: bool = False,
                tensor_parallel: int = 1) -> GSPOLayout:
    """The rollout/optimizer layout, or LaunchError proposing settings that divide."""
    problem = _problem(prompts, generations, per_device, world, updates, whole_groups,
                       tensor_parallel)
    if problem:
        fixes = _alternatives(prompts, generations, per_device, world, updates, whole_groups,
                              tensor_parallel)
        hint = ("; valid settings: " + "; or ".join(fixes)) if fixes else ""
        raise LaunchError(problem + hint)
    completions = prompts * generations
    per_update = completions // updates
    accumulation = per_update // (per_device * world)
    return GSPOLayout(world=world, completions=completions, per_update=per_update,
                      gradient_accumulation_steps=accumulation,
                      steps_per_generation=accumulation * updates)


def sft_accumulation(*, tokens_per_device_step: int, per_device: int, mean_tokens: float,
                     rows: int | None = None, world: int = 1) -> int:
    """Gradient accumulation that gives each device about `tokens_per_device_step` tokens per
    optimizer step (what the released SFT run's 61,440-token packs give it); never more
    micro-batches than one epoch holds (`rows` over `world` processes)."""
    if mean_tokens <= 0:
        return 1
    steps = max(1, round(tokens_per_device_step / (per_device * mean_tokens)))
    if rows:
        steps = min(steps, max(1, -(-rows // (per_device * world))))
    return steps
