"""The distill stage under the real runner: output records, journal beside OUT, cache key."""

from distill_helpers import config, make_records

from omr_data.distill.stage import DistillStage
from omr_data.records import load_meta
from omr_data.runner import run_stage
from omr_data.store import DatasetDir, write_dataset


def test_stage_writes_one_record_per_trace_and_keeps_the_journal(server, tmp_path):
    src = write_dataset(tmp_path / "in", make_records(5))
    out = tmp_path / "out"
    stage = DistillStage(config(server, n=2))
    run_stage(stage, [src.path], out, progress=False)
    ds = DatasetDir(out)
    rows = list(ds.iter_rows())
    assert [r["id"] for r in rows] == [f"t/q{i}#{k}" for i in range(5) for k in range(2)]
    assert all(load_meta(r)["distill.k"] in (0, 1) for r in rows)
    assert (out / "journal.sqlite").exists()
    assert ds.manifest["stats"]["distill.traces"] == 10
    # the runner redoes the stage (e.g. its cache was removed): nothing is re-sent
    (out / "manifest.json").unlink()
    server.reset_counters()
    run_stage(DistillStage(config(server, n=2)), [src.path], out, progress=False)
    assert server.requests == 0 and DatasetDir(out).num_rows == 10


def test_cache_key_ignores_operational_settings():
    a = DistillStage({"teacher": "simulated", "concurrency": 4, "base_urls": ["http://a/v1"]})
    b = DistillStage({"teacher": "simulated", "concurrency": 64, "base_urls": ["http://b/v1"]})
    c = DistillStage({"teacher": "simulated", "n": 3})
    assert a.cache_key(["p"]) == b.cache_key(["p"]) != c.cache_key(["p"])


def test_bad_config_values_fail_with_the_field_name():
    import pytest

    from omr_data.stage import ConfigError
    for bad, word in (({"n": 0}, "n must"), ({"teacher": "gpt-x"}, "unknown teacher"),
                      ({"use_n_param": "maybe"}, "use_n_param"),
                      ({"base_urls": ["localhost:8000"]}, "base_urls")):
        with pytest.raises(ConfigError, match=word):
            DistillStage(bad)
