"""The simulated teacher: a real HTTP server speaking the OpenAI chat-completions protocol.

It is NOT a model. It exists so the whole pipeline (distill, verify's LLM judge, the demo
and the tests) runs offline, and it says so everywhere: every response carries
``system_fingerprint = "omr-data-simulated"`` and a model name ending in ``:simulated``,
and every log line starts with ``[simulated teacher]``.

Two kinds of requests are answered:

* **teacher requests** get format-correct traces ``<think>…</think><answer>…</answer>``
  whose final answer is right with probability ``accuracy``. The gold answer comes from an
  *oracle*: a dataset directory (or records) whose question text is looked up in the user
  message. Wrong answers are near-misses (another option letter, a number ±1, the other of
  yes/no, …). Without an oracle the answer is a guess in the right format. Traces vary in
  length so ``max_tokens`` truncation (``finish_reason == "length"``) is testable; a trace
  depends only on (seed, the request minus ``n``/``max_tokens``, sample index), so raising
  ``max_tokens`` continues the same trace and reruns are stable.
* **judge requests** (a user message with ``Reference answer:`` and ``Candidate answer:``
  lines) get ``1`` when the candidate equals the reference after light normalization (case,
  whitespace, ``$``, ``\\boxed{}``, trailing period), else ``0``.

Fault injection (``fault_rate``) answers a request with 429 (with ``Retry-After``), 500,
503, a dropped connection, a hang or a slow success, decided by (seed, request content,
attempt number) so a run's faults do not depend on arrival order.

Python::

    with SimulatedServer(accuracy=0.7, oracle="data/normalized") as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x")

Command line: ``omr-data serve-teacher --simulated --port 8000 --oracle DIR``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import io
import json
import logging
import math
import random
import re
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web
from PIL import Image

from omr_data.llm.client import KEY_HEADER
from omr_data.store import DatasetDir

log = logging.getLogger("omr_data.distill.simulated")

FINGERPRINT = "omr-data-simulated"
DEFAULT_MODEL = "omr-data/simulated-teacher"
FAULT_KINDS = ("429", "500", "503", "drop", "hang", "slow")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_OPTION_LINE = re.compile(r"^\s*\(?([A-Z])[\.\):]\s+\S")
_LABELS = ("Question:", "Reference answer:", "Candidate answer:")


def count_tokens(text: str) -> int:
    """The simulator's tokenizer: words and punctuation marks."""
    return sum(1 for _ in _TOKEN.finditer(text))


def _truncate_tokens(text: str, limit: int) -> str:
    for i, match in enumerate(_TOKEN.finditer(text)):
        if i == limit:
            return text[:match.start()].rstrip()
    return text


def _rng(*parts: Any) -> random.Random:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


# ---------------------------------------------------------------------------------------
# Answers


def normalize_answer(text: str) -> str:
    """Light normalization used by the judge: case, whitespace, $, \\boxed{}, final period."""
    text = text.replace("$", "").strip().rstrip(".").strip()
    while True:
        match = re.fullmatch(r"\s*\\boxed\{(.*)\}\s*", text, flags=re.S)
        if not match:
            break
        text = match.group(1)
    text = re.sub(r"\s+", "", text).lower()
    return text.rstrip(".")


def near_miss(gold: str, answer_type: str | None, choices: list[str] | None,
              rng: random.Random) -> str:
    """A plausible wrong answer: another option, a neighbouring number, the other yes/no."""
    gold = gold.strip()
    if choices and len(choices) > 1 and re.fullmatch(r"[A-Z]", gold):
        letters = [chr(ord("A") + i) for i in range(len(choices))]
        return rng.choice([x for x in letters if x != gold])
    if answer_type == "yes_no" or gold.lower() in ("yes", "no"):
        flipped = "No" if gold.lower() == "yes" else "Yes"
        return flipped if gold[:1].isupper() else flipped.lower()
    try:
        value = float(gold.replace(",", ""))
    except ValueError:
        if answer_type == "expression":
            return f"{gold} + 1"
        return rng.choice([f"not {gold}", f"{gold}s", gold[::-1] if len(gold) > 2 else f"{gold}?"])
    delta = rng.choice((-1, 1))
    if value.is_integer() and "." not in gold:
        return str(int(value) + delta)
    decimals = len(gold.split(".")[1]) if "." in gold else 2
    return f"{value + delta:.{decimals}f}"


def guess_answer(user_text: str, rng: random.Random) -> str:
    """No oracle: an answer in the right format (an option letter if options are listed)."""
    letters = [m.group(1) for line in user_text.splitlines() if (m := _OPTION_LINE.match(line))]
    if letters:
        return rng.choice(letters)
    if re.search(r"\b(is|are|does|do|can|will)\b[^?]*\?\s*$", user_text.strip(), flags=re.I) \
            and rng.random() < 0.5:
        return rng.choice(("Yes", "No"))
    return str(rng.randint(0, 20))


class Oracle:
    """Question text → (gold answer, answer type, choices), found inside a user message."""

    def __init__(self, records: Iterable[Mapping[str, Any]]):
        self._by_line: dict[str, list[tuple[str, dict]]] = {}
        self.size = 0
        for row in records:
            question = (row.get("question") or "").strip()
            if not question or not row.get("answer"):
                continue
            first = question.splitlines()[0].strip()
            entries = self._by_line.setdefault(first, [])
            if any(q == question for q, _ in entries):
                continue
            entries.append((question, {"answer": row["answer"],
                                       "answer_type": row.get("answer_type"),
                                       "choices": row.get("choices")}))
            self.size += 1

    @classmethod
    def load(cls, source: Any) -> Oracle | None:
        if source is None or isinstance(source, Oracle):
            return source
        if isinstance(source, (str, Path)):
            ds = DatasetDir(source)
            return cls(ds.iter_rows(columns=["question", "answer", "answer_type", "choices"]))
        return cls(source)

    def lookup(self, user_text: str) -> dict | None:
        best = None
        for line in user_text.splitlines():
            for question, gold in self._by_line.get(line.strip(), ()):
                if question in user_text and (best is None or len(question) > len(best[0])):
                    best = (question, gold)
        return best[1] if best else None


_STEPS = (
    "Let me read the question carefully and identify what is being asked.",
    "The important quantities are stated in the problem, so I list them first.",
    "I will look at the figure and note the relevant labels and values.",
    "Next I set up the relationship between the known and unknown parts.",
    "Substituting the values gives an intermediate result that I check again.",
    "This step follows from the previous one by simple arithmetic.",
    "I should double-check the units and whether the answer must be an option letter.",
    "Comparing with each option, only one is consistent with the computation.",
    "Let me verify the reasoning once more to avoid a careless mistake.",
    "So the result of this part is consistent with the constraints of the problem.",
)


def make_trace(question: str, answer: str, rng: random.Random) -> str:
    """A format-correct trace of varying length (about 15 to 900 tokens)."""
    words = [w for w in re.findall(r"[A-Za-z]{4,}", question)][:12]
    steps = [f"The question asks about {' '.join(words[:6]) or 'the given figure'}."]
    for i in range(rng.choice((1, 2, 3, 5, 8, 13, 21, 34, 55))):
        step = rng.choice(_STEPS)
        if words and rng.random() < 0.3:
            step += f" Here {rng.choice(words).lower()} matters."
        steps.append(f"Step {i + 1}: {step}")
    steps.append(f"Therefore the final answer is {answer}.")
    return f"<think>\n{chr(10).join(steps)}\n</think>\n<answer>{answer}</answer>"


# ---------------------------------------------------------------------------------------
# Requests


def _user_parts(messages: list) -> tuple[str, list[bytes]]:
    """The last user message's text and its images' bytes."""
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content, []
            texts, images = [], []
            for part in content or ():
                if not isinstance(part, Mapping):
                    continue
                if part.get("type") == "text":
                    texts.append(str(part.get("text", "")))
                elif part.get("type") == "image_url":
                    url = (part.get("image_url") or {}).get("url", "")
                    images.append(_data_url_bytes(url))
            return "\n".join(texts), images
    return "", []


def _data_url_bytes(url: str) -> bytes:
    if not url.startswith("data:") or ";base64," not in url:
        raise ValueError("the simulated teacher only accepts base64 data URLs for images")
    return base64.b64decode(url.split(";base64,", 1)[1], validate=True)


def _image_tokens(data: bytes) -> int:
    try:
        with Image.open(io.BytesIO(data)) as img:
            w, h = img.size
        return max(1, math.ceil(w / 28) * math.ceil(h / 28))
    except Exception:  # noqa: BLE001 - unreadable image: a fixed cost, like a real server's guess
        return 256


def _prompt_tokens(messages: list, images: list[bytes]) -> int:
    total = 0
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            total += count_tokens(content) + 4
        else:
            for part in content or ():
                if isinstance(part, Mapping) and part.get("type") == "text":
                    total += count_tokens(str(part.get("text", "")))
            total += 4
    return total + sum(_image_tokens(b) for b in images)


def _judge_fields(text: str) -> dict[str, str] | None:
    """The labelled lines of a judge prompt; a value is the rest of its line (or the next
    non-empty line when the label ends its line)."""
    if "Reference answer:" not in text or "Candidate answer:" not in text:
        return None
    fields, pending = {}, None
    for line in text.splitlines():
        stripped = line.strip()
        label = next((lab for lab in _LABELS if stripped.startswith(lab)), None)
        if label:
            value = stripped[len(label):].strip()
            fields[label[:-1]] = value
            pending = None if value else label[:-1]
        elif pending and stripped:
            fields[pending], pending = stripped, None
    return fields


class _Fault(Exception):
    def __init__(self, kind: str):
        self.kind = kind


# ---------------------------------------------------------------------------------------
# The server


class SimulatedServer:
    """The simulated OpenAI-compatible teacher and judge, served from a background thread.

    Counters for tests (read them after requests complete): ``requests`` (received),
    ``ok`` (successful responses sent), ``faults_sent`` (by kind), ``received_by_key`` and
    ``ok_by_key`` (per key named in the ``X-Request-Key`` header, comma separated, else per
    request content hash), ``max_in_flight``,
    ``log`` (one dict per request: key, kind, n, max_tokens, image sha256s, status).
    """

    def __init__(self, port: int = 0, *, host: str = "127.0.0.1", accuracy: float = 0.7,
                 seed: int = 0, latency_s: float = 0.0, latency_jitter_s: float = 0.0,
                 fault_rate: float = 0.0, faults: Iterable[str] = FAULT_KINDS,
                 retry_after_s: float = 1.0, hang_s: float = 600.0, slow_s: float = 2.0,
                 oracle: Any = None, judge_accuracy: float = 1.0, supports_n: bool = True,
                 models: Iterable[str] = (DEFAULT_MODEL,), keep_log: bool = True,
                 api_key: str | None = None, greedy: bool = False):
        for name, value in (("accuracy", accuracy), ("fault_rate", fault_rate),
                            ("judge_accuracy", judge_accuracy)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        unknown = set(faults) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kind(s) {sorted(unknown)}; known: {FAULT_KINDS}")
        self.host, self.port = host, port
        self.accuracy, self.seed, self.judge_accuracy = accuracy, seed, judge_accuracy
        self.latency_s, self.latency_jitter_s = latency_s, latency_jitter_s
        self.fault_rate, self.faults = fault_rate, tuple(faults)
        self.retry_after_s, self.hang_s, self.slow_s = retry_after_s, hang_s, slow_s
        self.supports_n = supports_n
        # greedy: ignore temperature/seed/n and repeat one trace per prompt, as a server
        # decoding greedily does (transformers serve); for testing diversity warnings
        self.greedy = greedy
        self.models = list(models)
        self.oracle = Oracle.load(oracle)
        self.keep_log = keep_log
        self.api_key = api_key
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests = 0
        self.ok = 0
        self.faults_sent: Counter[str] = Counter()
        self.received_by_key: Counter[str] = Counter()
        self.ok_by_key: Counter[str] = Counter()
        self.log: list[dict] = []
        self._attempts: Counter[str] = Counter()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> SimulatedServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(1024)
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, args=(sock,), daemon=True,
                                        name="simulated-teacher")
        self._thread.start()
        self._started.wait(30)
        if self._error:
            raise RuntimeError(f"simulated teacher failed to start: {self._error}")
        log.info("[simulated teacher] listening on %s (accuracy=%.2f, fault_rate=%.2f, "
                 "oracle=%s questions)", self.base_url, self.accuracy, self.fault_rate,
                 self.oracle.size if self.oracle else "no")
        return self

    def close(self) -> None:
        if self._loop is None or self._thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        try:
            future.result(timeout=10)
        except Exception:  # noqa: BLE001 - closing is best effort; the loop stops anyway
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None
        log.info("[simulated teacher] stopped after %d requests", self.requests)

    async def _shutdown(self) -> None:
        await self._runner.cleanup()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    def __enter__(self) -> SimulatedServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def reset_counters(self) -> None:
        self.requests = self.ok = self.max_in_flight = 0
        self.faults_sent.clear()
        self.received_by_key.clear()
        self.ok_by_key.clear()
        self.log.clear()

    def _serve(self, sock: socket.socket) -> None:

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            app = web.Application(client_max_size=256 * 1024 * 1024)
            app.router.add_post("/v1/chat/completions", self._handle_chat)
            app.router.add_get("/v1/models", self._handle_models)
            self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                         shutdown_timeout=0.5)
            loop.run_until_complete(self._runner.setup())
            loop.run_until_complete(web.SockSite(self._runner, sock).start())
        except BaseException as err:  # noqa: BLE001 - reported to start()
            self._error = err
            self._started.set()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    # -- handlers ----------------------------------------------------------------------
    async def _handle_models(self, request):
        return web.json_response({"object": "list", "data": [
            {"id": m, "object": "model", "created": 0, "owned_by": FINGERPRINT}
            for m in self.models]})

    async def _handle_chat(self, request):
        self.requests += 1
        if self.api_key and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, "invalid API key (simulated)")
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._chat(request)
        finally:
            self.in_flight -= 1

    async def _chat(self, request):

        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "request body is not JSON")
        problem = _check_body(body)
        if problem:
            return _error(400, problem)
        n = int(body.get("n") or 1)
        if n > 1 and not self.supports_n:
            return _error(400, "n > 1 is not supported by this endpoint (simulated); "
                               "send one request per sample")
        content_hash = _content_hash(body)
        keys = [k for k in (request.headers.get(KEY_HEADER) or content_hash).split(",") if k]
        key = keys[0]
        self.received_by_key.update(keys)
        attempt = self._attempts[content_hash]
        self._attempts[content_hash] += 1
        entry = {"key": key, "keys": keys, "content_hash": content_hash, "n": n, "attempt": attempt,
                 "max_tokens": _max_tokens(body)}
        if self.keep_log:
            self.log.append(entry)
        try:
            text, images = _user_parts(body["messages"])
        except ValueError as err:
            entry["status"] = 400
            return _error(400, str(err))
        entry["images"] = [hashlib.sha256(b).hexdigest() for b in images]

        fault = self._pick_fault(content_hash, attempt)
        if fault:
            self.faults_sent[fault] += 1
        delay = self.latency_s
        if self.latency_jitter_s:
            delay += _rng(self.seed, content_hash, attempt, "lat").uniform(0, self.latency_jitter_s)
        if fault == "slow":
            delay += self.slow_s
        elif fault == "hang":
            delay += self.hang_s
        if delay > 0:
            await asyncio.sleep(delay)
        if fault in ("429", "500", "503", "drop"):
            entry["status"] = fault
            log.debug("[simulated teacher] injected fault %s for %s", fault, key[:12])
            if fault == "drop":
                request.transport.close()
                raise asyncio.CancelledError  # aiohttp drops the connection without a reply
            if fault == "429":
                return web.json_response(
                    {"error": {"message": "rate limited (simulated)", "type": "rate_limit"}},
                    status=429, headers={
                        "Retry-After": str(max(1, math.ceil(self.retry_after_s))),
                        "retry-after-ms": str(int(self.retry_after_s * 1000))})
            return _error(int(fault), f"simulated server error {fault}")
        payload = self._completion(body, text, images, content_hash, n)
        if request.transport is None or request.transport.is_closing():
            entry["status"] = "abandoned"   # the client gave up (timeout): not delivered
            self.faults_sent["abandoned"] += 1
            return web.Response(status=499)
        self.ok += 1
        self.ok_by_key.update(keys)
        entry["status"] = 200
        return web.json_response(payload)

    def _pick_fault(self, content_hash: str, attempt: int) -> str | None:
        if not self.fault_rate or not self.faults:
            return None
        rng = _rng(self.seed, content_hash, attempt, "fault")
        if rng.random() >= self.fault_rate:
            return None
        return rng.choice(self.faults)

    def _completion(self, body: dict, text: str, images: list[bytes], content_hash: str,
                    n: int) -> dict:
        model = str(body.get("model") or DEFAULT_MODEL)
        max_tokens = _max_tokens(body)
        judge = _judge_fields(text)
        choices, completion_tokens = [], 0
        prompt_hash = _messages_hash(body) if self.greedy else None
        for i in range(n):
            rng = (_rng(self.seed, prompt_hash, 0) if self.greedy
                   else _rng(self.seed, content_hash, i))
            if judge is not None:
                content = self._judge(judge, rng)
            else:
                content = self._teach(text, rng)
            finish = "stop"
            tokens = count_tokens(content)
            if max_tokens is not None and tokens > max_tokens:
                content = _truncate_tokens(content, max_tokens)
                finish, tokens = "length", max_tokens
            completion_tokens += tokens
            choices.append({"index": i, "finish_reason": finish, "logprobs": None,
                            "message": {"role": "assistant", "content": content}})
        prompt_tokens = _prompt_tokens(body["messages"], images)
        return {
            "id": f"chatcmpl-sim-{content_hash[:16]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": f"{model}:simulated",
            "system_fingerprint": FINGERPRINT,
            "choices": choices,
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }

    def _teach(self, text: str, rng: random.Random) -> str:
        gold = self.oracle.lookup(text) if self.oracle else None
        if gold is None:
            answer = guess_answer(text, rng)
        elif rng.random() < self.accuracy:
            answer = gold["answer"]
        else:
            answer = near_miss(gold["answer"], gold["answer_type"], gold["choices"], rng)
        return make_trace(text, answer, rng)

    def _judge(self, fields: dict[str, str], rng: random.Random) -> str:
        same = normalize_answer(fields.get("Reference answer", "")) == \
            normalize_answer(fields.get("Candidate answer", ""))
        if rng.random() >= self.judge_accuracy:
            same = not same
        return "1" if same else "0"


def _check_body(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty list"
    if body.get("stream"):
        return "the simulated teacher does not stream; send stream=false"
    n = body.get("n", 1)
    if n is not None and (not isinstance(n, int) or not 1 <= n <= 128):
        return "n must be an integer in [1, 128]"
    mt = _max_tokens(body)
    if mt is not None and (not isinstance(mt, int) or mt < 1):
        return "max_tokens must be a positive integer"
    return None


def _max_tokens(body: dict) -> int | None:
    value = body.get("max_completion_tokens", body.get("max_tokens"))
    return value


def _content_hash(body: dict) -> str:
    """The request without n and max_tokens: a trace continues when max_tokens grows."""
    core = {k: v for k, v in body.items() if k not in ("n", "max_tokens", "max_completion_tokens")}
    return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()


def _messages_hash(body: dict) -> str:
    """The prompt alone (model and messages): what a greedy server's output depends on."""
    return hashlib.sha256(json.dumps([body.get("model"), body.get("messages")],
                                     sort_keys=True).encode()).hexdigest()


def _error(status: int, message: str):
    return web.json_response({"error": {"message": message, "type": "simulated_error",
                                        "code": status}}, status=status)


# ---------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omr-data serve-teacher",
        description="Serve the SIMULATED teacher: an OpenAI-compatible HTTP server that writes "
                    "format-correct <think>/<answer> traces (right with probability "
                    "--accuracy) and answers 0/1 judge prompts. Not a model; for offline "
                    "demos and tests.",
        epilog="example: omr-data serve-teacher --simulated --port 8000 --oracle data/normalized")
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's options (also `omr-data serve-teacher`'s)."""
    parser.add_argument("--simulated", action="store_true",
                        help="serve the simulated teacher (the only server this command has)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to bind (default %(default)s)")
    parser.add_argument("--port", type=int, default=8000,
                        help="port (0 = any free port; the URL is printed) (default %(default)s)")
    parser.add_argument("--accuracy", type=float, default=0.7,
                        help="probability that a trace's final answer is right "
                             "(default %(default)s)")
    parser.add_argument("--oracle", metavar="DIR",
                        help="dataset directory whose question → gold answer the server looks "
                             "up; without it answers are guesses in the right format")
    parser.add_argument("--seed", type=int, default=0,
                        help="determinism seed (default %(default)s)")
    parser.add_argument("--latency", type=float, default=0.0, metavar="S",
                        help="seconds each response waits (default %(default)s)")
    parser.add_argument("--fault-rate", type=float, default=0.0,
                        help="fraction of requests answered with 429/500/503/drop/hang/slow "
                             "(default %(default)s)")
    parser.add_argument("--faults", default=",".join(FAULT_KINDS),
                        help="fault kinds to inject, comma separated (default %(default)s)")
    parser.add_argument("--retry-after", type=float, default=1.0, metavar="S",
                        help="Retry-After of injected 429s (default %(default)s)")
    parser.add_argument("--hang", type=float, default=600.0, metavar="S",
                        help="how long an injected hang lasts (default %(default)s)")
    parser.add_argument("--no-n", action="store_true",
                        help="refuse n > 1 with HTTP 400, like endpoints without the n parameter")
    parser.add_argument("--greedy", action="store_true",
                        help="ignore temperature, seed and n: repeat one trace per prompt, like a "
                             "server that decodes greedily (transformers serve)")
    parser.add_argument("--quiet", action="store_true", help="log warnings only")


def main(argv: list[str] | None = None) -> int:
    return serve(build_parser().parse_args(argv))


def serve(args: argparse.Namespace) -> int:
    """Serve until interrupted, with the options of `add_arguments`."""
    if not args.simulated:
        print("error: only the simulated teacher can be served here; add --simulated "
              "(for a real teacher run vLLM: `vllm serve MODEL`)", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(message)s")
    try:
        server = SimulatedServer(
            args.port, host=args.host, accuracy=args.accuracy, seed=args.seed,
            latency_s=args.latency, fault_rate=args.fault_rate,
            faults=[f for f in args.faults.split(",") if f], retry_after_s=args.retry_after,
            hang_s=args.hang, oracle=args.oracle, supports_n=not args.no_n,
            keep_log=False, greedy=args.greedy).start()
    except (ValueError, OSError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"[simulated teacher] serving {server.base_url} (SIMULATED: not a model)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
