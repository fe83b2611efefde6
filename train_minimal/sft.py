"""Supervised fine-tuning on a published omr-data SFT dataset (`messages` + `images`) with TRL.

Defaults follow the authors' released SFT run (OpenMMReasoner `examples/openmmreasoner/
sft_example_config.yaml`, trained with lmms-engine's FSDP2 trainer): Qwen2.5-VL-7B-Instruct,
lr 5e-5, cosine schedule with 10% warmup, no weight decay, bf16 compute on fp32 master
weights, images up to 4,194,304 pixels, sequences up to 61,440 tokens, 1 epoch, the Liger
kernel when installed. Batching:

- image rows: TRL 1.16 refuses packing and padding-free batching for vision-language data
  (`SFTTrainer.__init__`), so rows are *length-grouped* instead (`length` column from the
  pre-flight check, image tokens included), and gradient accumulation is chosen so that each
  device still sees about 61,440 tokens per optimizer step, as the released run's packs do;
- a text-only dataset: online packing (`packing=True`, best-fit decreasing) to 61,440.

Weights are loaded in fp32 whatever the checkpoint's dtype and saved in fp32: the master
copy must hold updates far below bf16's resolution (lr 1e-6 moves a 0.02 weight by 5e-5 of
itself; bf16 resolves 4e-3). Multi-GPU: `accelerate launch --config_file
train_minimal/configs/fsdp2_8gpu.yaml` (FSDP2, bf16 compute on the fp32 shards).

The pre-flight check (`vlm_data.preflight`) runs before any weight is read, or alone with
`--check-only` (processor and data only; seconds); see that module for what it catches.

    python train_minimal/sft.py --tiny --max-steps 3                     # CPU, tiny random model
    python train_minimal/sft.py --dataset-name omr/sft-874k --check-only
    accelerate launch --config_file train_minimal/configs/fsdp2_8gpu.yaml train_minimal/sft.py
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from script_args import ArgsError, parse_args, trl_config
from script_args import make_parser as _make_parser

QWEN_MAX_PIXELS = 1280 * 28 * 28  # 1,003,520: Qwen2.5-VL's own default (1,280 visual tokens)
TINY_MODEL = "tiny-random"
RELEASED_MAX_PIXELS = 4_194_304   # sft_example_config.yaml: image_max_pixels (2048 x 2048)
RELEASED_PACK_TOKENS = 61_440     # sft_example_config.yaml: packing_length
MIN_PIXELS = 56 * 56


@dataclass
class SFTArgs:
    """What `sft.py` takes; every field is a flag and a `--config` YAML key."""

    model_name_or_path: str = field(default="Qwen/Qwen2.5-VL-7B-Instruct", metadata={
        "help": "model to fine-tune: Hub id, local path (any dtype; trained in fp32), or "
                f"'{TINY_MODEL}' for a tiny random Qwen2.5-VL"})
    dataset_name: str = field(default="omr/sft-874k", metadata={
        "help": "published SFT dataset: Hub id or local path (read with "
                "datasets.load_dataset)", "aliases": ("--dataset",)})
    dataset_config: str | None = field(default=None, metadata={"help": "dataset config name"})
    dataset_split: str = field(default="train", metadata={"help": "dataset split"})
    revision: str | None = field(default=None, metadata={
        "help": "dataset version (a Hub tag such as v1.0); Hub ids only"})
    hub_dir: str | None = field(default=None, metadata={
        "help": "read the dataset from HUB_DIR/DATASET_NAME (what `omr-data publish --hub-dir` "
                "writes; `make demo` writes ./hub)"})
    output_dir: str = field(default="runs/sft", metadata={
        "help": "checkpoints, logs, preflight.json and metrics.jsonl go here"})
    learning_rate: float = field(default=5e-5, metadata={
        "help": "peak learning rate (AdamW); released: learning_rate 5.0e-05"})
    lr_scheduler_type: str = field(default="cosine", metadata={
        "help": "learning-rate schedule; released: lr_scheduler_type cosine"})
    warmup_steps: float = field(default=0.1, metadata={
        "help": "warmup: steps, or a fraction of all steps when below 1; released: "
                "warmup_ratio 0.1"})
    weight_decay: float = field(default=0.0, metadata={
        "help": "AdamW weight decay; released: weight_decay 0.0"})
    num_train_epochs: float = field(default=1.0, metadata={
        "help": "epochs over the dataset; released: num_train_epochs 1"})
    max_steps: int = field(default=-1, metadata={
        "help": "stop after this many steps (-1: epochs). The released run's max_steps 4300 "
                "counts 61,440-token packs on its own cluster, not rows of this script"})
    per_device_train_batch_size: int = field(default=1, metadata={
        "help": "rows (text-only data: packs) per device micro-batch; released: 1"})
    gradient_accumulation_steps: int | None = field(default=None, metadata={
        "help": "micro-batches per optimizer step (default: auto, so that a device sees "
                "about --tokens-per-device-step tokens per step, from the pre-flight's mean "
                "row length)"})
    tokens_per_device_step: int = field(default=RELEASED_PACK_TOKENS, metadata={
        "help": "token budget per device and optimizer step that automatic accumulation aims "
                "for; released: one packing_length 61440 pack per device per step"})
    max_length: int = field(default=RELEASED_PACK_TOKENS, metadata={
        "help": "tokens per sequence, image tokens included (text-only data: the pack length); "
                "longer rows are truncated, and rows whose cut would fall in image tokens are "
                "dropped by the pre-flight check; released: packing_length 61440 with "
                "filter_overlong"})
    max_pixels: int = field(default=RELEASED_MAX_PIXELS, metadata={
        "help": "pixel budget per image: larger images are downscaled by the processor, and the "
                "bounds are saved with the model; released: image_max_pixels 4194304"})
    min_pixels: int = field(default=MIN_PIXELS, metadata={
        "help": "smaller images are upscaled to this many pixels (Qwen2.5-VL's default)"})
    bf16: bool | None = field(default=None, metadata={
        "help": "bf16 compute on fp32 master weights (default: on when the GPU supports it, off "
                "on CPU); released: bf16 true"})
    gradient_checkpointing: bool = field(default=True, metadata={
        "help": "recompute activations in the backward pass (long sequences)"})
    use_liger_kernel: bool | None = field(default=None, metadata={
        "help": "Liger kernels (default: on when liger-kernel is installed and a GPU is present)"})
    packing: bool | None = field(default=None, metadata={
        "help": "online packing (BFD); TRL allows it for text-only data only (default: on for a "
                "text-only dataset; image data is length-grouped instead)"})
    assistant_only_loss: bool | None = field(default=None, metadata={
        "help": "loss on assistant tokens only (default: on where TRL supports it: text-only "
                "data, or image data with transformers>=5.18)"})
    text_only: str = field(default="blank-image", metadata={
        "help": "text-only rows mixed with image rows: blank-image (add a blank 56x56 image), "
                "keep, or error", "choices": ("blank-image", "keep", "error")})
    on_problem: str = field(default="drop", metadata={
        "help": "rows failing the pre-flight check: drop (counted in the report) or error",
        "choices": ("drop", "error")})
    check_only: bool = field(default=False, metadata={
        "help": "check the launch and the data without reading model weights: processor, "
                "pre-flight report, batch layout; exit 1 if rows fail"})
    world_size: int | None = field(default=None, metadata={
        "help": "processes to check the layout for (default: $WORLD_SIZE, set by accelerate "
                "launch, else 1)"})
    tiny: bool = field(default=False, metadata={
        "help": f"CPU-sized run: model '{TINY_MODEL}' (a tiny random Qwen2.5-VL built offline) "
                "unless one is given, small lengths; reads ./hub unless --hub-dir/--dataset-name "
                "say otherwise"})
    logging_steps: int = field(default=1, metadata={"help": "log every N steps"})
    save_steps: int = field(default=500, metadata={"help": "checkpoint every N steps"})
    save_total_limit: int | None = field(default=3, metadata={"help": "checkpoints kept"})
    seed: int = field(default=42, metadata={"help": "random seed"})
    report_to: str = field(default="none", metadata={
        "help": "trackers (wandb, tensorboard, ...) or none"})
    trl: dict = field(default_factory=dict, metadata={
        "help": "any other SFTConfig field, as --trl KEY=VALUE (repeatable) or a 'trl:' mapping"})

    TINY: ClassVar[dict] = {
        "model_name_or_path": TINY_MODEL, "max_length": 512, "max_pixels": 64 * 28 * 28,
        "per_device_train_batch_size": 2, "gradient_accumulation_steps": 1,
        "tokens_per_device_step": 512, "gradient_checkpointing": False, "hub_dir": "hub",
        "output_dir": "runs/sft-tiny", "warmup_steps": 0.0, "save_steps": 1000}

    def __post_init__(self):
        for name in ("learning_rate", "max_length", "max_pixels", "per_device_train_batch_size",
                     "gradient_accumulation_steps", "tokens_per_device_step"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.max_pixels < 56 * 56:
            raise ValueError(f"max_pixels must be >= 3136 (56x56, Qwen2.5-VL's minimum), "
                             f"got {self.max_pixels}")
        if not 0 < self.min_pixels <= self.max_pixels:
            raise ValueError(f"min_pixels must be within (0, max_pixels={self.max_pixels}], "
                             f"got {self.min_pixels}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if not 0 <= self.warmup_steps:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps}")


DESCRIPTION = __doc__ + """
Precedence: defaults < --tiny preset < --config YAML < flags. "released:" in a flag's help
names the value in the authors' sft_example_config.yaml."""


def make_parser():
    return _make_parser(SFTArgs, prog="sft.py", description=DESCRIPTION)


def resolve_batching(text_only_dataset: bool, packing: bool | None) -> dict:
    """SFTConfig batching fields: packing where TRL allows it, else length grouping."""
    if packing and not text_only_dataset:
        raise ArgsError("--packing: TRL packs text-only data only; this dataset has images "
                        "(they are length-grouped instead)")
    if text_only_dataset and packing is not False:
        return {"packing": True, "packing_strategy": "bfd"}
    # remove_unused_columns=False keeps `length` for the sampler; TRL's vision collator
    # reads only `messages` and `images`, so the other columns never reach the model.
    return {"packing": False, "remove_unused_columns": False, **length_grouping()}


def length_grouping() -> dict:
    """Length-grouped sampling on the pre-flight `length` column (either transformers API)."""
    from transformers import TrainingArguments

    names = {f.name for f in dataclasses.fields(TrainingArguments)}
    if "train_sampling_strategy" in names:
        return {"train_sampling_strategy": "group_by_length", "length_column_name": "length"}
    return {"group_by_length": True, "length_column_name": "length"}


def sft_config_values(args: SFTArgs, *, text_only_dataset: bool, cuda: bool, bf16_ok: bool,
                      liger_installed: bool,
                      gradient_accumulation_steps: int | None = None) -> dict:
    """The SFTConfig fields this script sets (before `--trl` extras)."""
    bf16 = (cuda and bf16_ok) if args.bf16 is None else args.bf16
    assistant_only = args.assistant_only_loss
    if assistant_only is None:
        assistant_only = text_only_dataset or transformers_at_least("5.18.0.dev0")
    liger = (cuda and liger_installed) if args.use_liger_kernel is None else args.use_liger_kernel
    accumulation = args.gradient_accumulation_steps or gradient_accumulation_steps or 1
    return {
        "output_dir": args.output_dir, "learning_rate": args.learning_rate,
        "lr_scheduler_type": args.lr_scheduler_type, "warmup_steps": args.warmup_steps,
        "weight_decay": args.weight_decay,
        "num_train_epochs": args.num_train_epochs, "max_steps": args.max_steps,
        "per_device_train_batch_size": args.per_device_train_batch_size,
        "gradient_accumulation_steps": accumulation,
        "max_length": args.max_length, "bf16": bf16, "use_cpu": not cuda,
        "gradient_checkpointing": args.gradient_checkpointing, "use_liger_kernel": liger,
        "assistant_only_loss": assistant_only,
        "logging_steps": args.logging_steps, "logging_first_step": True,
        "save_steps": args.save_steps, "save_total_limit": args.save_total_limit,
        "seed": args.seed, "report_to": args.report_to,
        **resolve_batching(text_only_dataset, args.packing),
    }


def transformers_at_least(version: str) -> bool:
    import transformers
    from packaging.version import Version

    return Version(transformers.__version__) >= Version(version)


def load_processor(args: SFTArgs):
    """The processor alone (no weights), with the pixel bounds of this run."""
    from tiny_vlm import load_vlm_processor
    return load_vlm_processor(args.model_name_or_path, tiny=args.model_name_or_path == TINY_MODEL,
                              max_pixels=args.max_pixels, min_pixels=args.min_pixels)


def load_model(args: SFTArgs):
    """(model in fp32, processor): the tiny random model, or `from_pretrained`."""
    from tiny_vlm import load_vlm
    return load_vlm(args.model_name_or_path, tiny=args.model_name_or_path == TINY_MODEL,
                    seed=args.seed,
                    max_pixels=args.max_pixels, min_pixels=args.min_pixels)


def check_data(args: SFTArgs, processor):
    from vlm_data import load_for_training
    return load_for_training(args, processor, form="sft", max_length=args.max_length)


def batch_plan(args: SFTArgs, report, *, world: int, text_only_dataset: bool) -> dict:
    """Accumulation (given or automatic) and what an optimizer step holds."""
    from launch_check import sft_accumulation

    packed = text_only_dataset and args.packing is not False
    row_tokens = args.max_length if packed else report.tokens_mean
    accumulation = args.gradient_accumulation_steps or sft_accumulation(
        tokens_per_device_step=args.tokens_per_device_step,
        per_device=args.per_device_train_batch_size, mean_tokens=row_tokens,
        rows=report.kept, world=world)
    rows = args.per_device_train_batch_size * world * accumulation
    tokens = rows * row_tokens
    steps = None
    if not packed and report.kept:
        steps = -(-int(report.kept * args.num_train_epochs) // rows)
    return {"world_size": world, "gradient_accumulation_steps": accumulation,
            "rows_per_step" if not packed else "packs_per_step": rows,
            "tokens_per_step": int(tokens),
            "steps": args.max_steps if args.max_steps > 0 else steps,
            "auto_accumulation": args.gradient_accumulation_steps is None}


def describe_plan(plan: dict) -> str:
    unit = "rows" if "rows_per_step" in plan else "packs"
    per_step = plan.get("rows_per_step", plan.get("packs_per_step"))
    steps = f", {plan['steps']:,} optimizer steps" if plan.get("steps") else ""
    how = " (auto)" if plan["auto_accumulation"] else ""
    return (f"batch: {per_step:,} {unit} per optimizer step = per-device batch × "
            f"{plan['world_size']} process{'es' if plan['world_size'] > 1 else ''} × "
            f"{plan['gradient_accumulation_steps']} accumulation{how}, about "
            f"{plan['tokens_per_step']:,} tokens{steps}")


def main(argv: list[str] | None = None) -> int:
    from launch_check import LaunchError, world_size

    try:
        args = parse_args(SFTArgs, argv, prog="sft.py", description=DESCRIPTION)
        world = world_size(args.world_size)
    except (ArgsError, LaunchError) as err:
        print(f"sft.py: error: {err}", file=sys.stderr)
        return 2

    from vlm_data import PreflightError

    processor = load_processor(args)
    try:
        dataset, report = check_data(args, processor)
    except (PreflightError, FileNotFoundError, ValueError) as err:
        print(f"sft.py: {err}", file=sys.stderr)
        return 1
    print(report.format())
    text_only_dataset = "images" not in dataset.column_names
    plan = batch_plan(args, report, world=world, text_only_dataset=text_only_dataset)
    print(f"sft.py: {describe_plan(plan)}")
    if args.check_only:
        return 0 if report.ok else 1

    import torch
    from metrics_log import MetricsLog
    from trl import SFTConfig, SFTTrainer

    cuda = torch.cuda.is_available()
    values = sft_config_values(
        args, text_only_dataset=text_only_dataset, cuda=cuda,
        bf16_ok=cuda and torch.cuda.is_bf16_supported(),
        liger_installed=importlib.util.find_spec("liger_kernel") is not None,
        gradient_accumulation_steps=plan["gradient_accumulation_steps"])
    try:
        config = trl_config(SFTConfig, values, args.trl)
    except ArgsError as err:
        print(f"sft.py: error: {err}", file=sys.stderr)
        return 2
    model, processor = load_model(args)
    batching = ("packing (BFD)" if config.packing else "length-grouped batches")
    print(f"sft.py: {len(dataset):,} rows, {batching}, weights {model.dtype} (master), "
          f"bf16 compute={config.bf16}, liger={config.use_liger_kernel}, "
          f"assistant-only loss={config.assistant_only_loss}, lr={config.learning_rate} "
          f"{config.lr_scheduler_type.value}, warmup {config.warmup_steps}, "
          f"weight decay {config.weight_decay}")
    log = MetricsLog(Path(args.output_dir) / "metrics.jsonl")
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset,
                         processing_class=processor, callbacks=[log])
    start = time.perf_counter()
    trainer.train()
    elapsed = time.perf_counter() - start
    trainer.save_model(args.output_dir)
    if trainer.is_world_process_zero():
        # the processor with this run's pixel bounds, beside the weights (vLLM reads it)
        processor.save_pretrained(args.output_dir)
    steps = trainer.state.global_step
    from tiny_vlm import pixel_bounds
    summary = {"steps": steps, "seconds": round(elapsed, 2),
               "seconds_per_step": round(elapsed / max(steps, 1), 3),
               "final_loss": log.last("loss"), "weights_dtype": str(model.dtype),
               "pixel_bounds": pixel_bounds(processor), "batch": plan}
    (Path(args.output_dir) / "train_summary.json").write_text(json.dumps(summary, indent=2))
    print(f"sft.py: {steps} steps in {elapsed:.1f}s ({summary['seconds_per_step']} s/step), "
          f"model saved to {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
