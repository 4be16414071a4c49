"""Plotly figures from trend frames (columns bucket, brand, key, count; see frames.py).
Pure functions of data frames, so they are tested without a browser or an engine."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

# Fixed per label, so "red" always means the same thing on every chart and every brand.
LABEL_COLORS = {
    "negative": "#d62728",
    "sarcastic": "#8e44ad",
    "neutral": "#8c8c8c",
    "positive": "#2ca02c",
    "pending": "#dcdcdc",
}
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
FREQ = {"hour": "h", "day": "D", "week": "W-MON"}


def volume(trends: pd.DataFrame, bucket: str | None = None) -> pd.DataFrame:
    """Posts per bucket and brand; with `bucket`, empty buckets between the first and the last
    are filled with 0 so a quiet hour shows as a dip, not as a line drawn across it."""
    table = trends.pivot_table(index="bucket", columns="brand", values="count",
                               aggfunc="sum", fill_value=0)
    if bucket and not table.empty:
        span = pd.date_range(table.index.min(), table.index.max(), freq=FREQ[bucket])
        table = table.reindex(table.index.union(span), fill_value=0)
    table.index.name = "bucket"
    return table.reset_index().melt(id_vars="bucket", var_name="brand", value_name="count")


def shares(trends: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Counts per `by` + key, with each key's share of its group (shares of a group sum to 1)."""
    counts = trends.groupby([*by, "key"], as_index=False)["count"].sum()
    counts["share"] = counts["count"] / counts.groupby(by)["count"].transform("sum")
    return counts


def volume_figure(trends: pd.DataFrame, bucket: str | None = None) -> go.Figure:
    figure = px.line(volume(trends, bucket), x="bucket", y="count", color="brand", markers=True,
                     labels={"bucket": "", "count": "posts", "brand": "brand"},
                     title="Volume")
    small = trends.empty or trends.groupby(["bucket", "brand"])["count"].sum().max() <= 10
    # Whole posts only: with small counts plotly would otherwise tick at 0.5.
    return figure.update_layout(hovermode="x unified", yaxis_rangemode="tozero",
                                yaxis_dtick=1 if small else None)


def label_share_figure(trends: pd.DataFrame) -> go.Figure:
    """Stacked bars per bucket, one panel per brand: how the mix of labels moves."""
    data = shares(trends, ["bucket", "brand"])
    figure = px.bar(data, x="bucket", y="share", color="key", facet_col="brand",
                    color_discrete_map=LABEL_COLORS, hover_data=["count"],
                    category_orders={"key": _order(data, LABEL_COLORS)},
                    labels={"bucket": "", "share": "share of posts", "key": "label"},
                    title="Label mix over time")
    return _tidy_facets(figure.update_layout(barmode="stack", yaxis_tickformat=".0%"))


def emotion_figure(trends: pd.DataFrame) -> go.Figure:
    """One horizontal 100 % bar per brand: the emotion mix over the whole range."""
    data = shares(trends, ["brand"])
    figure = px.bar(data, x="share", y="brand", color="key", orientation="h",
                    color_discrete_map=EMOTION_COLORS, hover_data=["count"],
                    category_orders={"key": _order(data, EMOTION_COLORS)},
                    labels={"share": "", "brand": "", "key": "emotion"}, title="Emotion mix")
    return figure.update_layout(barmode="stack", xaxis_tickformat=".0%")


def _order(data: pd.DataFrame, colors: dict[str, str]) -> list[str]:
    """Known keys in their fixed order, then any new key the API may add."""
    present = set(data["key"])
    return [k for k in colors if k in present] + sorted(present - set(colors))


def _tidy_facets(figure: go.Figure) -> go.Figure:
    # Facet titles read "brand=Nimbus"; the brand alone is enough.
    return figure.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
