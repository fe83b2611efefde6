"""A stage's config dataclass is its whole interface: YAML keys, flags, `--help`, cache key.

Each field is a recipe key (`min_response_tokens`) and a flag (`--min-response-tokens`):
CLI verbs and flags use hyphens, YAML and Python use underscores. A list field is a
repeatable flag, named in the singular too (`--base-url A --base-url B` for `base_urls`);
a bool field is `--x/--no-x`; a dict field takes JSON; a Literal gives choices. The
field's metadata says the rest (`option()` writes it):

- ``help``: the flag's help text (the default is appended);
- ``operational``: the field changes how or where the work runs (endpoints, keys,
  concurrency, caches, progress), never the output; left out of the stage's cache key;
- ``metavar``; ``aliases``: more flags for the field, each also a key (``--min-tokens``,
  ``min_tokens``); ``false_flags``: flags that set a bool field to false (verify's
  ``--relaxed`` is ``--no-strict``); ``flag``: the
  flag's name when ``--field-name`` would clash with a flag every verb has (verify's
  ``workers`` is ``--math-workers``: ``--workers`` counts stage worker processes);
- ``renamed_from``: former names; a YAML key or a flag using one fails naming the new one;
- ``cli``: ``"positional"`` when the verb's positional arguments set it (mix's weights,
  from ``IN:weight``), ``"internal"`` when only code sets it (an executor); no flag then.

Flags default to None: only what a user gives overrides the config's (or preset's) default.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from collections.abc import Iterator
from typing import Any

DEST_PREFIX = "config."


def option(default: Any = dataclasses.MISSING, *, help: str, operational: bool = False,
           default_factory: Any = dataclasses.MISSING, **metadata: Any) -> Any:
    """A config field with its help text and flags (see the module docstring)."""
    metadata = {"help": help, **metadata}
    if operational:
        metadata["operational"] = True
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata=metadata)


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def operational_fields(cls: type) -> tuple[str, ...]:
    """Fields marked operational: they never change a stage's output (not in its cache key)."""
    if not dataclasses.is_dataclass(cls):
        return ()
    return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("operational"))


def renamed_keys(cls: type) -> dict[str, str]:
    """Former field name -> current name."""
    if not dataclasses.is_dataclass(cls):
        return {}
    return {old: f.name for f in dataclasses.fields(cls)
            for old in f.metadata.get("renamed_from", ())}


def alias_keys(cls: type) -> dict[str, str]:
    """Alias key -> field name: a flag alias (`--min-tokens`) works as a key (`min_tokens`)."""
    if not dataclasses.is_dataclass(cls):
        return {}
    return {alias[2:].replace("-", "_"): f.name for f in dataclasses.fields(cls)
            for alias in f.metadata.get("aliases", ())}


def flag_fields(cls: type) -> Iterator[dataclasses.Field]:
    """The fields that get a flag (not positional, not internal)."""
    if dataclasses.is_dataclass(cls):
        for f in dataclasses.fields(cls):
            if f.metadata.get("cli") not in ("positional", "internal"):
                yield f


def field_flags(f: dataclasses.Field) -> list[str]:
    """The option strings of a field: its own flag first, then its aliases."""
    return [f.metadata.get("flag") or flag_name(f.name), *f.metadata.get("aliases", ())]


def add_config_flags(parser: argparse.ArgumentParser, cls: type) -> None:
    """One flag per config field (see the module docstring); read back with `given_config`."""
    hints = typing.get_type_hints(cls)
    group = parser.add_argument_group(
        "stage options", "each is also a recipe config key (with underscores)")
    for f in flag_fields(cls):
        hint = _strip_optional(hints.get(f.name, str))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        kwargs: dict[str, Any] = {"dest": DEST_PREFIX + f.name, "default": None,
                                  "help": _help(f)}
        if "metavar" in f.metadata:
            kwargs["metavar"] = f.metadata["metavar"]
        if hint is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
            kwargs.pop("metavar", None)
        elif origin is typing.Literal:
            kwargs["choices"] = list(args)
        elif origin in (list, tuple):
            kwargs["action"] = "append"
            kwargs["type"] = _scalar(args[0] if args else str)
            kwargs.setdefault("metavar", _singular(f.name).upper())
            kwargs["help"] += " (repeatable)"
        elif origin is dict or hint is dict:
            kwargs["type"] = _json_object
            kwargs.setdefault("metavar", "JSON")
        else:
            kwargs["type"] = _scalar(hint)
            kwargs.setdefault("metavar", {int: "N", float: "X"}.get(hint, f.name.upper()))
        flags = field_flags(f)
        if kwargs.get("action") == "append" and _singular(f.name) != f.name:
            flags.insert(0, flag_name(_singular(f.name)))   # --base-url URL --base-url URL
        group.add_argument(*flags, **kwargs)
        for false_flag in f.metadata.get("false_flags", ()):
            group.add_argument(false_flag, dest=kwargs["dest"], action="store_const",
                               const=False, default=None, help=f"same as --no-{flags[0][2:]}")
        aliases = set(f.metadata.get("aliases", ()))
        for old in f.metadata.get("renamed_from", ()):
            if flag_name(old) not in aliases:
                add_renamed_flag(group, flag_name(old), field_flags(f)[0])


def add_renamed_flag(parser: Any, old: str, new: str) -> None:
    """A hidden former flag that fails with one line: '{old} is now {new}'."""
    parser.add_argument(old, nargs="?", help=argparse.SUPPRESS, action=_Renamed, new=new)


def given_config(args: argparse.Namespace) -> dict:
    """The config keys whose flags were given (None: not given)."""
    return {dest[len(DEST_PREFIX):]: value for dest, value in vars(args).items()
            if dest.startswith(DEST_PREFIX) and value is not None}


class _Renamed(argparse.Action):
    """A former flag: fail with one line naming the new one."""

    def __init__(self, option_strings, dest, new: str, **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.new = new

    def __call__(self, parser, namespace, values, option_string=None):
        parser.exit(2, f"{parser.prog}: error: {option_string} is now {self.new}\n")


def _help(f: dataclasses.Field) -> str:
    text = f.metadata.get("help", "")
    if f.default is not dataclasses.MISSING:
        default = f.default
    elif f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    else:
        default = None
    if default not in (None, "", [], {}) and "default" not in text:
        text += f" (default: {default})"
    return text.replace("%", "%%")


def _strip_optional(hint: Any) -> Any:
    args = typing.get_args(hint)
    if type(None) in args and typing.get_origin(hint) is not typing.Literal:
        rest = [a for a in args if a is not type(None)]
        return rest[0] if len(rest) == 1 else str
    return hint


def _scalar(hint: Any) -> Any:
    return hint if hint in (int, float, str) else str


def _singular(name: str) -> str:
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not JSON ({err}): give an object like "
                                         "'{\"key\": 1}'") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value
