"""The dashboard's fixed colours: one per label, per emotion and per brand, the same on every
chart and page, so "red" always means negative and Voltra is always the same orange."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

LABEL_COLORS = {
    "negative": "#d62728",
    "sarcastic": "#8e44ad",
    "neutral": "#8c8c8c",
    "positive": "#2ca02c",
    "pending": "#dcdcdc",
}
SENTIMENT_COLORS = {k: LABEL_COLORS[k] for k in ("negative", "neutral", "positive", "pending")}
EMOTION_COLORS = {
    "anger": "#d62728",
    "disgust": "#8c6d31",
    "fear": "#6a3d9a",
    "sadness": "#1f77b4",
    "surprise": "#ff7f0e",
    "joy": "#e6b800",
    "neutral": "#8c8c8c",
    "pending": "#dcdcdc",
}
# Brand colours avoid the label hues (red, green, purple, grey) so a brand line is never read
# as a sentiment; they are far apart so two rivals never look like two shades of one colour.
BRAND_PALETTE = ("#1f77b4", "#ff7f0e", "#17becf", "#e377c2", "#8c564b", "#bcbd22", "#393b79",
                 "#ad494a")
THIN = "#b0b0b0"  # a bucket with too few posts to trust its shares
ALERT = "#b00020"  # alert markers on the time axis


def brand_colors(configured: Sequence[str], shown: Sequence[str] = ()) -> dict[str, str]:
    """A colour per brand, fixed by its place in the config (not by which brands a chart
    shows, so unticking one never recolours the others). A brand the config does not list
    gets a colour from its name, stable across runs."""
    colors = {b: BRAND_PALETTE[i % len(BRAND_PALETTE)] for i, b in enumerate(configured)}
    for brand in shown:
        if brand not in colors:
            digest = int(hashlib.sha1(brand.encode()).hexdigest(), 16)
            colors[brand] = BRAND_PALETTE[digest % len(BRAND_PALETTE)]
    return colors
