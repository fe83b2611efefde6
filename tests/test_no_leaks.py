"""Nothing of this machine leaves it: published files (Parquet bytes included) hold no
absolute path, server address or credential, and what stays local (stderr, manifest,
journal) masks credentials in URLs."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from omr_data.cli import main
from omr_data.distill.simulated import SimulatedServer
from omr_data.privacy import mask_secrets, mask_url, public_image_path, public_value
from omr_data.records import make_record
from omr_data.store import write_dataset

ROOT = Path(__file__).resolve().parents[1]
USER, PASSWORD = "planted-user", "planted-pass-7f3a"


@pytest.mark.parametrize("url, masked", [
    ("http://u:p@h:8000/v1", "http://***@h:8000/v1"),
    ("https://h/v1?api_key=k1&model=m", "https://h/v1?api_key=***&model=m"),
    ("see http://h/v1?x=1&token=t2#f and more", "see http://h/v1?x=1&token=***#f and more"),
    ("https://h/v1?sig=abc;access_token=t", "https://h/v1?sig=***;access_token=***"),
    ("no url here /a/b", "no url here /a/b"),
])
def test_mask_url(url, masked):
    assert mask_url(url) == masked


def test_logged_urls_are_masked(caplog):
    import logging

    from omr_data.privacy import MaskingFilter

    caplog.handler.addFilter(MaskingFilter())
    logging.getLogger("httpx").warning("POST %s failed", "http://u:pw@h/v1?api_key=k")
    assert "pw" not in caplog.text and "api_key=***" in caplog.text


def test_mask_secrets_and_public_value():
    config = {"base_urls": ["http://u:p@10.0.0.5:8000/v1"], "api_key": "sk-123",
              "max_tokens": 10, "tokenizer": "Qwen/Qwen2.5-VL-7B-Instruct",
              "image_root": "/home/alice/data/img", "journal": "~/j.sqlite",
              "note": "read /srv/x/y.json at 1/2 speed", "source": "https://huggingface.co/x"}
    masked = mask_secrets(config)
    assert masked["api_key"] == "***" and masked["base_urls"] == ["http://***@10.0.0.5:8000/v1"]
    assert masked["max_tokens"] == 10 and masked["tokenizer"] == config["tokenizer"]
    public = public_value(config)
    assert public["base_urls"] == ["<endpoint>"] and public["image_root"] == "<local>"
    assert public["journal"] == "<local>" and public["note"] == "read y.json at 1/2 speed"
    assert public["source"] == "https://huggingface.co/x"
    assert [public_image_path(p) for p in ("a/b.png", "/abs/c.png", "../d.png", None)] == \
        ["a/b.png", "c.png", "d.png", None]


def test_published_demo_holds_nothing_of_this_machine(tmp_path, capsys):
    machine = tmp_path / "private-machine-root"
    src = machine / "sources" / "llava"
    shutil.copytree(ROOT / "samples" / "llava_cot", src)
    runs, hub = machine / "runs", machine / "hub"
    journal = machine / "journals" / "teacher.sqlite"
    # a record whose image only has an absolute path (as another tool may write it)
    extra = write_dataset(machine / "extra", [make_record(
        source="other", source_id="1", question="What is 2+2?", answer="4",
        answer_type="number", response="<think>2+2</think><answer>4</answer>",
        images=[{"bytes": (src / "sqa/train/101/image.png").read_bytes(),
                 "path": str(src / "sqa/train/101/image.png")}])]).path

    with SimulatedServer(accuracy=1.0, seed=0) as server:
        host_port = server.base_url.split("//", 1)[1].split("/", 1)[0]
        secret_url = server.base_url.replace("//", f"//{USER}:{PASSWORD}@", 1)
        assert main(["normalize", "--source", "llava_cot", str(src), str(runs / "norm"),
                     "--image-root", str(src), "--no-progress"]) == 0
        assert main(["distill", str(runs / "norm"), str(runs / "traces"), "--teacher",
                     "simulated", "--n", "2", "--base-url", secret_url, "--journal",
                     str(journal), "--no-progress"]) == 0
        assert main(["verify", str(runs / "traces"), str(runs / "verified"), "--judge",
                     "qwen3-235b-judge", "--judge-model", "simulated-judge",
                     "--judge-base-url", secret_url, "--no-progress"]) == 0
        # a wrong path on the same server: the error line names the server, masked
        bad = secret_url.rsplit("/", 1)[0] + "/nope"
        assert main(["distill", str(runs / "norm"), str(runs / "bad"), "--teacher",
                     "simulated", "--n", "1", "--base-url", bad, "--no-progress"]) == 1
    assert main(["publish", str(runs / "verified"), str(extra), "--repo", "omr/leaks",
                 "--hub-dir", str(hub), "--version", "v1.0"]) == 0
    out, err = capsys.readouterr()
    assert "***@" in err and PASSWORD not in out + err and USER not in out + err

    planted = [str(tmp_path), "private-machine-root", host_port, PASSWORD, USER,
               str(journal), "teacher.sqlite"]
    repo = hub / "omr" / "leaks"
    published = subprocess.run(["git", "-C", str(repo), "ls-files", "-z"], check=True,
                               capture_output=True, text=True).stdout.strip("\0").split("\0")
    assert any(f.endswith(".parquet") for f in published) and "provenance.json" in published
    for name in published:
        data = (repo / name).read_bytes()
        for needle in planted:
            assert needle.encode() not in data, f"{name} holds {needle!r}"
    import pyarrow.parquet as pq
    paths = [img["path"] for name in published if name.endswith(".parquet")
             for row in pq.read_table(repo / name, columns=["images"]).to_pylist()
             for img in row["images"]]
    assert paths and all(p is None or not Path(p).is_absolute() for p in paths)
    assert "image.png" in paths

    # what stays on this machine masks credentials
    for manifest in runs.glob("*/manifest.json"):
        assert PASSWORD not in manifest.read_text(), manifest
    assert "***@" in json.dumps(json.loads((runs / "traces" / "manifest.json").read_text())
                                ["config"])
    with sqlite3.connect(journal) as db:
        dump = "\n".join(db.iterdump())
    assert host_port in dump and PASSWORD not in dump and USER not in dump
