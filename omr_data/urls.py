"""URLs as they may be shown: credentials masked (user:password@, ?api_key=…).

Every message, log line or record that names a server goes through `mask_url`, so a key
given in `--base-url` never reaches stderr, a manifest or a journal.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
_SECRET_KEY = re.compile(r"key|token|secret|pass|auth|sig|credential|session", re.I)


def mask_url(url: str) -> str:
    """`url` with the userinfo and secret-looking query values replaced by `***`."""
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if _SECRET_KEY.search(k) else v) for k, v in pairs],
                          safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
