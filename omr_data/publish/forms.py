"""The two published row forms (TRL conventions) and the conversion from records.

- SFT (records with a `response`): `id`, `source`, `messages`, `images`.
- RL (records without): `id`, `source`, `prompt`, `images`, `answer`, `answer_type`,
  `choices`, `pass_rate`.

Prompts come from `omr_data.prompts`, the renderer distill uses: a system turn with the
instruction (one text for SFT and RL, recorded in the card with its sha256), then the user
turn, one `{"type": "image"}` item per image (in the order of `images`) and the question
with its options as `A. text` lines. A distilled row whose meta names the sha256 of the
system prompt the teacher saw must match the instruction published, so that a published
prompt is exactly what the teacher saw.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from omr_data.images import DECODE_LIMIT_PIXELS, pixel_count
from omr_data.privacy import public_image_path
from omr_data.prompts import instruction_sha256, prompt_turns, resolve_instruction
from omr_data.publish.common import PublishError

SFT, RL = "sft", "rl"
FORMS = (SFT, RL)

# Where a record's pass rate may be, first found wins: our verify stage, then what the
# sources ship (ViRL39K's PassRate_* columns, RL-74K's avg_reward), kept in meta by adapters.
PASS_RATE_KEYS = ("verify.pass_rate", "pass_rate", "avg_reward", "PassRate_7BBase",
                  "PassRate_32BTrained")

RECORD_COLUMNS = {
    SFT: ["id", "source", "images", "question", "choices", "response", "meta"],
    RL: ["id", "source", "images", "question", "answer", "answer_type", "choices", "meta"],
}


def _message_features():
    from datasets import List, Value

    return List({"role": Value("string"),
                 "content": List({"type": Value("string"), "text": Value("string")})})


def features(form: str):
    """The published config's `datasets.Features` (images as a list of `Image`, so they decode)."""
    from datasets import Features, Image, List, Value

    if form == SFT:
        return Features({
            "id": Value("string"),
            "source": Value("string"),
            "messages": _message_features(),
            "images": List(Image()),
        })
    if form == RL:
        return Features({
            "id": Value("string"),
            "source": Value("string"),
            "prompt": _message_features(),
            "images": List(Image()),
            "answer": Value("string"),
            "answer_type": Value("string"),
            "choices": List(Value("string")),
            "pass_rate": Value("float64"),
        })
    raise ValueError(f"unknown form {form!r}")


def arrow_schema(form: str) -> pa.Schema:
    """Arrow schema with the HF features in the `huggingface` metadata key, as `datasets` writes."""
    feats = features(form)
    return feats.arrow_schema.with_metadata(
        {"huggingface": json.dumps({"info": {"features": feats.to_dict()}})})


def to_sft_row(record: Mapping[str, Any], instruction: str | None = None) -> dict:
    images = _published_images(record)
    _check_instruction(record, instruction)
    return {
        "id": record["id"],
        "source": record["source"],
        "messages": [
            *prompt_turns(record, instruction, len(images)),
            {"role": "assistant", "content": [{"type": "text", "text": record["response"]}]},
        ],
        "images": images,
    }


def to_rl_row(record: Mapping[str, Any], instruction: str | None = None) -> dict:
    images = _published_images(record)
    return {
        "id": record["id"],
        "source": record["source"],
        "prompt": prompt_turns(record, instruction, len(images)),
        "images": images,
        "answer": record["answer"],
        "answer_type": record["answer_type"],
        "choices": record["choices"],
        "pass_rate": pass_rate(_meta(record)),
    }


def _check_instruction(record: Mapping[str, Any], instruction: str | None) -> None:
    """A trace distilled under another system prompt cannot be published under this one."""
    seen = _meta(record).get("distill.system_prompt_sha256")
    if seen is None:
        return
    published = instruction_sha256(resolve_instruction(instruction))
    if seen != published:
        raise PublishError(
            f"{record['id']}: the teacher saw a system prompt with sha256 {seen[:12]}…, but "
            f"the instruction to publish has sha256 {published[:12]}…; publish with the "
            "instruction the traces were distilled with (--instruction, the distill step's "
            "system_prompt), so the published prompt is the one the teacher saw")


CONVERTERS = {SFT: to_sft_row, RL: to_rl_row}


def pass_rate(meta: Mapping[str, Any]) -> float | None:
    """The record's pass rate in [0, 1], or None when no stage or source recorded one.

    Keys are tried in `PASS_RATE_KEYS` order; values that are not numbers in [0, 1] are
    skipped rather than guessed at (a percentage would need its source to say so).
    """
    for key in PASS_RATE_KEYS:
        value = meta.get(key)
        if value is None and "." in key:  # also accept the nested form {"verify": {"pass_rate"}}
            outer, inner = key.split(".", 1)
            nested = meta.get(outer)
            value = nested.get(inner) if isinstance(nested, Mapping) else None
        if isinstance(value, bool) or value is None:
            continue
        try:
            rate = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(rate) and 0.0 <= rate <= 1.0:  # a rate; anything else is not one
            return rate
    return None


def _meta(record: Mapping[str, Any]) -> dict:
    text = record.get("meta")
    if not text:
        return {}
    try:
        meta = json.loads(text)
    except json.JSONDecodeError:
        raise PublishError(f"{record.get('id')}: meta is not JSON") from None
    return meta if isinstance(meta, dict) else {}


def _published_images(record: Mapping[str, Any]) -> list[dict]:
    images = record.get("images") or []
    for img in images:
        if img.get("bytes") is None:
            raise PublishError(
                f"{record['id']}: image {img.get('path')!r} has no bytes; published datasets "
                "embed their images (re-run normalize with --image-root so the bytes are read)")
        pixels = pixel_count(img["bytes"])
        if pixels is not None and pixels > DECODE_LIMIT_PIXELS:
            raise PublishError(
                f"{record['id']}: image {img.get('path')!r} has {pixels} pixels, more than "
                f"{DECODE_LIMIT_PIXELS} that trainers can decode; normalize downscales images "
                "(--max-image-pixels)")
    # a path on this machine never leaves it: relative to its root, or the file name
    return [{"bytes": img["bytes"], "path": public_image_path(img.get("path"))}
            for img in images]


def detect_form(shards_by_input: Iterable[tuple[str, list]], config: str) -> tuple[str, int]:
    """Scan only the `response` column: SFT if every row has one, RL if none has.

    Returns (form, rows). Mixing both is an error that names the fix.
    """
    with_response = without = 0
    for _label, shards in shards_by_input:
        for shard in shards:
            column = pq.read_table(shard, columns=["response"]).column("response")
            nulls = column.null_count
            without += nulls
            with_response += len(column) - nulls
    if with_response and without:
        raise PublishError(
            f"config {config!r} would mix {with_response} SFT rows (with a response) and "
            f"{without} RL rows (without one); one config holds one form: publish them "
            "separately with --config NAME (e.g. --config sft and --config rl)")
    if not with_response and not without:
        raise PublishError("the inputs hold no rows: nothing to publish")
    return (SFT if with_response else RL), with_response + without


def decided_by(meta: Mapping[str, Any]) -> str | None:
    value = meta.get("verify.decided_by")
    if value is None and isinstance(meta.get("verify"), Mapping):
        value = meta["verify"].get("decided_by")
    return None if value is None else str(value)
