import json

import pyarrow as pa
import pytest

from omr_data.records import (
    RECORD_SCHEMA,
    RecordError,
    check_table_schema,
    make_record,
    make_reject,
    record_features,
    to_table,
    update_meta,
    validate_record,
)


def _record(**over):
    base = dict(source="toy", source_id="1", question="What is 2+2?", answer="4",
                answer_type="number")
    base.update(over)
    return make_record(**base)


def test_make_record_builds_id_from_source_and_source_id():
    assert _record()["id"] == "toy/1"


def test_meta_is_json_object_never_null():
    assert json.loads(_record()["meta"]) == {}


def test_empty_answer_is_refused_with_the_id():
    with pytest.raises(RecordError, match="toy/1: answer is empty"):
        _record(answer="  ")


def test_unknown_answer_type_is_refused():
    with pytest.raises(RecordError, match="answer_type 'letter'"):
        _record(answer_type="letter")


def test_choice_answer_must_be_an_option_letter():
    _record(answer="B", answer_type="choice", choices=["x", "y"])
    with pytest.raises(RecordError, match="not one of the 2 option letters"):
        _record(answer="C", answer_type="choice", choices=["x", "y"])


def test_unknown_column_is_refused_and_points_to_meta():
    row = _record()
    row["extra"] = 1
    with pytest.raises(RecordError, match="put extra fields in meta"):
        validate_record(row)


def test_image_needs_bytes_or_path():
    with pytest.raises(RecordError, match="needs bytes or a path"):
        _record(images=[{"bytes": None, "path": None}])


def test_reject_requires_reason_and_keeps_raw_as_text():
    row = make_reject("malformed JSON: line 3", raw={"a": b"\x00\x01"})
    assert row["reason"].startswith("malformed JSON")
    assert isinstance(row["raw"], str)
    with pytest.raises(ValueError):
        make_reject("")


def test_update_meta_adds_namespaced_keys():
    row = update_meta(_record(), **{"verify.acc": 1.0})
    assert json.loads(row["meta"]) == {"verify.acc": 1.0}


def test_features_decode_images():
    from datasets import Image
    assert isinstance(record_features()["images"].feature, Image)


def test_check_table_schema_names_the_wrong_column():
    table = pa.table({"id": ["a"], "question": [1]})
    with pytest.raises(RecordError, match="missing column 'source'"):
        check_table_schema(table.schema, where="x.parquet")


def test_to_table_round_trips_in_record_schema():
    table = to_table([_record()])
    assert table.schema.equals(RECORD_SCHEMA)
    check_table_schema(table.schema, where="mem")
