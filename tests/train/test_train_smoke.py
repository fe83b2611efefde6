"""Tiny-model runs of both scripts on published data: losses logged and finite, weights move.

The SFT run (40 quick steps at a high learning rate) teaches the random model enough of the
`<think>…<answer>` format that GSPO's rollouts differ in reward, so its advantages, and
hence its gradients, are not all zero.
"""

import json
import math

import pytest


def metrics(output_dir):
    return [json.loads(line) for line in (output_dir / "metrics.jsonl").read_text().splitlines()]


def weights(path):
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def changed(before, after):
    shared = set(before) & set(after)
    assert shared
    return sum(not (before[k] == after[k]).all() for k in shared)


@pytest.fixture(scope="session")
def sft_run(hub, tmp_path_factory):
    import sft

    out = tmp_path_factory.mktemp("sft")
    rc = sft.main(["--tiny", "--hub-dir", str(hub), "--output-dir", str(out), "--max-steps", "40",
                   "--learning-rate", "1e-2", "--per-device-train-batch-size", "4",
                   "--num-train-epochs", "100", "--save-steps", "20"])
    assert rc == 0
    return out


def test_sft_logs_finite_losses_changes_weights_and_saves_checkpoints(sft_run, tmp_path):
    from tiny_vlm import build_tiny_qwen2_5_vl

    losses = [r["loss"] for r in metrics(sft_run) if "loss" in r]
    assert len(losses) == 40 and all(math.isfinite(x) for x in losses)
    assert losses[-1] < losses[0]
    initial, _ = build_tiny_qwen2_5_vl(seed=42)
    initial.save_pretrained(tmp_path)
    assert changed(weights(tmp_path), weights(sft_run)) > 0
    assert (sft_run / "checkpoint-20").is_dir() and (sft_run / "preflight.json").exists()
    summary = json.loads((sft_run / "train_summary.json").read_text())
    assert summary["steps"] == 40 and summary["seconds_per_step"] > 0


def test_gspo_trains_from_the_sft_checkpoint_with_verify_rewards(sft_run, hub, tmp_path):
    import gspo

    rc = gspo.main(["--tiny", "--model-name-or-path", str(sft_run), "--hub-dir", str(hub),
                    "--output-dir", str(tmp_path), "--max-steps", "2", "--prompts-per-step", "4",
                    "--save-steps", "1"])
    assert rc == 0
    logged = [r for r in metrics(tmp_path) if "loss" in r]
    assert len(logged) == 2
    for record in logged:
        for key in ("loss", "reward", "rewards/accuracy_reward/mean",
                    "rewards/format_reward/mean", "rewards/overlong_penalty/mean",
                    "completions/mean_length", "clip_ratio/region_mean"):
            assert math.isfinite(record[key]), key
    assert any(r["reward_std"] > 0 for r in logged)
    assert changed(weights(sft_run), weights(tmp_path)) > 0
    assert (tmp_path / "checkpoint-1").is_dir()


def test_dapo_resamples_until_groups_vary_and_reports_the_cost(sft_run, hub, tmp_path):
    import gspo

    rc = gspo.main(["--tiny", "--algo", "dapo", "--model-name-or-path", str(sft_run),
                    "--hub-dir", str(hub), "--output-dir", str(tmp_path), "--max-steps", "1",
                    "--dynamic-sampling-max-rounds", "3"])
    assert rc == 0
    record = next(r for r in metrics(tmp_path) if "loss" in r)
    assert math.isfinite(record["loss"])
    assert 1 <= record["dynamic_sampling/rounds"] <= 3
    assert record["dynamic_sampling/generated_groups"] >= 2 * record["dynamic_sampling/rounds"]
    cost = json.loads((tmp_path / "train_summary.json").read_text())["dynamic_sampling"]
    assert cost["mode"] == "resample" and cost["steps"] == 1
    assert cost["kept_groups"] + cost["masked_groups"] == 2      # the batch is always full
    assert cost["generated_groups"] == 2 * cost["rounds"] >= cost["kept_groups"]


def test_grpo_trains_the_tiny_model_against_a_reference_model(hub, tmp_path):
    """TRL loads the KL reference from the policy's path; the in-memory tiny model has
    none until gspo.py saves it."""
    import gspo

    rc = gspo.main(["--tiny", "--algo", "grpo", "--hub-dir", str(hub),
                    "--output-dir", str(tmp_path), "--max-steps", "1"])
    assert rc == 0
    record = next(r for r in metrics(tmp_path) if "loss" in r)
    assert math.isfinite(record["kl"]) and math.isfinite(record["loss"])
    assert (tmp_path / "initial-model" / "model.safetensors").exists()
    assert (tmp_path / "model.safetensors").exists()


def test_gspo_processor_pads_left_so_image_token_types_line_up_with_the_ids():
    """GRPOTrainer left-pads prompt ids but takes mm_token_type_ids from the processor."""
    import io

    import gspo
    from PIL import Image
    from script_args import parse_args
    from train_helpers import png

    _, processor = gspo.load_model(parse_args(gspo.GSPOArgs, ["--tiny"]))
    images = [[Image.open(io.BytesIO(png((9, 9, 9), size)["bytes"]))] for size in
              ((40, 30), (200, 160))]
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Q?"}]}]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    out = processor(images=images, text=[text, text], padding=True, return_tensors="pt")
    assert processor.tokenizer.padding_side == "left"
    assert (out["attention_mask"][0] == 0).any()          # the small image's row is padded
    is_image = out["input_ids"] == processor.image_token_id
    assert (is_image == (out["mm_token_type_ids"] == 1)).all()
