"""Argument parsing for the trainer scripts: one dataclass, TrlParser-like precedence.

    defaults  <  --tiny preset  <  --config YAML  <  CLI flags

Each dataclass field is one flag (`--max-steps` or `--max_steps`); its help is the field's
`metadata["help"]`, its choices `metadata["choices"]`. Unknown YAML keys fail, naming the
valid ones. Extra TRL config fields go through `trl:` (a YAML mapping) or `--trl KEY=VALUE`;
`main()` checks them against the TRL config class. Only the standard library and PyYAML
are imported here, so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class ArgsError(ValueError):
    """A bad flag, YAML key or value; the message says what to do."""


def _base_type(annotation: Any) -> tuple[type, bool]:
    """(scalar type, optional?) for `int`, `float | None`, `str`, `bool`, `dict`…"""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _base_type(args[0])[0], True
    if origin is not None:
        return origin, False
    return annotation, False


def _convert(value: Any, kind: type, name: str, optional: bool) -> Any:
    if value is None or (optional and isinstance(value, str) and value.lower() in ("none", "null")):
        if not optional:
            raise ArgsError(f"{name} may not be empty")
        return None
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("1", "true", "yes", "on"):
                return True
            if str(value).lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        if kind in (int, float, str):
            return kind(value)
    except (TypeError, ValueError):
        raise ArgsError(f"{name}: expected {kind.__name__}, got {value!r}") from None
    return value


def _fields(cls) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if f.init]


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def make_parser(cls, *, prog: str | None = None, description: str = "") -> argparse.ArgumentParser:
    """An argparse parser with one flag per field of `cls`; defaults shown, not applied."""
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", metavar="YAML",
                        help="YAML file of field: value (the flags' names); flags win over it")
    hints = typing.get_type_hints(cls)
    for f in _fields(cls):
        kind, optional = _base_type(hints[f.name])
        flags = [f"--{f.name.replace('_', '-')}"]
        if "_" in f.name:
            flags.append(f"--{f.name}")
        flags += list(f.metadata.get("aliases", ()))
        help_text = f.metadata.get("help", "")
        default = _default(f)
        shown = "from --algo" if default is None and f.metadata.get("from_algo") else default
        help_text = f"{help_text} (default: {shown})".replace("%", "%%")
        if f.name == "trl":
            parser.add_argument(*flags, action="append", metavar="KEY=VALUE", help=help_text,
                                default=argparse.SUPPRESS)
        elif kind is bool:
            parser.add_argument(*flags, action=argparse.BooleanOptionalAction, help=help_text,
                                default=argparse.SUPPRESS)
        else:
            parser.add_argument(*flags, metavar=f.name.upper(), help=help_text,
                                choices=f.metadata.get("choices"), default=argparse.SUPPRESS)
    return parser


def _trl_pairs(items: Sequence[str]) -> dict:
    import yaml

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ArgsError(f"--trl takes KEY=VALUE (e.g. --trl save_total_limit=2), got {item!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


def read_yaml(path: str | Path, cls) -> dict:
    """The YAML config as field values; unknown keys fail."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError:
        raise ArgsError(f"--config {path}: no such file") from None
    if not isinstance(data, dict):
        raise ArgsError(f"--config {path}: expected a mapping of field: value")
    names = {f.name for f in _fields(cls)}
    out = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in names:
            raise ArgsError(f"--config {path}: unknown key {key!r}; valid keys: "
                            f"{', '.join(sorted(names))} (TRL config fields go under 'trl:')")
        out[name] = value
    if "trl" in out and not isinstance(out["trl"], dict):
        raise ArgsError(f"--config {path}: 'trl' must be a mapping of TRL config field: value")
    return out


def parse_args(cls, argv: Sequence[str] | None = None, *, prog: str | None = None,
               description: str = ""):
    """Build `cls` from defaults < its TINY preset (with --tiny) < --config < flags."""
    parser = make_parser(cls, prog=prog, description=description)
    ns = vars(parser.parse_args(sys.argv[1:] if argv is None else list(argv)))
    config = ns.pop("config", None)
    explicit = read_yaml(config, cls) if config else {}
    if "trl" in ns:
        ns["trl"] = {**explicit.get("trl", {}), **_trl_pairs(ns["trl"])}
    explicit.update(ns)
    hints = typing.get_type_hints(cls)
    values = {f.name: _default(f) for f in _fields(cls)}
    tiny = explicit.get("tiny", values.get("tiny"))
    if _convert(tiny, bool, "tiny", True):
        values.update(getattr(cls, "TINY", {}))
    values.update(explicit)
    kwargs = {}
    for f in _fields(cls):
        kind, optional = _base_type(hints[f.name])
        value = values[f.name]
        if kind is dict:
            kwargs[f.name] = dict(value or {})
            continue
        value = _convert(value, kind, f.name, optional or value is None)
        choices = f.metadata.get("choices")
        if choices and value is not None and value not in choices:
            raise ArgsError(f"{f.name}: {value!r} is not one of {', '.join(map(str, choices))}")
        kwargs[f.name] = value
    try:
        return cls(**kwargs)
    except ArgsError:
        raise
    except ValueError as err:
        raise ArgsError(str(err)) from None


def trl_config(config_cls, values: dict, extra: dict, *, what: str = "--trl"):
    """`config_cls(**values, **extra)`; an unknown `extra` key fails, naming close matches."""
    import difflib

    names = {f.name for f in dataclasses.fields(config_cls) if f.init}
    for key in extra:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ArgsError(f"{what}: {config_cls.__name__} has no field {key!r}{hint}")
    return config_cls(**{**values, **extra})
