"""Executors know no stage by name: what a stage needs on a cluster comes from its own
`Stage.cluster_plan`, so no executor module imports a stage package."""

import ast
from pathlib import Path

import omr_data.executors

STAGE_PACKAGES = ("omr_data.distill", "omr_data.verify", "omr_data.dedup", "omr_data.sources",
                  "omr_data.publish", "omr_data.mix", "omr_data.filters", "omr_data.passrate")


def test_no_executor_imports_a_stage():
    for path in Path(omr_data.executors.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith(STAGE_PACKAGES), f"{path.name} imports {name}"


def test_the_default_plan_respects_max_workers_and_the_unit_count(tmp_path):
    from omr_data.stage import Stage

    class One(Stage):
        name = "one"
        max_workers = 1

    assert Stage().cluster_plan(wanted=8, units=3, output=tmp_path).workers == 3
    assert One().cluster_plan(wanted=8, units=3, output=tmp_path).workers == 1
