"""A real OpenAI-compatible server in the suite: `transformers serve` with a tiny random
Qwen2 chat model built and saved on the spot (offline, CPU, ~20 s to start).

It answers /v1/chat/completions like any deployment would, and differs from the simulated
teacher in ways clients must survive: it returns one choice whatever `n` is, and decodes
greedily (temperature and seed change nothing)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

MODEL_NAME = "tiny-qwen2-chat"


def missing_modules() -> list[str]:
    import importlib.util

    return [m for m in ("fastapi", "uvicorn") if importlib.util.find_spec(m) is None]


CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for p in m['content'] %}"
    "{% if p['type'] == 'text' %}{{ p['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CORPUS = ["<think>Let me count the shapes carefully.</think><answer>42</answer>",
          "What is the answer? Choose A, B, C or D. 0 1 2 3 4 5 6 7 8 9 + - = yes no",
          "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ .,;:!? system user"]


def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(CORPUS * 4, trainer=trainers.BpeTrainer(
        vocab_size=384, special_tokens=SPECIAL, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                        pad_token="<|endoftext|>",
                                        additional_special_tokens=SPECIAL[1:])
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_model(folder: Path) -> Path:
    """A 2-layer random Qwen2 with a small BPE tokenizer and a Qwen-style chat template.
    Special and blank tokens get zero embeddings, so greedy decoding writes visible text."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=2048, tie_word_embeddings=True,
                         eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
                         pad_token_id=tokenizer.pad_token_id)
    model = Qwen2ForCausalLM(config)
    with torch.no_grad():   # no special or blank-only token can win a greedy step
        for i in range(len(tokenizer)):
            if not tokenizer.decode([i], skip_special_tokens=True).strip():
                model.model.embed_tokens.weight[i] = 0.0
    model.generation_config = GenerationConfig(do_sample=False, max_new_tokens=16,
                                               eos_token_id=config.eos_token_id,
                                               pad_token_id=config.pad_token_id)
    folder = folder / MODEL_NAME
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_command(folder: Path, port: int) -> list[str]:
    exe = shutil.which("transformers", path=str(Path(sys.executable).parent)) \
        or shutil.which("transformers")
    return [exe, "serve", str(folder / MODEL_NAME), "--port", str(port), "--host",
            "127.0.0.1", "--device", "cpu"]


class TransformersServer:
    """Builds the model and runs `transformers serve` on it in one child process (so the
    build overlaps other tests when launched early); `base_url` ends in /v1."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.log = folder / "serve.log"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.model = str(folder / MODEL_NAME)
        self.proc: subprocess.Popen | None = None

    def launch(self) -> TransformersServer:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "TOKENIZERS_PARALLELISM": "false"}
        self._log_fh = open(self.log, "wb")
        self.proc = subprocess.Popen([sys.executable, __file__, str(self.folder),
                                      str(self.port), str(os.getpid())], stdout=self._log_fh,
                                     stderr=subprocess.STDOUT, env=env)
        return self

    def start(self, timeout_s: float = 300.0) -> TransformersServer:
        """Launch (unless launched already) and wait until /v1/models answers."""
        if self.proc is None:
            self.launch()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"transformers serve exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2):
                    return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"transformers serve did not answer in {timeout_s:.0f}s: "
                           f"{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log_fh", None):
            self._log_fh.close()


def _die_with_parent(parent: int) -> None:
    """Linux: the server gets SIGTERM when the test run that launched it dies, even by
    SIGKILL (no orphaned server holding a port and a core)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except (AttributeError, OSError):
        return
    if os.getppid() != parent:       # the parent died before the line above
        sys.exit(0)


if __name__ == "__main__":   # build the model, then become the server
    target, port = Path(sys.argv[1]), int(sys.argv[2])
    _die_with_parent(int(sys.argv[3]))
    build_model(target)
    sys.stdout.flush()
    command = serve_command(target, port)
    os.execv(command[0], command)
