"""The analyzer interface every backend implements, and the factory that picks one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from analysis.verdict import Item, Verdict


class Analyzer(Protocol):
    name: str
    version: str

    def analyze(self, items: Sequence[Item]) -> list[Verdict]:
        """One verdict per item, in order. A backend may batch internally; it raises only for
        failures of the whole batch, never for one odd item."""
        ...


def analyzer_id(analyzer: Analyzer) -> str:
    return f"{analyzer.name}@{analyzer.version}"


def load_analyzer(backend: str) -> Analyzer:
    if backend == "lite":
        from analysis.lite import LiteAnalyzer

        return LiteAnalyzer()
    raise ValueError(f"unknown analysis backend {backend!r}")
