"""Configs are the single source of the CLI: every field of every registered stage is a
flag on its verb (or is marked positional/internal), and each flag sets that field."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from omr_data import cli
from omr_data.config_cli import field_flags, flag_fields, given_config, operational_fields
from omr_data.registry import STAGES, stage_class
from omr_data.stage import ConfigError, Stage


def verb_parser(verb: str):
    parser = cli.build_parser()
    sub = parser._subparsers._group_actions[0].choices[verb]
    sub.add_late_options()
    return parser, sub


def sample(f: dataclasses.Field, hint) -> tuple[list[str], object]:
    """Command-line words for one flag of `f`, and the value they must give."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if type(None) in typing.get_args(hint) and len(args) == 1:
        hint = args[0]
    origin = typing.get_origin(hint)
    flag = field_flags(f)[0]
    if hint is bool:
        return [f"--no-{flag[2:]}"], False
    if origin is typing.Literal:
        return [flag, typing.get_args(hint)[-1]], typing.get_args(hint)[-1]
    if origin is list:
        return [flag, "a", flag, "b"], ["a", "b"]
    if hint is dict or origin is dict:
        return [flag, '{"k": 1}'], {"k": 1}
    if hint is int:
        return [flag, "3"], 3
    if hint is float:
        return [flag, "0.5"], 0.5
    return [flag, "abc"], "abc"


STAGE_NAMES = sorted(STAGES)


@pytest.mark.parametrize("stage_name", STAGE_NAMES)
def test_every_config_field_is_a_flag_on_its_verb(stage_name):
    verb = stage_name.replace("_", "-")
    assert verb in cli.STAGE_VERBS, f"stage {stage_name} has no verb"
    config_cls = stage_class(stage_name).Config
    parser, sub = verb_parser(verb)
    positionals = ["X"] * (len([a for a in sub._actions if not a.option_strings]))
    flagged = {f.name for f in flag_fields(config_cls)}
    for f in dataclasses.fields(config_cls):
        if f.name not in flagged:  # set by the verb's positionals, or by code only
            assert f.metadata.get("cli") in ("positional", "internal"), f.name
            assert f.metadata.get("help"), f"{f.name}: say who sets it"
            continue
        hints = typing.get_type_hints(config_cls)
        words, value = sample(f, hints[f.name])
        args = parser.parse_args([verb, *positionals, *words])
        assert given_config(args) == {f.name: value}, f"{verb} {' '.join(words)}"


def test_no_flags_given_means_no_config_keys():
    parser, _ = verb_parser("distill")
    assert given_config(parser.parse_args(["distill", "IN", "OUT"])) == {}


def test_list_fields_take_a_singular_repeatable_flag():
    parser, _ = verb_parser("distill")
    args = parser.parse_args(["distill", "IN", "OUT", "--base-url", "http://a/v1",
                              "--base-url", "http://b/v1"])
    assert given_config(args) == {"base_urls": ["http://a/v1", "http://b/v1"]}
    parser, _ = verb_parser("filter")
    args = parser.parse_args(["filter", "IN", "OUT", "--source", "mmk12", "--min-tokens", "9"])
    assert given_config(args) == {"sources": ["mmk12"], "min_response_tokens": 9}


def test_help_shows_each_field_with_its_default():
    _, sub = verb_parser("dedup")
    text = " ".join(sub.format_help().split())
    assert "--text-threshold X cosine of the text embeddings" in text
    assert "(default: 0.8)" in text and "examples:" in text


def test_serve_teacher_help_shows_the_simulated_servers_options():
    _, sub = verb_parser("serve-teacher")
    text = sub.format_help()
    assert "--accuracy" in text and "--fault-rate" in text and "--oracle" in text


def test_mix_reads_weights_from_its_inputs_and_writes_the_last_path(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(cli, "_run_stage_command", lambda name, inputs, output, config, args:
                        seen.update(inputs=inputs, output=output, config=config) or 0)
    assert cli.main(["mix", "runs/a:0.5", "runs/b", "runs/c:100", "runs/out",
                     "--total", "50"]) == 0
    assert seen == {"inputs": ["runs/a", "runs/b", "runs/c"], "output": "runs/out",
                    "config": {"weights": ["0.5", "", "100"], "total": 50}}


def test_distill_seed_and_progress_flags_are_its_configs(monkeypatch):
    seen = {}
    monkeypatch.setattr(cli, "_run_stage_command", lambda name, inputs, output, config, args:
                        seen.update(config) or 0)
    assert cli.main(["distill", "IN", "OUT", "--seed", "5", "--no-progress"]) == 0
    assert seen == {"seed": 5, "progress": False}


def test_renamed_recipe_key_fails_naming_the_new_one_and_an_alias_key_works():
    with pytest.raises(ConfigError, match="max_tokens is now max_response_tokens"):
        stage_class("filter")({"max_tokens": 100})
    assert stage_class("filter")({"min_tokens": 9}).config.min_response_tokens == 9


def test_cache_key_leaves_out_exactly_the_operational_fields():
    verify = stage_class("verify")
    assert set(verify.cache_exclude) == set(operational_fields(verify.Config))
    base = verify({}).cache_key([], 0)
    assert verify({"judge_concurrency": 3, "workers": 1}).cache_key([], 0) == base
    assert verify({"format_weight": 0.2}).cache_key([], 0) != base


def test_a_hand_written_cache_exclude_is_refused():
    with pytest.raises(TypeError, match="operational"):
        type("Handmade", (Stage,), {"cache_exclude": ("x",)})


def test_distill_resolve_fills_every_unset_field_from_the_preset():
    from omr_data.distill.config import PRESET_FIELDS, resolve
    from omr_data.distill.presets import get_preset

    preset = get_preset("simulated")
    settings = resolve({"teacher": "simulated", "temperature": 0.3})
    assert "model" in PRESET_FIELDS and "base_urls" in PRESET_FIELDS
    for name in PRESET_FIELDS:
        expected = 0.3 if name == "temperature" else getattr(preset, name)
        assert getattr(settings, name) == (tuple(expected) if name == "base_urls" else expected)


def test_verify_relaxed_is_the_false_form_of_strict():
    parser = cli.build_parser()
    assert given_config(parser.parse_args(["verify", "IN", "OUT", "--relaxed"])) == {
        "strict": False}
    assert given_config(parser.parse_args(["verify", "IN", "OUT", "--no-strict"])) == {
        "strict": False}
    assert given_config(parser.parse_args(["verify", "IN", "OUT"])) == {}
