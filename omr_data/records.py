"""The record: one row = one sample, the same columns through every stage.

The schema lives here once, as an Arrow schema (for shard IO) and as Hugging Face
`Features` (so images decode when the data is loaded with `datasets`). Rejected rows
use the same columns, all nullable, plus `reason` and `raw`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

SCHEMA_VERSION = 1

ANSWER_TYPES = ("choice", "number", "expression", "yes_no", "text")

COLUMNS = ("id", "source", "images", "question", "choices", "answer", "answer_type",
           "response", "meta")

IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])

# Fields are nullable in Arrow (as `datasets` writes them, which it needs to decode images
# from the schema metadata); `validate_record` enforces which ones may really be null.
RECORD_SCHEMA = pa.schema([
    pa.field("id", pa.string()),
    pa.field("source", pa.string()),
    pa.field("images", pa.list_(IMAGE_TYPE)),
    pa.field("question", pa.string()),
    pa.field("choices", pa.list_(pa.string())),
    pa.field("answer", pa.string()),
    pa.field("answer_type", pa.string()),
    pa.field("response", pa.string()),
    pa.field("meta", pa.string()),
])

# Rejects keep whatever record columns are known; `reason` says why, `raw` keeps the
# original row or line for rows that never became records.
REJECT_SCHEMA = pa.schema(
    list(RECORD_SCHEMA)
    + [pa.field("reason", pa.string(), nullable=False), pa.field("raw", pa.string(), nullable=True)]
)


class RecordError(ValueError):
    """A row that does not satisfy the record contract; the message says which field and why."""


def record_features():
    """The record as `datasets.Features`, images as `Sequence(Image())` so they decode."""
    from datasets import Features, Image, Sequence, Value

    return Features({
        "id": Value("string"),
        "source": Value("string"),
        "images": Sequence(Image()),
        "question": Value("string"),
        "choices": Sequence(Value("string")),
        "answer": Value("string"),
        "answer_type": Value("string"),
        "response": Value("string"),
        "meta": Value("string"),
    })


def make_record(
    *,
    source: str,
    source_id: str,
    question: str,
    answer: str,
    answer_type: str,
    images: Iterable[Mapping[str, Any]] = (),
    choices: list[str] | None = None,
    response: str | None = None,
    meta: Mapping[str, Any] | None = None,
) -> dict:
    """Build a valid record dict; raises `RecordError` naming the bad field."""
    record = {
        "id": f"{source}/{source_id}",
        "source": source,
        "images": [image_entry(img) for img in images],
        "question": question,
        "choices": list(choices) if choices is not None else None,
        "answer": answer,
        "answer_type": answer_type,
        "response": response,
        "meta": dump_meta(meta or {}),
    }
    validate_record(record)
    return record


def image_entry(img: Mapping[str, Any]) -> dict:
    """Normalize an image to the `{bytes, path}` struct."""
    if not isinstance(img, Mapping):
        raise RecordError(f"images: expected a {{bytes, path}} mapping, got {type(img).__name__}")
    data, path = img.get("bytes"), img.get("path")
    if data is None and not path:
        raise RecordError("images: an image needs bytes or a path")
    if data is not None and not isinstance(data, (bytes, bytearray, memoryview)):
        raise RecordError(f"images: bytes must be binary, got {type(data).__name__}")
    return {"bytes": bytes(data) if data is not None else None, "path": path}


def make_reject(reason: str, *, raw: Any = None, **known: Any) -> dict:
    """A rejected row: known record columns, a non-empty reason and the raw input as text."""
    if not reason or not str(reason).strip():
        raise ValueError("a reject needs a non-empty reason")
    row = {name: known.get(name) for name in COLUMNS}
    if isinstance(row["meta"], Mapping):
        row["meta"] = dump_meta(row["meta"])
    row["reason"] = str(reason)
    row["raw"] = raw if raw is None or isinstance(raw, str) else _raw_text(raw)
    return row


def is_reject(row: Mapping[str, Any]) -> bool:
    return bool(row.get("reason"))


def validate_record(record: Mapping[str, Any]) -> None:
    """Check one record dict against the contract; raise `RecordError` with a readable cause."""
    missing = [c for c in COLUMNS if c not in record]
    if missing:
        raise RecordError(f"missing column(s): {', '.join(missing)}")
    extra = sorted(set(record) - set(COLUMNS))
    if extra:
        raise RecordError(f"unknown column(s): {', '.join(extra)} (put extra fields in meta)")
    for name in ("id", "source", "question", "answer", "answer_type", "meta"):
        if not isinstance(record[name], str):
            raise RecordError(f"{name}: expected a string, got {type(record[name]).__name__}")
    rid, source = record["id"], record["source"]
    if not rid.startswith(f"{source}/") or len(rid) <= len(source) + 1:
        raise RecordError(f"id: {rid!r} must look like '{source}/<source_id>'")
    if not record["answer"].strip():
        raise RecordError(f"{rid}: answer is empty")
    if record["answer_type"] not in ANSWER_TYPES:
        raise RecordError(
            f"{rid}: answer_type {record['answer_type']!r} is not one of {', '.join(ANSWER_TYPES)}")
    choices = record["choices"]
    if choices is not None:
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            raise RecordError(f"{rid}: choices must be a list of strings or null")
    if record["answer_type"] == "choice":
        if not choices:
            raise RecordError(f"{rid}: answer_type 'choice' needs choices")
        if record["answer"] not in option_letters(len(choices)):
            raise RecordError(
                f"{rid}: choice answer {record['answer']!r} is not one of the "
                f"{len(choices)} option letters")
    if record["response"] is not None and not isinstance(record["response"], str):
        raise RecordError(f"{rid}: response must be a string or null")
    if not isinstance(record["images"], list):
        raise RecordError(f"{rid}: images must be a list")
    for img in record["images"]:
        image_entry(img)
    try:
        meta = json.loads(record["meta"])
    except json.JSONDecodeError as err:
        raise RecordError(f"{rid}: meta is not JSON ({err.msg})") from None
    if not isinstance(meta, dict):
        raise RecordError(f"{rid}: meta must be a JSON object")


def option_letters(n: int) -> list[str]:
    return [chr(ord("A") + i) for i in range(n)]


def dump_meta(meta: Mapping[str, Any]) -> str:
    """Serialise meta deterministically (sorted keys) so fingerprints are stable."""
    return json.dumps(meta, sort_keys=True, ensure_ascii=False, default=_json_default)


def load_meta(record: Mapping[str, Any]) -> dict:
    text = record.get("meta")
    return json.loads(text) if text else {}


def update_meta(record: dict, **entries: Any) -> dict:
    """Return `record` with namespaced `meta` entries added (e.g. `**{"verify.acc": 1.0}`)."""
    meta = load_meta(record)
    meta.update(entries)
    record["meta"] = dump_meta(meta)
    return record


def to_table(rows: list[Mapping[str, Any]], schema: pa.Schema = RECORD_SCHEMA) -> pa.Table:
    """Rows (dicts) to an Arrow table in the given schema; type errors name the column."""
    columns = {}
    for field in schema:
        values = [row.get(field.name) for row in rows]
        try:
            columns[field.name] = pa.array(values, type=field.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise RecordError(f"column {field.name}: {err}") from None
    return pa.Table.from_pydict(columns, schema=schema)


def check_table_schema(schema: pa.Schema, *, where: str) -> None:
    """Refuse Parquet data whose columns are not the record's (e.g. another tool's export)."""
    problems = []
    for field in RECORD_SCHEMA:
        if field.name not in schema.names:
            problems.append(f"missing column {field.name!r}")
            continue
        got = schema.field(field.name).type
        if not _compatible(got, field.type):
            problems.append(f"column {field.name!r} has type {got}, expected {field.type}")
    if problems:
        raise RecordError(f"{where}: not in the record schema: " + "; ".join(problems))


def _compatible(got: pa.DataType, want: pa.DataType) -> bool:
    if got.equals(want):
        return True
    strings = (pa.string(), pa.large_string())
    binaries = (pa.binary(), pa.large_binary())
    if want in strings:
        return got in strings or pa.types.is_null(got)
    if pa.types.is_list(want):
        if not (pa.types.is_list(got) or pa.types.is_large_list(got)):
            return pa.types.is_null(got)
        return _compatible(got.value_type, want.value_type)
    if pa.types.is_struct(want):
        if not pa.types.is_struct(got):
            return False
        names = {got.field(i).name: got.field(i).type for i in range(got.num_fields)}
        return all(
            f.name in names and (_compatible(names[f.name], f.type) or names[f.name] in binaries)
            for f in want)
    return False


def _raw_text(raw: Any) -> str:
    if isinstance(raw, (bytes, bytearray)):
        return bytes(raw).decode("utf-8", errors="replace")
    try:
        return json.dumps(raw, ensure_ascii=False, default=_json_default)
    except (TypeError, ValueError):
        return repr(raw)
    except RecursionError:   # nested deeper than the interpreter recurses
        return "<nested too deep to show>"


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
