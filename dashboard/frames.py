"""API JSON to tidy pandas frames, summaries and display strings: pure, no Streamlit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import pandas as pd

TREND_COLUMNS = ["bucket", "brand", "key", "count"]


def timestamp(value: str | None) -> pd.Timestamp | None:
    """The API's ISO strings ('...Z') as UTC timestamps; a zone-less one is taken as UTC."""
    if not value:
        return None
    moment = pd.Timestamp(value)
    return moment.tz_localize(UTC) if moment.tzinfo is None else moment.tz_convert(UTC)


def when(value: str | None, now: datetime | None = None) -> str:
    """'2026-11-23 19:45 UTC (2 d ago)', or '–' for no time."""
    moment = timestamp(value)
    if moment is None:
        return "–"
    return f"{moment:%Y-%m-%d %H:%M} UTC ({ago(moment, now)})"


def ago(moment: datetime, now: datetime | None = None) -> str:
    """'3 h ago', or 'in 20 s' for a moment still to come (a job's next run)."""
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if abs(seconds) >= size:
            amount = f"{abs(seconds) / size:.0f} {unit}"
            return f"{amount} ago" if seconds > 0 else f"in {amount}"
    return "now"


def trends_frame(items: list[dict], brands: Iterable[str] | None = None) -> pd.DataFrame:
    """Rows of /v1/trends (bucket, brand, key, count), optionally only some brands."""
    frame = pd.DataFrame(items, columns=TREND_COLUMNS)
    frame["bucket"] = pd.to_datetime(frame["bucket"], utc=True)
    frame["count"] = frame["count"].astype("int64")
    if brands is not None:
        frame = frame[frame["brand"].isin(list(brands))]
    return frame.reset_index(drop=True)


def kpis(current: pd.DataFrame, previous: pd.DataFrame, brands: Iterable[str]) -> pd.DataFrame:
    """Per brand: posts and the shares negative / sarcastic, now and in the previous period.
    Shares are of analyzed posts, so a backlog of pending ones does not dilute them."""
    rows = []
    for brand in brands:
        row = {"brand": brand}
        for prefix, frame in (("", current), ("prev_", previous)):
            counts = frame[frame["brand"] == brand].groupby("key")["count"].sum()
            analyzed = counts.drop("pending", errors="ignore").sum()
            row[f"{prefix}posts"] = int(counts.sum())
            for label in ("negative", "sarcastic"):
                row[f"{prefix}{label}"] = counts.get(label, 0) / analyzed if analyzed else None
        rows.append(row)
    return pd.DataFrame(rows).set_index("brand")


POST_COLUMNS = ["created_at", "brands", "label", "sarcasm_score", "confidence", "emotion",
                "lang", "source", "author", "text", "explanation", "url", "id",
                "reviewed", "model_label"]  # a reviewer's label, and the model's beside it


def posts_frame(items: list[dict]) -> pd.DataFrame:
    """The Explore table: one row per post, brands joined, times as UTC timestamps."""
    frame = pd.DataFrame(items, columns=POST_COLUMNS)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    frame["brands"] = frame["brands"].map(lambda b: ", ".join(b or []))
    return frame


RUN_COLUMNS = ["job", "source", "brand", "started_at", "duration_s", "fetched", "new", "errors",
               "status", "last_error"]


def runs_frame(items: list[dict]) -> pd.DataFrame:
    """The Health page's runs table, with each run's duration in seconds."""
    frame = pd.DataFrame(items, columns=[*RUN_COLUMNS, "ended_at"])
    started = pd.to_datetime(frame["started_at"], utc=True)
    ended = pd.to_datetime(frame["ended_at"], utc=True)
    frame["started_at"] = started
    frame["duration_s"] = (ended - started).dt.total_seconds().round(2)
    return frame[RUN_COLUMNS]


def failed(runs: pd.DataFrame) -> pd.Series:
    """Runs that failed outright or reported item errors."""
    return (runs["status"] != "ok") | (runs["errors"] > 0)
