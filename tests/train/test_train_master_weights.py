"""fp32 master weights: tiny SFT steps at the paper's RL learning rate still move the weights.

In bf16 an AdamW step of lr 1e-6 rounds away (bf16 resolves ~1e-4 near 0.02); the scripts
load every checkpoint in fp32, train, and save fp32, so the update reaches the saved file.
"""

import json

import torch
from safetensors.torch import load_file


def changed_fraction(before: dict, after: dict) -> float:
    total = moved = 0
    for name, tensor in before.items():
        total += tensor.numel()
        moved += (tensor.float() != after[name].float()).sum().item()
    return moved / total


def test_three_sft_steps_at_lr_1e_6_from_a_bf16_checkpoint_change_the_saved_weights(hub, tmp_path):
    import sft
    from tiny_vlm import build_tiny_qwen2_5_vl

    model, processor = build_tiny_qwen2_5_vl(seed=3)
    checkpoint = tmp_path / "bf16"
    model.to(torch.bfloat16).save_pretrained(checkpoint)      # as Qwen2.5-VL-7B ships
    processor.save_pretrained(checkpoint)
    before = load_file(str(checkpoint / "model.safetensors"))
    assert next(iter(before.values())).dtype == torch.bfloat16

    out = tmp_path / "out"
    rc = sft.main(["--model-name-or-path", str(checkpoint), "--hub-dir", str(hub),
                   "--output-dir", str(out), "--max-steps", "3", "--learning-rate", "1e-6",
                   "--max-length", "512", "--max-pixels", "50176",
                   "--per-device-train-batch-size", "4", "--gradient-accumulation-steps", "1",
                   "--warmup-steps", "0", "--save-steps", "100"])
    assert rc == 0
    after = load_file(str(out / "model.safetensors"))
    assert next(iter(after.values())).dtype == torch.float32    # the master copy is saved
    assert changed_fraction(before, after) >= 0.5
    # the processor with this run's pixel bounds sits beside the weights
    bounds = json.loads((out / "processor_config.json").read_text())["image_processor"]["size"]
    assert bounds == {"longest_edge": 50176, "shortest_edge": 3136}
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["weights_dtype"] == "torch.float32" and summary["steps"] == 3


def test_bf16_weights_would_not_have_moved():
    """The failure this guards against, in isolation: the same AdamW step on bf16 weights."""
    torch.manual_seed(0)
    weights = (torch.randn(4096) * 0.02)
    for dtype, expect_moved in ((torch.bfloat16, False), (torch.float32, True)):
        param = torch.nn.Parameter(weights.to(dtype).clone())
        start = param.detach().clone()
        optimizer = torch.optim.AdamW([param], lr=1e-6, weight_decay=0.0)
        for _ in range(3):
            param.grad = torch.randn_like(param)
            optimizer.step()
        moved = (param.detach() != start).float().mean().item()
        assert (moved > 0.5) is expect_moved, (dtype, moved)
