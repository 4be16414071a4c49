"""Trends: how opinion of each brand moves, and why, refreshed live as the engine collects.

Click a point or bar of a time chart (or pick a bucket below them) and the "why" panel shows
that bucket's posts with the widest reach and the terms that rose against the bucket before.
"""

import functools
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from dashboard import charts, frames, ui
from dashboard.palette import brand_colors

# Range label -> (length, default bucket).
RANGES = {"24 h": (timedelta(hours=24), "hour"), "7 d": (timedelta(days=7), "day"),
          "30 d": (timedelta(days=30), "day"), "90 d": (timedelta(days=90), "week")}
BUCKETS = ["hour", "day", "week"]
NO_POSTS = ("No posts yet. The engine collects from its sources on their schedule; with the demo "
            "configuration posts appear within a minute. You can also load a file with "
            "`python -m subtext import FILE`.")
ALL = "all brands"


@ui.needs_engine
def main() -> None:
    st.title("Trends")
    health = ui.client().health()
    if not health["counts"]["posts"]:
        st.info(NO_POSTS, icon=":material/hourglass_empty:")
        return
    left, middle, right = st.columns([3, 1.3, 1])
    brands = left.multiselect("Brands", health["brands"], default=health["brands"])
    span = middle.segmented_control("Range", list(RANGES), default="7 d", required=True)
    bucket = right.segmented_control("Bucket", BUCKETS, default=RANGES[span][1], required=True,
                                     key=f"bucket-{span}")
    if not brands:
        st.info("Pick at least one brand.")
        return
    ui.hide_table_toolbar()
    live(brands, health["brands"], span, bucket)


@st.fragment(run_every="30s")
@ui.needs_engine
def live(brands: list[str], configured: list[str], span: str, bucket: str) -> None:
    """KPIs, charts and the why panel; reruns on its own so trickling posts move the charts.
    Every request ends at now: a post dated in the future never reaches a chart."""
    length = RANGES[span][0]
    now = pd.Timestamp(datetime.now(UTC))
    since = now - length
    window = (since, now)
    api = ui.client()

    def trend(by: str, start=since, end=now, size=bucket) -> pd.DataFrame:
        return frames.trends_frame(api.trends(by=by, bucket=size, since=start.isoformat(),
                                              until=end.isoformat()), brands)

    labels = trend("label")
    if labels.empty:
        st.info(f"No posts about {', '.join(brands)} in the last {span}. Try a longer range.")
        return
    sentiments = trend("sentiment")
    # Only totals are needed from the previous period, so one coarse bucket per week will do.
    previous = trend("label", since - length, since, "week")
    prev_sentiments = trend("sentiment", since - length, since, "week")
    colors = brand_colors(configured, brands)
    alerts = frames.alerts_frame(api.alerts("all", limit=500)["items"])
    alerts = alerts[alerts["brand"].isin(brands) | alerts["brand"].isna()]

    kpi_row(frames.kpis(labels, previous, brands, sentiments, prev_sentiments), span)
    starts = sorted({charts.bucket_start(b, bucket) for b in labels["bucket"]}, reverse=True)
    options = [s.isoformat() for s in starts]

    def clickable(figure, key: str) -> None:
        st.plotly_chart(figure, key=key, selection_mode="points",
                        on_select=functools.partial(pick_bucket, key, bucket, options))

    clickable(charts.volume_figure(labels, bucket, colors, window, alerts), "volume")
    left, right = st.columns(2)
    with left:
        clickable(charts.net_sentiment_figure(sentiments, colors, window), "net")
    with right:
        clickable(charts.sarcasm_figure(labels, colors, window), "sarcasm")
    clickable(charts.label_share_figure(labels, colors, window), "labels")
    left, right = st.columns([3, 2])
    with left:
        clickable(charts.share_of_voice_figure(labels, colors, window), "voice")
    right.plotly_chart(charts.emotion_figure(trend("emotion")))
    left, right = st.columns(2)
    left.plotly_chart(charts.breakdown_figure(trend("source"), "By source", colors))
    right.plotly_chart(charts.breakdown_figure(trend("lang"), "By language", colors))
    st.caption(f"Updated {now:%H:%M:%S} UTC, refreshes every 30 s. Buckets are UTC "
               f"{bucket}s; shares are of analyzed posts; ratios need {charts.MIN_COUNT} posts "
               "in a bucket. ▲ marks an alert.")
    why(api, options, brands, bucket, window)


def kpi_row(table: pd.DataFrame, span: str) -> None:
    for column, brand in zip(st.columns(len(table)), table.index, strict=True):
        row = table.loc[brand].to_dict()  # per brand, so counts stay ints (not 63.0)
        with column.container(border=True):
            st.markdown(f"**{ui.escape(brand)}**")
            posts, negative, sarcastic, net = st.columns(4)
            posts.metric(f"Posts ({span})", f"{int(row['posts'])}",
                         delta=frames.count_delta(row["posts"], row["prev_posts"]),
                         delta_color="off",
                         help="Change against the previous period of the same length; "
                              "none shown when that period had no posts")
            for place, key in ((negative, "negative"), (sarcastic, "sarcastic")):
                place.metric(f"% {key}", frames.percent(row[key]),
                             delta=frames.points_delta(row[key], row[f"prev_{key}"]),
                             delta_color="inverse")
            net.metric("Net", frames.percent(row["net"], signed=True),
                       delta=frames.points_delta(row["net"], row["prev_net"]),
                       help="Net sentiment: (positive − negative) / (positive + negative), "
                            "sarcastic praise counted as negative")


def why(api, options: list[str], brands: list[str], bucket: str,
        window: tuple[pd.Timestamp, pd.Timestamp]) -> None:
    """The posts and terms behind one bucket (of `options`, the buckets with posts, newest
    first): chosen by a click on a chart or in the boxes."""
    st.subheader("Why? The posts behind a bucket")
    left, right = st.columns([2, 1])
    chosen = left.selectbox("Bucket (or click a point or bar of a chart above)", options,
                            index=None, key="why-bucket", placeholder="pick a bucket",
                            format_func=lambda v: _bucket_label(v, bucket))
    brand = right.selectbox("Brand", [ALL, *brands], key="why-brand")
    if chosen is None:
        st.caption("Nothing selected yet.")
        return
    start = pd.Timestamp(chosen)
    end = min(charts.bucket_end(start, bucket), window[1])
    params = {"brand": None if brand == ALL else brand, "since": start.isoformat(),
              "until": end.isoformat()}
    found = api.insights(**params, top=15, posts=5)
    st.markdown(f"**{found['posts']}** posts in {_bucket_label(chosen, bucket)}"
                f" ({found['previous_posts']} in the {bucket} before) · "
                f"[open them in Explore](/explore?{urlencode(_explore(params))})")
    posts_col, terms_col = st.columns([3, 2])
    with posts_col:
        for post in found["top_posts"]:
            post_card(api, post)
        if not found["top_posts"]:
            st.caption("No posts in this bucket.")
    with terms_col:
        term_table("Terms that rose", found["terms"])
        term_table("Hashtags that rose", found["hashtags"])


def pick_bucket(key: str, bucket: str, options: list[str]) -> None:
    """A time chart's on_select: the clicked bucket (and its brand) into the why panel's
    boxes. A callback, not the event st.plotly_chart returns: a chart's identity includes its
    figure, whose axis ends at `now` and so moves on every run, and the rerun a click causes
    draws a new chart whose returned selection is empty."""
    picked = charts.selected((st.session_state.get(key) or {}).get("selection"))
    if picked is None:
        return
    moment, brand = picked
    start = charts.bucket_start(moment, bucket).isoformat()
    if start in options:
        st.session_state["why-bucket"] = start
        if brand:
            st.session_state["why-brand"] = brand


def post_card(api, post: dict) -> None:
    with st.container(border=True):
        words, picture = st.columns([4, 1]) if post["images"] else (st.container(), None)
        with words:
            st.text(post["text"] or "")  # plain text: no Markdown, links or LaTeX
            reach = (post.get("likes") or 0) + (post.get("reposts") or 0) + (post.get("replies")
                                                                            or 0)
            st.caption(f"{post['label'] or frames.PENDING} · reach {reach} · by "
                       f"{ui.plain(post['author'] or 'unknown')} · "
                       f"{frames.when(post['created_at'], tz=ui.timezone())}")
        if picture is not None:
            with picture:
                ui.show_image(api, post["images"][0])


def term_table(title: str, items: list[dict]) -> None:
    st.markdown(f"**{title}**")
    if not items:
        st.caption("None rose against the bucket before.")
        return
    table = pd.DataFrame(items)[["term", "count", "previous", "net", "positive", "negative"]]
    st.dataframe(table, hide_index=True, column_config={
        "count": st.column_config.NumberColumn("posts"),
        "previous": st.column_config.NumberColumn("before"),
        "net": st.column_config.NumberColumn("net sentiment", format="percent"),
        "positive": st.column_config.NumberColumn("pos"),
        "negative": st.column_config.NumberColumn("neg"),
    })


def _bucket_label(value: str, bucket: str) -> str:
    moment = pd.Timestamp(value)
    return {"hour": f"{moment:%Y-%m-%d %H:00} UTC", "day": f"{moment:%a %Y-%m-%d}",
            "week": f"week of {moment:%Y-%m-%d}"}[bucket]


def _explore(params: dict) -> dict:
    return {k: v for k, v in params.items() if v is not None}


main()
