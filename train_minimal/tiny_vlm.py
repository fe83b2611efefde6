"""A tiny random Qwen2.5-VL and its processor, built offline in seconds (for `--tiny` runs).

No Hub, no torchvision: the tokenizer is a small byte-level BPE trained here with Qwen's
special tokens, the image processor is transformers' PIL one, there is no video processor,
and the chat template is TRL's Qwen2.5-VL template. The shapes follow Qwen2.5-VL (patch 14,
2×2 merge, M-RoPE), so the same processor code paths run as for the 7B model.

    model, processor = build_tiny_qwen2_5_vl(seed=0)
    model, processor = load_model_and_processor("Qwen/Qwen2.5-VL-7B-Instruct")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>",
                  "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]

# Enough text for a BPE that spells the prompts and answers of the demo data and the
# reasoning format (`<think>…</think><answer>…</answer>`) in few tokens.
_CORPUS = [
    "<think>Let me look at the image and count carefully.</think><answer>42</answer>",
    "What is the answer? Choose one of the options A, B, C, D. The answer is B.",
    "You are a helpful assistant. user assistant system",
    "Solve for x: 3x + 2 = 11, so x = 3. The area is 12 cm^2 and the angle is 45 degrees.",
    "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 + - * / = ( ) [ ] { } \\frac \\boxed",
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ .,;:!?'\" yes no true false",
    "Which shape is red? How many circles are there? What color is the square?",
]


def _chat_template() -> str:
    import trl

    path = Path(trl.__file__).parent / "chat_templates" / "qwen2_5_vl.jinja"
    return path.read_text()


def build_tokenizer(vocab_size: int = 512):
    """A byte-level BPE tokenizer with Qwen2.5-VL's special tokens and chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[1:], model_max_length=32768)
    tokenizer.chat_template = _chat_template()
    tokenizer.image_token = "<|image_pad|>"
    tokenizer.video_token = "<|video_pad|>"
    return tokenizer


_IMAGE_ONLY_CLASS = None


def image_only_processor(image_processor, tokenizer):
    """A Qwen2.5-VL processor without a video processor.

    Without torchvision, transformers exports no video-processor class and rejects
    `video_processor=None`; this subclass declares image processor and tokenizer as its
    only parts. It keeps the parent's name so `save_pretrained` writes a config that
    `AutoProcessor` can load where torchvision exists.
    """
    global _IMAGE_ONLY_CLASS
    if _IMAGE_ONLY_CLASS is None:
        from transformers import Qwen2_5_VLProcessor

        class ImageOnly(Qwen2_5_VLProcessor):
            @classmethod
            def get_attributes(cls):
                return ["image_processor", "tokenizer"]

        ImageOnly.__name__ = ImageOnly.__qualname__ = "Qwen2_5_VLProcessor"
        _IMAGE_ONLY_CLASS = ImageOnly
    return _IMAGE_ONLY_CLASS(image_processor=image_processor, tokenizer=tokenizer,
                             chat_template=tokenizer.chat_template)


def build_processor(tokenizer=None, *, max_pixels: int = 64 * 28 * 28, min_pixels: int = 56 * 56):
    """A Qwen2.5-VL processor with the PIL image processor and no video processor."""
    from transformers.models.qwen2_vl import Qwen2VLImageProcessorPil

    tokenizer = tokenizer or build_tokenizer()
    image_processor = Qwen2VLImageProcessorPil(min_pixels=min_pixels, max_pixels=max_pixels)
    return image_only_processor(image_processor, tokenizer)


def build_config(tokenizer):
    """Qwen2.5-VL shapes, shrunk: hidden 64, 2 layers, head_dim 16, a depth-1 vision tower."""
    from transformers import Qwen2_5_VLConfig

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    text = dict(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                max_position_embeddings=32768, tie_word_embeddings=True,
                rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                 "mrope_section": [2, 3, 3]},
                bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
                pad_token_id=ids["<|endoftext|>"])
    vision = dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                  patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
                  fullatt_block_indexes=[0])
    return Qwen2_5_VLConfig(text_config=text, vision_config=vision,
                            image_token_id=ids["<|image_pad|>"],
                            video_token_id=ids["<|video_pad|>"],
                            vision_start_token_id=ids["<|vision_start|>"],
                            vision_end_token_id=ids["<|vision_end|>"],
                            bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
                            pad_token_id=ids["<|endoftext|>"], tie_word_embeddings=True)


def build_tiny_qwen2_5_vl(seed: int = 0, *, max_pixels: int = 64 * 28 * 28,
                          save_dir: str | Path | None = None):
    """A random tiny Qwen2.5-VL model (float32) and its processor; optionally saved."""
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    torch.manual_seed(seed)
    processor = build_processor(max_pixels=max_pixels)
    tokenizer = processor.tokenizer
    model = Qwen2_5_VLForConditionalGeneration(build_config(tokenizer))
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    if save_dir is not None:
        model.save_pretrained(save_dir)
        processor.save_pretrained(save_dir)
    return model, processor


def load_processor(name: str, *, revision: str | None = None, **kwargs: Any):
    """`AutoProcessor`, but never silently just a tokenizer.

    Without torchvision, `AutoProcessor` returns the bare tokenizer for Qwen2.5-VL (or
    fails on the video processor); then the processor is assembled from the PIL image
    processor and the tokenizer, as in `build_processor`.
    """
    from transformers import AutoProcessor, AutoTokenizer, ProcessorMixin

    try:
        processor = AutoProcessor.from_pretrained(name, revision=revision, **kwargs)
    except (OSError, ValueError, ImportError):  # e.g. no video processor can be built
        processor = None
    if isinstance(processor, ProcessorMixin) and getattr(processor, "image_processor", None):
        return processor
    from transformers.models.qwen2_vl import Qwen2VLImageProcessorPil

    tokenizer = AutoTokenizer.from_pretrained(name, revision=revision, **kwargs)
    image_processor = Qwen2VLImageProcessorPil.from_pretrained(name, revision=revision)
    return image_only_processor(image_processor, tokenizer)


MIN_PIXELS = 56 * 56  # Qwen2.5-VL's smallest image: 4 visual tokens


def set_pixel_bounds(processor, max_pixels: int, min_pixels: int = MIN_PIXELS) -> None:
    """Make the processor resize every image into [min_pixels, max_pixels] (Qwen2-VL style).

    transformers 5 keeps the bounds as `size.shortest_edge` / `size.longest_edge` (pixel
    counts, despite the names); `save_pretrained` writes them to `processor_config.json`, so a
    checkpoint's processor, vLLM reading that checkpoint, and the trainer all agree.
    """
    if min_pixels > max_pixels:
        raise ValueError(f"min_pixels ({min_pixels}) must be <= max_pixels ({max_pixels})")
    ip = processor.image_processor
    size = getattr(ip, "size", None)
    if isinstance(size, dict):
        ip.size = {**size, "longest_edge": max_pixels, "shortest_edge": min_pixels}
    elif size is not None and hasattr(size, "longest_edge"):
        size.longest_edge, size.shortest_edge = max_pixels, min_pixels
    else:
        raise ValueError(f"cannot set pixel bounds on {type(ip).__name__}: no size.longest_edge")
    for name, value in (("max_pixels", max_pixels), ("min_pixels", min_pixels)):
        if getattr(ip, name, None) is not None:
            setattr(ip, name, value)


def set_max_pixels(processor, max_pixels: int) -> None:
    """`set_pixel_bounds` keeping the processor's lower bound."""
    ip = processor.image_processor
    size = getattr(ip, "size", None)
    low = (size.get("shortest_edge") if isinstance(size, dict)
           else getattr(size, "shortest_edge", None))
    set_pixel_bounds(processor, max_pixels, min(low or MIN_PIXELS, max_pixels))


def pixel_bounds(processor) -> dict:
    """{"min_pixels", "max_pixels"} the processor resizes to (what vLLM must be given too)."""
    size = processor.image_processor.size
    get = size.get if isinstance(size, dict) else lambda k: getattr(size, k, None)
    return {"min_pixels": get("shortest_edge"), "max_pixels": get("longest_edge")}


def load_vlm_processor(name: str, *, tiny: bool, max_pixels: int, min_pixels: int = MIN_PIXELS):
    """The processor alone, bounds set: what the pre-flight check needs (no weights read)."""
    processor = build_processor() if tiny else load_processor(name)
    set_pixel_bounds(processor, max_pixels, min_pixels)
    return processor


def load_vlm(name: str, *, tiny: bool, seed: int, max_pixels: int, min_pixels: int = MIN_PIXELS):
    """(model, processor): the tiny random Qwen2.5-VL when `tiny`, else `from_pretrained`.

    The weights are always fp32 (master weights): Qwen2.5-VL ships bf16, and an AdamW update
    of lr 1e-6 on a bf16 weight rounds away (bf16 keeps 8 significant bits). Compute runs in
    bf16 all the same: `bf16=True` autocasts on one GPU or DDP, and FSDP2 gathers bf16 copies
    of the fp32 shards (accelerate's MixedPrecisionPolicy, see configs/).
    """
    import torch

    if tiny:
        model, processor = build_tiny_qwen2_5_vl(seed=seed, max_pixels=max_pixels)
    else:
        from transformers import AutoModelForImageTextToText

        model = AutoModelForImageTextToText.from_pretrained(name, dtype=torch.float32)
        processor = load_processor(name)
    model = model.float()
    set_pixel_bounds(processor, max_pixels, min_pixels)
    return model, processor
