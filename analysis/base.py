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


class ModelNotAvailable(RuntimeError):
    """A configured model cannot be loaded here (not downloaded, no GPU, a missing optional
    package); the message says how to fix it. Defined here, not beside the loaders, so the CLI
    can catch it without importing torch."""


def analyze(analyzer: Analyzer, items, hurry: bool = False) -> list:
    """`analyzer.analyze(items)`; with `hurry`, its cheaper pass where it has one (`hurried`:
    the lite analyzer's auto gate). Analyzers without one give their usual verdicts."""
    hurried = getattr(analyzer, "hurried", None) if hurry else None
    return hurried(items) if hurried else analyzer.analyze(items)


def load_analyzer(settings) -> Analyzer:
    """The analyzer the [analysis] config (subtext.config.Analysis) asks for; a bare backend
    name ("lite") also works. Transformers backends check here that their models are on disk
    (ModelNotAvailable otherwise) and load the weights lazily, on first use."""
    backend = settings if isinstance(settings, str) else settings.backend
    if backend == "lite":
        from analysis.heads import ARTIFACTS
        from analysis.lite import LiteAnalyzer

        e5 = getattr(settings, "text_encoder", "minilm") == "e5"  # opt-in: see README
        return LiteAnalyzer(embed=getattr(settings, "embed", "always"),
                            auto_threshold=getattr(settings, "auto_threshold", None),
                            sarcasm_prior=getattr(settings, "sarcasm_prior", None),
                            artifacts=ARTIFACTS / "e5" if e5 else None)
    if isinstance(settings, str):
        from subtext.config import Analysis

        settings = Analysis(backend=settings)
    if backend == "vlm":
        from analysis.vlm import VlmAnalyzer

        return VlmAnalyzer(settings)
    if backend == "text-hf":
        from analysis.text_hf import TextHfAnalyzer

        return TextHfAnalyzer(settings)
    raise ValueError(f"unknown analysis backend {backend!r}")
