"""Routing of verdicts to alerts: pure rules over one verdict, tested with plain values.

The stub rule of the foundation: a sarcastic verdict whose sarcasm score and confidence clear
their thresholds becomes a 'sarcasm' alert (disguised criticism). Spike rules over aggregates
come later.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Thresholds:
    sarcasm: float = 0.6
    negative: float = 0.55


@dataclass(frozen=True)
class AlertDraft:
    key: str  # one alert per (kind, post, brand), however often the rules run
    kind: str
    post_id: str
    brand: str | None
    score: float
    message: str


def route(verdict: dict, limits: Thresholds) -> list[AlertDraft]:
    """Alerts for one verdict row (post_id, label, sentiment, sarcasm_score, confidence,
    brands, text)."""
    disguised = (verdict["label"] == "sarcastic" and verdict["sentiment"] == "negative"
                 and verdict["sarcasm_score"] >= limits.sarcasm
                 and verdict["confidence"] >= limits.negative)
    if not disguised:
        return []
    brands = verdict.get("brands") or [None]
    snippet = _snippet(verdict.get("text") or "")
    return [AlertDraft(key=f"sarcasm:{verdict['post_id']}:{brand or '-'}", kind="sarcasm",
                       post_id=verdict["post_id"], brand=brand,
                       score=round(verdict["sarcasm_score"] * verdict["confidence"], 3),
                       message=f"Disguised criticism of {brand or 'an unassigned post'}: "
                               f"“{snippet}”")
            for brand in brands]


def _snippet(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
