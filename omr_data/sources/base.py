"""The adapter interface and what every adapter shares.

An adapter reads one file (or Hub dataset id) of one public source and yields records, or
rejects with a reason for rows it cannot use. Subclasses write `convert(row, index, ctx)`,
which yields records for one parsed row (several for a multi-turn conversation or a TQA
lesson) or raises `RowError`. The base class does the bookkeeping: malformed lines, rows of
the wrong shape and any `RowError`/`RecordError` become rejects carrying the raw row (image
bytes replaced by their size), so one bad row never stops a file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from omr_data.images import DEFAULT_MAX_PIXELS
from omr_data.records import RecordError, make_record, make_reject
from omr_data.sources.answers import Answer, normalize_answer
from omr_data.sources.errors import RowError
from omr_data.sources.images import ImageLoader
from omr_data.sources.options import parse_options
from omr_data.sources.readers import discover_files, file_key, file_split, iter_raw_rows
from omr_data.sources.text import clean_question, count_placeholders
from omr_data.sources.traces import unified


@dataclass
class ReadContext:
    """What `convert` knows about the file being read."""

    source: str
    path: str
    split: str | None          # the split asked for, else the one the file name says
    key: str                   # short file name for row-index ids (`train`, `sft`, …)
    images: ImageLoader
    state: dict = field(default_factory=dict)   # per-file adapter state (e.g. id counts)

    def row_id(self, index: int) -> str:
        """The fallback id (docs/sources.md §0): `{split}-{row_index}` (the file's key
        stands for the split)."""
        return f"{self.key}-{index}"


class Adapter:
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: the split a folder input is read as when no --split is given (None: every file)
    default_split: ClassVar[str | None] = "train"
    #: the source writes multiple-choice answers as letters (not option text)
    answers_are_letters: ClassVar[bool] = False

    def discover(self, input_path: str | os.PathLike, split: str | None = None) -> list[Path]:
        """The data files of `input_path` (a file, folder or Hub id) that belong to `split`."""
        return discover_files(input_path, split, self.default_split)

    def read(self, path: str | os.PathLike, *, image_root: str | os.PathLike | None = None,
             split: str | None = None,
             max_image_pixels: int | None = DEFAULT_MAX_PIXELS) -> Iterator[dict]:
        """Records and rejects for every row of one file (or Hub dataset id); images above
        `max_image_pixels` are downscaled to fit."""
        text = str(path)
        local = os.path.exists(text)
        folder = Path(text).parent if local else None
        ctx = ReadContext(
            source=self.name, path=text,
            split=split or (file_split(Path(text)) if local else None),
            key=file_key(text) if local else (split or "train"),
            # Relative image paths resolve against the image root, then the file's folder.
            images=ImageLoader([image_root, folder] if image_root is not None else [folder],
                               max_pixels=max_image_pixels))
        seen: set[int] = set()   # hashes of the record ids so far (small for 1M+ rows)
        for raw in iter_raw_rows(path, split=split):
            if raw.error is not None:
                yield make_reject(f"malformed JSON: {raw.error}", raw=raw.raw, source=self.name)
                continue
            for row in self._convert_row(raw.data, raw.index, ctx):
                rid = row.get("id")
                if rid is not None and not row.get("reason"):
                    if hash(rid) in seen:
                        # later rows with a seen id would merge with the first downstream
                        # (journal keys, pass rates): keep the first, reject the rest
                        row = make_reject(f"duplicate id: {rid} (an earlier row has it)",
                                          raw=raw.data, **{k: row.get(k) for k in
                                                           ("id", "source", "question",
                                                            "answer")})
                    else:
                        seen.add(hash(rid))
                yield row

    def convert(self, row: dict, index: int, ctx: ReadContext) -> Iterable[dict]:
        raise NotImplementedError

    # -- helpers for subclasses ----------------------------------------------------------
    def _convert_row(self, row: Any, index: int, ctx: ReadContext) -> Iterator[dict]:
        if not isinstance(row, Mapping):
            yield self.reject(f"bad row: expected an object, got {type(row).__name__}", row)
            return
        try:
            out = list(self.convert(dict(row), index, ctx))
        except RowError as err:
            out = [self.reject(err.reason, row, err.source_id)]
        except RecordError as err:
            out = [self.reject(f"invalid record: {err}", row)]
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
            out = [self.reject(f"bad row: {type(err).__name__}: {err}", row)]
        except RecursionError:
            out = [self.reject("bad row: nested too deep", row)]
        yield from out

    def reject(self, reason: str, raw: Any, source_id: str | None = None, **known: Any) -> dict:
        rid = f"{self.name}/{source_id}" if source_id else None
        return make_reject(reason, raw=raw, source=self.name, id=rid, **known)

    def qa_record(self, *, source_id: str, question: Any, answer: Any,
                  images: Iterable[Mapping[str, Any]] = (), choices: list[str] | None = None,
                  meta: Mapping[str, Any] | None = None, think: str | None = None,
                  find_choices: bool = True) -> dict:
        """A record from a question and a gold answer, with the cleanup of docs/sources.md
        §0: placeholders and boilerplate stripped (raw kept in meta), embedded options
        parsed, the answer normalized and typed, a trace converted when `think` is given."""
        try:
            raw_question = "" if question is None else str(question)
            images = list(images)
            placeholders = count_placeholders(raw_question)
            if placeholders > len(images):
                # the text points at an image the row does not give: never train on it bare
                raise RowError(f"placeholder without image: {placeholders} <image> "
                               f"placeholder(s) but {len(images)} image(s)")
            text = clean_question(raw_question)
            if choices is None and find_choices:
                text, choices = parse_options(text)
            if not text and not images:
                raise RowError("missing question")
            answer_obj = answer if isinstance(answer, Answer) else normalize_answer(
                answer, choices, letters_first=self.answers_are_letters)
        except RowError as err:
            err.source_id = err.source_id or source_id
            raise
        meta = dict(meta or {})
        if text != raw_question:
            meta["raw_question"] = raw_question
        if answer_obj.unit:
            meta["unit"] = answer_obj.unit
        if answer_obj.raw != answer_obj.value:
            meta.setdefault("raw_answer", answer_obj.raw)
        return make_record(
            source=self.name, source_id=source_id, question=text, answer=answer_obj.value,
            answer_type=answer_obj.type, images=images, choices=choices,
            response=unified(think, answer_obj.display) if think is not None else None,
            meta=meta)

    def guarded(self, source_id: str, raw: Any, build) -> dict:
        """`build()` or a reject for this one item (a turn, a TQA question) when it fails."""
        try:
            return build()
        except RowError as err:
            return self.reject(err.reason, raw, err.source_id or source_id)
        except RecordError as err:
            return self.reject(f"invalid record: {err}", raw, source_id)


def extras(row: Mapping[str, Any], used: Iterable[str]) -> dict:
    """Columns an adapter did not map, for `meta` (binary values never go there)."""
    used = set(used)
    return {k: v for k, v in row.items()
            if k not in used and not isinstance(v, (bytes, bytearray, memoryview))
            and not _is_image_struct(v)}


def _is_image_struct(value: Any) -> bool:
    if isinstance(value, Mapping):
        return "bytes" in value and isinstance(value.get("bytes"), (bytes, bytearray))
    if isinstance(value, list) and value:
        return _is_image_struct(value[0])
    return type(value).__module__.startswith("PIL")


def first_present(row: Mapping[str, Any], *names: str) -> tuple[str | None, Any]:
    """The first column of `names` that the row has with a non-empty value."""
    for name in names:
        value = row.get(name)
        if value is not None and value != "" and value != []:
            return name, value
    return None, None


def as_list(value: Any) -> list:
    if value is None:
        return []
    if hasattr(value, "tolist") and not isinstance(value, (bytes, str)):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]
