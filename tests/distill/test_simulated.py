"""The simulated teacher over real HTTP: format, accuracy, n, max_tokens, judge, faults."""

import base64
import io
import random
import re
import subprocess
import sys

import openai
import pytest
from PIL import Image

from omr_data.distill.simulated import FINGERPRINT, SimulatedServer, near_miss, normalize_answer

ORACLE = [
    {"question": "What is 2+3?", "answer": "5", "answer_type": "number", "choices": None},
    {"question": "Which shape has three sides?", "answer": "B", "answer_type": "choice",
     "choices": ["square", "triangle", "circle"]},
]
TRACE = re.compile(r"^<think>.*</think>\s*<answer>(.*)</answer>$", re.S)


@pytest.fixture(scope="module")
def server():
    with SimulatedServer(oracle=ORACLE, accuracy=0.7, seed=1) as srv:
        yield srv


_CLIENTS = {}


def client(srv):
    if srv.base_url not in _CLIENTS:  # building a client loads CA certificates: ~30 ms
        _CLIENTS[srv.base_url] = openai.OpenAI(base_url=srv.base_url, api_key="unused",
                                               max_retries=0)
    return _CLIENTS[srv.base_url]


def ask(srv, text, **kw):
    return client(srv).chat.completions.create(
        model="teacher", messages=[{"role": "user", "content": text}], **kw)


def test_responses_are_labelled_simulated(server):
    reply = ask(server, "What is 2+3?")
    assert reply.system_fingerprint == FINGERPRINT
    assert reply.model.endswith(":simulated")
    assert client(server).models.list().data[0].owned_by == FINGERPRINT


def test_traces_are_format_correct_and_right_at_about_accuracy(server):
    reply = ask(server, "Which shape has three sides?\nA. square\nB. triangle\nC. circle",
                n=100, max_tokens=100_000)
    answers = [TRACE.match(c.message.content).group(1) for c in reply.choices]
    assert len(answers) == 100
    right = sum(a == "B" for a in answers)
    assert 55 <= right <= 85
    assert set(answers) <= {"A", "B", "C"}
    assert reply.usage.completion_tokens > 100


def test_same_request_gives_same_traces_and_max_tokens_truncates_a_prefix(server):
    full = ask(server, "What is 2+3?", n=8, max_tokens=100_000)
    cut = ask(server, "What is 2+3?", n=8, max_tokens=60)
    again = ask(server, "What is 2+3?", n=8, max_tokens=100_000)
    assert [c.message.content for c in full.choices] == [c.message.content for c in again.choices]
    reasons = [c.finish_reason for c in cut.choices]
    assert "length" in reasons and "stop" in reasons
    for a, b in zip(full.choices, cut.choices):
        assert a.message.content.startswith(b.message.content)


def test_judge_answers_one_for_equal_after_normalization(server):
    def judge(ref, cand):
        text = (f"Question: What is 2+3?\nReference answer: {ref}\nCandidate answer: {cand}\n"
                "Reply with exactly 1 or 0.")
        return ask(server, text).choices[0].message.content
    assert judge("$\\boxed{5}$", " 5. ") == "1"
    assert judge("Triangle", "triangle") == "1"
    assert judge("5", "6") == "0"


def test_normalize_and_near_miss():
    assert normalize_answer("$\\boxed{ X + 1 }$.") == "x+1"
    rng = random.Random(0)
    assert near_miss("B", "choice", ["a", "b", "c"], rng) in {"A", "C"}
    assert near_miss("7", "number", None, rng) in {"6", "8"}
    assert near_miss("Yes", "yes_no", None, rng) == "No"


def test_images_arrive_intact(server):
    buf = io.BytesIO()
    Image.new("RGB", (56, 28), "red").save(buf, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    reply = client(server).chat.completions.create(model="teacher", messages=[
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                     {"type": "text", "text": "What is 2+3?"}]}])
    import hashlib
    assert server.log[-1]["images"] == [hashlib.sha256(buf.getvalue()).hexdigest()]
    assert reply.usage.prompt_tokens >= 2  # 2 image patches of 28 px + text


def test_fault_injection_is_deterministic_and_mixed():
    kinds = ("429", "500", "503", "drop")
    def run():
        with SimulatedServer(fault_rate=0.5, faults=kinds, seed=3, retry_after_s=0.01) as srv:
            outcomes = []
            for i in range(40):
                try:
                    ask(srv, f"question {i}")
                    outcomes.append("ok")
                except openai.APIStatusError as err:
                    outcomes.append(str(err.status_code))
                    if err.status_code == 429:
                        assert err.response.headers["retry-after-ms"] == "10"
                except openai.APIConnectionError:
                    outcomes.append("drop")
            return outcomes
    first = run()
    assert first == run()
    assert set(first) == {"ok", *kinds}


def test_n_refused_when_endpoint_lacks_it():
    with SimulatedServer(supports_n=False) as srv:
        with pytest.raises(openai.BadRequestError):
            ask(srv, "hi", n=2)
        assert len(ask(srv, "hi").choices) == 1


def test_command_line_serves_and_prints_url():
    proc = subprocess.Popen(
        [sys.executable, "-m", "omr_data.distill.simulated", "--simulated", "--port", "0",
         "--quiet"], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://\S+/v1", line).group(0)
        reply = openai.OpenAI(base_url=url, api_key="x", max_retries=0).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "What is 1+1?"}])
        assert TRACE.match(reply.choices[0].message.content)
    finally:
        proc.terminate()
        proc.wait(10)


def test_command_line_requires_simulated_flag(capsys):
    from omr_data.distill.simulated import main
    assert main([]) == 2
    assert "--simulated" in capsys.readouterr().err
