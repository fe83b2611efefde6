import textwrap

import pytest

from omr_data import registry
from omr_data.recipe import RecipeError, load_recipe, run_recipe


@pytest.fixture(autouse=True)
def toy_stage_registered(monkeypatch):
    monkeypatch.setitem(registry.STAGES, "uppercase", "toy_stages:Uppercase")


def _write(tmp_path, body):
    path = tmp_path / "recipe.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def test_recipe_runs_steps_in_order_and_chains_outputs(toy_dataset, tmp_path):
    src = toy_dataset(30)
    path = _write(tmp_path, f"""
        name: toy
        workdir: {tmp_path}/runs
        steps:
          - id: up
            stage: uppercase
            inputs: [{src.path}]
          - id: drop
            stage: uppercase
            inputs: [up]
            config: {{reject_word: "QUESTION 1"}}
    """)
    reports = run_recipe(load_recipe(path), progress=False, echo=lambda s: None)
    assert [r.step.id for r in reports] == ["up", "drop"]
    assert reports[1].result.manifest["rows_in"] == 30
    assert reports[1].result.manifest["rejected"] == 11  # 1, 10..19


def test_second_run_of_a_finished_recipe_does_no_work(toy_dataset, tmp_path):
    src = toy_dataset(30)
    path = _write(tmp_path, f"""
        workdir: {tmp_path}/runs
        steps:
          - {{id: a, stage: uppercase, inputs: [{src.path}]}}
          - {{id: b, stage: uppercase, inputs: [a]}}
    """)
    run_recipe(load_recipe(path), progress=False, echo=lambda s: None)
    again = run_recipe(load_recipe(path), progress=False, echo=lambda s: None)
    assert all(r.result.cached for r in again)


def test_unknown_stage_names_the_line(tmp_path):
    path = _write(tmp_path, """
        steps:
          - id: a
            stage: uppercas
            inputs: []
    """)
    with pytest.raises(RecipeError, match=r"recipe.yaml:3: step 'a': unknown stage 'uppercas'"):
        load_recipe(path)


def test_config_type_error_names_the_line(toy_dataset, tmp_path):
    src = toy_dataset(3)
    path = _write(tmp_path, f"""
        steps:
          - id: a
            stage: uppercase
            inputs: [{src.path}]
          - id: b
            stage: uppercase
            inputs: [a]
            config: {{sleep_s: [1, 2]}}
    """)
    with pytest.raises(RecipeError, match=r"recipe.yaml:6: .*sleep_s: expected a number"):
        load_recipe(path)


def test_missing_input_is_refused_before_running(tmp_path):
    path = _write(tmp_path, """
        steps:
          - {id: a, stage: uppercase, inputs: [no/such/dir]}
    """)
    with pytest.raises(RecipeError, match="neither an earlier step nor an existing path"):
        load_recipe(path)


def test_later_step_cannot_be_an_input(toy_dataset, tmp_path):
    src = toy_dataset(3)
    path = _write(tmp_path, f"""
        steps:
          - {{id: a, stage: uppercase, inputs: [b]}}
          - {{id: b, stage: uppercase, inputs: [{src.path}]}}
    """)
    with pytest.raises(RecipeError, match="input 'b'"):
        load_recipe(path)


def test_unknown_step_key_is_refused(tmp_path):
    path = _write(tmp_path, """
        steps:
          - {id: a, stage: uppercase, inputz: []}
    """)
    with pytest.raises(RecipeError, match="unknown step key"):
        load_recipe(path)


def test_undefined_service_is_refused(toy_dataset, tmp_path):
    src = toy_dataset(3)
    path = _write(tmp_path, f"""
        steps:
          - id: a
            stage: uppercase
            inputs: [{src.path}]
            config: {{reject_word: "${{services.teacher.base_url}}"}}
    """)
    with pytest.raises(RecipeError, match="undefined service 'teacher'"):
        load_recipe(path)


def test_step_output_placeholder_resolves_to_earlier_step(toy_dataset, tmp_path):
    src = toy_dataset(3)
    path = _write(tmp_path, f"""
        workdir: {tmp_path}/runs
        steps:
          - {{id: a, stage: uppercase, inputs: [{src.path}]}}
          - {{id: b, stage: uppercase, inputs: [a], config: {{log_path: "${{steps.a}}.log"}}}}
    """)
    recipe = load_recipe(path)
    assert recipe.step("b").config["log_path"] == f"{tmp_path}/runs/a.log"


def test_step_output_placeholder_must_name_an_earlier_step(toy_dataset, tmp_path):
    src = toy_dataset(3)
    path = _write(tmp_path, f"""
        steps:
          - {{id: a, stage: uppercase, inputs: [{src.path}], config: {{log_path: "${{steps.z}}"}}}}
    """)
    with pytest.raises(RecipeError, match="does not name an earlier stage step"):
        load_recipe(path)


def test_vars_fill_inputs_and_can_be_overridden(toy_dataset, tmp_path):
    a = toy_dataset(3, name="a")
    b = toy_dataset(4, name="b")
    path = _write(tmp_path, f"""
        vars: {{data: {a.path}}}
        steps:
          - {{id: x, stage: uppercase, inputs: ["${{vars.data}}"]}}
    """)
    assert load_recipe(path).step("x").inputs == [str(a.path)]
    assert load_recipe(path, overrides={"data": str(b.path)}).step("x").inputs == [str(b.path)]


def test_unknown_override_lists_the_vars(tmp_path):
    path = _write(tmp_path, """
        vars: {data: x}
        steps:
          - {id: x, stage: uppercase, inputs: []}
    """)
    with pytest.raises(RecipeError, match="not a var of this recipe; its vars: data"):
        load_recipe(path, overrides={"dta": "y"})


def test_undefined_var_names_the_line(tmp_path):
    path = _write(tmp_path, """
        steps:
          - id: x
            stage: uppercase
            inputs: ["${vars.nope}"]
    """)
    with pytest.raises(RecipeError, match=r"recipe.yaml:3: \$\{vars.nope\} is not defined"):
        load_recipe(path)


def test_hub_dataset_id_is_a_valid_normalize_input(tmp_path):
    path = _write(tmp_path, """
        steps:
          - {id: mmk12, stage: normalize, inputs: [FanqingM/MMK12], config: {source: mmk12}}
    """)
    assert load_recipe(path).step("mmk12").inputs == ["FanqingM/MMK12"]
