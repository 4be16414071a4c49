"""Plotly figures from trend frames (columns bucket, brand, key, count; see frames.py).
Pure functions of data frames, so they are tested without a browser or an engine.

Every time chart takes the `span` (start, end) it shows: the x axis is that span and nothing
else, so one post dated in 2099 can never stretch the axis to 2100. Ratios (label shares, net
sentiment, sarcasm rate) need `min_count` analyzed posts in a bucket: a bucket with fewer is
drawn hollow and grey (or left as a gap), never as a confident 100 % bar from two posts.
Every point carries its brand in `customdata`, so a click on it selects (bucket, brand).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.palette import (
    ALERT,
    EMOTION_COLORS,
    LABEL_COLORS,
    THIN,
    brand_colors,
)

FREQ = {"hour": "h", "day": "D", "week": "W-MON"}
MIN_COUNT = 5  # analyzed posts a bucket needs before its shares are drawn as solid
Span = tuple[pd.Timestamp, pd.Timestamp]
Colors = dict[str, str]


# -- frames ----------------------------------------------------------------------------------

def clamp(trends: pd.DataFrame, span: Span | None) -> pd.DataFrame:
    """Only the rows whose bucket starts inside the span (a future-dated post stays out)."""
    if span is None or trends.empty:
        return trends
    start, end = span
    keep = (trends["bucket"] >= bucket_start(start, "week")) & (trends["bucket"] <= end)
    return trends[keep].reset_index(drop=True)


def buckets(bucket: str, span: Span) -> pd.DatetimeIndex:
    """Every bucket start from the one holding span's start up to its end."""
    start, end = span
    first = bucket_start(start, bucket)
    return pd.date_range(first, end, freq=FREQ[bucket] if bucket != "week" else "7D")


def bucket_start(moment: pd.Timestamp, bucket: str) -> pd.Timestamp:
    """The start of the bucket holding `moment` (as DuckDB's date_trunc computes it)."""
    if bucket == "week":  # DuckDB's date_trunc('week') starts on Monday
        day = moment.floor("D")
        return day - pd.Timedelta(days=day.weekday())
    return moment.floor(FREQ[bucket])


def volume(trends: pd.DataFrame, bucket: str | None = None,
           span: Span | None = None) -> pd.DataFrame:
    """Posts per bucket and brand; with `bucket`, empty buckets (between the first and the last,
    or over the whole `span`) are filled with 0 so a quiet hour shows as a dip, not as a line
    drawn across it."""
    table = clamp(trends, span).pivot_table(index="bucket", columns="brand", values="count",
                                            aggfunc="sum", fill_value=0)
    if bucket and not table.empty:
        full = (buckets(bucket, span) if span else
                pd.date_range(table.index.min(), table.index.max(), freq=FREQ[bucket]))
        table = table.reindex(table.index.union(full), fill_value=0)
    table.index.name = "bucket"
    out = table.reset_index().melt(id_vars="bucket", var_name="brand", value_name="count")
    out["count"] = out["count"].astype("int64")
    return out


def shares(trends: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Counts per `by` + key, with each key's share of its group (shares of a group sum to 1)."""
    counts = trends.groupby([*by, "key"], as_index=False)["count"].sum()
    counts["share"] = counts["count"] / counts.groupby(by)["count"].transform("sum")
    return counts


def bucket_end(start: pd.Timestamp, bucket: str) -> pd.Timestamp:
    return start + {"hour": pd.Timedelta(hours=1), "day": pd.Timedelta(days=1),
                    "week": pd.Timedelta(days=7)}[bucket]


def analyzed(trends: pd.DataFrame) -> pd.DataFrame:
    """Rows of analyzed posts only: a backlog of pending ones must not dilute a share."""
    return trends[trends["key"] != "pending"]


def label_shares(trends: pd.DataFrame, min_count: int = MIN_COUNT) -> pd.DataFrame:
    """Label shares of analyzed posts per bucket and brand, with `total` (analyzed posts in
    the bucket) and `thin` (total below min_count: not enough to trust the mix)."""
    data = shares(analyzed(trends), ["bucket", "brand"])
    data["total"] = data.groupby(["bucket", "brand"])["count"].transform("sum").astype("int64")
    data["thin"] = data["total"] < min_count
    return data


def net_sentiment(sentiments: pd.DataFrame, min_count: int = MIN_COUNT) -> pd.DataFrame:
    """(positive − negative) / (positive + negative) per bucket and brand, from `by=sentiment`
    trends (sarcastic praise counts as negative). `net` is NaN where fewer than min_count
    posts carry a polarity, so a line breaks rather than swinging on one post."""
    wide = sentiments.pivot_table(index=["bucket", "brand"], columns="key", values="count",
                                  aggfunc="sum", fill_value=0)
    pos = wide.get("positive", pd.Series(0, index=wide.index))
    neg = wide.get("negative", pd.Series(0, index=wide.index))
    out = pd.DataFrame({"positive": pos, "negative": neg}).astype("int64")
    out["polar"] = out["positive"] + out["negative"]
    out["net"] = ((out["positive"] - out["negative"]) / out["polar"]).where(
        out["polar"] >= min_count)
    return out.reset_index()


def rate(trends: pd.DataFrame, key: str = "sarcastic", min_count: int = MIN_COUNT
         ) -> pd.DataFrame:
    """Share of analyzed posts with label `key` per bucket and brand (NaN below min_count)."""
    data = analyzed(trends)
    totals = data.groupby(["bucket", "brand"])["count"].sum()
    hits = data[data["key"] == key].groupby(["bucket", "brand"])["count"].sum()
    out = pd.DataFrame({"total": totals, "count": hits.reindex(totals.index, fill_value=0)})
    out = out.astype("int64")
    out["rate"] = (out["count"] / out["total"]).where(out["total"] >= min_count)
    return out.reset_index()


def share_of_voice(trends: pd.DataFrame) -> pd.DataFrame:
    """Each brand's share of all brand mentions per bucket (a post naming two brands counts
    for both)."""
    data = trends.groupby(["bucket", "brand"], as_index=False)["count"].sum()
    data["share"] = data["count"] / data.groupby("bucket")["count"].transform("sum")
    return data


def totals(trends: pd.DataFrame) -> pd.DataFrame:
    """Counts per brand and key over the whole range (the source and language breakdowns)."""
    return trends.groupby(["brand", "key"], as_index=False)["count"].sum()


def selected(selection: dict | None) -> tuple[pd.Timestamp, str | None] | None:
    """The (bucket, brand) of the first clicked point of a Streamlit plotly selection event,
    or None when nothing is selected. The brand rides in the point's customdata."""
    points = (selection or {}).get("points") or []
    for point in points:
        if point.get("x") is None:
            continue
        moment = pd.Timestamp(point["x"])
        moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
        custom = point.get("customdata")
        brand = custom[0] if isinstance(custom, list | tuple) and custom else custom
        return moment, brand if isinstance(brand, str) else None
    return None


# -- figures ---------------------------------------------------------------------------------

def volume_figure(trends: pd.DataFrame, bucket: str | None = None, colors: Colors | None = None,
                  span: Span | None = None, alerts: pd.DataFrame | None = None) -> go.Figure:
    data = volume(trends, bucket, span)
    colors = colors or brand_colors(sorted(data["brand"].unique()))
    figure = go.Figure()
    for brand, rows in data.groupby("brand", sort=False):
        figure.add_trace(go.Scatter(
            x=rows["bucket"], y=rows["count"], name=brand, mode="lines+markers",
            line={"color": colors.get(brand)}, customdata=[[brand]] * len(rows),
            hovertemplate=f"{brand}: %{{y}} posts<extra></extra>"))
    small = data.empty or data["count"].max() <= 10
    # Whole posts only: with small counts plotly would otherwise tick at 0.5.
    # Hover on the closest point (not "x unified"): a click then selects that one point.
    figure.update_layout(title="Volume (click a point for the posts behind it)",
                         hovermode="closest", yaxis_rangemode="tozero",
                         yaxis_dtick=1 if small else None, yaxis_title="posts")
    add_alert_markers(figure, alerts, span)
    return _span(figure, span)


def add_alert_markers(figure: go.Figure, alerts: pd.DataFrame | None,
                      span: Span | None = None) -> go.Figure:
    """Alerts as triangles on the time axis (at y = 0), hovering their kind and message.
    `alerts` has columns created_at, kind, brand, message."""
    if alerts is None or alerts.empty:
        return figure
    shown = alerts
    if span is not None:
        shown = alerts[(alerts["created_at"] >= span[0]) & (alerts["created_at"] <= span[1])]
    if shown.empty:
        return figure
    text = [f"{k} alert · {b or 'no brand'}<br>{(m or '')[:80]}"
            for k, b, m in zip(shown["kind"], shown["brand"], shown["message"], strict=True)]
    return figure.add_trace(go.Scatter(
        x=shown["created_at"], y=[0] * len(shown), name="alerts", mode="markers",
        marker={"symbol": "triangle-up", "size": 12, "color": ALERT},
        customdata=[[b] for b in shown["brand"]], hovertext=text, hoverinfo="text"))


def label_share_figure(trends: pd.DataFrame, colors: Colors | None = None,
                       span: Span | None = None, min_count: int = MIN_COUNT) -> go.Figure:
    """Stacked label shares per bucket, one panel per brand: how the mix of labels moves.
    A bucket with fewer than min_count analyzed posts is drawn faint and hatched."""
    data = label_shares(clamp(trends, span), min_count)
    brands = sorted(data["brand"].unique()) or [""]
    figure = make_subplots(rows=1, cols=len(brands), shared_yaxes=True,
                           subplot_titles=brands, horizontal_spacing=0.03)
    for key in _order(data, LABEL_COLORS):
        for col, brand in enumerate(brands, start=1):
            rows = data[(data["key"] == key) & (data["brand"] == brand)]
            if rows.empty:
                continue
            thin = rows["thin"].tolist()
            figure.add_trace(go.Bar(
                x=rows["bucket"], y=rows["share"], name=key, legendgroup=key,
                showlegend=col == 1 or brand == brands[0],
                marker={"color": LABEL_COLORS.get(key, THIN),
                        "opacity": [0.25 if t else 1.0 for t in thin],
                        "pattern": {"shape": ["/" if t else "" for t in thin]},
                        "line": {"color": THIN, "width": [1 if t else 0 for t in thin]}},
                customdata=list(zip([brand] * len(rows), rows["count"], rows["total"],
                                    strict=True)),
                hovertemplate=(f"{key}: %{{y:.0%}} (%{{customdata[1]}} of "
                               "%{customdata[2]})<extra></extra>")), row=1, col=col)
    figure.update_layout(title=f"Label mix over time (faint: < {min_count} analyzed posts)",
                         barmode="stack", yaxis_tickformat=".0%")
    _dedupe_legend(figure)
    return _span(figure, span)


def net_sentiment_figure(sentiments: pd.DataFrame, colors: Colors | None = None,
                         span: Span | None = None, min_count: int = MIN_COUNT) -> go.Figure:
    data = net_sentiment(clamp(sentiments, span), min_count)
    return _ratio_lines(data, "net", colors, span, "Net sentiment (pos − neg) / (pos + neg)",
                        "polar", min_count, [-1, 1], "+.0%")


def sarcasm_figure(labels: pd.DataFrame, colors: Colors | None = None,
                   span: Span | None = None, min_count: int = MIN_COUNT) -> go.Figure:
    data = rate(clamp(labels, span), "sarcastic", min_count)
    return _ratio_lines(data, "rate", colors, span, "Sarcasm rate", "total", min_count,
                        [0, 1], ".0%")


def _ratio_lines(data: pd.DataFrame, value: str, colors: Colors | None, span: Span | None,
                 title: str, base: str, min_count: int, y_range: list[float],
                 tick: str) -> go.Figure:
    colors = colors or brand_colors(sorted(data["brand"].unique()))
    figure = go.Figure()
    for brand, rows in data.groupby("brand", sort=False):
        figure.add_trace(go.Scatter(
            x=rows["bucket"], y=rows[value], name=brand, mode="lines+markers",
            connectgaps=False, line={"color": colors.get(brand)},
            customdata=list(zip([brand] * len(rows), rows[base], strict=True)),
            hovertemplate=f"{brand}: %{{y:{tick}}} of %{{customdata[1]}} posts<extra></extra>"))
    figure.update_layout(title=f"{title} · gap: < {min_count} posts",
                         yaxis_range=[y_range[0] - 0.05, y_range[1] + 0.05],
                         yaxis_tickformat=tick, hovermode="x unified")
    return _span(figure, span)


def share_of_voice_figure(labels: pd.DataFrame, colors: Colors | None = None,
                          span: Span | None = None) -> go.Figure:
    data = share_of_voice(clamp(labels, span))
    colors = colors or brand_colors(sorted(data["brand"].unique()))
    figure = go.Figure()
    for brand, rows in data.groupby("brand", sort=False):
        figure.add_trace(go.Bar(
            x=rows["bucket"], y=rows["share"], name=brand, marker_color=colors.get(brand),
            customdata=list(zip([brand] * len(rows), rows["count"], strict=True)),
            hovertemplate=f"{brand}: %{{y:.0%}} (%{{customdata[1]}} posts)<extra></extra>"))
    figure.update_layout(title="Share of voice", barmode="stack", yaxis_tickformat=".0%")
    return _span(figure, span)


def emotion_figure(trends: pd.DataFrame) -> go.Figure:
    """One horizontal 100 % bar per brand: the emotion mix of analyzed posts over the range."""
    data = shares(analyzed(trends), ["brand"])
    figure = go.Figure()
    for key in _order(data, EMOTION_COLORS):
        rows = data[data["key"] == key]
        figure.add_trace(go.Bar(
            x=rows["share"], y=rows["brand"], name=key, orientation="h",
            marker_color=EMOTION_COLORS.get(key, THIN), customdata=rows[["count"]].to_numpy(),
            hovertemplate=f"{key}: %{{x:.0%}} (%{{customdata[0]}} posts)<extra></extra>"))
    return figure.update_layout(title="Emotion mix", barmode="stack", xaxis_tickformat=".0%")


def breakdown_figure(trends: pd.DataFrame, title: str, colors: Colors | None = None
                     ) -> go.Figure:
    """Posts per key (a source or a language) and brand over the range, bars in brand colours."""
    data = totals(trends)
    colors = colors or brand_colors(sorted(data["brand"].unique()))
    figure = go.Figure()
    for brand, rows in data.groupby("brand", sort=False):
        figure.add_trace(go.Bar(x=rows["count"], y=rows["key"], name=brand, orientation="h",
                                marker_color=colors.get(brand),
                                hovertemplate=f"{brand}: %{{x}} posts<extra></extra>"))
    return figure.update_layout(title=title, barmode="group", xaxis_title="posts",
                                yaxis_type="category")


def _order(data: pd.DataFrame, colors: dict[str, str]) -> list[str]:
    """Known keys in their fixed order, then any new key the API may add."""
    present = set(data["key"])
    return [k for k in colors if k in present] + sorted(present - set(colors))


def _span(figure: go.Figure, span: Span | None) -> go.Figure:
    """The x axis shows exactly the span asked for, whatever the data holds."""
    if span is not None:
        figure.update_xaxes(range=[span[0], span[1]])
    return figure


def _dedupe_legend(figure: go.Figure) -> None:
    seen: set[str] = set()
    for trace in figure.data:
        trace.showlegend = trace.name not in seen
        seen.add(trace.name)


def trace_colors(figure: go.Figure) -> dict[str, Sequence[str] | str]:
    """{trace name: colour} of a figure (lines or bars): what tests and users compare."""
    out = {}
    for trace in figure.data:
        color = getattr(trace.line, "color", None) if trace.type == "scatter" else None
        out[trace.name] = color or trace.marker.color
    return out
