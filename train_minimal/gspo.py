"""GSPO (and the paper's GRPO / DAPO baselines) on a published omr-data RL dataset with TRL.

`GRPOTrainer` configured as GSPO, with the OpenMMReasoner settings: sequence-level
importance ratio, clip ε 3e-4 / ε_high 4e-4, no KL (β = 0), 16 rollouts per prompt at
temperature 1.0, prompts up to 4,096 and completions up to 28,696 tokens, 128 prompts per
rollout batch, lr 1e-6, `loss_type="grpo"` (sequence-level ratios with token-summed losses
would be length-biased). Reward: R = 0.9·acc + 0.1·fmt, from `omr_data.verify` (the same
scorer that filtered the data), plus a soft overlength penalty over the last
`overlong_buffer` tokens before the completion limit (`--no-overlong-penalty` turns it off).

`--algo` switches to the paper's comparison settings:

    algo  ratio     ε / ε_high   β     loss_type  dynamic sampling
    gspo  sequence  3e-4 / 4e-4  0     grpo       no
    grpo  token     0.2 / 0.2    0.04  grpo       no
    dapo  token     0.2 / 0.28   0     dapo       yes: groups whose raw accuracy is all
                                                  equal are dropped from the loss

Any of these can still be set by flag (`--epsilon`, `--beta`, ...). Rollouts go through
vLLM (`--use-vllm`, `--vllm-mode colocate|server`) when it is installed, else HF generate.

    python train_minimal/gspo.py --tiny --max-steps 2                  # CPU, tiny random model
    python train_minimal/gspo.py --dataset-name omr/rl-74k --check-only
    accelerate launch train_minimal/gspo.py --model-name-or-path runs/sft --use-vllm
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

from script_args import ArgsError, parse_args, trl_config
from script_args import make_parser as _make_parser

QWEN_MAX_PIXELS = 1280 * 28 * 28
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
        "help": "drop groups whose raw accuracy is all equal (DAPO)", "from_algo": True})
    learning_rate: float = field(default=1e-6, metadata={"help": "learning rate (AdamW)"})
    lr_scheduler_type: str = field(default="constant", metadata={"help": "learning-rate schedule"})
    num_generations: int = field(default=16, metadata={"help": "rollouts per prompt"})
    prompts_per_step: int = field(default=128, metadata={
        "help": "prompts per rollout batch, across all devices (×num_generations completions)"})
    updates_per_generation: int = field(default=1, metadata={
        "help": "optimizer steps per rollout batch (1: on-policy; >1 makes the clip bite)"})
    per_device_train_batch_size: int = field(default=2, metadata={
        "help": "completions per device micro-batch; gradient accumulation is derived"})
    temperature: float = field(default=1.0, metadata={"help": "rollout temperature"})
    max_prompt_length: int = field(default=4096, metadata={
        "help": "prompt tokens, image tokens included; longer prompts are dropped by the "
                "pre-flight check (TRL does not truncate prompts)"})
    max_completion_length: int = field(default=28696, metadata={"help": "completion tokens"})
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
    max_pixels: int = field(default=QWEN_MAX_PIXELS, metadata={
        "help": "pixel budget per image: larger images are downscaled by the processor"})
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
        "help": "run the pre-flight data check, print its report and exit (1 if rows fail)"})
    tiny: bool = field(default=False, metadata={
        "help": f"CPU-sized run: model '{TINY_MODEL}' unless one is given, small lengths and "
                "batches; reads ./hub unless --hub-dir/--dataset-name say otherwise"})
    num_train_epochs: float = field(default=1.0, metadata={"help": "epochs over the prompts"})
    max_steps: int = field(default=-1, metadata={"help": "stop after this many steps (-1: epochs)"})
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
        "save_steps": 1000}

    def __post_init__(self):
        for name in ("learning_rate", "prompts_per_step", "updates_per_generation",
                     "per_device_train_batch_size", "max_prompt_length", "max_completion_length",
                     "verify_workers"):
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
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
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


DESCRIPTION = __doc__.split("\n\n    python")[0] + """

Precedence: defaults < --tiny preset < --config YAML < flags; --algo fills only the
settings not given."""


def make_parser():
    return _make_parser(GSPOArgs, prog="gspo.py", description=DESCRIPTION)


def batch_layout(args: GSPOArgs, world_size: int) -> dict:
    """Gradient accumulation and steps per generation for `prompts_per_step` prompts."""
    completions = args.prompts_per_step * args.num_generations
    if completions % args.updates_per_generation:
        raise ArgsError(f"prompts_per_step × num_generations ({completions}) must divide into "
                        f"updates_per_generation ({args.updates_per_generation}) equal steps")
    per_update = completions // args.updates_per_generation
    per_micro = args.per_device_train_batch_size * world_size
    if per_update % per_micro:
        raise ArgsError(f"{per_update} completions per optimizer step do not split into "
                        f"micro-batches of per_device_train_batch_size × world size = "
                        f"{per_micro}; "
                        "change --per-device-train-batch-size or --prompts-per-step")
    accumulation = per_update // per_micro
    return {"gradient_accumulation_steps": accumulation,
            "steps_per_generation": accumulation * args.updates_per_generation}


def grpo_config_values(args: GSPOArgs, *, world_size: int, cuda: bool, bf16_ok: bool,
                       vllm_installed: bool) -> dict:
    """The GRPOConfig fields this script sets (before `--trl` extras)."""
    use_vllm = (cuda and vllm_installed) if args.use_vllm is None else args.use_vllm
    if use_vllm and not vllm_installed:
        raise ArgsError("--use-vllm: vllm is not installed (pip install 'omr-data[vllm]'), or "
                        "pass --no-use-vllm for HF generate")
    values = {
        "output_dir": args.output_dir, "learning_rate": args.learning_rate,
        "lr_scheduler_type": args.lr_scheduler_type,
        "num_train_epochs": args.num_train_epochs, "max_steps": args.max_steps,
        "per_device_train_batch_size": args.per_device_train_batch_size,
        **batch_layout(args, world_size),
        "num_generations": args.num_generations, "temperature": args.temperature,
        "max_completion_length": args.max_completion_length,
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


def reward_functions(args: GSPOArgs) -> list:
    """accuracy and format from `omr_data.verify`, and the overlength penalty if on.

    They are separate functions (weighted by `reward_weights`) so the raw accuracy of each
    completion stays visible: TRL logs each one, and dynamic sampling filters on it.
    """
    from omr_data.verify.rewards import OverlongPenalty, RewardScorer, format_reward

    funcs = [RewardScorer("acc", workers=args.verify_workers, name="accuracy_reward"),
             format_reward]
    if args.overlong_penalty:
        funcs.append(OverlongPenalty(args.max_completion_length, args.overlong_buffer,
                                     penalty=args.overlong_penalty_factor))
    return funcs


def load_model(args: GSPOArgs):
    """(model, processor); the processor pads on the left, as GRPOTrainer needs.

    TRL left-pads the prompt ids itself but takes `mm_token_type_ids` from the processor;
    a right-padding processor shifts them against the ids of shorter prompts, and
    Qwen2.5-VL's M-RoPE index then fails on batches with images of different sizes.
    """
    from tiny_vlm import load_vlm

    model, processor = load_vlm(args.model_name_or_path,
                                tiny=args.model_name_or_path == TINY_MODEL, seed=args.seed,
                                max_pixels=args.max_pixels)
    processor.tokenizer.padding_side = "left"
    return model, processor


def check_data(args: GSPOArgs, processor):
    from vlm_data import load_for_training
    return load_for_training(args, processor, form="rl", max_length=args.max_prompt_length)


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(GSPOArgs, argv, prog="gspo.py", description=DESCRIPTION)
    except ArgsError as err:
        print(f"gspo.py: error: {err}", file=sys.stderr)
        return 2

    import torch
    from trl import GRPOConfig

    from dynamic_sampling import make_trainer_class
    from metrics_log import MetricsLog
    from vlm_data import PreflightError

    model, processor = load_model(args)
    try:
        dataset, report = check_data(args, processor)
    except (PreflightError, FileNotFoundError, ValueError) as err:
        print(f"gspo.py: {err}", file=sys.stderr)
        return 1
    print(report.format())
    if args.check_only:
        return 0 if report.ok else 1

    cuda = torch.cuda.is_available()
    try:
        values = grpo_config_values(
            args, world_size=int(os.environ.get("WORLD_SIZE", "1")), cuda=cuda,
            bf16_ok=cuda and torch.cuda.is_bf16_supported(),
            vllm_installed=importlib.util.find_spec("vllm") is not None)
        config = trl_config(GRPOConfig, values, args.trl)
    except ArgsError as err:
        print(f"gspo.py: error: {err}", file=sys.stderr)
        return 2
    print(f"gspo.py: {args.algo}: {len(dataset):,} prompts, {config.num_generations} rollouts "
          f"each, {args.prompts_per_step} prompts per rollout batch, ratio "
          f"{config.importance_sampling_level}, ε {config.epsilon}/{config.epsilon_high}, "
          f"β {config.beta}, loss {config.loss_type}, dynamic sampling {args.dynamic_sampling}, "
          f"{'vLLM ' + config.vllm_mode if config.use_vllm else 'HF generate'}")
    log = MetricsLog(Path(args.output_dir) / "metrics.jsonl")
    trainer_class = make_trainer_class()
    trainer = trainer_class(model=model, reward_funcs=reward_functions(args), args=config,
                            train_dataset=dataset, processing_class=processor,
                            callbacks=[log], dynamic_sampling=args.dynamic_sampling)
    start = time.perf_counter()
    trainer.train()
    elapsed = time.perf_counter() - start
    trainer.save_model(args.output_dir)
    steps = trainer.state.global_step
    summary = {"algo": args.algo, "steps": steps, "seconds": round(elapsed, 2),
               "seconds_per_step": round(elapsed / max(steps, 1), 3),
               "reward": log.last("reward"),
               "accuracy": log.last("rewards/accuracy_reward/mean"),
               "format": log.last("rewards/format_reward/mean")}
    (Path(args.output_dir) / "train_summary.json").write_text(json.dumps(summary, indent=2))
    print(f"gspo.py: {steps} steps in {elapsed:.1f}s ({summary['seconds_per_step']} s/step), "
          f"model saved to {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
