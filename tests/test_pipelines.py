"""Every shipped recipe validates, with its vars pointed at the bundled samples."""

from pathlib import Path

import pytest
import yaml

from omr_data.filters import sample_index
from omr_data.recipe import load_recipe, run_recipe
from omr_data.records import make_record
from omr_data.store import DatasetDir, write_dataset

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted((ROOT / "pipelines").rglob("*.yaml"))


@pytest.fixture
def traces(tmp_path):
    rows = [make_record(source="llava_cot", source_id=f"q{q}#{k}", question=f"q{q}",
                        answer="1", answer_type="number",
                        response="<think>" + "x " * (50 * k) + "</think><answer>1</answer>",
                        meta={"verify.pass_rate": (q % 4) / 4})
            for q in range(5) for k in range(8)]
    return write_dataset(tmp_path / "traces", rows, max_rows=11)


def _overrides(recipe_path: Path, traces_dir: Path) -> dict[str, str]:
    """Local-path vars → the matching samples/ folder, or a small traces dataset."""
    variables = yaml.safe_load(recipe_path.read_text()).get("vars") or {}
    overrides = {}
    for name, value in variables.items():
        value = str(value)
        if not value.startswith(("data/", "runs/")):
            continue  # Hub ids, URLs, versions
        sample = ROOT / "samples" / name
        overrides[name] = str(sample if sample.exists() else traces_dir)
    return overrides


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: str(p.relative_to(ROOT / "pipelines")))
def test_recipe_validates(path, traces, monkeypatch):
    monkeypatch.chdir(ROOT)
    recipe = load_recipe(path, overrides=_overrides(path, traces.path))
    assert recipe.steps


def test_the_demo_finds_its_recipe_and_samples_from_any_directory(tmp_path, monkeypatch):
    from omr_data.demo import demo_recipe

    monkeypatch.chdir(tmp_path)
    inputs = [Path(i) for step in demo_recipe().steps if step.stage == "normalize"
              for i in step.inputs]
    assert len(inputs) == 15 and all(p.is_dir() for p in inputs)
    assert all(p.is_relative_to(ROOT / "samples") for p in inputs)


def test_every_recipe_publishes_something():
    for path in RECIPES:
        steps = yaml.safe_load(path.read_text())["steps"]
        assert any("publish" in step for step in steps), path


def test_answer_diversity_subsets_are_nested(traces, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    recipe = load_recipe(ROOT / "pipelines/ablations/answer_diversity.yaml",
                         workdir=str(tmp_path / "runs"),
                         overrides={"traces": str(traces.path), "hub_dir": str(tmp_path / "hub")})
    run_recipe(recipe, progress=False, echo=lambda s: None)
    subsets = {k: {r["id"] for r in DatasetDir(tmp_path / "runs" / f"x{k}").iter_rows()}
               for k in (1, 2, 4, 8)}
    assert subsets[1] < subsets[2] < subsets[4] < subsets[8]
    assert [len(subsets[k]) for k in (1, 2, 4, 8)] == [5, 10, 20, 40]
    assert max(sample_index({"id": i}) for i in subsets[2]) == 1

    import datasets
    x2 = datasets.load_dataset(str(tmp_path / "hub/omr/sft-ablations"), "diversity_x2",
                               split="train")
    assert sorted(x2["id"]) == sorted(subsets[2])
