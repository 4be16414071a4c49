"""Confidence calibration: a monotone map from the fused raw confidence to the share of
verdicts that were right at that confidence on dev data (fitted by `python -m
analysis.calibrate`). Routing thresholds depend on confidence meaning what it says."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ARTIFACT = Path(__file__).resolve().parent / "artifacts" / "calibration.json"


@dataclass(frozen=True)
class Calibration:
    raw: tuple[float, ...]  # increasing raw confidences
    calibrated: tuple[float, ...]  # non-decreasing accuracy at each of them

    @classmethod
    def load(cls, path: Path = ARTIFACT) -> Calibration | None:
        """The fitted map, or None where none was fitted (confidence stays raw)."""
        if not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(tuple(data["raw"]), tuple(data["calibrated"]))

    def apply(self, confidence: float) -> float:
        return float(np.interp(confidence, self.raw, self.calibrated))

    def to_json(self, **provenance) -> str:
        return json.dumps({"raw": list(self.raw), "calibrated": list(self.calibrated),
                           **provenance}, indent=1)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray,
                               bins: int = 10) -> float:
    """ECE: the mean gap between confidence and accuracy, weighted by bin size."""
    confidence, correct = np.asarray(confidence, float), np.asarray(correct, float)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    gap = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            gap += mask.mean() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(gap)
