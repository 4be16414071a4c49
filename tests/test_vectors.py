"""The encoders' vector cache: each distinct text is computed once, the least recently used
are dropped first, and a cache of size 0 keeps nothing."""

import numpy as np

from analysis.vectors import VectorCache


class Counting:
    def __init__(self):
        self.asked: list[list[str]] = []

    def __call__(self, keys):
        self.asked.append(list(keys))
        return np.array([[len(k), ord(k[0])] for k in keys], dtype=np.float32)


def test_a_repeated_text_is_computed_once_and_rows_keep_their_order():
    cache, compute = VectorCache(8, 2), Counting()
    out = cache.rows(["bb", "a", "bb", "ccc"], compute)
    assert compute.asked == [["bb", "a", "ccc"]]
    assert out.tolist() == [[2, 98], [1, 97], [2, 98], [3, 99]]
    again = cache.rows(["ccc", "dd", "a"], compute)
    assert compute.asked[1:] == [["dd"]]
    assert again.tolist() == [[3, 99], [2, 100], [1, 97]]


def test_the_least_recently_used_go_first_and_size_zero_keeps_none():
    cache, compute = VectorCache(2, 2), Counting()
    cache.rows(["a", "b"], compute)
    cache.rows(["a"], compute)  # "a" is now the most recent
    cache.rows(["c"], compute)  # drops "b"
    assert len(cache) == 2
    cache.rows(["a", "b"], compute)
    assert compute.asked[-1] == ["b"]
    none, compute = VectorCache(0, 2), Counting()
    none.rows(["a"], compute)
    none.rows(["a"], compute)
    assert compute.asked == [["a"], ["a"]] and len(none) == 0
