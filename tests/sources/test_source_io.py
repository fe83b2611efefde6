"""Images and files: every image form, path safety, streaming readers, unreadable files."""

import base64
import json

import pyarrow as pa
import pytest
from source_helpers import png, read, write_image, write_jsonl

from omr_data.sources import readers
from omr_data.sources.errors import RowError, SourceFileError
from omr_data.sources.images import ImageLoader
from omr_data.sources.readers import iter_raw_rows


def test_base64_string_image_is_decoded():
    data = png()
    text = base64.b64encode(data).decode()
    assert ImageLoader([]).load(text) == {"bytes": data, "path": None}


def test_data_url_image_is_decoded():
    url = "data:image/png;base64," + base64.b64encode(png()).decode()
    assert ImageLoader([]).load(url)["bytes"] == png()


def test_pil_image_is_encoded_to_bytes():
    from io import BytesIO

    from PIL import Image
    img = Image.open(BytesIO(png()))
    entry = ImageLoader([]).load(img)
    assert Image.open(BytesIO(entry["bytes"])).size == (6, 5)


def test_struct_with_only_a_path_is_read_from_root(tmp_path):
    write_image(tmp_path / "a/b.png")
    entry = ImageLoader([tmp_path]).load({"bytes": None, "path": "a/b.png"})
    assert entry == {"bytes": png(), "path": "a/b.png"}


def test_absolute_path_outside_root_is_refused(tmp_path):
    outside = write_image(tmp_path / "secret.png")
    (tmp_path / "root").mkdir()
    with pytest.raises(RowError, match="^image path escapes image root"):
        ImageLoader([tmp_path / "root"]).load(str(outside))


def test_truncated_image_file_is_unreadable(tmp_path):
    (tmp_path / "bad.png").write_bytes(png()[:20])
    with pytest.raises(RowError, match="^unreadable image: bad.png"):
        ImageLoader([tmp_path]).load("bad.png")


def test_json_array_is_streamed_across_small_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "JSON_CHUNK", 7)
    rows = [{"id": i, "text": "x" * (i * 5)} for i in range(20)]
    (tmp_path / "a.json").write_text(json.dumps(rows, indent=1))
    assert [r.data for r in iter_raw_rows(tmp_path / "a.json")] == rows


def test_broken_json_array_element_loses_only_itself(tmp_path):
    (tmp_path / "a.json").write_text('[{"id": 1}, {"id": 2,, "s": "a]}"}, [1, {"x": }], '
                                     '{"id": 3}]')
    rows = list(iter_raw_rows(tmp_path / "a.json"))
    assert rows[0].data == {"id": 1} and rows[3].data == {"id": 3} and len(rows) == 4
    assert rows[1].error.startswith("element 1: ") and rows[1].raw == '{"id": 2,, "s": "a]}"}'
    assert rows[2].error.startswith("element 2: ")


def test_deeply_nested_json_is_a_reject_not_an_abort(tmp_path):
    deep = "[" * 2000 + "]" * 2000
    (tmp_path / "a.jsonl").write_text('{"id": 1}\n{"id": ' + deep + '}\n{"id": 3}\n')
    (tmp_path / "b.json").write_text('[{"id": 1}, ' + deep + ', {"id": 3}]')
    for name in ("a.jsonl", "b.json"):
        rows = list(iter_raw_rows(tmp_path / name))
        assert [r.data for r in rows] == [{"id": 1}, None, {"id": 3}]
        assert rows[1].error.endswith("nested too deep")


def test_broken_element_early_in_a_big_array_is_skipped_in_bounded_reads(tmp_path,
                                                                         monkeypatch):
    monkeypatch.setattr(readers, "JSON_CHUNK", 64)
    reads = []
    real_open = open

    def counting_open(*args, **kwargs):
        fh = real_open(*args, **kwargs)
        original = fh.read
        fh.read = lambda n=-1: reads.append(n) or original(n)
        return fh
    (tmp_path / "a.json").write_text('[{"id": 1}, {"id": 2 "x": 3}, ' + '{"id": 4}, ' * 50_000
                                     + '{"id": 5}]')
    monkeypatch.setattr("builtins.open", counting_open)
    rows = list(iter_raw_rows(tmp_path / "a.json"))
    assert rows[1].error.startswith("element 1: Expecting ',' delimiter")
    assert len(rows) == 50_003 and rows[-1].data == {"id": 5}   # the rest survives
    assert max(reads[1:]) < 1_000   # chunk by chunk after the 64 KiB sniff, never all


def test_json_file_with_one_object_per_line_is_read_as_lines(tmp_path):
    write_jsonl(tmp_path / "p.json", [{"a": 1}, {"a": 2}])
    assert [r.data for r in iter_raw_rows(tmp_path / "p.json")] == [{"a": 1}, {"a": 2}]


def test_arrow_ipc_stream_file_is_read(tmp_path):
    table = pa.table({"a": [1, 2, 3]})
    with pa.OSFile(str(tmp_path / "data.arrow"), "wb") as sink:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    assert [r.data["a"] for r in iter_raw_rows(tmp_path / "data.arrow")] == [1, 2, 3]


def test_corrupt_parquet_is_a_clear_error_naming_the_file(tmp_path):
    (tmp_path / "x.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(SourceFileError, match="x.parquet: cannot read"):
        list(iter_raw_rows(tmp_path / "x.parquet"))


def test_unsupported_file_type_is_a_clear_error(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(SourceFileError, match="x.csv: unsupported file type '.csv'"):
        list(iter_raw_rows(tmp_path / "x.csv"))


def test_row_that_is_not_an_object_is_rejected(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [[1, 2]])
    _, rejects = read("mmk12", path)
    assert rejects[0]["reason"] == "bad row: expected an object, got list"


def test_hub_id_is_recognised_but_local_paths_win(tmp_path):
    assert readers.is_hub_id("FanqingM/MMK12") and readers.is_hub_id("org/name:config")
    assert not readers.is_hub_id("./data/x.parquet")
