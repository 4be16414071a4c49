"""Read results kept until the store's next write: exact by construction, since every write
goes through Store._transaction, which bumps the store's write counter after it commits.

Dashboards ask the same heavy aggregates again and again (a Streamlit page reruns on every
widget change; several viewers open the same Trends page) while the data changes only when a
collector or analysis pass commits. A cached result is keyed by the call and the counter read
*before* the query runs: a commit landing during the query makes that key stale at once (the
counter moves on), so no reader is ever served a result older than its own request.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")


class ResultCache:
    """A small LRU of results per (key, write counter); callers get copies, so a route that
    decorates a result cannot change what the next caller reads."""

    def __init__(self, size: int = 64):  # size 0: nothing kept (benchmarks' cold runs)
        self._size = size
        self._items: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, generation: int, compute: Callable[[], T]) -> T:
        full = (key, generation)
        with self._lock:
            if full in self._items:
                self._items.move_to_end(full)
                return copy.deepcopy(self._items[full])
        value = compute()  # outside the lock: two cold callers may both compute, both exact
        with self._lock:
            self._items[full] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return copy.deepcopy(value)
