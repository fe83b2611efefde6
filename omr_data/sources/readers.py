"""Raw rows from source files: JSONL, JSON arrays, single JSON objects, Parquet, Arrow, or a
Hub dataset id — all streamed, so a 1.6M-element JSON array or a 3 GB Parquet file is read in
bounded memory.

A line or element that does not parse (bad JSON, nesting deeper than the parser recurses)
becomes a `RawRow` with `error` set (the adapter turns it into a reject) and reading goes on
with the next one: in a JSON array a bad element is skipped by its brackets, so the rows
after it survive. A file that cannot be opened or read at all raises `SourceFileError`
naming it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from omr_data.sources.errors import SourceFileError

DATA_SUFFIXES = (".jsonl", ".json", ".parquet", ".arrow")
PARQUET_BATCH_ROWS = 64          # rows per Arrow batch: bounded memory with large images
JSON_CHUNK = 4 << 20

# Split names recognised in file and folder names ("train-00000-of-00002.parquet",
# "tqa_v1_train.json", "data/test/…").
SPLIT_NAMES = ("train", "test", "testmini", "validation", "val", "dev", "standard", "pro")
_TRAILING_SPLITS = ("train", "test", "testmini", "validation", "val", "dev")
_HF_SHARD = re.compile(r"^(?P<split>[A-Za-z0-9_]+?)-(?P<shard>\d{5})-of-(?P<n>\d{5})")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(?::[\w. ()-]+)?$")


@dataclass
class RawRow:
    index: int                   # 0-based position in the file (line number - 1 for JSONL)
    data: Any = None             # the parsed row
    error: str | None = None     # why it could not be parsed ("line 3: Expecting value")
    raw: str | None = None       # the unparsed text, for the reject


def iter_raw_rows(path: str | os.PathLike, *, split: str | None = None) -> Iterator[RawRow]:
    """Every row of one file (or Hub dataset id), in order."""
    text = str(path)
    if not os.path.exists(text):
        if is_hub_id(text):
            yield from _iter_hub(text, split)
            return
        raise SourceFileError(f"{text}: no such file (and not a Hub dataset id 'org/name')")
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            yield from _iter_parquet(path)
        elif suffix == ".arrow":
            yield from _iter_arrow(path)
        elif suffix == ".jsonl":
            yield from _iter_jsonl(path)
        elif suffix == ".json":
            yield from _iter_json(path)
        else:
            raise SourceFileError(
                f"{path}: unsupported file type {suffix or '(none)'!r}; "
                f"expected one of {', '.join(DATA_SUFFIXES)}")
    except SourceFileError:
        raise
    except (OSError, UnicodeDecodeError) as err:
        raise SourceFileError(f"{path}: cannot read: {err}") from None
    except Exception as err:  # pyarrow raises ArrowInvalid etc. for corrupt files
        if type(err).__module__.startswith("pyarrow"):
            raise SourceFileError(f"{path}: cannot read: {err}") from None
        raise


def is_hub_id(text: str) -> bool:
    """`org/name` that cannot be a local path: not `./x`, `/abs/x` or `~/x`, no data-file
    suffix, and `org` is not a folder here (`src/nope` is a missing file, not a Hub id:
    asking the Hub would cost half a minute of retries before the same error)."""
    if not _HUB_ID.match(text) or text.startswith((".", "/", "~")):
        return False
    name = text.split(":", 1)[0]
    if name.lower().endswith(DATA_SUFFIXES):
        return False
    return not os.path.isdir(name.split("/", 1)[0])


def _iter_jsonl(path: Path) -> Iterator[RawRow]:
    with open(path, "rb") as fh:
        for index, line in enumerate(fh):
            if not line.strip():
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as err:
                yield RawRow(index, error=f"line {index + 1}: not UTF-8 ({err.reason})",
                             raw=line.decode("utf-8", errors="replace").rstrip("\n"))
                continue
            try:
                yield RawRow(index, data=json.loads(text))
            except json.JSONDecodeError as err:
                yield RawRow(index, error=f"line {index + 1}: {err.msg} (column {err.colno})",
                             raw=text.rstrip("\n"))
            except RecursionError:
                yield RawRow(index, error=f"line {index + 1}: nested too deep",
                             raw=text[:2000].rstrip("\n"))


def _iter_json(path: Path) -> Iterator[RawRow]:
    """A `.json` file: a JSON array (streamed), JSON lines despite the name (PuzzleVQA's
    GitHub files), or one object."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    first = head.lstrip()[:1]
    if first == b"[":
        yield from _iter_json_array(path)
        return
    if first == b"{":
        line = head.lstrip().split(b"\n", 1)[0]
        try:
            json.loads(line)
            is_lines = True
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            is_lines = False
        if not is_lines:
            try:
                with open(path, encoding="utf-8") as fh:
                    yield RawRow(0, data=json.load(fh))
                return
            except (json.JSONDecodeError, RecursionError):
                pass  # broken object or lines with a broken first line: read per line
        yield from _iter_jsonl(path)
        return
    if not first:
        return
    raise SourceFileError(f"{path}: not JSON (starts with {head.lstrip()[:20]!r})")


def _iter_json_array(path: Path) -> Iterator[RawRow]:
    """Elements of a top-level JSON array, decoded one at a time from a growing buffer."""
    decoder = json.JSONDecoder()
    with open(path, encoding="utf-8") as fh:
        buf, pos, eof = "", 0, False

        def fill() -> None:
            nonlocal buf, pos, eof
            chunk = fh.read(max(JSON_CHUNK, len(buf) - pos))
            eof = not chunk
            buf, pos = buf[pos:] + chunk, 0

        def next_char() -> str:
            nonlocal pos
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n":
                    pos += 1
                if pos < len(buf) or eof:
                    return buf[pos] if pos < len(buf) else ""
                fill()

        fill()
        if next_char() != "[":
            raise SourceFileError(f"{path}: expected a JSON array")
        pos += 1
        index = 0
        if next_char() == "]":
            return
        while True:
            if not next_char():
                yield RawRow(index, error=f"element {index}: file ends inside the array")
                return
            bad = None
            while True:
                try:
                    value, end = decoder.raw_decode(buf, pos)
                    if end < len(buf) or eof:
                        break
                except json.JSONDecodeError as err:
                    if eof or not _truncated(err, buf):
                        bad = err.msg
                        break
                except RecursionError:
                    bad = "nested too deep"
                    break
                fill()
            if bad is not None:
                # Lose only this element: skip to its end by brackets and strings, go on.
                while (end := _element_end(buf, pos)) is None and not eof:
                    fill()
                if end is None:
                    yield RawRow(index, error=f"element {index}: {bad}; the file ends inside "
                                 "it", raw=buf[pos:pos + 2000])
                    return
                yield RawRow(index, error=f"element {index}: {bad}", raw=buf[pos:end][:2000])
            else:
                yield RawRow(index, data=value)
            index += 1
            pos = end
            sep = next_char()
            if sep == ",":
                pos += 1
            elif sep == "]":
                return
            else:
                yield RawRow(index, error=f"element {index}: expected ',' or ']' after element "
                             f"{index - 1}, got {sep!r}; the rest of the file cannot be read",
                             raw=buf[pos:pos + 2000])
                return


def _element_end(buf: str, pos: int) -> int | None:
    """Where the array element starting at `pos` ends (the index of the `,` or `]` after
    it, outside strings and brackets); None when the buffer ends first."""
    depth, in_string, escaped = 0, False, False
    for i in range(pos, len(buf)):
        ch = buf[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            if depth == 0:
                return i
            depth -= 1
        elif ch == "," and depth == 0:
            return i
    return None


def _truncated(err: json.JSONDecodeError, buf: str) -> bool:
    """Whether a decode error may just be the buffer ending mid-element (read more), rather
    than bad JSON (stop now, without reading the rest of a huge file into memory)."""
    return err.pos >= len(buf) - 2 or err.msg.startswith("Unterminated string")


def _iter_parquet(path: Path) -> Iterator[RawRow]:

    index = 0
    parquet = pq.ParquetFile(path)
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        for row in batch.to_pylist():
            yield RawRow(index, data=row)
            index += 1


def _iter_arrow(path: Path) -> Iterator[RawRow]:
    """Arrow IPC files as `datasets.save_to_disk` writes them (stream format) or file format."""

    with pa.memory_map(str(path)) as source:
        try:
            reader = pa.ipc.open_stream(source)
        except pa.ArrowInvalid:
            source.seek(0)
            file_reader = pa.ipc.open_file(source)
            batches = (file_reader.get_batch(i) for i in range(file_reader.num_record_batches))
        else:
            batches = iter(reader)
        index = 0
        for batch in batches:
            for offset in range(0, batch.num_rows, PARQUET_BATCH_ROWS):
                for row in batch.slice(offset, PARQUET_BATCH_ROWS).to_pylist():
                    yield RawRow(index, data=row)
                    index += 1


def _iter_hub(name: str, split: str | None) -> Iterator[RawRow]:
    """A Hub dataset id (`org/name` or `org/name:config`), streamed with `datasets`; images
    stay undecoded ({bytes, path}) so they pass through unchanged."""
    try:
        from datasets import load_dataset

        repo, _, config = name.partition(":")
        dataset = load_dataset(repo, config or None, split=split or "train", streaming=True)
        if hasattr(dataset, "decode"):
            dataset = dataset.decode(False)
    except Exception as err:
        raise SourceFileError(f"{name}: cannot load from the Hub: {err}") from None
    for index, row in enumerate(dataset):
        yield RawRow(index, data=row)


# ---------------------------------------------------------------------------------------
# Folders and splits


def file_split(path: Path, root: Path | None = None) -> str | None:
    """The split a data file belongs to, from its name or its folders (None if unmarked)."""
    name = path.name.lower()
    shard = _HF_SHARD.match(name)
    if shard and shard.group("split") in SPLIT_NAMES:
        return shard.group("split")
    tokens = [t for t in re.split(r"[-_.]", path.stem.lower()) if t]
    if tokens and tokens[0] in SPLIT_NAMES:
        return tokens[0]
    if tokens and tokens[-1] in _TRAILING_SPLITS:
        return tokens[-1]
    parents = path.parent.relative_to(root).parts if root is not None else path.parent.parts[-1:]
    for part in reversed(parents):
        if part.lower() in SPLIT_NAMES:
            return part.lower()
    return None


def file_key(path: str | os.PathLike) -> str:
    """A short, stable name for a file, used in row-index ids: `train` for a single HF shard
    `train-00000-of-00001-….parquet`, `train-00003` for one of several, else the stem."""
    name = Path(path).name
    shard = _HF_SHARD.match(name)
    if shard:
        if shard.group("n") == "00001":
            return shard.group("split")
        return f"{shard.group('split')}-{shard.group('shard')}"
    return Path(path).stem if os.path.exists(str(path)) else str(path).replace("/", "_")


def earlier_siblings(path: str | os.PathLike) -> list[Path]:
    """Data files read before `path` when its folder is read as one input: same folder,
    same suffix, same split, names sorting first (HF shards `train-00000-of-00003` …)."""
    path = Path(path)
    if not path.is_file():
        return []
    split = file_split(path)
    return sorted(p for p in path.parent.iterdir()
                  if p.is_file() and p.name < path.name and not p.name.startswith(".")
                  and p.suffix.lower() == path.suffix.lower() and file_split(p) == split)


def column_values(path: str | os.PathLike, columns: tuple[str, ...]) -> Iterator[tuple]:
    """`columns` of every row of a data file (Parquet reads only those columns)."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":

        handle = pq.ParquetFile(path)
        present = [c for c in columns if c in handle.schema_arrow.names]
        for batch in handle.iter_batches(columns=present, batch_size=65536):
            data = batch.to_pydict()
            for i in range(batch.num_rows):
                yield tuple(data[c][i] if c in data else None for c in columns)
        return
    for raw in iter_raw_rows(path):
        if raw.error is None and isinstance(raw.data, dict):
            yield tuple(raw.data.get(c) for c in columns)


def _has_data_files(folder: Path) -> bool:
    return folder.is_dir() and any(p.suffix.lower() in DATA_SUFFIXES
                                   for p in folder.rglob("*") if p.is_file())


def readme_configs(root: Path) -> list[dict]:
    """The `configs:` entries of a downloaded dataset's README.md YAML (empty without)."""
    readme = root / "README.md"
    if not readme.is_file():
        return []

    text = readme.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        return []
    try:
        front = yaml.safe_load(text.split("---", 2)[1]) or {}
    except yaml.YAMLError as err:
        raise SourceFileError(f"{readme}: unreadable YAML front matter ({err})") from None
    configs = front.get("configs") if isinstance(front, dict) else None
    return [c for c in configs or [] if isinstance(c, dict)]


def readme_data_files(root: Path, wanted: str | None, *, explicit: bool) -> list[Path] | None:
    """The split's data files as `datasets` resolves them from README `configs:` (every
    config's, in order; each `data_files` entry a glob or a list of them); None without
    configs. A split the README does not declare is an error naming those it does, unless
    the split was only the adapter's default and the README declares exactly one."""
    configs = readme_configs(root)
    if not configs:
        return None
    by_split: dict[str, list[Path]] = {}
    for config in configs:
        entries = config.get("data_files") or []
        if isinstance(entries, (str, dict)):
            entries = [entries]
        for entry in entries:
            name, patterns = ("train", entry) if isinstance(entry, str) else \
                (str(entry.get("split", "train")), entry.get("path"))
            for pattern in patterns if isinstance(patterns, list) else [patterns]:
                if not pattern:
                    continue
                found = sorted(p for p in root.glob(str(pattern))
                               if p.is_file() and p.suffix.lower() in DATA_SUFFIXES)
                bucket = by_split.setdefault(name.lower(), [])
                bucket.extend(p for p in found if p not in bucket)
    if not by_split:
        return None
    if wanted is None:
        return [p for files in by_split.values() for p in files]
    if wanted.lower() in by_split:
        chosen = by_split[wanted.lower()]
    elif not explicit and len(by_split) == 1:
        chosen = next(iter(by_split.values()))
    else:
        raise SourceFileError(f"{root}: README.md declares no split {wanted!r}; it declares "
                              f"{', '.join(sorted(by_split))} (pick one with --split)")
    if not chosen:
        raise SourceFileError(f"{root}: README.md's data_files for split {wanted!r} match no "
                              "file (an incomplete download?)")
    return chosen


def discover_files(input_path: str | os.PathLike, split: str | None,
                   default_split: str | None) -> list[Path]:
    """Data files of a folder that belong to `split` (or the adapter's default split), as
    `datasets` would pick them: the README's `configs:` data_files when it has them, else
    the `data/` folder when there is one, else every data file of the folder.

    Files whose name or folder names no split are always included; when files are marked
    and none is of the wanted split, the error lists the splits that exist."""
    root = Path(input_path)
    if root.is_file():
        return [root]
    if not root.is_dir():
        if is_hub_id(str(input_path)):
            return [Path(str(input_path))]
        raise SourceFileError(f"{root}: no such file or folder")
    wanted = split or default_split
    declared = readme_data_files(root, wanted, explicit=split is not None)
    if declared is not None:
        return declared
    # Without README configs, `datasets` reads a `data/` folder when there is one, and
    # nothing beside it (e.g. We-Math2.0-Standard's top-level mathbook_standard.parquet).
    base = root / "data" if _has_data_files(root / "data") else root
    files = sorted(p for p in base.rglob("*")
                   if p.is_file() and p.suffix.lower() in DATA_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if wanted is None:
        return files
    marked = {p: file_split(p, root) for p in files}
    chosen = [p for p in files if marked[p] in (None, wanted.lower())]
    if files and not chosen:
        found = sorted({s for s in marked.values() if s})
        raise SourceFileError(f"{root}: no data files for split {wanted!r}; "
                              f"found split(s): {', '.join(found)} (pick one with --split)")
    return chosen
