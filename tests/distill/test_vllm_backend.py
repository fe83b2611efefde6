"""`backend: vllm` (the offline `vllm.LLM` engine) against a FAKE `vllm` module.

There is no GPU and no vllm package here, so these tests put a small fake `vllm` module
into `sys.modules`. It has the shape of vLLM's Python API as read from vLLM's source
(`vllm/entrypoints/llm.py`, `vllm/outputs.py`): `LLM(model=..., **engine_args)`,
`LLM.chat(list_of_conversations, sampling_params (one per conversation), use_tqdm=...)`
returning one `RequestOutput` per conversation with `.prompt_token_ids` and `.outputs[i]`
(`CompletionOutput`: `.index`, `.text`, `.token_ids`, `.finish_reason`), and a strict
`SamplingParams(n, temperature, top_p, max_tokens, seed, ...)`. Like vLLM, a prompt
longer than `max_model_len` makes the whole `chat` call raise `ValueError`. It is not a
model: it writes simulated-teacher-style traces. What these tests check is our side:
messages (images as data URLs), sampling settings, batching, journal keys, resume, the
max_tokens rule, rejects, and the same records as the HTTP path. Whether a real vLLM
engine accepts these calls is NOT checked here (it needs a GPU machine with vllm).
"""

import base64
import hashlib
import io
import itertools
import random
import sys
import types
from dataclasses import dataclass

import pytest
from distill_helpers import config, make_records
from PIL import Image

from omr_data.distill import DistillConfig, distill, vllm_backend
from omr_data.distill.render import user_text
from omr_data.distill.simulated import _truncate_tokens, count_tokens, guess_answer, make_trace
from omr_data.llm.errors import LLMError
from omr_data.records import load_meta, make_record, validate_record

# -- the fake vllm module ------------------------------------------------------------------


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list
    cumulative_logprob: float | None
    logprobs: list | None
    finish_reason: str | None = None
    stop_reason: str | None = None


@dataclass
class RequestOutput:
    request_id: str
    prompt: str | None
    prompt_token_ids: list
    prompt_logprobs: list | None
    outputs: list
    finished: bool


class SamplingParams:
    _KNOWN = {"n", "temperature", "top_p", "top_k", "max_tokens", "seed", "stop"}

    def __init__(self, **kwargs):
        unknown = set(kwargs) - self._KNOWN
        if unknown:  # the real one is a strict struct too
            raise TypeError(f"SamplingParams got unexpected arguments {sorted(unknown)}")
        self.n, self.temperature, self.top_p = 1, 1.0, 1.0
        self.max_tokens, self.seed = 16, None
        for key, value in kwargs.items():
            setattr(self, key, value)


class LLM:
    """Records what it is asked: `built` (constructor args), `calls` (batch sizes),
    `asked` (one dict per conversation: user text, image bytes, sampling params)."""

    built: list = []
    calls: list = []
    asked: list = []
    fail_with: BaseException | None = None
    fail_init: BaseException | None = None
    _ids = itertools.count()

    def __init__(self, model, **kwargs):
        if LLM.fail_init is not None:
            raise LLM.fail_init
        LLM.built.append({"model": model, **kwargs})
        self.max_model_len = kwargs.get("max_model_len")

    def chat(self, messages, sampling_params=None, use_tqdm=True, **kwargs):
        assert use_tqdm is False
        assert isinstance(messages, list) and all(isinstance(c, list) for c in messages)
        params = sampling_params if isinstance(sampling_params, list) else \
            [sampling_params] * len(messages)
        assert len(params) == len(messages)
        if LLM.fail_with is not None:
            raise LLM.fail_with
        parsed = [_parse(conversation) for conversation in messages]
        for system, text, images in parsed:  # vLLM validates every prompt before generating
            length = _prompt_len(system, text, images)
            if self.max_model_len and length > self.max_model_len:
                raise ValueError(f"The decoder prompt (length {length}) is longer than the "
                                 f"maximum model length of {self.max_model_len}.")
        LLM.calls.append(len(messages))
        outputs = []
        for (system, text, images), p in zip(parsed, params):
            LLM.asked.append({"system": system, "text": text, "images": images, "params": p})
            samples = []
            for i in range(p.n):
                rng = random.Random(f"{text}|{p.seed}|{p.temperature}|{i}")
                trace = make_trace(text, guess_answer(text, rng), rng)
                tokens, finish = count_tokens(trace), "stop"
                if tokens > p.max_tokens:
                    trace, tokens, finish = _truncate_tokens(trace, p.max_tokens), \
                        p.max_tokens, "length"
                samples.append(CompletionOutput(i, trace, list(range(tokens)), None, None,
                                                finish))
            outputs.append(RequestOutput(str(next(LLM._ids)), None,
                                         list(range(_prompt_len(system, text, images))),
                                         None, samples, True))
        return outputs


def _parse(conversation):
    system, text, images = None, None, []
    for message in conversation:
        if message["role"] == "system":
            system = message["content"]
            continue
        assert message["role"] == "user"
        for part in message["content"]:
            if part["type"] == "text":
                text = part["text"]
            else:
                assert part["type"] == "image_url"
                url = part["image_url"]["url"]
                assert url.startswith("data:image/") and ";base64," in url
                data = base64.b64decode(url.split(",", 1)[1])
                Image.open(io.BytesIO(data)).verify()
                images.append(data)
    return system, text, images


def _prompt_len(system, text, images):
    return count_tokens(system or "") + count_tokens(text) + 64 * len(images) + 8


@pytest.fixture
def fake_vllm(monkeypatch):
    module = types.ModuleType("vllm")
    module.LLM, module.SamplingParams, module.__version__ = LLM, SamplingParams, "0.0+fake"
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setattr(LLM, "built", [])
    monkeypatch.setattr(LLM, "calls", [])
    monkeypatch.setattr(LLM, "asked", [])
    monkeypatch.setattr(LLM, "fail_with", None)
    monkeypatch.setattr(LLM, "fail_init", None)
    vllm_backend._ENGINE.clear()
    yield LLM
    vllm_backend._ENGINE.clear()


def vconfig(**kw):
    base = {"teacher": "simulated", "backend": "vllm", "n": 2, "max_tokens": 4096,
            "progress": False}
    base.update(kw)
    return base


def run(records, cfg, journal, stats=None):
    rows = list(distill(records, cfg, journal, stats=stats))
    return [r for r in rows if not r.get("reason")], [r for r in rows if r.get("reason")]


def png(w, h, colour="blue"):
    buf = io.BytesIO()
    Image.new("RGB", (w, h), colour).save(buf, format="PNG")
    return buf.getvalue()


# -- tests -------------------------------------------------------------------------------


def test_same_ids_keys_and_record_shape_as_the_http_path(server, fake_vllm, tmp_path):
    records = make_records(6)
    records.append(make_record(source="t", source_id="img", question="What is 1 + 1?",
                               answer="2", answer_type="number",
                               images=[{"bytes": png(40, 30), "path": None},
                                       {"bytes": png(400, 300, "red"), "path": None}]))
    http, _ = run(records, config(server, n=3, max_image_pixels=10_000), tmp_path / "h.sqlite")
    stats: dict = {}
    offline, rejects = run(records, vconfig(n=3, max_image_pixels=10_000),
                           tmp_path / "v.sqlite", stats)
    assert not rejects
    assert [r["id"] for r in offline] == [r["id"] for r in http]
    assert [f"{rec['id']}#{k}" for rec in records for k in range(3)] == [r["id"] for r in offline]
    for a, b in zip(http, offline):
        validate_record(b)
        assert set(a) == set(b)
        assert {c: a[c] for c in a if c not in ("response", "meta")} == \
            {c: b[c] for c in b if c not in ("response", "meta")}
        ma, mb = load_meta(a), load_meta(b)
        # the simulated HTTP teacher labels itself; vLLM (server or engine) reports neither
        ma.pop("distill.system_fingerprint"), ma.pop("distill.served_model")
        assert set(ma) == set(mb)
        for key in ("distill.request_key", "distill.k", "distill.model"):
            assert ma[key] == mb[key]
        assert set(ma["distill.usage"]) == set(mb["distill.usage"])
        assert mb["distill.finish_reason"] == "stop" and mb["distill.usage"]["prompt_tokens"] > 0
    # the images went as data URLs: the same bytes the HTTP path sent (the small one as is,
    # the large one downscaled)
    sent = [q["images"] for q in fake_vllm.asked if q["images"]]
    assert [[hashlib.sha256(b).hexdigest() for b in sent[0]]] == \
        [e["images"] for e in server.log if e["images"]]
    assert sent[0][0] == png(40, 30)
    assert all(q["system"] and q["system"].startswith("You are an expert") for q in fake_vllm.asked)
    # exact per-sample token counts (n=3 in one request)
    for i in range(0, len(offline), 3):
        usages = [load_meta(r)["distill.usage"] for r in offline[i:i + 3]]
        assert sum(u["completion_tokens"] for u in usages) == usages[0]["request_completion_tokens"]
        assert usages[0]["request_n"] == 3
    assert stats["distill.responses"] == 7 and stats["distill.traces"] == 21
    assert stats["distill.vllm_batches"] >= 1 and stats["distill.completion_tokens"] > 0


def test_a_journal_from_either_backend_is_resumed_by_the_other(server, fake_vllm, tmp_path):
    records = make_records(5)
    journal = tmp_path / "j.sqlite"
    http, _ = run(records, config(server, n=2), journal)
    offline, _ = run(records, vconfig(n=2), journal)
    assert fake_vllm.calls == [] and fake_vllm.built == []  # nothing missing: no engine
    assert [r["response"] for r in offline] == [r["response"] for r in http]
    # and the other way: an offline run, then a rerun of it, then HTTP: nothing is sent
    more = make_records(4, tag="m")
    first, _ = run(more, vconfig(n=2), journal)
    asked = len(fake_vllm.asked)
    assert asked == 4
    again, _ = run(more, vconfig(n=2), journal)
    assert len(fake_vllm.asked) == asked  # the fake recorded zero new prompts
    assert [r["response"] for r in again] == [r["response"] for r in first]
    server.reset_counters()
    over_http, _ = run(more, config(server, n=2), journal)
    assert server.requests == 0
    assert [r["response"] for r in over_http] == [r["response"] for r in first]


def test_raising_max_tokens_regenerates_only_truncated_traces(fake_vllm, tmp_path):
    records = make_records(20)
    kept, _ = run(records, vconfig(n=2, max_tokens=80), tmp_path / "j.sqlite")
    cut = {load_meta(r)["distill.request_key"] for r in kept
           if load_meta(r)["distill.finish_reason"] == "length"}
    assert 0 < len(cut) < len(kept)
    cut_questions = {user_text(r) for r in kept if load_meta(r)["distill.request_key"] in cut}
    fake_vllm.asked.clear()
    kept2, _ = run(records, vconfig(n=2, max_tokens=100_000), tmp_path / "j.sqlite")
    assert sum(q["params"].n for q in fake_vllm.asked) == len(cut)
    assert {q["text"] for q in fake_vllm.asked} == cut_questions
    assert all(q["params"].max_tokens == 100_000 for q in fake_vllm.asked)
    assert all(load_meta(r)["distill.finish_reason"] == "stop" for r in kept2)
    for a, b in zip(kept, kept2):
        if load_meta(a)["distill.request_key"] not in cut:
            assert a["response"] == b["response"]
    fake_vllm.asked.clear()
    run(records, vconfig(n=2, max_tokens=100_000), tmp_path / "j.sqlite")
    assert fake_vllm.asked == []


def test_batches_are_bounded_and_the_engine_is_built_once(fake_vllm, tmp_path):
    cfg = vconfig(n=3, temperature=0.7, top_p=0.9, max_tokens=512, vllm_batch_size=8,
                  tensor_parallel_size=4, gpu_memory_utilization=0.8, max_model_len=8192,
                  engine_kwargs={"limit_mm_per_prompt": {"image": 4}})
    kept, _ = run(make_records(30), cfg, tmp_path / "j.sqlite")
    assert len(kept) == 90
    assert max(fake_vllm.calls) <= 8 and sum(fake_vllm.calls) == 30
    assert len(fake_vllm.calls) <= 8 and max(fake_vllm.calls) > 1  # questions share a call
    run(make_records(5, tag="again"), cfg, tmp_path / "j.sqlite")
    assert fake_vllm.built == [{"model": "omr-data/simulated-teacher", "tensor_parallel_size": 4,
                                "gpu_memory_utilization": 0.8, "max_model_len": 8192,
                                "limit_mm_per_prompt": {"image": 4}}]
    run(make_records(2, tag="other"), {**cfg, "gpu_memory_utilization": 0.7},
        tmp_path / "j.sqlite")
    assert len(fake_vllm.built) == 2  # other engine settings: a new engine replaces it
    params = [q["params"] for q in fake_vllm.asked]
    assert {(p.n, p.temperature, p.top_p, p.max_tokens) for p in params} == \
        {(3, 0.7, 0.9, 512)}
    assert len({p.seed for p in params}) == len(params)  # a seed per request, from its key


def test_a_prompt_vllm_refuses_becomes_a_reject_and_the_rest_go_through(fake_vllm, tmp_path):
    records = make_records(4)
    records.insert(2, make_record(source="t", source_id="long", answer="1",
                                  answer_type="number",
                                  question="How many words? " + "word " * 300))
    kept, rejects = run(records, vconfig(n=2, max_model_len=200), tmp_path / "j.sqlite")
    assert len(kept) == 8 and [r["id"] for r in rejects] == ["t/long#0", "t/long#1"]
    assert rejects[0]["reason"].startswith("teacher request failed: vLLM refused the request: "
                                           "ValueError: The decoder prompt")
    # a rerun retries only the refused question
    fake_vllm.asked.clear()
    kept, rejects = run(records, vconfig(n=2, max_model_len=200), tmp_path / "j.sqlite")
    assert len(rejects) == 2 and fake_vllm.asked == []
    assert fake_vllm.calls[-1:] == [1]


def test_an_engine_failure_stops_the_run_with_a_clear_error(fake_vllm, tmp_path):
    fake_vllm.fail_with = RuntimeError("CUDA out of memory")
    with pytest.raises(LLMError, match="vLLM engine failed.*CUDA out of memory"):
        run(make_records(3), vconfig(), tmp_path / "j.sqlite")
    vllm_backend._ENGINE.clear()
    fake_vllm.fail_init = ValueError("signal only works in main thread of the main interpreter")
    with pytest.raises(LLMError, match=r"could not start.*vllm >= 0.10.2"):
        run(make_records(3), vconfig(), tmp_path / "j.sqlite")


def test_missing_vllm_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # `import vllm` fails, as without it
    with pytest.raises(ValueError, match=r"pip install 'omr-data\[vllm\]' on a GPU machine"):
        DistillConfig(backend="vllm")
    from omr_data.distill.stage import DistillStage
    from omr_data.stage import ConfigError
    with pytest.raises(ConfigError, match="vllm"):
        DistillStage({"teacher": "simulated", "backend": "vllm"})
    with pytest.raises(LLMError, match=r"omr-data\[vllm\]"):
        vllm_backend.import_vllm()
    DistillConfig(backend="http")  # the default backend does not need it


def test_config_checks_and_cache_key(fake_vllm):
    for bad, words in (({"backend": "tgi"}, "backend must be"),
                       ({"backend": "vllm", "base_urls": ["http://a/v1"]}, "base_urls: not used"),
                       ({"tensor_parallel_size": 2}, "only used with backend vllm"),
                       ({"backend": "vllm", "gpu_memory_utilization": 1.5}, "gpu_memory"),
                       ({"backend": "vllm", "engine_kwargs": {"model": "x"}}, "must not set"),
                       ({"backend": "vllm", "engine_kwargs": "{not json"}, "JSON object")):
        with pytest.raises(ValueError, match=words):
            DistillConfig(**bad)
    cfg = DistillConfig(backend="vllm", engine_kwargs='{"dtype": "bfloat16"}')
    assert cfg.engine_kwargs == {"dtype": "bfloat16"}
    from omr_data.distill.stage import DistillStage
    key = DistillStage(vconfig()).cache_key(["p"])
    assert key == DistillStage({**vconfig(), "backend": "http"}).cache_key(["p"])
    assert key == DistillStage(vconfig(tensor_parallel_size=8, gpu_memory_utilization=0.5,
                                       vllm_batch_size=16)).cache_key(["p"])
    assert key != DistillStage(vconfig(max_model_len=4096)).cache_key(["p"])
    assert key != DistillStage(vconfig(engine_kwargs={"quantization": "fp8"})).cache_key(["p"])


def test_stage_runs_offline_under_the_runner(fake_vllm, tmp_path):
    from omr_data.distill.stage import DistillStage
    from omr_data.runner import run_stage
    from omr_data.store import DatasetDir, write_dataset

    src = write_dataset(tmp_path / "in", make_records(5))
    out = tmp_path / "out"
    run_stage(DistillStage(vconfig(n=2)), [src.path], out, progress=False)
    ds = DatasetDir(out)
    assert [r["id"] for r in ds.iter_rows()] == [f"t/q{i}#{k}" for i in range(5) for k in range(2)]
    assert ds.manifest["stats"]["distill.traces"] == 10
    assert (out / "journal.sqlite").exists() and len(fake_vllm.asked) == 5
