"""Read a published omr-data dataset and check it for vision-language pitfalls before training.

Rows are what `omr-data publish` writes (TRL conventions): SFT rows have `messages` and
`images`, RL rows `prompt`, `images`, `answer`, `answer_type`, `choices`, `pass_rate`; both
keep `id` and `source`. The pre-flight check reads every row once (images as bytes: only
their headers are parsed) and finds:

- **placeholders ≠ images**: `{"type": "image"}` parts that do not match the `images`
  list. The processor would fail mid-run or pair the wrong image → row dropped.
- **truncation through image tokens**: a sequence longer than `max_length` whose cut
  falls inside or before the last image's tokens → dropped (cutting only the response is
  kept and counted). RL: a prompt longer than `max_prompt_length` → dropped (TRL does not
  truncate prompts, and a truncated prompt would lose image tokens).
- **images beyond `max_pixels`**: counted; the processor is set to downscale them to the
  budget, and token counts are computed after that resize.
- **extreme aspect ratio** (> 200:1, which Qwen's resize rejects) → dropped.
- **text-only rows mixed with image rows**: by default each gets a blank 56×56 white image
  (4 visual tokens on Qwen2.5-VL) and a placeholder at the start of its first user turn, so
  every batch runs the vision tower: ranks never disagree on which parameters got
  gradients (DDP unused parameters, ZeRO-3 hangs). `text_only="keep"` leaves them as they
  are. A dataset with only text rows loses its `images` column, so TRL may pack it.

Nothing is dropped silently: the report counts every reason and names an example id.
"""

from __future__ import annotations

import io
import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PLACEHOLDER_MISMATCH = "image placeholders do not match images"
CUTS_IMAGE_TOKENS = "truncation would cut image tokens"
PROMPT_TOO_LONG = "prompt longer than max_prompt_length"
EXTREME_ASPECT = "image aspect ratio over 200"
NO_CONVERSATION = "no conversation"
UNREADABLE_IMAGE = "unreadable image"

OVER_MAX_PIXELS = "image over max_pixels (downscaled)"
RESPONSE_TRUNCATED = "response truncated at max_length (images intact)"
TEXT_ONLY_MIXED = "text-only row among image rows"

TEXT_ONLY_STRATEGIES = ("blank-image", "keep", "error")
BLANK_SIDE = 56  # Qwen2.5-VL's min_pixels is 56*56: the smallest image it takes unchanged
MAX_ASPECT = 200


class PreflightError(ValueError):
    """The data cannot be trained on as configured; the message carries the report."""


@dataclass
class PreflightReport:
    form: str
    rows: int = 0
    kept: int = 0
    image_rows: int = 0
    text_only_rows: int = 0
    images: int = 0
    max_length: int | None = None
    max_pixels: int | None = None
    text_only: str = "blank-image"
    text_only_action: str = "none"
    dropped: dict[str, int] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)  # reason → first row id
    tokens_mean: float = 0.0
    tokens_p50: int = 0
    tokens_p99: int = 0
    tokens_max: int = 0

    @property
    def ok(self) -> bool:
        return not self.dropped

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self) -> str:
        limit = "max_prompt_length" if self.form == "rl" else "max_length"
        lines = [
            f"pre-flight ({self.form.upper()}): {self.rows:,} rows, "
            f"{self.image_rows:,} with images "
            f"({self.images:,} images), {self.text_only_rows:,} text-only",
            (f"  tokens per row: mean {self.tokens_mean:,.0f}, p50 {self.tokens_p50:,}, "
             f"p99 {self.tokens_p99:,}, max {self.tokens_max:,} ({limit} {self.max_length}, "
             f"max_pixels {self.max_pixels})"),
            f"  text-only rows: {self.text_only_action}",
        ]
        for title, counts in (("dropped", self.dropped), ("warning", self.warnings)):
            for reason, n in sorted(counts.items(), key=lambda kv: -kv[1]):
                lines.append(f"  {title}: {n:,} × {reason} (e.g. {self.examples.get(reason)})")
        lines.append(f"  kept {self.kept:,} of {self.rows:,} rows")
        return "\n".join(lines)


def load_published(name: str, *, config: str | None = None, split: str = "train",
                   revision: str | None = None, hub_dir: str | None = None):
    """`load_dataset` on a local path, else `hub_dir/name` (an offline Hub layout), else
    a Hub id."""
    from datasets import load_dataset

    path = Path(name) if Path(name).exists() or not hub_dir else Path(hub_dir) / name
    local = path.exists()
    if hub_dir and not local:
        raise FileNotFoundError(f"{path} does not exist: publish it with `omr-data publish ... "
                                f"--hub-dir {hub_dir}` (or `make demo`), or drop --hub-dir to "
                                f"read {name} from the Hub")
    if local and revision:
        raise ValueError(f"revision={revision!r} works for Hub ids only; {path} is a local "
                         f"directory: run `git -C {path} checkout {revision}` instead")
    return load_dataset(str(path) if local else name, config, split=split, revision=revision)


def dataset_form(dataset) -> str:
    """'sft' (`messages`) or 'rl' (`prompt` + `answer`)."""
    cols = set(dataset.column_names)
    if "messages" in cols:
        return "sft"
    if {"prompt", "answer"} <= cols:
        return "rl"
    raise PreflightError(f"not a published SFT or RL dataset: columns {sorted(cols)}; expected "
                         "'messages' (SFT) or 'prompt' + 'answer' (RL)")


#: what a script given the other form of dataset says (after the dataset's name)
_WRONG_FORM = {
    "sft": "holds RL rows (prompt/answer): train it with gspo.py, or pick an SFT config with "
           "--dataset-config",
    "rl": "holds SFT rows (messages): train it with sft.py, or pick an RL config with "
          "--dataset-config",
}


def load_for_training(args, processor, *, form: str, max_length: int | None):
    """The published dataset the script's `args` name, checked to be `form` ('sft' or 'rl')
    and pre-flighted: (dataset to train on, PreflightReport)."""
    dataset = load_published(args.dataset_name, config=args.dataset_config,
                             split=args.dataset_split, revision=args.revision,
                             hub_dir=args.hub_dir)
    if dataset_form(dataset) != form:
        raise PreflightError(f"{args.dataset_name} {_WRONG_FORM[form]}")
    return preflight(dataset, processor, max_length=max_length, max_pixels=args.max_pixels,
                     text_only=args.text_only, on_problem=args.on_problem,
                     report_path=Path(args.output_dir) / "preflight.json")


def image_token_counter(processor):
    """(height, width) → visual tokens after the processor's resize (Qwen2-VL style)."""
    ip = processor.image_processor
    merge = getattr(ip, "merge_size", None)
    if merge is None or not hasattr(ip, "get_number_of_image_patches"):
        raise PreflightError(f"the pre-flight check needs a Qwen2-VL-style image processor "
                             f"(merge_size, get_number_of_image_patches); got {type(ip).__name__}")
    return lambda h, w: ip.get_number_of_image_patches(h, w, {}) // (merge * merge)


def _conversation(row: dict, form: str):
    return row.get("messages") if form == "sft" else row.get("prompt")


def _placeholders(conversation) -> int:
    n = 0
    for message in conversation or []:
        content = message.get("content")
        if isinstance(content, list):
            n += sum(1 for part in content
                     if isinstance(part, dict) and part.get("type") == "image")
    return n


def _image_size(image: Any) -> tuple[int, int]:
    """(width, height) from an image struct (header only) or a PIL image."""
    if hasattr(image, "size") and not isinstance(image, dict):
        return image.size
    from PIL import Image

    data = image.get("bytes")
    with Image.open(io.BytesIO(data) if data is not None else image["path"]) as img:
        return img.size


class RowChecker:
    """Checks rows one batch at a time; `check(rows)` → per row (problem, warnings, tokens)."""

    def __init__(self, processor, *, form: str, max_length: int | None, max_pixels: int):
        self.processor, self.form = processor, form
        self.max_length, self.max_pixels = max_length, max_pixels
        self.tokenizer = getattr(processor, "tokenizer", processor)
        image_token = getattr(processor, "image_token", "<|image_pad|>")
        self.image_token_id = self.tokenizer.convert_tokens_to_ids(image_token)
        self.count_tokens = image_token_counter(processor)

    def check(self, rows: list[dict]) -> list[tuple[str | None, list[str], int]]:
        texts, states = [], []
        for row in rows:
            state = self._inspect(row)
            states.append(state)
            texts.append(state.pop("text", ""))
        ids = self.tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
        return [self._finish(state, row_ids) for state, row_ids in zip(states, ids)]

    def _inspect(self, row: dict) -> dict:
        conversation = _conversation(row, self.form)
        images = row.get("images") or []
        state = {"problem": None, "warnings": [], "image_tokens": []}
        if not conversation:
            state["problem"] = NO_CONVERSATION
            return state
        if _placeholders(conversation) != len(images):
            state["problem"] = PLACEHOLDER_MISMATCH
            return state
        for image in images:
            try:
                width, height = _image_size(image)
            except Exception:  # noqa: BLE001 (any decoder error means the same to the trainer)
                state["problem"] = UNREADABLE_IMAGE
                return state
            if max(width, height) > MAX_ASPECT * max(1, min(width, height)):
                state["problem"] = EXTREME_ASPECT
                return state
            if width * height > self.max_pixels:
                state["warnings"].append(OVER_MAX_PIXELS)
            state["image_tokens"].append(self.count_tokens(height, width))
        state["text"] = self.processor.apply_chat_template(
            conversation, tokenize=False, add_generation_prompt=self.form == "rl")
        return state

    def _finish(self, state: dict, ids: list[int]) -> tuple[str | None, list[str], int]:
        if state["problem"] is not None:
            return state["problem"], state["warnings"], 0
        pads = [i for i, t in enumerate(ids) if t == self.image_token_id]
        extra, last_image_end = 0, 0
        for pos, n in zip(pads, state["image_tokens"]):
            extra += n - 1
            last_image_end = pos + extra + 1
        length = len(ids) + extra
        limit = self.max_length
        if limit is not None and length > limit:
            if self.form == "rl":
                return PROMPT_TOO_LONG, state["warnings"], length
            if last_image_end > limit:
                return CUTS_IMAGE_TOKENS, state["warnings"], length
            state["warnings"].append(RESPONSE_TRUNCATED)
        return None, state["warnings"], length


def _blank_png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (BLANK_SIDE, BLANK_SIDE), (255, 255, 255)).save(buf, format="PNG")
    return buf.getvalue()


def _with_blank_image(conversation: list[dict]) -> list[dict]:
    """The conversation with an image placeholder first in its first user turn."""
    out, done = [], False
    for message in conversation:
        message = dict(message)
        if not done and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                content = [{"type": "text", "text": content}]
            message["content"] = [{"type": "image", "text": None}, *(content or [])]
            done = True
        out.append(message)
    return out


def _percentile(sorted_values: list[int], q: float) -> int:
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1)]


def preflight(dataset, processor, *, max_length: int | None, max_pixels: int,
              text_only: str = "blank-image", on_problem: str = "drop",
              batch_size: int = 512, report_path: str | Path | None = None):
    """Check (and fix) `dataset`; returns (dataset to train on, PreflightReport).

    `max_length` is the SFT sequence limit or the RL prompt limit. The returned dataset
    has bad rows removed (`on_problem="drop"`; `"error"` raises instead), text-only rows
    handled per `text_only`, and a `length` column (tokens, images included) that
    length-grouped batching uses. Rows are read as Arrow (images stay bytes; only their
    headers are parsed); the data is rewritten only to add blank images.
    """
    if text_only not in TEXT_ONLY_STRATEGIES:
        raise ValueError(f"text_only must be one of {TEXT_ONLY_STRATEGIES}, got {text_only!r}")
    if on_problem not in ("drop", "error"):
        raise ValueError(f"on_problem must be drop or error, got {on_problem!r}")
    form = dataset_form(dataset)
    checker = RowChecker(processor, form=form, max_length=max_length, max_pixels=max_pixels)
    report = PreflightReport(form=form, max_length=max_length, max_pixels=max_pixels,
                             text_only=text_only)
    dropped, warnings = Counter(), Counter()
    keep, lengths, text_rows = [], [], []
    columns = [c for c in ("id", "messages", "prompt", "images") if c in dataset.column_names]
    index = 0
    for batch in dataset.select_columns(columns).with_format("arrow").iter(batch_size=batch_size):
        rows = batch.to_pylist()
        for row, (problem, row_warnings, length) in zip(rows, checker.check(rows)):
            n_images = len(row.get("images") or [])
            report.rows += 1
            report.images += n_images
            report.image_rows += n_images > 0
            for reason in [problem] if problem else row_warnings:
                (dropped if problem else warnings)[reason] += 1
                report.examples.setdefault(reason, row.get("id"))
            lengths.append(length)
            if problem is None:
                keep.append(index)
                if n_images == 0:
                    text_rows.append(index)
                    report.examples.setdefault(TEXT_ONLY_MIXED, row.get("id"))
            index += 1
    report.text_only_rows = report.rows - report.image_rows
    mixed = bool(text_rows) and len(text_rows) < len(keep)
    if mixed:
        warnings[TEXT_ONLY_MIXED] = len(text_rows)
    report.dropped, report.warnings = dict(dropped), dict(warnings)
    report.kept = len(keep)
    if report_path is not None:
        _write_report(report, report_path)

    if dropped and on_problem == "error":
        raise PreflightError(report.format() + "\n(--on-problem drop trains on the rest)")
    if mixed and text_only == "error":
        raise PreflightError(report.format() + "\ntext-only rows are mixed with image rows: "
                             "--text-only blank-image adds a blank image to each")
    if not keep:
        raise PreflightError(report.format() + "\nno row is left to train on")

    out = dataset.remove_columns("length") if "length" in dataset.column_names else dataset
    out = out.add_column("length", lengths)
    if mixed and text_only == "blank-image":
        blank_tokens = checker.count_tokens(BLANK_SIDE, BLANK_SIDE) + 2  # + vision start/end
        out = _add_blank_images(out, set(text_rows), form, blank_tokens)
        for i in text_rows:
            lengths[i] += blank_tokens
        report.text_only_action = (f"{len(text_rows):,} got a blank {BLANK_SIDE}x{BLANK_SIDE} "
                                   f"image ({blank_tokens} tokens)")
    elif mixed:
        report.text_only_action = f"{len(text_rows):,} kept without images (--text-only keep)"
    elif text_rows and "images" in out.column_names:
        out = out.remove_columns("images")
        report.text_only_action = "all rows are text-only: the images column is dropped"
    if len(keep) < len(out):
        out = out.select(keep)
    ordered = sorted(lengths[i] for i in keep)
    report.tokens_mean = round(sum(ordered) / len(ordered), 1)
    report.tokens_p50 = _percentile(ordered, 0.5)
    report.tokens_p99 = _percentile(ordered, 0.99)
    report.tokens_max = ordered[-1]
    if report_path is not None:
        _write_report(report, report_path)
    return out, report


def _write_report(report: PreflightReport, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(report.to_dict(), indent=2))


def _add_blank_images(dataset, text_rows: set[int], form: str, blank_tokens: int):
    """A blank image and placeholder for each row in `text_rows` (Arrow in, Arrow out)."""
    import pyarrow as pa

    column = "messages" if form == "sft" else "prompt"
    blank = {"bytes": _blank_png(), "path": None}
    schema = dataset.features.arrow_schema

    def add(batch: pa.Table, indices: list[int]) -> pa.Table:
        hits = [j for j, i in enumerate(indices) if i in text_rows]
        if not hits:
            return batch
        conversations = batch.column(column).to_pylist()
        images = batch.column("images").to_pylist()
        lengths = batch.column("length").to_pylist()
        for j in hits:
            conversations[j] = _with_blank_image(conversations[j])
            images[j] = [blank]
            lengths[j] += blank_tokens
        for name, values in ((column, conversations), ("images", images), ("length", lengths)):
            batch = batch.set_column(batch.schema.get_field_index(name), name,
                                     pa.array(values, type=schema.field(name).type))
        return batch

    out = dataset.with_format("arrow").map(add, batched=True, with_indices=True,
                                           features=dataset.features,
                                           desc="blank images for text-only rows")
    return out.with_format(None)
