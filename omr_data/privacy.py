"""What may leave this machine: credentials masked in anything printed or stored, and
machine-specific values (absolute paths, private endpoints) kept out of published files.

Two helpers, used everywhere a URL or a config is shown or written:

- `mask_secrets(value)`: for logs, errors, manifests and journals. URLs keep their host
  (so an operator can tell which server failed) but lose `user:pass@` and the values of
  query parameters that carry credentials (`?api_key=`, `token=`, `sig=` …); config keys
  that name a secret (`api_key`, `token`, `password` …) have their value replaced.
- `public_value(value)`: for what is published (card, provenance). On top of masking, a
  URL becomes `<endpoint>` (a server of this run means nothing to a reader and names the
  network), an absolute path becomes its last part (it names someone's machine), and
  keys that say where local things live (journal, caches, image root) become `<local>`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

MASK = "***"
ENDPOINT = "<endpoint>"
LOCAL = "<local>"

# scheme://[userinfo@]host... up to whitespace or a quote/bracket
_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)([^\s\"'<>()\[\]{}]+)")
_SECRET_PARAM = re.compile(
    r"([?&;](?:[\w.-]*(?:key|token|secret|pass|pwd|auth|sig|credential|session)"
    r"[\w.-]*)=)([^&#;\s\"']*)", re.IGNORECASE)
# whole name parts only: `hf_token` and `judge_api_key_env` are masked, `max_tokens` and
# `tokenizer` are not
_SECRET_KEY = re.compile(r"(^|[_.-])(api_?key|token|secret|password|passwd|authorization|"
                         r"credentials?)([_.-]|$)", re.I)
# config keys naming where things live on this machine (journals, caches, image roots):
# a published card says that one was set, not where
_LOCAL_KEY = re.compile(r"(^|[_.-])(journal|cache|cache_dir|cache_path|image_root|root|workdir|"
                        r"log_path|tmp_dir)$", re.I)
# Public sites a card may link to on purpose (sources, licenses, papers).
_PUBLIC_HOSTS = re.compile(r"^(?:[\w-]+\.)*(?:huggingface\.co|hf\.co|github\.com|arxiv\.org|"
                           r"doi\.org|creativecommons\.org|opensource\.org|apache\.org|"
                           r"spdx\.org|openai\.com|qwenlm\.github\.io)$", re.IGNORECASE)
# an absolute POSIX path inside free text: "/x/y" not preceded by a word, ':' or '/'
_ABS_PATH = re.compile(r"(?<![\w:/.~-])/(?:[\w.@+-]+/)+[\w.@+-]*")


def mask_url(text: str) -> str:
    """`text` with every URL's credentials masked: `http://u:p@h/v1?api_key=k` →
    `http://***@h/v1?api_key=***`. Other text is left as it is."""
    if not isinstance(text, str) or "://" not in text:
        return text

    def one(match: re.Match) -> str:
        scheme, rest = match.group(1), match.group(2)
        authority, sep, tail = rest.partition("/")
        if "@" in authority:
            authority = f"{MASK}@{authority.rsplit('@', 1)[1]}"
        rest = authority + sep + tail
        return scheme + _SECRET_PARAM.sub(lambda m: m.group(1) + MASK, rest)

    return _URL.sub(one, text)


def mask_secrets(value: Any) -> Any:
    """A config, message or list with credentials masked (see the module doc)."""
    if isinstance(value, Mapping):
        return {k: (MASK if _SECRET_KEY.search(str(k)) and v else mask_secrets(v))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_secrets(v) for v in value]
    if isinstance(value, str):
        return mask_url(value)
    return value


def public_value(value: Any) -> Any:
    """What a published file may say about `value`: secrets masked, private endpoints
    replaced by `<endpoint>`, absolute paths cut to their last part."""
    value = mask_secrets(value)
    if isinstance(value, Mapping):
        return {k: (LOCAL if _LOCAL_KEY.search(str(k)) and isinstance(v, str) and v
                    else public_value(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [public_value(v) for v in value]
    if isinstance(value, str):
        return public_text(value)
    return value


def public_text(text: str) -> str:
    text = _URL.sub(_public_url, mask_url(text))
    if text.startswith("~") or (text.startswith("/") and not any(c.isspace() for c in text)):
        return PurePath(text).name or text
    return _ABS_PATH.sub(lambda m: PurePath(m.group(0)).name or "/", text)


def _public_url(match: re.Match) -> str:
    scheme, rest = match.group(1), match.group(2)
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1].split(":", 1)[0]
    if scheme.lower() in ("http://", "https://") and _PUBLIC_HOSTS.match(host):
        return match.group(0)
    return ENDPOINT


def public_image_path(path: str | None) -> str | None:
    """An image's `path` as published: relative paths inside their root stay (they name the
    file in its source), anything else is cut to the file name."""
    if not path:
        return None
    pure = PurePath(str(path))
    if pure.is_absolute() or ".." in pure.parts or str(path).startswith("~") or "://" in path:
        return pure.name or None
    return str(path)


class MaskingFilter(logging.Filter):
    """A logging filter that masks URL credentials in every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_url(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def mask_logs() -> None:
    """Mask URL credentials in what the root logger's handlers (and Python's last-resort
    handler) print: libraries log request URLs."""
    for handler in (logging.lastResort, *logging.getLogger().handlers):
        if handler is not None and not any(isinstance(f, MaskingFilter)
                                           for f in handler.filters):
            handler.addFilter(MaskingFilter())


def is_local_path(text: str) -> bool:
    """Does `text` look like a path on this machine (rather than a Hub id or a name)?"""
    return text.startswith(("/", "./", "../", "~")) or PurePath(text).is_absolute()


__all__ = ["ENDPOINT", "LOCAL", "MASK", "MaskingFilter", "is_local_path", "mask_logs",
           "mask_secrets", "mask_url", "public_image_path", "public_text", "public_value"]
