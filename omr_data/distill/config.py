"""The distill stage's config: a teacher preset plus overrides, and the resolved settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omr_data.distill.presets import PRESETS, get_preset

USE_N_VALUES = ("auto", "yes", "no")


def _help(text: str, **kw: Any) -> Any:
    return field(metadata={"help": text}, **kw)


@dataclass
class DistillConfig:
    teacher: str = _help(
        "teacher preset: " + ", ".join(sorted(PRESETS)) + "; every other field overrides it",
        default="qwen3-vl-235b")
    model: str | None = _help("model name sent to the endpoint (default: the preset's)",
                              default=None)
    base_urls: list[str] | None = _help(
        "OpenAI-compatible base URLs, e.g. http://host:8000/v1; several are used least-busy "
        "first (default: the preset's)", default=None)
    api_key_env: str | None = _help(
        "environment variable holding the API key (default: the preset's; vLLM without "
        "--api-key accepts any)", default=None)
    n: int = _help("traces per question; ids {id}#0 .. {id}#{n-1}", default=8)
    temperature: float | None = _help("sampling temperature (default: the preset's)",
                                      default=None)
    top_p: float | None = _help("nucleus sampling (default: the preset's, usually unset)",
                                default=None)
    max_tokens: int | None = _help(
        "completion token budget; raising it re-sends only traces cut off "
        "(finish_reason=length) (default: the preset's)", default=None)
    seed: int | None = _help(
        "base sampling seed: each request sends a seed derived from it and the request key, "
        "so reruns are reproducible where the server honours seeds; null sends none",
        default=0)
    system_prompt: str | None = _help(
        "system prompt (default: the preset's <think>/<answer> prompt; '' sends none)",
        default=None)
    concurrency: int = _help("hard cap on requests in flight over all endpoints", default=64)
    max_requests_per_minute: int | None = _help("pace requests (null = unlimited)",
                                                default=None)
    max_tokens_per_minute: int | None = _help(
        "pace estimated prompt + completion tokens (null = unlimited)", default=None)
    request_timeout_s: float = _help("timeout of one attempt, seconds", default=1800.0)
    request_deadline_s: float = _help(
        "a request is retried (backoff with jitter, Retry-After honoured) until this many "
        "seconds have passed; then the trace goes to rejects and a rerun retries it",
        default=4 * 3600.0)
    max_image_pixels: int = _help(
        "images above this many pixels are downscaled before sending (aspect kept)",
        default=1280 * 28 * 28)
    use_n_param: str | None = _help(
        "use the protocol's n for several traces in one request: auto (try, fall back per "
        "endpoint), yes, no (default: the preset's)", default=None)
    journal: str | None = _help(
        "request journal (SQLite) path; default OUT/journal.sqlite, which survives reruns",
        default=None)
    price_input_per_m: float | None = _help("USD per million prompt tokens, for the cost line",
                                            default=None)
    price_output_per_m: float | None = _help(
        "USD per million completion tokens, for the cost line", default=None)
    gpu_hour_price: float | None = _help(
        "USD per hour of the self-hosted fleet, for the cost line (used when no token prices)",
        default=None)
    progress: bool = _help("show live progress (requests, req/s, tokens, cost, ETA)",
                           default=True)

    def __post_init__(self) -> None:
        get_preset(self.teacher)  # raises with the list of presets
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
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


# Fields that change how fast or where requests go, never what a trace is: left out of the
# stage's cache key (the journal's keys already cover what matters).
OPERATIONAL_FIELDS = ("base_urls", "api_key_env", "concurrency", "max_requests_per_minute",
                      "max_tokens_per_minute", "request_timeout_s", "request_deadline_s",
                      "journal", "price_input_per_m", "price_output_per_m", "gpu_hour_price",
                      "progress", "use_n_param")


@dataclass(frozen=True)
class Settings:
    """A config resolved against its preset: every value concrete."""

    teacher: str
    model: str
    base_urls: tuple[str, ...]
    api_key_env: str
    n: int
    temperature: float
    top_p: float | None
    max_tokens: int
    seed: int | None
    system_prompt: str
    concurrency: int
    rpm: int | None
    tpm: int | None
    request_timeout_s: float
    request_deadline_s: float
    max_image_pixels: int
    use_n_param: str
    price_input_per_m: float | None
    price_output_per_m: float | None
    gpu_hour_price: float | None
    progress: bool

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


def resolve(config: DistillConfig | dict | None) -> Settings:
    if config is None:
        config = DistillConfig()
    elif isinstance(config, dict):
        config = DistillConfig(**config)
    preset = get_preset(config.teacher)

    def pick(value: Any, default: Any) -> Any:
        return default if value is None else value

    return Settings(
        teacher=preset.name,
        model=pick(config.model, preset.model),
        base_urls=tuple(pick(config.base_urls, preset.base_urls)),
        api_key_env=pick(config.api_key_env, preset.api_key_env),
        n=config.n,
        temperature=pick(config.temperature, preset.temperature),
        top_p=pick(config.top_p, preset.top_p),
        max_tokens=pick(config.max_tokens, preset.max_tokens),
        seed=config.seed,
        system_prompt=pick(config.system_prompt, preset.system_prompt),
        concurrency=config.concurrency,
        rpm=config.max_requests_per_minute,
        tpm=config.max_tokens_per_minute,
        request_timeout_s=config.request_timeout_s,
        request_deadline_s=config.request_deadline_s,
        max_image_pixels=config.max_image_pixels,
        use_n_param=pick(config.use_n_param, preset.use_n_param),
        price_input_per_m=pick(config.price_input_per_m, preset.price_input_per_m),
        price_output_per_m=pick(config.price_output_per_m, preset.price_output_per_m),
        gpu_hour_price=pick(config.gpu_hour_price, preset.gpu_hour_price),
        progress=config.progress,
    )
