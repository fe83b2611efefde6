"""Replies of OpenAI-compatible servers, read in bounded memory and checked for shape.

The teacher client and the judge both read chat completions through here: a body larger
than `MAX_REPLY_BYTES` is refused while it streams in (never held whole), and a 200 that is
not JSON, nests absurdly deep or has no choices raises `MalformedReply`, which the callers
count as a failed attempt (retried until their deadline), never as an answer.
"""

from __future__ import annotations

import json
from typing import Any

#: largest reply body read: 16 choices of 16k tokens fit with room to spare
MAX_REPLY_BYTES = 8 * 1024 * 1024
#: header that makes the openai client hand over the response before reading its body
STREAM_BODY_HEADER = {"X-Stainless-Raw-Response": "stream"}


class MalformedReply(ValueError):
    """A 200 whose body is not a usable chat completion (counted as a failed attempt)."""


async def read_capped(response: Any, max_bytes: int = MAX_REPLY_BYTES) -> bytes:
    """The body of an httpx response that is still streaming, at most `max_bytes`."""
    try:
        length = response.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_bytes:
            raise MalformedReply(f"reply too large: {length} bytes (the limit is {max_bytes})")
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise MalformedReply(f"reply too large: more than {max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        await response.aclose()


def chat_reply(content: bytes) -> dict:
    """The parsed body of a chat completion with at least one well-formed choice."""
    try:
        data = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise MalformedReply(f"reply is not JSON: {err}: {content[:120]!r}") from None
    except RecursionError:
        raise MalformedReply("reply is not JSON: nested too deep") from None
    if not isinstance(data, dict):
        raise MalformedReply(f"reply is not a JSON object: {str(data)[:120]}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise MalformedReply(f"reply has no choices: {str(data)[:160]}")
    for choice in choices:
        if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
            raise MalformedReply(f"reply has a malformed choice: {str(choice)[:160]}")
        text = choice["message"].get("content")
        if text is not None and not isinstance(text, str):
            raise MalformedReply(f"reply content is not text: {str(text)[:120]}")
    usage = data.get("usage")
    if usage is not None and not isinstance(usage, dict):
        data["usage"] = None
    elif usage:
        data["usage"] = {k: v for k, v in usage.items()
                         if not k.endswith("_tokens") or (isinstance(v, int) and v >= 0)}
    return data
