"""Memes that come back: a reposted template (the same picture, resized, re-encoded or with a
new caption) carries what reviewers said about it before, as a prior on the new post's verdict.

The match is the images' 64-bit difference hash (data/images.py) within MAX_DISTANCE bits;
benchmarks/phash.py measures how often variants match and unrelated images do not.
"""

from __future__ import annotations

from dataclasses import replace

from analysis.verdict import Verdict

MAX_DISTANCE = 8  # of 64 bits: benchmarks/phash.py, 100% of variants, <1% of other demo pairs
WEIGHT = 0.6  # how far a template reviewed many times moves the sarcasm score, at most
WORDS = {"sarcastic": "mocking", "negative": "negative", "positive": "positive",
         "neutral": "neutral"}


def apply_prior(verdict: Verdict, readings: dict[str, int]) -> Verdict:
    """`verdict` moved towards the template's majority reading, noted in evidence."""
    if not readings:
        return verdict
    reading, count = max(readings.items(), key=lambda kv: (kv[1], kv[0]))
    total = sum(readings.values())
    strength = WEIGHT * (count / total) * count / (count + 1)  # more reviews, firmer prior
    if reading == "sarcastic":
        score = 1 - (1 - verdict.sarcasm_score) * (1 - strength)
    else:
        score = verdict.sarcasm_score * (1 - strength)
    note = f"this template was reviewed as {WORDS[reading]} {count} time{'s' * (count != 1)}"
    evidence = {**verdict.evidence, "template": {
        "reading": reading, "count": count, "readings": readings, "note": note,
        "model_sarcasm_score": verdict.sarcasm_score}}
    label = verdict.label
    if score >= 0.5 and label != "sarcastic":
        label = "sarcastic"
    elif score < 0.5 and label == "sarcastic" and reading != "sarcastic":
        label = reading
    return replace(verdict, label=label, sentiment="negative" if label == "sarcastic"
                   else (verdict.sentiment if label == verdict.label else label),
                   sarcasm=label == "sarcastic", sarcasm_score=round(score, 4),
                   explanation=f"{verdict.explanation} ({note[0].upper()}{note[1:]}.)",
                   evidence=evidence)
