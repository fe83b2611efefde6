"""Resume across releases: the request keys and the journal file format are a contract, so a
journal written by an earlier omr-data (before the client moved to `omr_data.llm`) is reused
as it is and a rerun sends nothing."""

import sqlite3
import time

from distill_helpers import config, make_records

from omr_data.distill import distill
from omr_data.distill.config import resolve
from omr_data.distill.render import render_prompt
from omr_data.distill.simulated import SimulatedServer
from omr_data.llm.journal import request_key

# The schema an earlier release wrote, verbatim (journal version 1).
V1_SCHEMA = """
CREATE TABLE info (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE prompts (prompt_hash TEXT PRIMARY KEY, payload TEXT NOT NULL);
CREATE TABLE samples (
    key TEXT PRIMARY KEY, prompt_hash TEXT NOT NULL, record_id TEXT NOT NULL,
    k INTEGER NOT NULL, model TEXT NOT NULL, status TEXT NOT NULL, response TEXT,
    finish_reason TEXT, max_tokens INTEGER, prompt_tokens INTEGER, completion_tokens INTEGER,
    usage TEXT, served_model TEXT, system_fingerprint TEXT, error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, updated REAL NOT NULL);
CREATE TABLE attempts (key TEXT NOT NULL, at REAL NOT NULL, endpoint TEXT,
    outcome TEXT NOT NULL, seconds REAL);
INSERT INTO info VALUES ('version', '1');
"""

# Keys an earlier release computed for these records (teacher `simulated`, max_tokens 4096).
PINNED = {
    "t/pin0": ("e36909fc0186d9380d6883ac93a87d4e6d5239f024af197f7fa85f9f8e681e61",
               "9c19f20f4f728b89b53695b9e35629a07e9b8bbf40a755990cd51ea000cf31b8",
               "ea6978affbd5ec334627db0bb19d0b5781d5af7af4dc525f52512fb0d03d6c98"),
    "t/pin1": ("a38ab9f5933d7fe8c6c640b7ddb21d06ea2c99a6a2ab5deb182db7351b8bd165",
               "b76c6d80d245278900275072cc5fb8413b19727ab9f0f9d40e323dc4925ed41a",
               "555a2405ea98fe9b2fc786e7e06ab3680f8513b78b7cd15b89fe94edbbe5c328"),
}


def test_prompt_hashes_and_request_keys_are_those_an_earlier_release_wrote():
    s = resolve({"teacher": "simulated", "max_tokens": 4096})
    for record in make_records(2, "pin"):
        prompt = render_prompt(record, model=s.model, system_prompt=s.system_prompt,
                               sampling=s.sampling, max_image_pixels=s.max_image_pixels)
        assert (prompt.prompt_hash, request_key(prompt.prompt_hash, 0),
                request_key(prompt.prompt_hash, 1)) == PINNED[record["id"]]


def test_a_journal_written_by_an_earlier_release_is_reused_without_a_request(tmp_path):
    path = tmp_path / "journal.sqlite"
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA)
    for record_id, (prompt_hash, *keys) in PINNED.items():
        for k, key in enumerate(keys):
            db.execute("INSERT INTO samples (key, prompt_hash, record_id, k, model, status, "
                       "response, finish_reason, max_tokens, completion_tokens, attempts, "
                       "updated) VALUES (?, ?, ?, ?, 'omr-data/simulated-teacher', 'ok', ?, "
                       "'stop', 4096, 20, 1, ?)",
                       (key, prompt_hash, record_id, k,
                        f"<think>old</think><answer>{record_id}#{k}</answer>", time.time()))
    db.commit()
    db.close()
    with SimulatedServer() as srv:
        rows = list(distill(make_records(2, "pin"), config(srv, n=2), path))
        assert srv.requests == 0
    assert [r["response"] for r in rows] == [
        f"<think>old</think><answer>t/pin{i}#{k}</answer>" for i in range(2) for k in range(2)]
