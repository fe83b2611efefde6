"""The trainer's image bounds, given to vLLM too, so a prompt expands to the same image tokens.

Qwen2.5-VL turns an image into a number of tokens that depends on its resized pixel count,
so the rollout engine and the trainer must resize alike: if vLLM reads a different
`max_pixels` than the trainer's processor uses, the completion's log-probabilities are
computed for a different prompt than the one it was sampled from.

- **colocate**: TRL 1.16 builds `vllm.LLM(model=model.name_or_path, ...)` in
  `trl/generation/vllm_generation.py` and has no setting for processor arguments. vLLM takes
  them as `LLM(mm_processor_kwargs={"min_pixels": ..., "max_pixels": ...})` (vLLM's
  Qwen2.5-VL examples), so `colocated_engine_kwargs` adds them to that one constructor call,
  for the duration of the trainer's `__init__`.
- **server**: the server is started separately; `server_command` prints the `vllm serve`
  line with the same `--mm-processor-kwargs` (and `VLLM_SERVER_DEV_MODE=1`, which TRL's
  weight sync needs; `trl vllm-serve` is deprecated in TRL 1.16 and forwards extra flags).
- and the processor with the bounds is saved beside every trained model
  (`processor_config.json`), so a later vLLM reading the checkpoint resizes alike.
"""

from __future__ import annotations

import contextlib
import functools
import json
import shlex


@contextlib.contextmanager
def colocated_engine_kwargs(**extra):
    """Add `extra` (those not None) to TRL's `vllm.LLM(...)` call while the block runs."""
    extra = {k: v for k, v in extra.items() if v}
    module = None
    if extra:
        try:
            from trl.generation import vllm_generation as module
        except ImportError:
            module = None
    if module is None or not hasattr(module, "LLM"):   # vLLM not installed: nothing to do
        yield
        return
    original = module.LLM

    @functools.wraps(original)
    def with_extra(*args, **kwargs):
        for key, value in extra.items():
            kwargs.setdefault(key, value)
        return original(*args, **kwargs)

    module.LLM = with_extra
    try:
        yield
    finally:
        module.LLM = original


def server_command(model: str, *, bounds: dict, max_model_len: int,
                   tensor_parallel_size: int = 1, port: int = 8000) -> str:
    """The `vllm serve` line for `--vllm-mode server` with this run's pixel bounds."""
    kwargs = json.dumps({k: v for k, v in bounds.items() if v is not None},
                        separators=(",", ":"))
    return ("VLLM_SERVER_DEV_MODE=1 vllm serve " + shlex.quote(model) +
            f" --tensor-parallel-size {tensor_parallel_size} --max-model-len {max_model_len}"
            f" --port {port} --mm-processor-kwargs {shlex.quote(kwargs)}"
            " --weight-transfer-config '{\"backend\":\"nccl\"}'"
            " --logprobs-mode processed_logprobs --enable-scale-out")
