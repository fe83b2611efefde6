"""Sentence embeddings of small BERT encoders in numpy (the default all-MiniLM-L6-v2).

A worker that embeds a few hundred texts with sentence-transformers first imports torch,
transformers, sentence-transformers and scikit-learn: 8-20 s per process on 2 cores, more
than the embedding itself. This is the same model (a BERT encoder, mean pooling over the
tokens, unit norm: what the folder's `modules.json` says) computed with numpy from its
`model.safetensors`, tokenized by its `tokenizer.json` (`tokenizers`): it loads in well
under a second and agrees with sentence-transformers to about 1e-6 (float32 rounding;
the embedding cache stores float16). Folders of any other kind of model, and machines
with a GPU, use sentence-transformers (`text.load_model`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

ATTENTION_FLOATS = 1 << 24   # attention scores held at once (64 MB)


def supports(path: str | Path) -> bool:
    """Whether `path` is a local sentence-transformers folder of a BERT encoder with mean
    pooling (then normalization, or nothing after it), with safetensors weights."""
    path = Path(path)
    try:
        modules = json.loads((path / "modules.json").read_text())
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return False
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if kinds not in (["Transformer", "Pooling", "Normalize"], ["Transformer", "Pooling"]):
        return False
    pooling = next(m for m in modules if m["type"].endswith("Pooling"))
    try:
        pool = json.loads((path / pooling["path"] / "config.json").read_text())
    except (OSError, ValueError):
        return False
    mean_only = pool.get("pooling_mode_mean_tokens") and not any(
        v for k, v in pool.items() if k.startswith("pooling_mode_") and
        k != "pooling_mode_mean_tokens")
    return bool(mean_only) and config.get("model_type") == "bert" and \
        config.get("hidden_act") == "gelu" and \
        config.get("position_embedding_type", "absolute") == "absolute" and \
        (path / "model.safetensors").exists() and (path / "tokenizer.json").exists()


class NumpyBertEncoder:
    """`encode` as sentence-transformers' for a folder that `supports` accepts."""

    def __init__(self, path: str | Path):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = Path(path)
        config = json.loads((path / "config.json").read_text())
        try:
            st = json.loads((path / "sentence_bert_config.json").read_text())
        except OSError:
            st = {}
        self.max_length = int(st.get("max_seq_length") or config["max_position_embeddings"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        weights = load_file(str(path / "model.safetensors"))
        weights = {k.removeprefix("bert."): v for k, v in weights.items()}
        self.layers = int(config["num_hidden_layers"])
        self.w = _prepare_weights(weights, self.layers)
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_length)
        pad_id = int(config.get("pad_token_id") or 0)
        self.tokenizer.enable_padding(pad_id=pad_id,
                                      pad_token=self.tokenizer.id_to_token(pad_id) or "[PAD]")

    def encode(self, texts: list[str], batch_size: int = 32, normalize_embeddings: bool = True,
               **_ignored) -> np.ndarray:
        """(len(texts), hidden) float32; batches of similar length, longest first."""
        texts = [str(t).strip() for t in texts]        # as sentence-transformers does
        order = np.argsort([-len(t) for t in texts])
        out = np.zeros((len(texts), self.w["embeddings.word_embeddings.weight"].shape[1]),
                       np.float32)
        for lo in range(0, len(texts), batch_size):
            idx = order[lo:lo + batch_size]
            enc = self.tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
            # long texts in fewer rows at once: the attention scores are rows x heads x t x t
            step = max(1, ATTENTION_FLOATS // (self.heads * ids.shape[1] ** 2))
            for k in range(0, len(idx), step):
                out[idx[k:k + step]] = self._forward(ids[k:k + step], mask[k:k + step])
        if normalize_embeddings:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self.w
        b, t = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:t][None]
             + w["embeddings.token_type_embeddings.weight"][0][None, None]).reshape(b * t, -1)
        x = self._norm(x, "embeddings.LayerNorm")
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        h = self.heads
        d = x.shape[-1] // h
        for n in range(self.layers):
            p = f"encoder.layer.{n}."
            qkv = self._linear(x, p + "qkv").reshape(b, t, 3, h, d)
            q = np.ascontiguousarray(qkv[:, :, 0].transpose(0, 2, 1, 3))   # BLAS needs
            k = np.ascontiguousarray(qkv[:, :, 1].transpose(0, 2, 3, 1))   # contiguous
            v = np.ascontiguousarray(qkv[:, :, 2].transpose(0, 2, 1, 3))
            scores = q @ k
            scores *= 1.0 / math.sqrt(d)
            scores += bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            ctx = np.ascontiguousarray((scores @ v).transpose(0, 2, 1, 3)).reshape(b * t, h * d)
            out = self._linear(ctx, p + "attention.output.dense")
            out += x
            x = self._norm(out, p + "attention.output.LayerNorm")
            out = self._linear(_gelu(self._linear(x, p + "intermediate.dense")),
                               p + "output.dense")
            out += x
            x = self._norm(out, p + "output.LayerNorm")
        x = x.reshape(b, t, -1)
        summed = (x * mask[:, :, None]).sum(axis=1)
        return summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        out = x @ self.w[name + ".weight_t"]
        out += self.w[name + ".bias"]
        return out

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        x -= x.mean(axis=-1, keepdims=True)
        scale = 1.0 / np.sqrt((x * x).mean(axis=-1, keepdims=True) + self.eps)
        x *= scale
        x *= self.w[name + ".weight"]
        x += self.w[name + ".bias"]
        return x


def _prepare_weights(weights: dict[str, np.ndarray], layers: int) -> dict[str, np.ndarray]:
    """Linear weights transposed once (x @ W^T as x @ W_t, contiguous) and the query, key
    and value projections of each layer as one matrix (one product instead of three)."""
    out = dict(weights)
    for n in range(layers):
        p = f"encoder.layer.{n}."
        parts = [p + f"attention.self.{k}" for k in ("query", "key", "value")]
        out[p + "qkv.weight"] = np.concatenate([weights[q + ".weight"] for q in parts])
        out[p + "qkv.bias"] = np.concatenate([weights[q + ".bias"] for q in parts])
    for name in [k for k in out if k.endswith(".weight") and out[k].ndim == 2]:
        out[name[:-len(".weight")] + ".weight_t"] = np.ascontiguousarray(out[name].T)
    return out


# erf by Abramowitz & Stegun 7.1.26 (absolute error under 1.5e-7, float32's own rounding
# at these magnitudes): several times faster than scipy.special.erf on float32 arrays
_ERF_P = 0.3275911
_ERF_A = (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)
GELU_BLOCK = 1 << 16   # floats per block: its temporaries stay in the CPU's cache


def _gelu(x: np.ndarray) -> np.ndarray:
    """x * Phi(x) (BERT's exact GELU), in place, a cache-sized block of rows at a time."""
    flat = x.reshape(-1, x.shape[-1])
    rows = max(1, GELU_BLOCK // flat.shape[1])
    for lo in range(0, len(flat), rows):
        _gelu_block(flat[lo:lo + rows])
    return x


def _gelu_block(x: np.ndarray) -> None:
    z = np.abs(x)
    z *= np.float32(1.0 / math.sqrt(2.0))          # |x| / sqrt 2
    t = z * np.float32(_ERF_P)
    t += 1.0
    np.reciprocal(t, out=t)
    q = t * np.float32(_ERF_A[0])
    for c in _ERF_A[1:]:
        q += np.float32(c)
        q *= t
    z *= z
    np.negative(z, out=z)
    np.exp(z, out=z)
    q *= z                                         # erfc(|x| / sqrt 2)
    q *= 0.5                                       # Phi(-|x|)
    np.subtract(1.0, q, out=q, where=x >= 0)       # Phi(x)
    x *= q
