"""`python -m analysis.calibrate`: fit the confidence calibration of the lite analyzer on dev
data and report its reliability.

The lite analyzer runs, as in production, on the dev splits that no head was fitted on. A
verdict is right when its headline agrees with the gold label of the set: on sarcasm sets,
sarcastic or not; on sentiment sets, the intended polarity. Half of the verdicts (stratified by
set) fit an isotonic map from raw to calibrated confidence, the other half report the expected
calibration error before and after, so the figure printed is held out from the fit.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.isotonic import IsotonicRegression

from analysis import datasets
from analysis.calibration import ARTIFACT, Calibration, expected_calibration_error
from analysis.verdict import Item

SEED = 7


@dataclass(frozen=True)
class DevSet:
    name: str
    load: object  # () -> datasets.Split
    kind: str  # "sarcasm" | "sentiment"


DEV_SETS = [
    DevSet("tweeteval-irony-val", lambda: datasets.tweeteval("irony", "val"), "sarcasm"),
    DevSet("mmsd2-valid", lambda: datasets.mmsd2("valid"), "sarcasm"),
    DevSet("tosarcasm-dev", lambda: datasets.tosarcasm("dev"), "sarcasm"),
    DevSet("chnsenticorp-heldout", lambda: datasets.chnsenticorp("heldout"), "sentiment"),
]


def right(kind: str, gold, verdict) -> bool:
    if kind == "sarcasm":
        return verdict.sarcasm == bool(gold)
    return verdict.sentiment == gold


def collect(analyzer, dev: DevSet, limit: int, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray]:
    split = dev.load()
    index = rng.permutation(len(split))[:limit]
    items = [Item(text=split.texts[i], lang=split.lang) for i in index]
    verdicts = []
    for start in range(0, len(items), 256):
        verdicts += analyzer.analyze(items[start:start + 256])
    confidence = np.array([v.confidence for v in verdicts])
    correct = np.array([right(dev.kind, split.labels[i], v) for i, v in zip(index, verdicts,
                                                                             strict=True)])
    return confidence, correct


def fit(confidence: np.ndarray, correct: np.ndarray) -> Calibration:
    # Never below chance among the four headline labels: the low end has few verdicts.
    iso = IsotonicRegression(y_min=0.25, y_max=1.0, out_of_bounds="clip", increasing=True)
    iso.fit(confidence, correct.astype(float))
    return Calibration(tuple(float(x) for x in iso.X_thresholds_),
                       tuple(float(y) for y in iso.y_thresholds_))


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> list[str]:
    lines = []
    edges = np.linspace(0, 1, bins + 1)
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        mask = (confidence >= lo) & (confidence < hi if hi < 1 else confidence <= hi)
        if mask.any():
            lines.append(f"  {lo:.1f}-{hi:.1f}: n={int(mask.sum()):5d}  mean confidence "
                         f"{confidence[mask].mean():.3f}  right {correct[mask].mean():.3f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=1500, help="verdicts per dev set")
    parser.add_argument("--out", type=Path, default=ARTIFACT)
    args = parser.parse_args(argv)
    if not datasets.available():
        parser.error(f"the shared datasets are not at {datasets.data_dir()} "
                     "(set SUBTEXT_SHARED_DATA)")
    from analysis.lite import LiteAnalyzer

    analyzer = LiteAnalyzer(read_images=False, calibrated=False)
    rng = np.random.default_rng(SEED)
    fit_c, fit_y, test = [], [], {}
    start = time.perf_counter()
    for dev in DEV_SETS:
        confidence, correct = collect(analyzer, dev, args.limit, rng)
        half = rng.permutation(len(confidence))
        a, b = half[: len(half) // 2], half[len(half) // 2:]
        fit_c.append(confidence[a])
        fit_y.append(correct[a])
        test[dev.name] = (confidence[b], correct[b])
        print(f"{dev.name}: {len(confidence)} verdicts, {correct.mean():.3f} right")
    calibration = fit(np.concatenate(fit_c), np.concatenate(fit_y))
    print("\nexpected calibration error on the held-out half (10 bins):")
    all_c, all_y = [], []
    for name, (confidence, correct) in test.items():
        after = np.array([calibration.apply(c) for c in confidence])
        print(f"  {name:24s} raw {expected_calibration_error(confidence, correct):.3f}  "
              f"calibrated {expected_calibration_error(after, correct):.3f}")
        all_c.append(after)
        all_y.append(correct)
    pooled_c, pooled_y = np.concatenate(all_c), np.concatenate(all_y)
    pooled = expected_calibration_error(pooled_c, pooled_y)
    print(f"  {'all':24s} calibrated {pooled:.3f}")
    print("\nreliability of calibrated confidence (held-out half):")
    print("\n".join(reliability(pooled_c, pooled_y)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(calibration.to_json(
        fitted_on=[d.name for d in DEV_SETS], per_set=args.limit, seed=SEED,
        held_out_ece=round(pooled, 4), analyzer=f"lite@{analyzer.version}"), encoding="utf-8")
    print(f"\nwrote {args.out} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
