"""A bounded cache of vectors by text: reposts, copy-paste and the same meme caption are
common in brand streams, and an encoder's forward pass is the dear part of reading a post."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np


class VectorCache:
    """Rows of `dim` floats computed once per distinct key; the `size` most recently used are
    kept (0 keeps none). Thread-safe; `compute` runs outside the cache's lock."""

    def __init__(self, size: int, dim: int) -> None:
        self.size, self.dim = size, dim
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def rows(self, keys: list[str], compute: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """One row per key, in order; `compute` gets each missing key once, in first-seen
        order, and returns their rows."""
        out = np.zeros((len(keys), self.dim), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        with self._lock:
            for i, key in enumerate(keys):
                hit = self._items.get(key)
                if hit is None:
                    todo.setdefault(key, []).append(i)
                else:
                    out[i] = hit
                    self._items.move_to_end(key)
        if todo:
            vectors = compute(list(todo))
            with self._lock:
                for (key, at), vec in zip(todo.items(), vectors, strict=True):
                    out[at] = vec
                    self._remember(key, vec)
        return out

    def _remember(self, key: str, vec: np.ndarray) -> None:
        if self.size <= 0:
            return
        self._items[key] = np.array(vec, dtype=np.float32)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
