"""Launch checks: arithmetic before anything loads, --check-only without weights, README lines."""

import re
import shlex
from pathlib import Path

import gspo
import pytest
import sft
import yaml
from launch_check import LaunchError, gspo_layout
from train_helpers import TRAIN_MINIMAL

ROOT = TRAIN_MINIMAL.parent


def test_layouts_that_divide_are_accepted():
    layout = gspo_layout(prompts=128, generations=16, per_device=1, world=8)
    assert (layout.gradient_accumulation_steps, layout.steps_per_generation) == (256, 256)
    assert gspo_layout(prompts=128, generations=16, per_device=2, world=8,
                       updates=4).steps_per_generation == 128


@pytest.mark.parametrize("kwargs, fix", [
    # the old README's server example: 2,048 completions over 6 processes × 2
    ({"prompts": 128, "generations": 16, "per_device": 2, "world": 6}, "4 or 8 processes"),
    ({"prompts": 128, "generations": 16, "per_device": 3, "world": 8},
     "--per-device-train-batch-size 2"),
    ({"prompts": 12, "generations": 16, "per_device": 1, "world": 8, "whole_groups": True},
     "--prompts-per-step 8 or 16"),
    ({"prompts": 96, "generations": 16, "per_device": 1, "world": 8, "tensor_parallel": 3},
     "6 or 12 processes"),
])
def test_layouts_that_do_not_divide_are_refused_with_settings_that_do(kwargs, fix):
    with pytest.raises(LaunchError) as err:
        gspo_layout(**kwargs)
    assert fix in str(err.value), str(err.value)
    # every proposal it makes is itself valid
    for flag, values in re.findall(r"(--[a-z-]+) (\d+(?: or \d+)*)", str(err.value)):
        key = {"--per-device-train-batch-size": "per_device", "--prompts-per-step": "prompts"}[flag]
        for value in values.split(" or "):
            gspo_layout(**{**kwargs, key: int(value)})
    for worlds in re.findall(r"(\d+(?: or \d+)*) processes \(keeping", str(err.value)):
        for value in worlds.split(" or "):
            gspo_layout(**{**kwargs, "world": int(value)})


@pytest.fixture()
def model_dirs(tmp_path, monkeypatch):
    """A working directory where the README's model names are local folders holding only
    the (tiny) processor: no config, no weights, so nothing can have read weights."""
    from tiny_vlm import build_processor

    processor = build_processor()
    for name in ("Qwen/Qwen2.5-VL-7B-Instruct", "runs/sft"):
        processor.save_pretrained(tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_check_only_for_world_size_8_refuses_before_loading_anything(capsys, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "8")
    rc = gspo.main(["--check-only", "--per-device-train-batch-size", "3",
                    "--model-name-or-path", "no/such-model", "--dataset-name", "no/such-data"])
    assert rc == 2          # before looking for the model or the data
    err = capsys.readouterr().err
    assert "do not split into micro-batches" in err and "valid settings" in err
    assert "--per-device-train-batch-size 2" in err
    monkeypatch.setenv("WORLD_SIZE", "6")
    assert gspo.main(["--check-only", "--world-size", "8"]) == 2
    assert "WORLD_SIZE=6" in capsys.readouterr().err


def test_check_only_reads_the_processor_and_the_data_but_no_weights(hub, model_dirs, capsys,
                                                                     monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "8")
    for script, dataset in ((sft, "omr/sft-874k"), (gspo, "omr/rl-74k")):
        rc = script.main(["--model-name-or-path", "runs/sft", "--dataset-name", dataset,
                          "--hub-dir", str(hub), "--output-dir", "out", "--check-only"])
        assert rc == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "pre-flight (SFT)" in out and "pre-flight (RL)" in out
    assert "over 8 processes" in out and "8 processes × " in out
    assert not list(Path("runs/sft").glob("*.safetensors"))


def test_check_only_in_server_mode_prints_the_vllm_command_with_the_pixel_bounds(
        hub, model_dirs, capsys):
    rc = gspo.main(["--model-name-or-path", "runs/sft", "--hub-dir", str(hub), "--check-only",
                    "--use-vllm", "--vllm-mode", "server", "--max-pixels", "200704",
                    "--output-dir", "out"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "vllm serve runs/sft" in out
    assert '--mm-processor-kwargs \'{"min_pixels":3136,"max_pixels":200704}\'' in out


def readme_commands():
    """Every command in the READMEs' code blocks that runs sft.py or gspo.py."""
    commands = []
    for readme in (ROOT / "README.md", TRAIN_MINIMAL / "README.md"):
        block = [line[4:] for line in readme.read_text().splitlines()
                 if line.startswith("    ")]
        text = re.sub(r"\\\n\s*", " ", "\n".join(block))
        for line in text.splitlines():
            for part in line.split(" &"):
                if re.search(r"train_minimal/(sft|gspo)\.py", part):
                    commands.append((readme.name, part.strip()))
    return commands


def as_check(command: str) -> tuple[str, list[str], int | None]:
    """(script, its arguments, world size of the launch) for one README command."""
    words = shlex.split(command, comments=True)
    while words and re.match(r"^[A-Z_]+=", words[0]):
        words.pop(0)
    index = next(i for i, w in enumerate(words) if re.search(r"train_minimal/\w+\.py$", w))
    launcher, script, args = words[:index], Path(words[index]).stem, words[index + 1:]
    assert "..." not in args, f"placeholder in a README command: {command}"
    world = None
    if launcher[:2] == ["accelerate", "launch"]:
        options = dict(zip(launcher[2::2], launcher[3::2]))
        if "--config_file" in options:
            config = yaml.safe_load((ROOT / options["--config_file"]).read_text())
            world = config["num_processes"]
        world = int(options.get("--num_processes", world or 1))
    else:
        assert launcher == ["python"], command
    return script, args, world


def test_every_readme_launch_line_passes_check_only(hub, model_dirs, monkeypatch, capsys):
    commands = readme_commands()
    scripts = {as_check(c)[0] for _, c in commands}
    assert scripts == {"sft", "gspo"} and len(commands) >= 10
    for readme, command in commands:
        script, args, world = as_check(command)
        if world is None:
            monkeypatch.delenv("WORLD_SIZE", raising=False)
        else:
            monkeypatch.setenv("WORLD_SIZE", str(world))
        main = {"sft": sft.main, "gspo": gspo.main}[script]
        rc = main(args + ["--check-only", "--hub-dir", str(hub), "--output-dir", "out"])
        assert rc == 0, (readme, command, capsys.readouterr().err)


def test_accelerate_configs_shard_fp32_weights_with_bf16_compute():
    from accelerate.commands.config.config_args import load_config_from_file

    for name, processes in (("fsdp2_1gpu.yaml", 1), ("fsdp2_8gpu.yaml", 8)):
        config = load_config_from_file(str(TRAIN_MINIMAL / "configs" / name))
        assert config.distributed_type == "FSDP" and config.num_processes == processes
        assert config.mixed_precision == "bf16" and config.fsdp_config["fsdp_version"] == 2
        assert config.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"
        assert "Qwen2_5_VLDecoderLayer" in config.fsdp_config["fsdp_transformer_layer_cls_to_wrap"]
