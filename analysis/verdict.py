"""The verdict: what every analyzer returns for one item, whatever the backend."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

LABELS = ("positive", "negative", "neutral", "sarcastic")
SENTIMENTS = ("positive", "negative", "neutral")
EMOTIONS = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")


@dataclass(frozen=True)
class Item:
    """One thing to analyze: post text and, optionally, one image file already on disk."""

    text: str
    image: Path | None = None
    lang: str | None = None


@dataclass
class Verdict:
    label: str  # the headline tag, one of LABELS
    sentiment: str  # intended polarity: sarcastic praise is negative
    sarcasm: bool
    sarcasm_score: float
    emotion: str
    emotions: dict[str, float]
    confidence: float  # routing thresholds depend on it
    explanation: str
    analyzer: str  # name@version
    latency_ms: float = 0.0
    evidence: dict = field(default_factory=dict)  # ocr_text, cues, per-modality polarity, notes

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ValueError(f"label must be one of {LABELS}, got {self.label!r}")
        if self.sentiment not in SENTIMENTS:
            raise ValueError(f"sentiment must be one of {SENTIMENTS}, got {self.sentiment!r}")
        if self.emotion not in EMOTIONS:
            raise ValueError(f"emotion must be one of {EMOTIONS}, got {self.emotion!r}")

    @property
    def ocr_text(self) -> str:
        return self.evidence.get("ocr_text", "")

    def to_dict(self) -> dict:
        """The flat shape of the API and the batch output (ocr_text lifted out of evidence)."""
        out = asdict(self)
        out["ocr_text"] = self.ocr_text
        return out
