import pyarrow.parquet as pq
import pytest
from toy_stages import toy_records

from omr_data.records import RECORD_SCHEMA, make_reject
from omr_data.store import (
    DatasetBuilder,
    DatasetDir,
    StoreError,
    UnitWriter,
    reason_kind,
    write_dataset,
)


def test_shards_are_bounded_by_rows(tmp_path):
    ds = write_dataset(tmp_path / "d", toy_records(95), max_rows=20)
    sizes = [pq.ParquetFile(p).metadata.num_rows for p in ds.shards]
    assert sizes == [20, 20, 20, 20, 15]
    assert [p.name for p in ds.shards][:2] == ["part-00000.parquet", "part-00001.parquet"]


def test_shards_are_bounded_by_bytes(tmp_path):
    writer = UnitWriter(tmp_path / "u", "u", max_rows=10_000, max_bytes=4_000)
    writer.add_all(toy_records(60, with_images=True))
    result = writer.close()
    assert len(result.data_files) > 1
    assert result.rows == 60


def test_manifest_counts_kept_and_rejected(tmp_path):
    rows = list(toy_records(10)) + [make_reject("missing answer", raw="{}"),
                                    make_reject("malformed JSON: line 4", raw="{x")]
    ds = write_dataset(tmp_path / "d", rows)
    m = ds.manifest
    assert (m["rows"], m["rejected"], m["rows_in"]) == (10, 2, 12)
    assert m["reject_reasons"] == {"malformed JSON": 1, "missing answer": 1}
    assert m["schema_version"] == 1 and len(m["fingerprint"]) == 64


def test_rejects_keep_reason_and_raw(tmp_path):
    ds = write_dataset(tmp_path / "d", [make_reject("missing answer", raw="line 7")])
    (row,) = list(ds.iter_rejects())
    assert row["reason"] == "missing answer" and row["raw"] == "line 7"


def test_zero_rows_give_a_valid_empty_dataset(tmp_path):
    ds = write_dataset(tmp_path / "d", [])
    assert ds.num_rows == 0 and len(ds.shards) == 1
    assert pq.read_schema(ds.shards[0]).remove_metadata().equals(RECORD_SCHEMA)
    assert list(ds.iter_rows()) == []


def test_no_temp_files_remain_after_writing(tmp_path):
    write_dataset(tmp_path / "d", toy_records(30), max_rows=7)
    assert not [p for p in (tmp_path / "d").rglob("*") if p.name.endswith(".tmp")]
    assert not (tmp_path / "d" / ".work").exists()


def test_fingerprint_depends_on_content_only(tmp_path):
    a = write_dataset(tmp_path / "a", toy_records(30), max_rows=10)
    b = write_dataset(tmp_path / "b", toy_records(30), max_rows=10)
    c = write_dataset(tmp_path / "c", toy_records(31), max_rows=10)
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_foreign_parquet_folder_is_a_valid_input(tmp_path):
    from omr_data.records import to_table
    (tmp_path / "f" / "data").mkdir(parents=True)
    pq.write_table(to_table(list(toy_records(5))), tmp_path / "f" / "data" / "x.parquet")
    ds = DatasetDir(tmp_path / "f")
    assert ds.manifest is None and ds.num_rows == 5 and len(ds.fingerprint) == 64
    ds.check_schema()


def test_folder_without_data_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match="not a dataset directory"):
        DatasetDir(tmp_path / "empty")


def test_builder_resumes_done_units_and_redoes_the_rest(tmp_path):
    out = tmp_path / "out"
    builder = DatasetBuilder(out, cache_key="k1")
    w = builder.open_unit("unit-00000")
    w.add_all(toy_records(5))
    builder.mark_done(w.close())
    # a crashed second unit leaves a partial directory and no marker
    partial = builder.open_unit("unit-00001")
    partial.add_all(toy_records(3))
    again = DatasetBuilder(out, cache_key="k1")
    assert set(again.done_units()) == {"unit-00000"}
    w = again.open_unit("unit-00001")
    w.add_all(toy_records(4, source="other"))
    again.mark_done(w.close())
    manifest = again.finalize(["unit-00000", "unit-00001"], stage="t", config={}, parents=[])
    assert manifest["rows"] == 9


def test_builder_with_another_cache_key_starts_over(tmp_path):
    out = tmp_path / "out"
    builder = DatasetBuilder(out, cache_key="k1")
    w = builder.open_unit("unit-00000")
    w.add_all(toy_records(5))
    builder.mark_done(w.close())
    assert DatasetBuilder(out, cache_key="k2").done_units() == {}


def test_reason_kind_is_text_before_colon():
    assert reason_kind("duplicate of virl39k/7: image distance 2") == "duplicate of virl39k/7"
    assert reason_kind("missing answer") == "missing answer"


def test_invalid_record_from_a_stage_fails_loudly(tmp_path):
    writer = UnitWriter(tmp_path / "u", "u")
    row = next(toy_records(1))
    row["answer_type"] = "bogus"
    writer.add(row)
    with pytest.raises(Exception, match="answer_type"):
        writer.close()
