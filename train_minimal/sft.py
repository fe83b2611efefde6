"""Supervised fine-tuning on a published omr-data SFT dataset (`messages` + `images`) with TRL.

Defaults follow the OpenMMReasoner recipe: Qwen2.5-VL-7B-Instruct, lr 5e-5 with a cosine
schedule, bf16, 32k-token sequences, the Liger kernel when it is installed. Batching:

- image rows: TRL refuses packing and padding-free batching for vision-language data, so
  rows are *length-grouped* (`train_sampling_strategy="group_by_length"` on the `length`
  column the pre-flight check computes, images' tokens included), which keeps padding low;
- a text-only dataset: online packing (`packing=True`, best-fit decreasing).

The pre-flight check (`vlm_data.preflight`) runs before training, or alone with
`--check-only`; see that module for the pitfalls it catches and what it does about them.

    python train_minimal/sft.py --tiny --max-steps 3                     # CPU, tiny random model
    python train_minimal/sft.py --dataset-name omr/sft-874k --check-only
    accelerate launch train_minimal/sft.py --config sft.yaml --trl save_total_limit=2
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

QWEN_MAX_PIXELS = 1280 * 28 * 28  # 1,003,520: at most 1,280 visual tokens per image


@dataclass
class SFTArgs:
    """What `sft.py` takes; every field is a flag and a `--config` YAML key."""

    model_name_or_path: str = field(default="Qwen/Qwen2.5-VL-7B-Instruct", metadata={
        "help": "model to fine-tune: Hub id or local path"})
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
    learning_rate: float = field(default=5e-5, metadata={"help": "peak learning rate (AdamW)"})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "learning-rate schedule"})
    warmup_steps: float = field(default=0.03, metadata={
        "help": "warmup: steps, or a fraction of all steps when below 1"})
    num_train_epochs: float = field(default=1.0, metadata={"help": "epochs over the dataset"})
    max_steps: int = field(default=-1, metadata={"help": "stop after this many steps (-1: epochs)"})
    per_device_train_batch_size: int = field(default=1, metadata={"help": "rows per device step"})
    gradient_accumulation_steps: int = field(default=16, metadata={
        "help": "micro-batches per optimizer step"})
    max_length: int = field(default=32768, metadata={
        "help": "tokens per sequence, image tokens included; longer rows are truncated, and rows "
                "whose cut would fall in image tokens are dropped by the pre-flight check"})
    max_pixels: int = field(default=QWEN_MAX_PIXELS, metadata={
        "help": "pixel budget per image: larger images are downscaled by the processor"})
    bf16: bool | None = field(default=None, metadata={
        "help": "bf16 mixed precision (default: on when the GPU supports it, off on CPU)"})
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
        "help": "run the pre-flight data check, print its report and exit (1 if rows fail)"})
    tiny: bool = field(default=False, metadata={
        "help": "a tiny random Qwen2.5-VL built offline, small lengths, CPU-friendly; reads "
                "./hub unless --hub-dir/--dataset-name say otherwise"})
    logging_steps: int = field(default=1, metadata={"help": "log every N steps"})
    save_steps: int = field(default=500, metadata={"help": "checkpoint every N steps"})
    save_total_limit: int | None = field(default=3, metadata={"help": "checkpoints kept"})
    seed: int = field(default=42, metadata={"help": "random seed"})
    report_to: str = field(default="none", metadata={
        "help": "trackers (wandb, tensorboard, ...) or none"})
    trl: dict = field(default_factory=dict, metadata={
        "help": "any other SFTConfig field, as --trl KEY=VALUE (repeatable) or a 'trl:' mapping"})

    TINY: ClassVar[dict] = {
        "max_length": 512, "max_pixels": 64 * 28 * 28, "per_device_train_batch_size": 2,
        "gradient_accumulation_steps": 1, "gradient_checkpointing": False, "hub_dir": "hub",
        "output_dir": "runs/sft-tiny", "warmup_steps": 0.0, "save_steps": 1000}

    def __post_init__(self):
        for name in ("learning_rate", "max_length", "max_pixels", "per_device_train_batch_size",
                     "gradient_accumulation_steps"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.max_pixels < 56 * 56:
            raise ValueError(f"max_pixels must be >= 3136 (56x56, Qwen2.5-VL's minimum), "
                             f"got {self.max_pixels}")
        if not 0 <= self.warmup_steps:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps}")


DESCRIPTION = __doc__.split("\n\n")[0] + """

Precedence: defaults < --tiny preset < --config YAML < flags. Paper defaults: lr 5e-5,
cosine, bf16, max_length 32768, Liger when installed; batching as described in the
module doc (packing for text-only data, length-grouped batches for images)."""


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
                      liger_installed: bool) -> dict:
    """The SFTConfig fields this script sets (before `--trl` extras)."""
    bf16 = (cuda and bf16_ok) if args.bf16 is None else args.bf16
    assistant_only = args.assistant_only_loss
    if assistant_only is None:
        assistant_only = text_only_dataset or transformers_at_least("5.18.0.dev0")
    liger = (cuda and liger_installed) if args.use_liger_kernel is None else args.use_liger_kernel
    return {
        "output_dir": args.output_dir, "learning_rate": args.learning_rate,
        "lr_scheduler_type": args.lr_scheduler_type, "warmup_steps": args.warmup_steps,
        "num_train_epochs": args.num_train_epochs, "max_steps": args.max_steps,
        "per_device_train_batch_size": args.per_device_train_batch_size,
        "gradient_accumulation_steps": args.gradient_accumulation_steps,
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


def load_model(args: SFTArgs):
    """(model, processor): the tiny random model, or `from_pretrained`."""
    from tiny_vlm import load_vlm
    return load_vlm(args.model_name_or_path, tiny=args.tiny, seed=args.seed,
                    max_pixels=args.max_pixels)


def check_data(args: SFTArgs, processor):
    from vlm_data import load_for_training
    return load_for_training(args, processor, form="sft", max_length=args.max_length)


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(SFTArgs, argv, prog="sft.py", description=DESCRIPTION)
    except ArgsError as err:
        print(f"sft.py: error: {err}", file=sys.stderr)
        return 2

    import torch
    from trl import SFTConfig, SFTTrainer

    from metrics_log import MetricsLog
    from vlm_data import PreflightError

    model, processor = load_model(args)
    try:
        dataset, report = check_data(args, processor)
    except (PreflightError, FileNotFoundError, ValueError) as err:
        print(f"sft.py: {err}", file=sys.stderr)
        return 1
    print(report.format())
    if args.check_only:
        return 0 if report.ok else 1

    cuda = torch.cuda.is_available()
    values = sft_config_values(
        args, text_only_dataset="images" not in dataset.column_names, cuda=cuda,
        bf16_ok=cuda and torch.cuda.is_bf16_supported(),
        liger_installed=importlib.util.find_spec("liger_kernel") is not None)
    try:
        config = trl_config(SFTConfig, values, args.trl)
    except ArgsError as err:
        print(f"sft.py: error: {err}", file=sys.stderr)
        return 2
    batching = ("packing (BFD)" if config.packing else "length-grouped batches")
    print(f"sft.py: {len(dataset):,} rows, {batching}, bf16={config.bf16}, "
          f"liger={config.use_liger_kernel}, assistant-only loss={config.assistant_only_loss}, "
          f"lr={config.learning_rate} {config.lr_scheduler_type.value}")
    log = MetricsLog(Path(args.output_dir) / "metrics.jsonl")
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset,
                         processing_class=processor, callbacks=[log])
    start = time.perf_counter()
    trainer.train()
    elapsed = time.perf_counter() - start
    trainer.save_model(args.output_dir)
    steps = trainer.state.global_step
    summary = {"steps": steps, "seconds": round(elapsed, 2),
               "seconds_per_step": round(elapsed / max(steps, 1), 3),
               "final_loss": log.last("loss")}
    (Path(args.output_dir) / "train_summary.json").write_text(json.dumps(summary, indent=2))
    print(f"sft.py: {steps} steps in {elapsed:.1f}s ({summary['seconds_per_step']} s/step), "
          f"model saved to {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
