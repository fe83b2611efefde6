"""GSPO (and the paper's GRPO / DAPO baselines) on a published omr-data RL dataset with TRL.

`GRPOTrainer` (TRL 1.16) configured as GSPO with the settings of the authors' released
`examples/openmmreasoner/gspo_n16.sh` (verl): sequence-level importance ratio, clip ε 3e-4 /
ε_high 4e-4, no KL (β = 0), 16 rollouts per prompt at temperature 1.0 (top-p 1.0), prompts
up to 4,096 and completions up to 28,696 tokens, 128 prompts per rollout batch and one
optimizer step per batch (ppo_mini_batch_size = train_batch_size), lr 1e-6 after 25 warmup
steps, weight decay 0.1, gradient clipping 1.0, 1,500 steps, `loss_type="grpo"` (verl's
seq-mean-token-mean). Weights are fp32 master weights with bf16 compute.

Reward: R = 0.9·acc + 0.1·fmt from `omr_data.verify`, strict (`rl_rewards.py`: a truncated
or untagged completion earns no accuracy), an optional LLM judge (`--judge`, as the
released script's USE_LLM_JUDGE), plus DAPO's soft overlength penalty over the last
`overlong_buffer` tokens (the paper's; the released script ships it disabled,
enable_overlong_buffer=false: `--no-overlong-penalty` reproduces that).

`--algo` switches to the paper's comparison settings:

    algo  ratio     ε / ε_high   β     loss_type  dynamic sampling
    gspo  sequence  3e-4 / 4e-4  0     grpo       no
    grpo  token     0.2 / 0.2    0.04  grpo       no      (reference model for the KL)
    dapo  token     0.2 / 0.28   0     dapo       yes: over-sample until every group in the
                                                  batch has varying accuracy (DAPO's
                                                  definition; --dynamic-sampling-mode mask
                                                  masks them instead)

Any of these can still be set by flag (`--epsilon`, `--beta`, ...). Rollouts go through
vLLM (`--use-vllm`, `--vllm-mode colocate|server`) when it is installed, else HF generate;
vLLM gets the trainer's pixel bounds. The launch arithmetic (rollout batch over processes ×
micro-batches) is checked before anything loads, and `--check-only` stops after the data
check without reading model weights.

    python train_minimal/gspo.py --tiny --max-steps 2                  # CPU, tiny random model
    python train_minimal/gspo.py --dataset-name omr/rl-74k --check-only
    accelerate launch --config_file train_minimal/configs/fsdp2_8gpu.yaml \\
        train_minimal/gspo.py --model-name-or-path runs/sft --use-vllm
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from launch_check import LaunchError, gspo_layout, world_size
from script_args import ArgsError, parse_args, trl_config
from script_args import make_parser as _make_parser

QWEN_MAX_PIXELS = 1280 * 28 * 28
MIN_PIXELS = 56 * 56
TINY_MODEL = "tiny-random"

ALGO_PRESETS = {
    "gspo": {"importance_sampling_level": "sequence", "epsilon": 3e-4, "epsilon_high": 4e-4,
             "beta": 0.0, "loss_type": "grpo", "dynamic_sampling": False},
    "grpo": {"importance_sampling_level": "token", "epsilon": 0.2, "epsilon_high": 0.2,
             "beta": 0.04, "loss_type": "grpo", "dynamic_sampling": False},
    "dapo": {"importance_sampling_level": "token", "epsilon": 0.2, "epsilon_high": 0.28,
             "beta": 0.0, "loss_type": "dapo", "dynamic_sampling": True},
}


@dataclass
class GSPOArgs:
    """What `gspo.py` takes; every field is a flag and a `--config` YAML key."""

    model_name_or_path: str = field(default="Qwen/Qwen2.5-VL-7B-Instruct", metadata={
        "help": "policy to train (usually the SFT checkpoint): Hub id, local path, or "
                f"'{TINY_MODEL}' for a tiny random Qwen2.5-VL"})
    dataset_name: str = field(default="omr/rl-74k", metadata={
        "help": "published RL dataset: Hub id or local path (read with "
                "datasets.load_dataset)", "aliases": ("--dataset",)})
    dataset_config: str | None = field(default=None, metadata={"help": "dataset config name"})
    dataset_split: str = field(default="train", metadata={"help": "dataset split"})
    revision: str | None = field(default=None, metadata={
        "help": "dataset version (a Hub tag such as v1.0); Hub ids only"})
    hub_dir: str | None = field(default=None, metadata={
        "help": "read the dataset from HUB_DIR/DATASET_NAME (`make demo` writes ./hub)"})
    output_dir: str = field(default="runs/gspo", metadata={
        "help": "checkpoints, logs, preflight.json and metrics.jsonl go here"})
    algo: str = field(default="gspo", metadata={
        "help": "gspo, or the paper's baselines grpo / dapo (see the table above)",
        "choices": tuple(ALGO_PRESETS)})
    importance_sampling_level: str | None = field(default=None, metadata={
        "help": "importance ratio per token or per sequence", "from_algo": True,
        "choices": ("token", "sequence")})
    epsilon: float | None = field(default=None, metadata={
        "help": "lower clip range ε", "from_algo": True})
    epsilon_high: float | None = field(default=None, metadata={
        "help": "upper clip range ε_high (clip-higher)", "from_algo": True})
    beta: float | None = field(default=None, metadata={
        "help": "KL coefficient (0: no reference model)", "from_algo": True})
    loss_type: str | None = field(default=None, metadata={
        "help": "TRL loss aggregation: grpo (per-sequence mean) or dapo (per-token)",
        "from_algo": True, "choices": ("grpo", "dapo", "bnpo", "dr_grpo")})
    dynamic_sampling: bool | None = field(default=None, metadata={
        "help": "keep only groups whose raw accuracy varies (DAPO)", "from_algo": True})
    dynamic_sampling_mode: str = field(default="resample", metadata={
        "help": "resample: generate more rollout batches until the batch is full of groups "
                "with varying accuracy (DAPO); mask: one batch, the other groups masked",
        "choices": ("resample", "mask")})
    dynamic_sampling_max_rounds: int = field(default=8, metadata={
        "help": "resample: rollout batches generated per step at most; slots still empty "
                "then get masked uninformative groups (counted)"})
    learning_rate: float = field(default=1e-6, metadata={
        "help": "learning rate (AdamW); released: actor.optim.lr=1e-6"})
    lr_scheduler_type: str = field(default="constant_with_warmup", metadata={
        "help": "learning-rate schedule; released: constant after warmup (verl's default)"})
    warmup_steps: float = field(default=25, metadata={
        "help": "warmup steps (a fraction of all steps when below 1); released: "
                "actor.optim.lr_warmup_steps=25"})
    weight_decay: float = field(default=0.1, metadata={
        "help": "AdamW weight decay; released: actor.optim.weight_decay=0.1"})
    max_grad_norm: float = field(default=1.0, metadata={
        "help": "gradient clipping; released: actor.grad_clip=1.0"})
    num_generations: int = field(default=16, metadata={
        "help": "rollouts per prompt; released: rollout.n=16"})
    prompts_per_step: int = field(default=128, metadata={
        "help": "prompts per rollout batch, across all devices (×num_generations completions); "
                "released: train_batch_size=128"})
    updates_per_generation: int = field(default=1, metadata={
        "help": "optimizer steps per rollout batch (1: on-policy; >1 makes the clip bite)"})
    per_device_train_batch_size: int = field(default=1, metadata={
        "help": "completions per device micro-batch; gradient accumulation is derived. "
                "released: use_dynamic_bsz with ppo_max_token_len_per_gpu=33792, i.e. one "
                "full-length sequence per micro-batch"})
    temperature: float = field(default=1.0, metadata={
        "help": "rollout temperature; released: 1.0"})
    top_p: float = field(default=1.0, metadata={"help": "rollout top-p; released: 1.0"})
    max_prompt_length: int = field(default=4096, metadata={
        "help": "prompt tokens, image tokens included; longer prompts are dropped by the "
                "pre-flight check (TRL does not truncate prompts)"})
    max_completion_length: int = field(default=28696, metadata={
        "help": "completion tokens; released: max_response_length=28696"})
    format_weight: float = field(default=0.1, metadata={
        "help": "R = (1 - w)·acc + w·fmt"})
    overlong_penalty: bool = field(default=True, metadata={
        "help": "soft overlength penalty: 0 until max_completion_length - overlong_buffer, then "
                "falling linearly to -overlong_penalty_factor at the limit"})
    overlong_buffer: int = field(default=4096, metadata={"help": "tokens the penalty ramps over"})
    overlong_penalty_factor: float = field(default=1.0, metadata={
        "help": "penalty at the completion limit"})
    verify_workers: int = field(default=2, metadata={
        "help": "math-verify worker processes per trainer process"})
    judge: str | None = field(default=None, metadata={
        "help": "LLM judge preset (e.g. qwen3-235b-judge) for answers the rules cannot decide; "
                "endpoint from --judge-base-url or OPENAI_BASE_URL (released: USE_LLM_JUDGE)"})
    judge_base_url: str | None = field(default=None, metadata={
        "help": "OpenAI-compatible endpoint of the judge (default: OPENAI_BASE_URL)"})
    judge_model: str | None = field(default=None, metadata={
        "help": "model name the judge endpoint serves (default: the preset's)"})
    max_pixels: int = field(default=QWEN_MAX_PIXELS, metadata={
        "help": "pixel budget per image (Qwen2.5-VL's 1,280 visual tokens; the released RL "
                "script sets none): larger images are downscaled, the same bounds go to vLLM "
                "and are saved with the model"})
    min_pixels: int = field(default=MIN_PIXELS, metadata={
        "help": "smaller images are upscaled to this many pixels (Qwen2.5-VL's default)"})
    use_vllm: bool | None = field(default=None, metadata={
        "help": "rollouts through vLLM (default: on when vllm is installed and a GPU is present)"})
    vllm_mode: str = field(default="colocate", metadata={
        "help": "colocate (vLLM inside each training process) or server (`trl vllm-serve`)",
        "choices": ("colocate", "server")})
    vllm_server_base_url: str | None = field(default=None, metadata={
        "help": "server mode: e.g. http://10.0.0.2:8000 (default: localhost:8000)"})
    vllm_gpu_memory_utilization: float = field(default=0.3, metadata={
        "help": "colocate mode: GPU memory share for vLLM"})
    vllm_tensor_parallel_size: int = field(default=1, metadata={
        "help": "colocate mode: tensor parallel size of vLLM"})
    bf16: bool | None = field(default=None, metadata={
        "help": "bf16 (default: on when the GPU supports it, off on CPU)"})
    gradient_checkpointing: bool = field(default=True, metadata={
        "help": "recompute activations in the backward pass"})
    text_only: str = field(default="blank-image", metadata={
        "help": "text-only prompts mixed with image prompts: blank-image, keep, or error",
        "choices": ("blank-image", "keep", "error")})
    on_problem: str = field(default="drop", metadata={
        "help": "rows failing the pre-flight check: drop (counted in the report) or error",
        "choices": ("drop", "error")})
    check_only: bool = field(default=False, metadata={
        "help": "check the launch arithmetic and the data without reading model weights "
                "(processor and pre-flight report only); exit 1 if rows fail"})
    world_size: int | None = field(default=None, metadata={
        "help": "processes to check the layout for (default: $WORLD_SIZE, set by accelerate "
                "launch, else 1)"})
    tiny: bool = field(default=False, metadata={
        "help": f"CPU-sized run: model '{TINY_MODEL}' unless one is given, small lengths and "
                "batches; reads ./hub unless --hub-dir/--dataset-name say otherwise"})
    num_train_epochs: float = field(default=1.0, metadata={
        "help": "epochs over the prompts (used when --max-steps is -1)"})
    max_steps: int = field(default=1500, metadata={
        "help": "optimizer steps (-1: epochs); released: total_training_steps=1500"})
    logging_steps: int = field(default=1, metadata={"help": "log every N steps"})
    save_steps: int = field(default=50, metadata={"help": "checkpoint every N steps"})
    save_total_limit: int | None = field(default=3, metadata={"help": "checkpoints kept"})
    seed: int = field(default=42, metadata={"help": "random seed"})
    report_to: str = field(default="none", metadata={
        "help": "trackers (wandb, tensorboard, ...) or none"})
    trl: dict = field(default_factory=dict, metadata={
        "help": "any other GRPOConfig field, as --trl KEY=VALUE (repeatable) or a 'trl:' mapping"})

    TINY: ClassVar[dict] = {
        "model_name_or_path": TINY_MODEL, "num_generations": 4, "prompts_per_step": 2,
        "per_device_train_batch_size": 8, "max_prompt_length": 512, "max_completion_length": 24,
        "overlong_buffer": 8, "max_pixels": 64 * 28 * 28, "gradient_checkpointing": False,
        "hub_dir": "hub", "output_dir": "runs/gspo-tiny", "verify_workers": 1,
        "save_steps": 1000, "warmup_steps": 0, "max_steps": -1,
        "dynamic_sampling_max_rounds": 3}

    def __post_init__(self):
        for name in ("learning_rate", "prompts_per_step", "updates_per_generation",
                     "per_device_train_batch_size", "max_prompt_length", "max_completion_length",
                     "verify_workers", "dynamic_sampling_max_rounds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.num_generations < 2:
            raise ValueError(f"num_generations must be >= 2 (advantages are relative to the "
                             f"group), got {self.num_generations}")
        if not 0.0 <= self.format_weight <= 1.0:
            raise ValueError(f"format_weight must be within [0, 1], got {self.format_weight}")
        if self.overlong_penalty and not 0 < self.overlong_buffer <= self.max_completion_length:
            raise ValueError(f"overlong_buffer must be within (0, max_completion_length="
                             f"{self.max_completion_length}], got {self.overlong_buffer}; or "
                             "pass --no-overlong-penalty")
        if self.max_pixels < 56 * 56:
            raise ValueError(f"max_pixels must be >= 3136 (56x56), got {self.max_pixels}")
        if not 0 < self.min_pixels <= self.max_pixels:
            raise ValueError(f"min_pixels must be within (0, max_pixels={self.max_pixels}], "
                             f"got {self.min_pixels}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be within (0, 1], got {self.top_p}")
        if self.warmup_steps < 0 or self.weight_decay < 0 or self.max_grad_norm <= 0:
            raise ValueError("warmup_steps and weight_decay must be >= 0, max_grad_norm > 0")
        for name, value in ALGO_PRESETS[self.algo].items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        if self.epsilon_high < self.epsilon:
            raise ValueError(f"epsilon_high ({self.epsilon_high}) must be >= epsilon "
                             f"({self.epsilon})")
        if self.dynamic_sampling and self.loss_type not in ("dapo", "bnpo", "dr_grpo"):
            print(f"gspo.py: note: dynamic sampling with loss_type={self.loss_type} still counts "
                  "dropped groups in the per-sequence mean; DAPO uses loss_type=dapo",
                  file=sys.stderr)


DESCRIPTION = __doc__ + """
Precedence: defaults < --tiny preset < --config YAML < flags; --algo fills only the
settings not given. "released:" in a flag's help names the value in gspo_n16.sh."""


def make_parser():
    return _make_parser(GSPOArgs, prog="gspo.py", description=DESCRIPTION)


def batch_layout(args: GSPOArgs, world_size: int) -> dict:
    """Gradient accumulation and steps per generation for `prompts_per_step` prompts;
    LaunchError (an ArgsError) proposing valid settings when the numbers do not divide."""
    colocate_tp = (args.vllm_tensor_parallel_size
                   if args.use_vllm and args.vllm_mode == "colocate" else 1)
    layout = gspo_layout(
        prompts=args.prompts_per_step, generations=args.num_generations,
        per_device=args.per_device_train_batch_size, world=world_size,
        updates=args.updates_per_generation, tensor_parallel=colocate_tp,
        whole_groups=bool(args.dynamic_sampling) and args.dynamic_sampling_mode == "resample")
    return {"gradient_accumulation_steps": layout.gradient_accumulation_steps,
            "steps_per_generation": layout.steps_per_generation}


def grpo_config_values(args: GSPOArgs, *, world_size: int, cuda: bool, bf16_ok: bool,
                       vllm_installed: bool) -> dict:
    """The GRPOConfig fields this script sets (before `--trl` extras)."""
    use_vllm = (cuda and vllm_installed) if args.use_vllm is None else args.use_vllm
    if use_vllm and not vllm_installed:
        raise ArgsError("--use-vllm: vllm is not installed (pip install 'omr-data[vllm]'), or "
                        "pass --no-use-vllm for HF generate")
    values = {
        "output_dir": args.output_dir, "learning_rate": args.learning_rate,
        "lr_scheduler_type": args.lr_scheduler_type, "warmup_steps": args.warmup_steps,
        "weight_decay": args.weight_decay, "max_grad_norm": args.max_grad_norm,
        "num_train_epochs": args.num_train_epochs, "max_steps": args.max_steps,
        "per_device_train_batch_size": args.per_device_train_batch_size,
        **batch_layout(args, world_size),
        "num_generations": args.num_generations, "temperature": args.temperature,
        "top_p": args.top_p, "max_completion_length": args.max_completion_length,
        "importance_sampling_level": args.importance_sampling_level,
        "epsilon": args.epsilon, "epsilon_high": args.epsilon_high, "beta": args.beta,
        "loss_type": args.loss_type, "scale_rewards": "group",
        "reward_weights": reward_weights(args),
        "bf16": (cuda and bf16_ok) if args.bf16 is None else args.bf16, "use_cpu": not cuda,
        "gradient_checkpointing": args.gradient_checkpointing,
        "logging_steps": args.logging_steps, "save_steps": args.save_steps,
        "save_total_limit": args.save_total_limit, "seed": args.seed,
        "report_to": args.report_to, "use_vllm": use_vllm,
    }
    if use_vllm:
        values.update(vllm_mode=args.vllm_mode,
                      vllm_max_model_length=args.max_prompt_length + args.max_completion_length)
        if args.vllm_mode == "colocate":
            values.update(vllm_gpu_memory_utilization=args.vllm_gpu_memory_utilization,
                          vllm_tensor_parallel_size=args.vllm_tensor_parallel_size)
        elif args.vllm_server_base_url:
            values["vllm_server_base_url"] = args.vllm_server_base_url
    return values


def reward_weights(args: GSPOArgs) -> list[float]:
    """Weights of `reward_functions(args)`: (1 - w)·acc + w·fmt [+ 1·penalty]."""
    weights = [1.0 - args.format_weight, args.format_weight]
    return weights + [1.0] if args.overlong_penalty else weights


def reward_functions(args: GSPOArgs, *, eos_token_ids: list[int] | None = None,
                     judge=None) -> list:
    """Strict accuracy and format (`rl_rewards`), and the overlength penalty if on.

    They are separate functions (weighted by `reward_weights`) so the raw accuracy of each
    completion stays visible: TRL logs each one, and dynamic sampling filters on it.
    `eos_token_ids` tells a finished completion from a truncated one (without them: a
    completion of `max_completion_length` tokens counts as truncated).
    """
    from rl_rewards import StrictAccuracy, StrictFormat

    from omr_data.verify.rewards import OverlongPenalty

    strict = {"eos_token_ids": eos_token_ids, "max_completion_length": args.max_completion_length}
    funcs = [StrictAccuracy(workers=args.verify_workers, judge=judge, **strict),
             StrictFormat(**strict)]
    if args.overlong_penalty:
        funcs.append(OverlongPenalty(args.max_completion_length, args.overlong_buffer,
                                     penalty=args.overlong_penalty_factor))
    return funcs


def eos_token_ids(model, tokenizer) -> list[int]:
    """Every id that ends a completion (what GRPOTrainer stops generation at)."""
    ids = model.generation_config.eos_token_id
    ids = [] if ids is None else [ids] if isinstance(ids, int) else list(ids)
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.insert(0, tokenizer.eos_token_id)
    return ids


def load_processor(args: GSPOArgs):
    """The processor alone (no weights), bounds set, padding on the left.

    TRL left-pads the prompt ids itself but takes `mm_token_type_ids` from the processor;
    a right-padding processor shifts them against the ids of shorter prompts, and
    Qwen2.5-VL's M-RoPE index then fails on batches with images of different sizes.
    """
    from tiny_vlm import load_vlm_processor

    processor = load_vlm_processor(args.model_name_or_path,
                                   tiny=args.model_name_or_path == TINY_MODEL,
                                   max_pixels=args.max_pixels, min_pixels=args.min_pixels)
    processor.tokenizer.padding_side = "left"
    return processor


def load_model(args: GSPOArgs):
    """(model in fp32, processor padding on the left; see `load_processor`)."""
    from tiny_vlm import load_vlm

    model, processor = load_vlm(args.model_name_or_path,
                                tiny=args.model_name_or_path == TINY_MODEL, seed=args.seed,
                                max_pixels=args.max_pixels, min_pixels=args.min_pixels)
    processor.tokenizer.padding_side = "left"
    return model, processor


def give_model_a_path(model, processor, directory: Path) -> str:
    """Save an in-memory model (the tiny one has no name) so TRL can load it by path.

    GRPOTrainer builds the KL reference model, and a colocated vLLM its engine, from
    `model.config._name_or_path`; an unnamed model would make both fail. The saved copy is
    the initial policy, which is what the reference must be.
    """
    name = getattr(model.config, "_name_or_path", "") or ""
    if name and (Path(name).exists() or "/" in name):
        return name
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:   # every rank built the same model; no race
        directory = directory / f"rank-{os.environ.get('RANK', '0')}"
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    model.config._name_or_path = str(directory)
    model.name_or_path = str(directory)
    return str(directory)


def check_data(args: GSPOArgs, processor):
    from vlm_data import load_for_training
    return load_for_training(args, processor, form="rl", max_length=args.max_prompt_length)


def vllm_advice(args: GSPOArgs, bounds: dict) -> str | None:
    """What a vLLM server must be started with for this run (server mode only)."""
    if not args.use_vllm or args.vllm_mode != "server":
        return None
    from vllm_pixels import server_command

    model = args.model_name_or_path
    return ("gspo.py: start the vLLM server with the same image bounds:\n    " +
            server_command(model, bounds=bounds,
                           max_model_len=args.max_prompt_length + args.max_completion_length))


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(GSPOArgs, argv, prog="gspo.py", description=DESCRIPTION)
        world = world_size(args.world_size)
        layout = batch_layout(args, world)
    except (ArgsError, LaunchError) as err:
        print(f"gspo.py: error: {err}", file=sys.stderr)
        return 2

    from tiny_vlm import pixel_bounds
    from vlm_data import PreflightError

    processor = load_processor(args)
    try:
        dataset, report = check_data(args, processor)
    except (PreflightError, FileNotFoundError, ValueError) as err:
        print(f"gspo.py: {err}", file=sys.stderr)
        return 1
    print(report.format())
    completions = args.prompts_per_step * args.num_generations
    print(f"gspo.py: {completions:,} completions per rollout batch ({args.prompts_per_step} "
          f"prompts × {args.num_generations}) over {world} process{'es' if world > 1 else ''}: "
          f"{args.per_device_train_batch_size} per device × "
          f"{layout['gradient_accumulation_steps']} accumulation steps per optimizer step, "
          f"{args.updates_per_generation} optimizer step(s) per rollout batch; image bounds "
          f"{pixel_bounds(processor)}")
    advice = vllm_advice(args, pixel_bounds(processor))
    if advice:
        print(advice)
    if args.check_only:
        return 0 if report.ok else 1

    import torch
    from dynamic_sampling import make_trainer_class
    from metrics_log import MetricsLog
    from rl_rewards import make_judge
    from trl import GRPOConfig

    cuda = torch.cuda.is_available()
    try:
        values = grpo_config_values(
            args, world_size=world, cuda=cuda,
            bf16_ok=cuda and torch.cuda.is_bf16_supported(),
            vllm_installed=importlib.util.find_spec("vllm") is not None)
        config = trl_config(GRPOConfig, values, args.trl)
    except ArgsError as err:
        print(f"gspo.py: error: {err}", file=sys.stderr)
        return 2
    model, processor = load_model(args)
    if config.beta != 0.0 or config.use_vllm:
        give_model_a_path(model, processor, Path(args.output_dir) / "initial-model")
    print(f"gspo.py: {args.algo}: {len(dataset):,} prompts, {config.num_generations} rollouts "
          f"each, {args.prompts_per_step} prompts per rollout batch, ratio "
          f"{config.importance_sampling_level}, ε {config.epsilon}/{config.epsilon_high}, "
          f"β {config.beta}{' (reference: ' + model.name_or_path + ')' if config.beta else ''}, "
          f"loss {config.loss_type}, dynamic sampling "
          f"{args.dynamic_sampling and args.dynamic_sampling_mode}, weights {model.dtype} "
          f"(master), bf16 compute={config.bf16}, "
          f"{'vLLM ' + config.vllm_mode if config.use_vllm else 'HF generate'}")
    log = MetricsLog(Path(args.output_dir) / "metrics.jsonl")
    judge = make_judge(args.judge, base_url=args.judge_base_url, model=args.judge_model)
    rewards = reward_functions(args, eos_token_ids=eos_token_ids(model, processor.tokenizer),
                               judge=judge)
    trainer = make_trainer_class()(
        model=model, reward_funcs=rewards, args=config, train_dataset=dataset,
        processing_class=processor, callbacks=[log], dynamic_sampling=args.dynamic_sampling,
        dynamic_sampling_mode=args.dynamic_sampling_mode,
        max_rounds=args.dynamic_sampling_max_rounds,
        vllm_mm_processor_kwargs=pixel_bounds(processor))
    start = time.perf_counter()
    trainer.train()
    elapsed = time.perf_counter() - start
    trainer.save_model(args.output_dir)
    if trainer.is_world_process_zero():
        processor.save_pretrained(args.output_dir)   # the pixel bounds, beside the weights
    steps = trainer.state.global_step
    summary = {"algo": args.algo, "steps": steps, "seconds": round(elapsed, 2),
               "seconds_per_step": round(elapsed / max(steps, 1), 3),
               "reward": log.last("reward"),
               "accuracy": log.last("rewards/accuracy_reward/mean"),
               "format": log.last("rewards/format_reward/mean"),
               "weights_dtype": str(model.dtype), "pixel_bounds": pixel_bounds(processor)}
    if args.dynamic_sampling:
        summary["dynamic_sampling"] = {"mode": args.dynamic_sampling_mode,
                                       **trainer.dynamic_sampling_totals}
    (Path(args.output_dir) / "train_summary.json").write_text(json.dumps(summary, indent=2))
    print(f"gspo.py: {steps} steps in {elapsed:.1f}s ({summary['seconds_per_step']} s/step), "
          f"model saved to {args.output_dir}")
    if args.dynamic_sampling:
        t = trainer.dynamic_sampling_totals
        print(f"gspo.py: dynamic sampling ({args.dynamic_sampling_mode}): generated "
              f"{t['generated_groups']:,} groups ({t['generated_groups'] * args.num_generations:,}"
              f" completions) in {t['rounds']} rollout batches for {t['kept_groups']:,} kept "
              f"(+{t['masked_groups']:,} masked) over {t['steps']} steps: "
              f"{t['generated_groups'] / max(t['kept_groups'], 1):.2f}× the rollouts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
