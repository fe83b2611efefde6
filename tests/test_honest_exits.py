"""Honest exits and progress: all-rejected runs exit non-zero naming the top reasons, a
missing local path fails at once (no Hub retries), logs get plain progress lines."""

import json

import pytest

from omr_data import cli, runner
from omr_data.sources import readers


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_every_row_rejected_exits_non_zero_and_names_the_top_reasons(tmp_path, capsys):
    data = _jsonl(tmp_path / "train.jsonl", [{"id": str(i), "question": "Q?"} for i in range(3)]
                  + [{"id": "9", "question": "Q?", "answer": "1", "image": "/etc/hostname"}])
    code = cli.main(["normalize", "--source", "thinklite_vl", str(data), str(tmp_path / "out"),
                     "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 1 and "every input row was rejected" in err
    assert "0 out, 4 rejected (3 missing answer, 1 image path escapes image root)" in out


def test_a_partly_rejected_run_exits_zero(tmp_path, capsys):
    data = _jsonl(tmp_path / "train.jsonl", [{"id": "1", "question": "Q?", "answer": "2"},
                                             {"id": "2", "question": "Q?"}])
    assert cli.main(["normalize", "--source", "thinklite_vl", str(data),
                     str(tmp_path / "out"), "--no-progress"]) == 0
    assert "1 out, 1 rejected (1 missing answer)" in capsys.readouterr().out


@pytest.mark.parametrize("path", ["src/nope", "./x", "/abs/x", "nope.parquet"])
def test_a_missing_local_path_fails_at_once_without_asking_the_hub(tmp_path, monkeypatch,
                                                                  capsys, path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()

    def no_hub(*args, **kwargs):
        raise AssertionError("asked the Hub for a local path")
    monkeypatch.setattr(readers, "_iter_hub", no_hub)
    assert not readers.is_hub_id(path)
    assert cli.main(["normalize", "--source", "virl39k", path, "out"]) == 1
    assert "no such file or folder" in capsys.readouterr().err
    assert readers.is_hub_id("lmms-lab/LLaVA-CoT") and readers.is_hub_id("org/name:config")


def test_plain_progress_lines_when_stderr_is_not_a_terminal(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runner, "PLAIN_PROGRESS_S", 0.0)
    data = _jsonl(tmp_path / "train.jsonl", [{"id": "1", "question": "Q?", "answer": "2"}])
    assert cli.main(["normalize", "--source", "thinklite_vl", str(data),
                     str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "normalize: 1/1 units, 1 rows" in err and "rows/s" in err
    assert runner.plain_progress(2, 8, 100, 10.0) == "2/8 units, 100 rows, 10 rows/s, ETA 0.5 min"


def test_distill_progress_line_names_rows_rate_tokens_and_eta(capsys):
    from types import SimpleNamespace

    from omr_data.distill.progress import Progress

    pool = SimpleNamespace(stats=SimpleNamespace(ok=4, retries=1, failed=0, prompt_tokens=1200,
                                                 completion_tokens=34_000))
    settings = SimpleNamespace(cost=lambda *a: None)
    with Progress(settings, pool, SimpleNamespace(reused=0), total=10, interval_s=0.0) as p:
        p.advance(4)
    err = capsys.readouterr().err
    assert "distill: 4/10 rows" in err and "req/s" in err and "out 34.0k" in err
    assert "ETA" in err
