"""Lexicon polarity: VADER for English, SnowNLP for Chinese.

Both ship their lexicons / models inside the package (nothing is downloaded). They serve as
features of the heads and as the lexicon baseline of `benchmarks/quality.py`.

SnowNLP is slow (its own word segmenter in pure Python: a few ms a sentence, and ~1 s to load),
so it is loaded lazily and only used where a caller asks for it.
"""

from __future__ import annotations

import functools

import numpy as np

VADER_FEATURES = ("vader_neg", "vader_neu", "vader_pos", "vader_compound")
# VADER's own recommended cut-offs for its compound score
VADER_POS, VADER_NEG = 0.05, -0.05
# SnowNLP gives P(positive); it was trained on product reviews and leans positive
SNOW_POS, SNOW_NEG = 0.6, 0.4


@functools.cache
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def vader(text: str) -> np.ndarray:
    """[neg, neu, pos, compound] as float32."""
    s = _vader().polarity_scores(text or "")
    return np.array([s["neg"], s["neu"], s["pos"], s["compound"]], dtype=np.float32)


def vader_label(text: str) -> str:
    compound = float(vader(text)[3])
    if compound >= VADER_POS:
        return "positive"
    return "negative" if compound <= VADER_NEG else "neutral"


def snownlp(text: str) -> float:
    """P(positive) from SnowNLP's naive Bayes; 0.5 for text with no Chinese to judge."""
    if not any("\u4e00" <= ch <= "\u9fff" for ch in text or ""):
        return 0.5
    from snownlp import SnowNLP

    return float(SnowNLP(text[:512]).sentiments)


def snownlp_label(text: str, binary: bool = False) -> str:
    p = snownlp(text)
    if binary:
        return "positive" if p >= 0.5 else "negative"
    if p >= SNOW_POS:
        return "positive"
    return "negative" if p <= SNOW_NEG else "neutral"


def polarity(text: str, lang: str, use_snownlp: bool = True) -> float:
    """One polarity in [-1, 1] for either language (VADER compound, or 2·P(pos)−1)."""
    if lang.startswith("zh"):
        return 2.0 * snownlp(text) - 1.0 if use_snownlp else 0.0
    return float(vader(text)[3])


def lexicon_label(text: str, lang: str, binary: bool = False) -> str:
    """The lexicon baseline's sentiment label."""
    if lang.startswith("zh"):
        return snownlp_label(text, binary)
    label = vader_label(text)
    if binary and label == "neutral":
        return "positive" if vader(text)[3] >= 0 else "negative"
    return label


def features(text: str, lang: str, use_snownlp: bool = False) -> np.ndarray:
    """[vader neg, neu, pos, compound, snownlp 2p-1] as float32. VADER also reads the English
    words and emoji inside Chinese posts; SnowNLP is off unless asked (it is the slow one)."""
    snow = polarity(text, "zh") if use_snownlp and lang.startswith("zh") else 0.0
    return np.append(vader(text), np.float32(snow)).astype(np.float32)


FEATURES = VADER_FEATURES + ("snownlp",)
