"""Resolved trainer settings: the paper's defaults, --algo presets, and precedence."""

import subprocess
import sys

import gspo
import pytest
import sft
from script_args import ArgsError, parse_args
from train_helpers import TRAIN_MINIMAL

PAPER = {"num_generations": 16, "temperature": 1.0, "max_completion_length": 28696,
         "learning_rate": 1e-6}


def resolved(argv, world_size=8):
    args = parse_args(gspo.GSPOArgs, argv)
    values = gspo.grpo_config_values(args, world_size=world_size, cuda=True, bf16_ok=True,
                                     vllm_installed=True)
    return args, values


def test_gspo_defaults_are_the_papers():
    args, values = resolved([])
    assert {k: values[k] for k in PAPER} == PAPER
    assert values["importance_sampling_level"] == "sequence"
    assert (values["epsilon"], values["epsilon_high"], values["beta"]) == (3e-4, 4e-4, 0.0)
    assert values["loss_type"] == "grpo"
    assert args.max_prompt_length == 4096 and not args.dynamic_sampling
    # 128 prompts × 16 rollouts per rollout batch, one optimizer step per batch
    per_step = (values["per_device_train_batch_size"] * 8 * values["gradient_accumulation_steps"])
    assert per_step == 128 * 16 and values["steps_per_generation"] == values[
        "gradient_accumulation_steps"]
    assert values["reward_weights"] == [0.9, 0.1, 1.0]
    assert values["use_vllm"] and values["vllm_max_model_length"] == 4096 + 28696
    assert values["bf16"]
    # the released gspo_n16.sh schedule
    assert (values["warmup_steps"], values["weight_decay"], values["max_steps"]) == (25, 0.1, 1500)
    assert values["lr_scheduler_type"] == "constant_with_warmup"
    assert values["max_grad_norm"] == 1.0 and values["top_p"] == 1.0


def test_grpo_preset_uses_token_ratio_clip_and_kl():
    args, values = resolved(["--algo", "grpo"])
    assert {k: values[k] for k in PAPER} == PAPER
    assert values["importance_sampling_level"] == "token"
    assert (values["epsilon"], values["epsilon_high"]) == (0.2, 0.2)
    assert values["beta"] > 0 and values["loss_type"] == "grpo"
    assert not args.dynamic_sampling


def test_dapo_preset_uses_clip_higher_token_loss_and_dynamic_sampling():
    args, values = resolved(["--algo", "dapo"])
    assert values["importance_sampling_level"] == "token"
    assert (values["epsilon"], values["epsilon_high"], values["beta"]) == (0.2, 0.28, 0.0)
    assert values["loss_type"] == "dapo" and args.dynamic_sampling


def test_trl_accepts_the_resolved_config():
    from trl import GRPOConfig

    for algo, level, eps_high in (("gspo", "sequence", 4e-4), ("grpo", "token", 0.2),
                                  ("dapo", "token", 0.28)):
        args = parse_args(gspo.GSPOArgs, ["--algo", algo, "--output-dir", "unused"])
        values = gspo.grpo_config_values(args, world_size=1, cuda=False, bf16_ok=False,
                                         vllm_installed=False)
        config = GRPOConfig(**values)
        assert config.importance_sampling_level == level and config.epsilon_high == eps_high
        assert config.generation_batch_size == 128 * 16 and config.num_generations == 16


def test_flags_beat_yaml_beat_tiny_beat_defaults_and_algo_fills_the_rest(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("algo: dapo\nnum_generations: 8\nepsilon_high: 0.3\n"
                      "trl: {save_only_model: true}\n")
    args = parse_args(gspo.GSPOArgs, ["--tiny", "--config", str(config), "--epsilon-high",
                                      "0.35", "--trl", "log_completions=true"])
    assert args.num_generations == 8          # YAML over the tiny preset (4)
    assert args.epsilon_high == 0.35          # flag over YAML
    assert args.epsilon == 0.2                # from the dapo preset
    assert args.max_completion_length == 24   # tiny preset over the default
    assert args.trl == {"save_only_model": True, "log_completions": True}


def test_unknown_yaml_key_and_bad_values_fail(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("num_generatons: 8\n")
    with pytest.raises(ArgsError, match="unknown key 'num_generatons'"):
        parse_args(gspo.GSPOArgs, ["--config", str(config)])
    with pytest.raises(ArgsError, match="num_generations must be >= 2"):
        parse_args(gspo.GSPOArgs, ["--num-generations", "1"])
    with pytest.raises(ArgsError, match="do not split into micro-batches"):
        resolved(["--prompts-per-step", "3", "--per-device-train-batch-size", "5"], world_size=1)


def test_unknown_trl_field_fails_with_a_suggestion():
    from script_args import trl_config
    from trl import SFTConfig

    with pytest.raises(ArgsError, match="did you mean save_total_limit"):
        trl_config(SFTConfig, {"output_dir": "x"}, {"save_total_limt": 2})


def test_sft_defaults_and_batching_strategy():
    args = parse_args(sft.SFTArgs, [])
    assert args.model_name_or_path == "Qwen/Qwen2.5-VL-7B-Instruct"
    values = sft.sft_config_values(args, text_only_dataset=False, cuda=True, bf16_ok=True,
                                   liger_installed=True)
    assert values["learning_rate"] == 5e-5 and values["lr_scheduler_type"] == "cosine"
    assert values["bf16"] and values["use_liger_kernel"] and values["max_length"] == 61440
    # the released sft_example_config.yaml: warmup_ratio 0.1, weight_decay 0.0, 4,194,304 px
    assert values["warmup_steps"] == 0.1 and values["weight_decay"] == 0.0
    assert args.max_pixels == 4_194_304 and args.tokens_per_device_step == 61440
    assert values["packing"] is False and values["length_column_name"] == "length"
    text = sft.sft_config_values(args, text_only_dataset=True, cuda=False, bf16_ok=False,
                                 liger_installed=False)
    assert text["packing"] and text["packing_strategy"] == "bfd"
    assert not text["bf16"] and not text["use_liger_kernel"]
    with pytest.raises(ArgsError, match="text-only data only"):
        sft.resolve_batching(False, True)


@pytest.mark.parametrize("script, shown", [
    ("gspo.py", ["3e-4 / 4e-4", "(default: 28696)", "(default: 16)", "(default: 1e-06)",
                 "(default: 4096)", "(default: 128)", "--use-vllm", "gspo_n16.sh",
                 "lr_warmup_steps=25", "weight_decay=0.1", "total_training_steps=1500"]),
    ("sft.py", ["(default: 5e-05)", "(default: cosine)", "(default: 61440)",
                "Qwen/Qwen2.5-VL-7B-Instruct", "length-grouped", "sft_example_config.yaml",
                "warmup_ratio 0.1"]),
])
def test_help_shows_the_papers_defaults_without_loading_torch(script, shown):
    out = subprocess.run([sys.executable, "-X", "importtime", str(TRAIN_MINIMAL / script),
                          "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    help_text = " ".join(out.stdout.split())
    for text in shown:
        assert text in help_text
    assert "torch" not in {line.split("|")[-1].strip().split(".")[0]
                           for line in out.stderr.splitlines() if "|" in line}
