"""The distill stage's config: a teacher preset plus overrides.

Adding an option is one field here (with `operational=True` when it changes how requests
are sent, never what a trace is: such fields stay out of the cache key, since the
journal's keys already cover what matters) and, when a teacher should choose its value, a
`TeacherPreset` field of the same name: `resolve()` fills every unset (None) field from
the preset, whatever its name. The CLI flags and recipe keys come from the fields.

The backend is operational (both backends write the same journal keys and records), and
so are the vLLM engine's sharding, memory and batching; `max_model_len` and
`engine_kwargs` are not, because they can change traces (truncation at the context
length, dtype, quantization, chat template).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from dataclasses import dataclass, fields
from typing import Any, Literal

from omr_data.config_cli import option
from omr_data.distill.presets import PRESETS, TeacherPreset, get_preset

#: adaptive n's default check: verify's rules and math-verify, no judge. Named, not imported,
#: so distill does not depend on the verify stage (docs/architecture.md)
ADAPTIVE_CHECK = "omr_data.verify:rule_verdicts"
USE_N_VALUES = ("auto", "yes", "no")
BACKENDS = ("http", "vllm")
VLLM_INSTALL_HINT = "pip install 'omr-data[vllm]' on a GPU machine"
#: HTTP-only fields that must stay unset with backend vllm (the model runs in-process)
_HTTP_ONLY = ("base_urls", "api_key_env", "max_requests_per_minute", "max_tokens_per_minute",
              "shared_limiter")
#: vLLM engine fields and their defaults (only used with backend vllm)
_VLLM_DEFAULTS = {"tensor_parallel_size": 1, "gpu_memory_utilization": 0.9,
                  "max_model_len": None, "engine_kwargs": {}, "vllm_batch_size": 256}


@dataclass
class DistillConfig:
    teacher: str = option("qwen3-vl-235b", help=(
        "teacher preset: " + ", ".join(sorted(PRESETS)) + "; every unset field comes from it"))
    model: str | None = option(None, help="model name sent to the endpoint (default: the "
                               "preset's)")
    base_urls: list[str] | None = option(
        None, operational=True, metavar="URL",
        help="OpenAI-compatible base URLs, e.g. http://host:8000/v1; several are used "
             "least-busy first (default: the preset's)")
    api_key_env: str | None = option(
        None, operational=True,
        help="environment variable holding the API key (default: the preset's; vLLM without "
             "--api-key accepts any)")
    n: int = option(8, help="traces per question; ids {id}#0 .. {id}#{n-1}")
    until_distinct: int | None = option(
        None, metavar="K",
        help="adaptive n: keep sampling a question until it has K distinct verified traces "
             "(rule-based check against the gold answer; near-identical traces count once) "
             "or max_n samples; null = always n")
    max_n: int | None = option(None, metavar="M", help="adaptive n: at most M samples per "
                               "question (default: n)")
    adaptive_check: str = option(
        ADAPTIVE_CHECK, metavar="MODULE:FUNCTION",
        help="adaptive n: the function 'module:function' that says which traces count as "
             "verified, called as f(responses, record) -> list[bool]")
    temperature: float | None = option(None, help="sampling temperature (default: the "
                                       "preset's)")
    top_p: float | None = option(None, help="nucleus sampling (default: the preset's, "
                                 "usually unset)")
    max_tokens: int | None = option(
        None, help="completion token budget; raising it re-sends only traces cut off "
                   "(finish_reason=length) (default: the preset's)")
    seed: int | None = option(
        0, help="base sampling seed: each request sends a seed derived from it and the "
                "request key, so reruns are reproducible where the server honours seeds; "
                "null sends none")
    system_prompt: str | None = option(
        None, help="system prompt (default: the preset's <think>/<answer> prompt; '' sends "
                   "none)")
    concurrency: int = option(64, operational=True,
                              help="hard cap on requests in flight over all endpoints")
    max_requests_per_minute: int | None = option(None, operational=True,
                                                 help="pace requests (null = unlimited)")
    max_tokens_per_minute: int | None = option(
        None, operational=True,
        help="pace estimated prompt + completion tokens (null = unlimited)")
    shared_limiter: str | None = option(
        None, operational=True, cli="internal",
        help="name of the Ray actor that paces max_requests_per_minute / "
             "max_tokens_per_minute over every worker of a run; internal: the ray executor "
             "sets it (no flag)")
    request_timeout_s: float = option(1800.0, operational=True,
                                      help="timeout of one attempt, seconds")
    request_deadline_s: float = option(
        4 * 3600.0, operational=True,
        help="a request is retried (backoff with jitter, Retry-After honoured) until this "
             "many seconds have passed; then the trace goes to rejects and a rerun retries it")
    unreachable_after_s: float = option(
        30.0, operational=True,
        help="stop the run (non-zero exit, naming the URLs) when every endpoint has refused "
             "connections for this many seconds without one answer")
    max_image_pixels: int = option(
        1280 * 28 * 28,
        help="images above this many pixels are downscaled before sending (aspect kept)")
    use_n_param: Literal["auto", "yes", "no"] | None = option(
        None, operational=True,
        help="use the protocol's n for several traces in one request: auto (try, fall back "
             "per endpoint), yes, no (default: the preset's)")
    journal: str | None = option(
        None, operational=True,
        help="request journal (SQLite) path; default OUT/journal.sqlite, which survives "
             "reruns")
    price_input_per_m: float | None = option(
        None, operational=True, help="USD per million prompt tokens, for the cost line")
    price_output_per_m: float | None = option(
        None, operational=True, help="USD per million completion tokens, for the cost line")
    gpu_hour_price: float | None = option(
        None, operational=True,
        help="USD per hour of the self-hosted fleet, for the cost line (used when no token "
             "prices)")
    progress: bool = option(True, operational=True,
                            help="show live progress (requests, req/s, tokens, cost, ETA)")
    backend: Literal["http", "vllm"] = option(
        "http", operational=True,
        help="http: send requests to OpenAI-compatible endpoints (base_urls); vllm: run an "
             "offline vllm.LLM engine in this process on this machine's GPUs (optional "
             f"extra: {VLLM_INSTALL_HINT}). Both write the same journal keys and the same "
             "records, so a run may switch backend and resume")
    tensor_parallel_size: int = option(
        1, operational=True,
        help="backend vllm: GPUs the model is sharded over (vllm.LLM tensor_parallel_size)")
    gpu_memory_utilization: float = option(
        0.9, operational=True,
        help="backend vllm: fraction of each GPU's memory vLLM may take for weights and KV "
             "cache")
    max_model_len: int | None = option(
        None, help="backend vllm: context length (prompt + completion) of the engine; a "
                   "prompt longer than this becomes a reject; null = the model's own")
    engine_kwargs: dict = option(
        default_factory=dict,
        help="backend vllm: further vllm.LLM arguments as a JSON object, e.g. "
             '{"limit_mm_per_prompt": {"image": 8}, "dtype": "bfloat16"}')
    vllm_batch_size: int = option(
        256, operational=True,
        help="backend vllm: at most this many requests (one question, n samples each) per "
             "LLM.chat call; larger batches keep the GPUs busier")

    def __post_init__(self) -> None:
        get_preset(self.teacher)  # raises with the list of presets
        self._check_backend()
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if self.until_distinct is not None and self.until_distinct < 1:
            raise ValueError(f"until_distinct must be >= 1 or null, got {self.until_distinct}")
        if self.max_n is not None and self.max_n < 1:
            raise ValueError(f"max_n must be >= 1, got {self.max_n}")
        if self.max_n is not None and self.until_distinct is None:
            raise ValueError("max_n caps adaptive sampling: give until_distinct too "
                             "(--until-distinct K --max-n M), or use n for a fixed count")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.temperature is not None and self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        for name in ("max_requests_per_minute", "max_tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 or null (unlimited), got {value}")
        if self.unreachable_after_s <= 0:
            raise ValueError("unreachable_after_s must be > 0")
        if self.request_timeout_s <= 0 or self.request_deadline_s <= 0:
            raise ValueError("request_timeout_s and request_deadline_s must be > 0")
        if self.max_image_pixels < 28 * 28:
            raise ValueError(f"max_image_pixels must be >= 784, got {self.max_image_pixels}")
        if self.use_n_param is not None and self.use_n_param not in USE_N_VALUES:
            raise ValueError(f"use_n_param must be one of {USE_N_VALUES}, got "
                             f"{self.use_n_param!r}")
        if isinstance(self.base_urls, str):
            self.base_urls = [self.base_urls]
        if self.base_urls is not None:
            bad = [u for u in self.base_urls if not u.startswith(("http://", "https://"))]
            if bad or not self.base_urls:
                raise ValueError(f"base_urls must be http(s) URLs like http://host:8000/v1, "
                                 f"got {self.base_urls}")

    # -- views of a resolved config (see `resolve`) -----------------------------------
    @property
    def rpm(self) -> int | None:
        return self.max_requests_per_minute

    @property
    def tpm(self) -> int | None:
        return self.max_tokens_per_minute

    @property
    def adaptive(self) -> bool:
        return self.until_distinct is not None

    @property
    def max_samples(self) -> int:
        """Samples a question may get: n, or max_n (default n) with adaptive n."""
        return (self.max_n or self.n) if self.adaptive else self.n

    @property
    def first_round(self) -> int:
        """Samples sent first: n, or with adaptive n just enough to reach the target."""
        return min(self.until_distinct, self.max_samples) if self.adaptive else self.n

    @property
    def sampling(self) -> dict:
        """Sampling settings that define a trace (hashed into request keys)."""
        out: dict[str, Any] = {"temperature": self.temperature}
        if self.top_p is not None:
            out["top_p"] = self.top_p
        if self.seed is not None:
            out["seed"] = self.seed
        return out

    def cost(self, prompt_tokens: int, completion_tokens: int, seconds: float) -> float | None:
        if self.price_input_per_m is not None or self.price_output_per_m is not None:
            return (prompt_tokens * (self.price_input_per_m or 0.0)
                    + completion_tokens * (self.price_output_per_m or 0.0)) / 1e6
        if self.gpu_hour_price is not None:
            return seconds / 3600 * self.gpu_hour_price
        return None


    def _check_backend(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if isinstance(self.engine_kwargs, str):  # from a CLI flag or an env var
            try:
                self.engine_kwargs = json.loads(self.engine_kwargs or "{}")
            except json.JSONDecodeError as err:
                raise ValueError(f"engine_kwargs must be a JSON object, e.g. "
                                 f'\'{{"dtype": "bfloat16"}}\': {err}') from None
        if self.engine_kwargs is None:
            self.engine_kwargs = {}
        if not isinstance(self.engine_kwargs, dict) or \
                not all(isinstance(k, str) for k in self.engine_kwargs):
            raise ValueError(f"engine_kwargs must be a mapping of vllm.LLM argument names to "
                             f"values, got {self.engine_kwargs!r}")
        if self.backend == "http":
            used = [name for name, default in _VLLM_DEFAULTS.items()
                    if getattr(self, name) != default]
            if used:
                raise ValueError(f"{', '.join(used)}: only used with backend vllm; add "
                                 "--backend vllm (or drop them for an HTTP endpoint)")
            return
        given = [name for name in _HTTP_ONLY if getattr(self, name) is not None]
        if given:
            raise ValueError(f"{', '.join(given)}: not used with backend vllm, which runs the "
                             "model in this process; drop them, or use backend http to reach "
                             "a server")
        if self.tensor_parallel_size < 1:
            raise ValueError(f"tensor_parallel_size must be >= 1, got "
                             f"{self.tensor_parallel_size}")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise ValueError(f"gpu_memory_utilization must be in (0, 1], got "
                             f"{self.gpu_memory_utilization}")
        if self.max_model_len is not None and self.max_model_len < 1:
            raise ValueError(f"max_model_len must be >= 1 or null (the model's own), got "
                             f"{self.max_model_len}")
        if self.vllm_batch_size < 1:
            raise ValueError(f"vllm_batch_size must be >= 1, got {self.vllm_batch_size}")
        clash = sorted(set(self.engine_kwargs) & {"model", *_VLLM_DEFAULTS})
        if clash:
            raise ValueError(f"engine_kwargs must not set {clash}: use the model / "
                             f"{'/'.join(clash)} fields instead")
        if not vllm_available():
            raise ValueError(f"backend vllm needs the vllm package, which is not installed "
                             f"here: {VLLM_INSTALL_HINT} (or use backend http against a "
                             "`vllm serve` endpoint)")


def vllm_available() -> bool:
    """Whether `import vllm` can work, without importing it (it loads torch and CUDA)."""
    if "vllm" in sys.modules:
        return sys.modules["vllm"] is not None
    try:
        return importlib.util.find_spec("vllm") is not None
    except (ImportError, ValueError):
        return False



#: a config resolved against its preset: no preset-backed field left None
Settings = DistillConfig

#: DistillConfig fields a preset may fill (the fields both classes have)
PRESET_FIELDS = tuple(sorted({f.name for f in fields(TeacherPreset)}
                             & {f.name for f in fields(DistillConfig)}))


def resolve(config: DistillConfig | dict | None) -> Settings:
    """A copy of `config` whose unset (None) fields hold its teacher preset's values."""
    if config is None:
        config = DistillConfig()
    elif isinstance(config, dict):
        config = DistillConfig(**config)
    preset = get_preset(config.teacher)
    # copy, not dataclasses.replace: the config is validated already, and a preset's
    # endpoint defaults are not the user's choice (backend vllm refuses user endpoints)
    settings = copy.copy(config)
    for name in PRESET_FIELDS:
        if getattr(settings, name) is None:
            setattr(settings, name, getattr(preset, name))
    settings.base_urls = tuple(settings.base_urls)
    settings.engine_kwargs = dict(config.engine_kwargs)
    return settings
