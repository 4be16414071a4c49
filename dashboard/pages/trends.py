"""Trends: how opinion of each brand moves, refreshed live as the engine collects."""

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from dashboard import charts, frames, ui

# Range label -> (length, bucket of the charts).
RANGES = {"24 h": (timedelta(hours=24), "hour"), "7 d": (timedelta(days=7), "day"),
          "30 d": (timedelta(days=30), "day")}
NO_POSTS = ("No posts yet. The engine collects from its sources on their schedule; with the demo "
            "configuration posts appear within a minute. You can also load a file with "
            "`python -m subtext import FILE`.")


@ui.needs_engine
def main() -> None:
    st.title("Trends")
    health = ui.client().health()
    if not health["counts"]["posts"]:
        st.info(NO_POSTS, icon=":material/hourglass_empty:")
        return
    left, right = st.columns([3, 1])
    brands = left.multiselect("Brands", health["brands"], default=health["brands"])
    span = right.segmented_control("Range", list(RANGES), default="7 d", required=True)
    if not brands:
        st.info("Pick at least one brand.")
        return
    live(brands, span)


@st.fragment(run_every="30s")
@ui.needs_engine
def live(brands: list[str], span: str) -> None:
    """KPIs and charts; reruns on its own so trickling posts move the charts."""
    length, bucket = RANGES[span]
    now = datetime.now(UTC)
    since = now - length
    api = ui.client()
    labels = frames.trends_frame(api.trends(by="label", bucket=bucket, since=since), brands)
    if labels.empty:
        st.info(f"No posts about {', '.join(brands)} in the last {span}. Try a longer range.")
        return
    # Only totals are needed from the previous period, so one coarse bucket per week will do.
    previous = frames.trends_frame(
        api.trends(by="label", bucket="week", since=since - length, until=since), brands)
    emotions = frames.trends_frame(api.trends(by="emotion", bucket=bucket, since=since), brands)

    kpi_row(frames.kpis(labels, previous, brands), span)
    left, right = st.columns([3, 2])
    left.plotly_chart(charts.volume_figure(labels, bucket))
    right.plotly_chart(charts.emotion_figure(emotions))
    st.plotly_chart(charts.label_share_figure(labels))
    st.caption(f"Updated {now:%H:%M:%S} UTC, refreshes every 30 s. Shares are of analyzed posts.")


def kpi_row(table: pd.DataFrame, span: str) -> None:
    for column, (brand, row) in zip(st.columns(len(table)), table.iterrows(), strict=True):
        with column.container(border=True):
            st.markdown(f"**{ui.escape(brand)}**")
            posts, negative, sarcastic = st.columns(3)
            posts.metric(f"Posts ({span})", row["posts"],
                         delta=int(row["posts"] - row["prev_posts"]), delta_color="off",
                         help="Change against the previous period of the same length")
            for place, key in ((negative, "negative"), (sarcastic, "sarcastic")):
                place.metric(f"% {key}", _percent(row[key]),
                             delta=_points(row[key], row[f"prev_{key}"]), delta_color="inverse")


def _percent(share: float | None) -> str:
    return "–" if share is None or pd.isna(share) else f"{share:.0%}"


def _points(now: float | None, before: float | None) -> str | None:
    """Change in percentage points, or None when either period has no analyzed posts."""
    if now is None or before is None or pd.isna(now) or pd.isna(before):
        return None
    return f"{(now - before) * 100:+.0f} pp"


main()
