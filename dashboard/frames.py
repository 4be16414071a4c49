"""API JSON to tidy pandas frames, summaries and display strings: pure, no Streamlit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

TREND_COLUMNS = ["bucket", "brand", "key", "count"]


def timestamp(value: str | None) -> pd.Timestamp | None:
    """The API's ISO strings ('...Z') as UTC timestamps; a zone-less one is taken as UTC."""
    if not value:
        return None
    moment = pd.Timestamp(value)
    return moment.tz_localize(UTC) if moment.tzinfo is None else moment.tz_convert(UTC)


def zone(name: str | None) -> ZoneInfo:
    """The display time zone ([dashboard] timezone), UTC when unset or unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def zone_label(tz: ZoneInfo) -> str:
    return "UTC" if tz.key in ("UTC", "Etc/UTC") else tz.key


def when(value: str | None, now: datetime | None = None, tz: ZoneInfo | None = None) -> str:
    """'2026-11-23 19:45 UTC (2 d ago)', in the display zone `tz`; '–' for no time."""
    moment = timestamp(value)
    if moment is None:
        return "–"
    tz = tz or zone("UTC")
    return f"{moment.tz_convert(tz):%Y-%m-%d %H:%M} {zone_label(tz)} ({ago(moment, now)})"


def iso(value: str | None, tz: ZoneInfo | None = None) -> str:
    """ISO 8601 with the offset, in the display zone: '2026-11-23T20:45:00+01:00'."""
    moment = timestamp(value)
    return "" if moment is None else moment.tz_convert(tz or zone("UTC")).isoformat()


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


def kpis(current: pd.DataFrame, previous: pd.DataFrame, brands: Iterable[str],
         sentiments: pd.DataFrame | None = None, prev_sentiments: pd.DataFrame | None = None
         ) -> pd.DataFrame:
    """Per brand: posts (int), the shares negative / sarcastic and the net sentiment, now and
    in the previous period (prefix prev_). Shares are of analyzed posts, so a backlog of
    pending ones does not dilute them; a share is None where no post was analyzed."""
    empty = pd.DataFrame(columns=TREND_COLUMNS)
    rows = []
    for brand in brands:
        row: dict = {"brand": brand}
        for prefix, frame, moods in (("", current, sentiments),
                                     ("prev_", previous, prev_sentiments)):
            counts = frame[frame["brand"] == brand].groupby("key")["count"].sum()
            done = int(counts.drop("pending", errors="ignore").sum())
            row[f"{prefix}posts"] = int(counts.sum())
            for label in ("negative", "sarcastic"):
                row[f"{prefix}{label}"] = int(counts.get(label, 0)) / done if done else None
            row[f"{prefix}net"] = net(moods if moods is not None else empty, brand)
        rows.append(row)
    return pd.DataFrame(rows).set_index("brand")


def net(sentiments: pd.DataFrame, brand: str) -> float | None:
    """(positive − negative) / (positive + negative) of a brand, None without polar posts."""
    counts = sentiments[sentiments["brand"] == brand].groupby("key")["count"].sum()
    pos, neg = int(counts.get("positive", 0)), int(counts.get("negative", 0))
    return (pos - neg) / (pos + neg) if pos + neg else None


def count_delta(now: int, before: int) -> int | None:
    """The change in posts, or None when the previous period had none to compare with."""
    return int(now) - int(before) if before else None


def points_delta(now: float | None, before: float | None, scale: float = 100,
                 unit: str = "pp") -> str | None:
    """A change of a share in percentage points ('+12 pp'), None when either is unknown."""
    if now is None or before is None or pd.isna(now) or pd.isna(before):
        return None
    return f"{(now - before) * scale:+.0f} {unit}"


def percent(share: float | None, signed: bool = False) -> str:
    if share is None or pd.isna(share):
        return "–"
    return f"{share:+.0%}" if signed else f"{share:.0%}"


def alerts_frame(items: list[dict]) -> pd.DataFrame:
    """Alerts of /v1/alerts for the markers on the time axis."""
    frame = pd.DataFrame(items, columns=["id", "kind", "brand", "message", "created_at"])
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


POST_COLUMNS = ["created_at", "brands", "label", "sarcasm_score", "confidence", "emotion",
                "lang", "source", "author", "text", "explanation", "url", "id",
                "reviewed", "model_label"]  # a reviewer's label, and the model's beside it
PENDING = "pending"


def posts_frame(items: list[dict], tz: ZoneInfo | None = None) -> pd.DataFrame:
    """The Explore table: one row per post, brands joined, times in the display zone, and
    'pending' (not None) where the analyzer has not got to a post yet."""
    frame = pd.DataFrame(items, columns=POST_COLUMNS)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True).dt.tz_convert(
        tz or zone("UTC"))
    frame["brands"] = frame["brands"].map(lambda b: ", ".join(b or []))
    for column, empty in (("label", PENDING), ("emotion", PENDING), ("explanation", ""),
                          ("author", ""), ("lang", "")):
        frame[column] = frame[column].astype("object").fillna(empty)
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


def throughput(runs: pd.DataFrame, now: datetime | None = None,
               window: timedelta = timedelta(hours=1)) -> dict:
    """The analyzer's pace from its recorded runs (job 'analyze'; each run's `new` is the
    posts it analyzed): posts in the last `window`, and posts per second while busy."""
    now = pd.Timestamp(now or datetime.now(UTC))
    done = runs[(runs["job"] == "analyze") & (runs["started_at"] >= now - window)]
    posts, busy = int(done["new"].sum()), float(done["duration_s"].fillna(0).sum())
    return {"posts": posts, "runs": len(done), "busy_s": round(busy, 2),
            "per_s": round(posts / busy, 1) if busy > 0 else None}
