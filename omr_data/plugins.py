"""Functions named in a config as 'module:function' (filter's `scorer`, distill's
`adaptive_check`): how a stage takes a user's or another package's code without importing it.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from collections.abc import Callable

from omr_data.stage import ConfigError


def load_function(spec: str, field: str) -> tuple[Callable, str]:
    """The function `spec` names, and an identity for cache keys: the spec plus a hash of
    its module's source, so editing the function redoes the work that depends on it."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"{field} {spec!r}: expected 'module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(f"{field} {spec!r}: cannot import {module_name!r} ({err}); put the "
                          "module on PYTHONPATH") from None
    function = getattr(module, attr, None)
    if not callable(function):
        raise ConfigError(f"{field} {spec!r}: {module_name} has no function {attr!r}")
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError):
        source = ""
    digest = hashlib.sha256(source.encode()).hexdigest()[:12] if source else "unknown"
    return function, f"{spec}@{digest}"
