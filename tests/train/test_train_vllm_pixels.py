"""vLLM gets the trainer's pixel bounds: colocated engine kwargs and the server command."""

import shlex

import pytest


def test_the_colocated_engine_is_built_with_the_bounds_only_inside_the_block(monkeypatch):
    from trl.generation import vllm_generation
    from vllm_pixels import colocated_engine_kwargs

    built = []   # vllm.LLM stand-in: TRL's module holds the name only where vLLM imports
    monkeypatch.setattr(vllm_generation, "LLM", lambda **kwargs: built.append(kwargs),
                        raising=False)
    bounds = {"min_pixels": 3136, "max_pixels": 1003520}
    with colocated_engine_kwargs(mm_processor_kwargs=bounds):
        vllm_generation.LLM(model="m", max_model_len=10)
    vllm_generation.LLM(model="m")
    assert built == [{"model": "m", "max_model_len": 10, "mm_processor_kwargs": bounds},
                     {"model": "m"}]


def test_without_vllm_the_block_changes_nothing():
    from vllm_pixels import colocated_engine_kwargs

    with colocated_engine_kwargs(mm_processor_kwargs={"max_pixels": 1}):
        pass


def test_the_server_command_carries_the_bounds_and_trls_weight_sync_flags():
    from vllm_pixels import server_command

    line = server_command("runs/sft", bounds={"min_pixels": 3136, "max_pixels": 200704},
                          max_model_len=32792, tensor_parallel_size=2)
    words = shlex.split(line)
    assert words[:3] == ["VLLM_SERVER_DEV_MODE=1", "vllm", "serve"]
    assert words[words.index("--mm-processor-kwargs") + 1] == \
        '{"min_pixels":3136,"max_pixels":200704}'
    assert words[words.index("--max-model-len") + 1] == "32792"
    assert "--weight-transfer-config" in words


@pytest.mark.parametrize("max_pixels", [50176, 200704])
def test_the_saved_processor_reloads_with_the_same_bounds(tmp_path, max_pixels):
    from tiny_vlm import build_processor, load_processor, pixel_bounds, set_pixel_bounds

    processor = build_processor()
    set_pixel_bounds(processor, max_pixels, 6272)
    processor.save_pretrained(tmp_path)
    again = load_processor(str(tmp_path))
    assert pixel_bounds(again) == {"min_pixels": 6272, "max_pixels": max_pixels}
    counts = [p.image_processor.get_number_of_image_patches(900, 1200, {})
              for p in (processor, again)]
    assert counts[0] == counts[1] and counts[0] * 14 * 14 <= max_pixels
