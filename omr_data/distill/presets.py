"""Teacher presets: a model id, sampling settings, the system prompt and prices.

A preset fills the defaults of a distill run; every field can be overridden by a config
key or a CLI flag (`--model`, `--temperature`, `--max-tokens`, `--system-prompt`, ...).

- ``qwen3-vl-235b``: the OpenMMReasoner teacher, ``Qwen/Qwen3-VL-235B-A22B-Instruct``
  (temperature 1.0, max_tokens 16384), self-hosted on vLLM.
- ``qwen2.5-vl-72b``: the weaker teacher of the teacher ablation,
  ``Qwen/Qwen2.5-VL-72B-Instruct`` (its context is 32k, so max_tokens 8192).
- ``simulated``: the offline simulated teacher (`omr-data serve-teacher --simulated`,
  http://127.0.0.1:8000/v1 by default); not a model, for demos and tests.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from omr_data.prompts import DEFAULT_INSTRUCTION

# the instruction every published prompt carries (omr_data.prompts); one text for all
SYSTEM_PROMPT = DEFAULT_INSTRUCTION


@dataclass(frozen=True)
class TeacherPreset:
    """Defaults for one teacher; `None` prices mean self-hosted (cost from `gpu_hour_price`)."""

    name: str
    model: str
    temperature: float = 1.0
    top_p: float | None = None
    max_tokens: int = 16384
    system_prompt: str = SYSTEM_PROMPT
    base_urls: tuple[str, ...] = ("http://127.0.0.1:8000/v1",)
    api_key_env: str = "OPENAI_API_KEY"
    #: USD per million prompt / completion tokens on a hosted API
    price_input_per_m: float | None = None
    price_output_per_m: float | None = None
    #: USD per hour for the whole self-hosted fleet (e.g. 8 GPUs x 2.5), for the cost estimate
    gpu_hour_price: float | None = None
    #: the protocol's `n`: "auto" tries it and falls back to one request per sample
    use_n_param: str = "auto"
    description: str = ""

    def override(self, **values: Any) -> TeacherPreset:
        """A copy with the given non-None fields replaced."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown preset field(s) {unknown}; known: {sorted(known)}")
        return replace(self, **{k: v for k, v in values.items() if v is not None})


PRESETS: dict[str, TeacherPreset] = {
    "qwen3-vl-235b": TeacherPreset(
        name="qwen3-vl-235b",
        model="Qwen/Qwen3-VL-235B-A22B-Instruct",
        temperature=1.0,
        max_tokens=16384,
        gpu_hour_price=8 * 2.5,
        description="OpenMMReasoner's teacher, served by vLLM (8 x H100 at ~$2.5/GPU-hour).",
    ),
    "qwen2.5-vl-72b": TeacherPreset(
        name="qwen2.5-vl-72b",
        model="Qwen/Qwen2.5-VL-72B-Instruct",
        temperature=1.0,
        max_tokens=8192,
        gpu_hour_price=4 * 2.5,
        description="Teacher ablation: a weaker, non-MoE teacher (4 x H100).",
    ),
    "simulated": TeacherPreset(
        name="simulated",
        model="omr-data/simulated-teacher",
        temperature=1.0,
        max_tokens=4096,
        base_urls=("http://127.0.0.1:8000/v1",),
        api_key_env="OMR_DATA_SIMULATED_KEY",
        price_input_per_m=0.0,
        price_output_per_m=0.0,
        description="The offline SIMULATED teacher (omr-data serve-teacher --simulated); "
                    "not a model.",
    ),
}


def get_preset(name: str) -> TeacherPreset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(
            f"unknown teacher preset {name!r}; known: {', '.join(sorted(PRESETS))} "
            "(or set `model` and `base_urls` for any OpenAI-compatible endpoint)") from None
