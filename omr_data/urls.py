"""URLs as they may be shown: credentials masked (user:password@, ?api_key=…).

Every message, log line or record that names a server goes through `mask_url`, so a key
given in `--base-url` never reaches stderr, a manifest or a journal. The one
implementation lives in `omr_data.privacy` (with what may be published); this name stays
for the clients that import it from here.
"""

from __future__ import annotations

from omr_data.privacy import MASK, mask_url

__all__ = ["MASK", "mask_url"]
