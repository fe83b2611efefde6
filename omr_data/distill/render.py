"""Render a record into chat messages and its content-addressed prompt hash.

The user turn holds the images first (base64 data URLs, downscaled to at most
`max_image_pixels`) and then the text `omr_data.prompts` renders (the question and its
options as `A. text` lines), the same text publish writes, so a published prompt is what
the teacher saw. The prompt hash covers the model, the
messages with every image replaced by the sha256 of the bytes actually sent, and the
sampling settings; `max_tokens` is left out on purpose (see `journal`).
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image, UnidentifiedImageError

from omr_data.images import DECODE_LIMIT_PIXELS, ImageError, image_bytes
from omr_data.llm.journal import stable_hash
from omr_data.prompts import record_user_text

PROMPT_VERSION = 1
_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp",
         "BMP": "image/bmp"}


class PromptError(ValueError):
    """A record that cannot be sent (e.g. an unreadable image); becomes a reject."""


@dataclass
class Prompt:
    messages: list[dict]       # what is sent (images as data URLs)
    payload: dict              # what is hashed and journaled (images as sha256 references)
    prompt_hash: str
    est_prompt_tokens: int


def user_text(record: Mapping[str, Any]) -> str:
    """The user turn's text, as published (`omr_data.prompts`)."""
    return record_user_text(record)


def render_prompt(record: Mapping[str, Any], *, model: str, system_prompt: str | None,
                  sampling: Mapping[str, Any], max_image_pixels: int) -> Prompt:
    parts, refs, image_tokens = [], [], 0
    for i, image in enumerate(record.get("images") or ()):
        data, mime, pixels = encode_image(image, max_image_pixels, where=f"image {i}")
        digest = hashlib.sha256(data).hexdigest()
        url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        parts.append({"type": "image_url", "image_url": {"url": url}})
        refs.append({"type": "image_url", "image_url": {"sha256": digest}})
        image_tokens += max(1, math.ceil(pixels / (28 * 28)))
    text = user_text(record)
    parts.append({"type": "text", "text": text})
    refs.append({"type": "text", "text": text})
    messages, key_messages = [], []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
        key_messages.append({"role": "system", "content": system_prompt})
    messages.append({"role": "user", "content": parts})
    key_messages.append({"role": "user", "content": refs})
    payload = {"v": PROMPT_VERSION, "model": model, "messages": key_messages,
               "sampling": dict(sampling)}
    est = image_tokens + (len(text) + len(system_prompt or "")) // 4 + 8
    return Prompt(messages, payload, stable_hash(payload), est)


def encode_image(image: Mapping[str, Any], max_pixels: int, *, where: str = "image"
                 ) -> tuple[bytes, str, int]:
    """(bytes to send, mime type, pixel count); downscales images above `max_pixels`."""

    try:   # bytes only: a path alone is never opened (normalize embeds the bytes)
        data = image_bytes(image, None, where=where)
    except ImageError as err:
        raise PromptError(str(err)) from None
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or "PNG"
            width, height = img.size
            if width * height <= max_pixels and fmt in _MIME:
                return bytes(data), _MIME[fmt], width * height
            scale = min(1.0, math.sqrt(max_pixels / (width * height)))
            size = (max(1, int(width * scale)), max(1, int(height * scale)))
            if fmt == "JPEG":
                img.draft(img.mode, size)    # decode at a reduced scale when that suffices
            if img.size[0] * img.size[1] > DECODE_LIMIT_PIXELS:
                raise PromptError(f"image too large: {where}: {width}x{height} pixels")
            img.load()
            small = img.resize(size, Image.Resampling.BICUBIC) if scale < 1.0 else img.copy()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as err:
        raise PromptError(f"unreadable image: {where}: {err}") from None
    out = io.BytesIO()
    if fmt == "JPEG" and small.mode in ("RGB", "L"):
        small.save(out, format="JPEG", quality=95)
        mime = "image/jpeg"
    else:
        small.save(out, format="PNG")
        mime = "image/png"
    return out.getvalue(), mime, size[0] * size[1]
