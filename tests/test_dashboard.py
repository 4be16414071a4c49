"""The dashboard against a real engine API served over HTTP on 127.0.0.1 (Streamlit's AppTest
runs the pages in-process; the pages reach the engine only through httpx), plus the pure chart
and frame builders with small data frames."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pandas as pd
import pytest
import uvicorn
from streamlit.testing.v1 import AppTest

from dashboard import charts, frames, palette
from dashboard.client import ApiError, Client, EngineDown
from subtext.api import create_app

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
PAGES = ["pages/trends.py", "pages/alerts.py", "pages/explore.py", "pages/health.py",
         "pages/settings.py"]
SARCASTIC = "伏特拉真厉害，让我三天没睡着 🙂"


# -- helpers: a real engine API on a free port ---------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(app, timeout: float = 10.0) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="engine-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the engine API did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)


def load(engine) -> None:
    """What the `loaded` fixture does: collect the replay posts, analyze, route alerts."""
    engine.collect_all()
    engine.analyze_pending()
    engine.evaluate_alerts()


@pytest.fixture
def api_url(engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    load(engine)
    with serve(create_app(engine, schedule=False)) as url:
        monkeypatch.setenv("SUBTEXT_API_URL", url)
        yield url


@pytest.fixture
def empty_api_url(engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with serve(create_app(engine, schedule=False)) as url:
        monkeypatch.setenv("SUBTEXT_API_URL", url)
        yield url


@pytest.fixture
def down_url(monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("SUBTEXT_API_URL", url)
    return url


def run_page(page: str | None = None) -> AppTest:
    """Run the app (with its st.navigation) and switch to `page`; fail on any exception."""
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    """Everything a user reads: markdown, captions, alerts, titles and metric labels/values."""
    parts = [e.value for kind in ("markdown", "caption", "info", "error", "warning", "title",
                                  "subheader", "text") for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(str(p) for p in parts)


def plotly_specs(at: AppTest) -> list[str]:
    return [chart.proto.spec for chart in at.get("plotly_chart")]


def unescape(markdown: str) -> str:
    return markdown.replace("\\", "")


# -- pages against the real engine ---------------------------------------------------------

def test_trends_page_charts_brands_and_kpis(api_url):
    at = run_page()
    assert at.title[0].value == "Trends"
    assert at.multiselect[0].value == ["Nimbus", "Voltra"]
    specs = plotly_specs(at)
    # volume, net sentiment, sarcasm, label mix, share of voice, emotions, sources, languages
    assert len(specs) == 8
    assert all("Nimbus" in spec and "Voltra" in spec for spec in specs)
    shown = texts(at)
    assert "Nimbus" in shown and "Voltra" in shown
    # Voltra in the last 7 d: negative, sarcastic and neutral posts -> a third each; the
    # previous 7 d had no posts, so no delta is shown against it.
    voltra = {m.label: m.value for m in at.metric[4:8]}
    assert voltra == {"Posts (7 d)": "3", "% negative": "33%", "% sarcastic": "33%",
                      "Net": "-100%"}
    assert all(not m.proto.delta for m in at.metric)


def test_trends_brand_selection_narrows_the_charts(api_url):
    at = run_page()
    at.multiselect[0].set_value(["Nimbus"]).run()
    assert not at.exception
    assert all("Voltra" not in spec for spec in plotly_specs(at))
    at.segmented_control[0].set_value("24 h").run()
    # Only the comparison post is less than a day old.
    assert [m.value for m in at.metric[:1]] == ["1"]


def test_trends_empty_state(empty_api_url):
    at = run_page()
    assert not plotly_specs(at)
    assert "No posts yet" in at.info[0].value
    assert "python -m subtext import FILE" in at.info[0].value


def test_alerts_page_shows_the_sarcastic_post_and_acknowledges_it(api_url):
    at = run_page("pages/alerts.py")
    shown = unescape(texts(at))
    assert SARCASTIC in shown
    assert "Disguised criticism" in shown and "小王" in shown
    # The post's picture, fetched through the client (the browser may not reach the engine).
    assert len(at.image) == 1 and at.image[0].value[0].startswith("/mock/media/")

    at.text_input(key="ack_by").set_value("pr-desk")
    at.button(key="ack-1").click().run()
    assert not at.exception
    assert httpx.get(f"{api_url}/v1/alerts", params={"status": "open"}).json()["total"] == 0
    acknowledged = httpx.get(f"{api_url}/v1/alerts", params={"status": "acknowledged"}).json()
    assert acknowledged["items"][0]["acknowledged_by"] == "pr-desk"
    assert "No open alerts" in at.info[0].value  # the page reran without the alert


def test_alerts_acknowledged_view(api_url):
    Client(api_url).acknowledge(1, by="ann")
    at = run_page("pages/alerts.py")
    assert "No open alerts" in at.info[0].value
    at.segmented_control[0].set_value("Acknowledged").run()
    shown = unescape(texts(at))
    assert SARCASTIC in shown and "Acknowledged by ann" in shown
    # nothing left to acknowledge; it can still be resolved or marked a false alarm
    assert [b.key for b in at.button] == ["resolve-1", "false-1"]
    at.text_input(key="alert_note").set_value("fan, not sarcasm")
    at.button(key="false-1").click().run()
    assert not at.exception
    at.segmented_control[0].set_value("False alarm").run()
    shown = unescape(texts(at))
    assert "Marked a false alarm" in shown and "fan, not sarcasm" in shown and not at.button


@pytest.mark.parametrize(("widget", "value", "ids"), [
    ("Label", "sarcastic", ["replay:r3"]),
    ("Brand", "Nimbus", ["replay:r4", "replay:r1"]),
    ("Language", "zh", ["replay:r3"]),
])
def test_explore_filters_select_exactly_the_matching_posts(api_url, widget, value, ids):
    at = run_page("pages/explore.py")
    assert "**4** posts match" in [m.value for m in at.markdown]
    next(s for s in at.selectbox if s.label == widget).set_value(value).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["id"]) == ids
    assert f"**{len(ids)}** post" in "\n".join(m.value for m in at.markdown)
    assert [b.label for b in at.download_button] == ["CSV", "Parquet", "Excel"]


def test_explore_sarcasm_confidence_and_text_filters(api_url):
    posts = httpx.get(f"{api_url}/v1/posts", params={"limit": 500}).json()["items"]

    def expected(keep) -> list[str]:
        return sorted(p["id"] for p in posts if keep(p))

    def shown(at) -> list[str]:
        return sorted(at.dataframe[0].value["id"]) if at.dataframe else []

    at = run_page("pages/explore.py")
    at.segmented_control[0].set_value("No").run()
    assert shown(at) == expected(lambda p: p["sarcasm"] is False) != []
    at.slider[0].set_value((0.7, 1.0)).run()
    sure = expected(lambda p: p["sarcasm"] is False and p["confidence"] >= 0.7)
    assert shown(at) == sure
    if not sure:
        assert "No posts match" in at.info[0].value
    at.segmented_control[0].set_value("Any").run()
    assert shown(at) == expected(lambda p: p["confidence"] >= 0.7)
    at.slider[0].set_value((0.0, 1.0)).run()
    at.text_input[0].set_value("BATTERY").run()  # case-insensitive
    assert shown(at) == ["replay:r2"]


def test_explore_date_range_excludes_older_posts(api_url):
    at = run_page("pages/explore.py")
    today = pd.Timestamp.now(tz="UTC").date()
    at.date_input[0].set_value((today - pd.Timedelta(days=1), today)).run()
    # From yesterday 00:00 UTC: r4 (0.5 d old) is in, r2 (2.25 d) and r1 (3.5 d) are out;
    # r3 (1.5 d) depends on the time of day, so it is not checked.
    ids = set(at.dataframe[0].value["id"])
    assert "replay:r4" in ids and "replay:r1" not in ids and "replay:r2" not in ids


def frame_with(at, column: str) -> pd.DataFrame:
    """The page's table that has `column` (pages show several tables)."""
    return next(f.value for f in at.dataframe if column in f.value.columns)


def test_health_page_lists_runs(api_url):
    at = run_page("pages/health.py")
    shown = texts(at)
    assert "lite@1.1" in shown and "Pending analysis 0" in shown
    runs = frame_with(at, "job")
    assert {"collect", "analyze", "alerts"} <= set(runs["job"])
    assert (runs["status"] == "ok").all() and not at.warning
    assert "No jobs scheduled" in shown  # schedule=False


def test_health_page_lists_scheduled_jobs(api_url, engine):
    engine.start()  # the `engine` fixture stops it
    at = run_page("pages/health.py")
    jobs = frame_with(at, "next_run")
    assert {"collect:replay:Nimbus", "collect:replay:Voltra", "analyze", "alerts"} <= set(
        jobs["id"])
    assert jobs["next_run"].str.contains(" UTC ").all()


def test_health_page_highlights_failed_runs(api_url, engine):
    started = pd.Timestamp.now(tz="UTC").tz_localize(None).to_pydatetime()
    engine.store.record_run("collect", "replay", "Nimbus", started, errors=1,
                            error="ConnectError: refused")
    at = run_page("pages/health.py")
    assert "1 of the last" in at.warning[0].value
    runs = frame_with(at, "job")
    assert runs.iloc[0]["last_error"] == "ConnectError: refused"


def test_health_page_flags_a_failing_source(api_url, engine):
    sources = frame_with(run_page("pages/health.py"), "source")
    assert list(sources["status"]) == ["ok"] and not run_page("pages/health.py").error
    engine.store.set_source_state("replay", "Nimbus", 3, None, "ConnectError: refused")
    at = run_page("pages/health.py")
    assert "Source replay keeps failing (3 failures in a row)" in at.error[0].value
    assert "refused" in at.error[0].value
    assert list(frame_with(at, "source")["status"]) == ["failing"]


@pytest.mark.parametrize("page", [None, *PAGES[1:]])
def test_every_page_says_when_the_engine_is_down(down_url, page):
    at = run_page(page)
    errors = [e.value for e in at.error]
    message = (f"The Subtext engine is not reachable at {down_url}. Start it with "
               "`python -m subtext` (or `python -m subtext engine`).")
    assert message in errors
    assert not plotly_specs(at) and not at.dataframe and not at.metric


def test_sidebar_shows_engine_status(api_url):
    # AppTest reruns only the page script after the first run under st.navigation, so the
    # sidebar (drawn by app.py) is checked on the first run; the browser test checks it live.
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert [e.value for e in at.sidebar.success] == ["Engine: up"]
    status = at.sidebar.caption[0].value
    assert "lite@1.1" in status and "Open alerts: **1**" in status


def test_sidebar_shows_engine_down(down_url):
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert [e.value for e in at.sidebar.error] == ["Engine: down"]
    assert down_url in at.sidebar.caption[0].value


def test_trends_why_panel_shows_the_posts_of_a_bucket(api_url):
    at = run_page()
    why = at.selectbox(key="why-bucket")
    assert why.value is None and "Nothing selected yet." in texts(at)
    shown = []
    for index in range(len(why.options)):  # one per day with posts
        at.selectbox(key="why-bucket").select_index(index).run()
        assert not at.exception
        shown.append(unescape(texts(at)))
    assert all("posts in" in s and "open them in Explore" in s for s in shown), shown
    # exactly one day holds the sarcastic post, shown among its top posts
    assert sum(SARCASTIC in s for s in shown) == 1


def test_explore_filters_are_kept_in_the_url(api_url):
    at = run_page("pages/explore.py")
    next(s for s in at.selectbox if s.label == "Label").set_value("sarcastic").run()
    assert at.query_params.get("label") in ("sarcastic", ["sarcastic"])
    assert "since" in at.query_params and "brand" not in at.query_params


def test_explore_reads_filters_and_the_open_post_from_the_url(api_url):
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.query_params["brand"] = "voltra"  # any case
    at.query_params["post"] = "replay:r3"
    at.query_params["sarcasm"] = "true"
    at.run()
    at.switch_page("pages/explore.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.warning  # no "value set twice" warning from a widget
    assert next(s for s in at.selectbox if s.label == "Brand").value == "Voltra"
    assert at.segmented_control[0].value == "Yes"
    ids = set(at.dataframe[0].value["id"])
    assert "replay:r3" in ids and ids <= {"replay:r2", "replay:r3", "replay:r4"}
    shown = unescape(texts(at))
    assert SARCASTIC in shown and "Why:" in shown  # the post in full, with its explanation
    assert "sarcastic" in shown and len(at.image) >= 1
    assert at.dataframe[0].value["label"].notna().all()


def test_explore_says_a_brand_is_unknown_in_plain_words(api_url):
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.query_params["brand"] = "Nope*"
    at.run()
    at.switch_page("pages/explore.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    [warning] = [w.value for w in at.warning]
    assert unescape(warning) == ("Check the filters: brand: unknown brand 'Nope*'; "
                                 "configured brands: Nimbus, Voltra")
    assert next(s for s in at.selectbox if s.label == "Brand").value == "Nope*"  # to fix
    assert not at.dataframe


def test_user_text_stays_inert(api_url):
    nasty = ("<script>alert(1)</script> nimbus [click](http://evil.example) $$x^2$$ "
             "**bold**")
    httpx.post(f"{api_url}/v1/ingest", json={"posts": [
        {"id": "x1", "text": nasty, "author": "<b>mallory</b>", "lang": "en"}]}).raise_for_status()
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.query_params["post"] = "import:x1"
    at.run()
    at.switch_page("pages/explore.py").run()
    # The text as plain text (st.text: no Markdown, HTML, links or LaTeX), exactly as typed.
    assert nasty in [t.value for t in at.text]
    assert not any("<script>" in m.value for m in at.markdown)
    assert "<b>" not in " ".join(c.value for c in at.caption)  # the author, escaped


def test_settings_lists_brands_and_tests_a_query(api_url):
    at = run_page("pages/settings.py")
    brands = at.dataframe[0].value
    assert list(brands["name"]) == ["Nimbus", "Voltra"]
    assert "nimbus OR 云朵" in list(brands["query"])
    at.text_input(key="query-text").set_value("batter* NEAR/2 drain*")
    at.button[0].click().run()
    assert not at.exception
    assert "**1** of the 4 most recent posts match" in "\n".join(m.value for m in at.markdown)
    table = at.dataframe[1].value
    assert list(table["id"]) == ["replay:r2"] and "batter*" in table["why"][0]
    at.text_input(key="query-text").set_value("nimbus NEAR camera")
    at.button[0].click().run()
    assert "NEAR needs a distance" in at.error[0].value and "position 8" in at.error[0].value


def test_health_page_shows_backlog_and_throughput(api_url):
    at = run_page("pages/health.py")
    values = {m.label: m.value for m in at.metric}
    assert values["Backlog (posts pending)"] == "0"
    assert int(values["Analyzed in the last hour"]) == 4


# -- the client ------------------------------------------------------------------------------

def test_client_reports_api_validation_errors(api_url):
    with pytest.raises(ApiError) as raised:
        Client().posts(label="bogus")
    assert raised.value.status == 422
    assert raised.value.detail.startswith("label: Input should be 'positive'")


def test_client_reports_an_unknown_brand(api_url):
    with pytest.raises(ApiError) as raised:
        Client().trends(brand="Nope")
    assert raised.value.status == 422
    assert raised.value.detail == "brand: unknown brand 'Nope'; configured brands: Nimbus, Voltra"


def test_client_acknowledges_without_a_name(api_url):
    assert Client().acknowledge(1).items() >= {"id": 1, "acknowledged": True,
                                               "status": "acknowledged"}.items()
    assert Client().alerts("acknowledged")["items"][0]["acknowledged_by"] is None
    with pytest.raises(ApiError, match="no alert 99"):
        Client().acknowledge(99)


def test_client_engine_down(down_url):
    with pytest.raises(EngineDown, match="not reachable"):
        Client().health()


def test_client_export_uses_the_same_filter(api_url):
    csv = Client().export("csv", label="sarcastic").decode()
    assert SARCASTIC in csv and "Nimbus 7" not in csv
    assert Client().export("parquet", label="sarcastic").startswith(b"PAR1")


# -- pure chart and frame builders -----------------------------------------------------------

def trends(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    return frames.trends_frame([{"bucket": b, "brand": br, "key": k, "count": c}
                                for b, br, k, c in rows])


LABEL_ROWS = [
    ("2026-01-01T00:00:00Z", "A", "positive", 3), ("2026-01-01T00:00:00Z", "A", "negative", 1),
    ("2026-01-01T00:00:00Z", "B", "sarcastic", 2), ("2026-01-03T00:00:00Z", "A", "neutral", 2),
    ("2026-01-03T00:00:00Z", "B", "pending", 1), ("2026-01-03T00:00:00Z", "B", "negative", 3),
]


def test_shares_sum_to_one_per_bucket_and_brand():
    data = charts.shares(trends(LABEL_ROWS), ["bucket", "brand"])
    sums = data.groupby(["bucket", "brand"])["share"].sum()
    assert len(sums) == 4 and sums.round(9).eq(1).all()
    a_first = data[(data["brand"] == "A") & (data["key"] == "positive")]["share"]
    assert a_first.tolist() == [0.75]


def test_label_share_figure_colors_are_fixed_per_label():
    figure = charts.label_share_figure(trends(LABEL_ROWS))
    colors = {trace.name: trace.marker.color for trace in figure.data}
    # Shares are of analyzed posts: pending ones are not a label.
    assert colors == {k: charts.LABEL_COLORS[k]
                      for k in ("negative", "sarcastic", "neutral", "positive")}
    assert colors["negative"] == "#d62728" and colors["sarcastic"] == "#8e44ad"
    assert figure.layout.barmode == "stack"
    assert {a.text for a in figure.layout.annotations} == {"A", "B"}


def test_volume_fills_quiet_buckets_with_zero():
    data = charts.volume(trends(LABEL_ROWS), "day")
    a = data[data["brand"] == "A"].set_index("bucket")["count"]
    assert a.tolist() == [4, 0, 2]  # Jan 1, the quiet Jan 2, Jan 3
    figure = charts.volume_figure(trends(LABEL_ROWS), "day")
    assert sorted(trace.name for trace in figure.data) == ["A", "B"]
    assert list(figure.data[0].y) == [4, 0, 2]


def test_emotion_figure_one_bar_per_brand_with_fixed_colors():
    rows = [("2026-01-01T00:00:00Z", "A", "joy", 3), ("2026-01-02T00:00:00Z", "A", "anger", 1),
            ("2026-01-01T00:00:00Z", "B", "anger", 2), ("2026-01-01T00:00:00Z", "B", "new", 2)]
    figure = charts.emotion_figure(trends(rows))
    by_name = {trace.name: trace for trace in figure.data}
    assert list(by_name) == ["anger", "joy", "new"]  # fixed order, unknown keys last
    assert by_name["anger"].marker.color == charts.EMOTION_COLORS["anger"]
    assert dict(zip(by_name["anger"].y, by_name["anger"].x, strict=True)) == {"A": 0.25, "B": 0.5}


def test_kpis_shares_of_analyzed_posts_and_previous_period():
    current = trends(LABEL_ROWS)
    previous = trends([("2025-12-25T00:00:00Z", "B", "negative", 1)])
    table = frames.kpis(current, previous, ["A", "B"])
    assert table.loc["A", "posts"] == 6 and table.loc["A", "negative"] == pytest.approx(1 / 6)
    # B: 6 posts, 1 pending -> shares of the 5 analyzed.
    assert table.loc["B", "negative"] == pytest.approx(3 / 5)
    assert table.loc["B", "sarcastic"] == pytest.approx(2 / 5)
    assert table.loc["B", "prev_posts"] == 1 and table.loc["B", "prev_negative"] == 1
    assert table.loc["A", "prev_posts"] == 0 and pd.isna(table.loc["A", "prev_negative"])


def test_empty_trends_make_empty_frames():
    empty = frames.trends_frame([])
    assert list(empty.columns) == frames.TREND_COLUMNS and empty.empty
    assert charts.volume(empty, "hour").empty


def test_time_display():
    now = pd.Timestamp("2026-01-03T12:00:00Z")
    assert frames.when("2026-01-03T09:00:00Z", now) == "2026-01-03 09:00 UTC (3 h ago)"
    assert frames.when("2026-01-03T12:00:30+00:00", now).endswith("(in 30 s)")
    assert frames.when(None) == "–"


# -- issue 13: colours, thin buckets, ratios, spans, markers, selections ---------------------

def test_each_brand_keeps_one_colour_whatever_is_shown():
    both = palette.brand_colors(["Nimbus", "Voltra"])
    assert both["Nimbus"] != both["Voltra"]
    assert palette.brand_colors(["Nimbus", "Voltra"], ["Voltra"])["Voltra"] == both["Voltra"]
    assert not set(both.values()) & set(palette.LABEL_COLORS.values())  # never a label's hue
    only_b = trends([r for r in LABEL_ROWS if r[1] == "B"])
    colors = palette.brand_colors(["A", "B"])
    for figure in (charts.volume_figure(only_b, "day", colors),
                   charts.share_of_voice_figure(only_b, colors),
                   charts.sarcasm_figure(only_b, colors, min_count=1)):
        assert charts.trace_colors(figure) == {"B": colors["B"]}
    assert palette.brand_colors([], ["Zed"]) == palette.brand_colors([], ["Zed"])  # stable


def test_thin_buckets_are_drawn_faint_never_as_a_confident_bar():
    rows = [("2026-01-01T00:00:00Z", "A", "positive", 2),  # 2 posts: too few
            ("2026-01-02T00:00:00Z", "A", "positive", 4), ("2026-01-02T00:00:00Z", "A",
                                                           "negative", 2),
            ("2026-01-02T00:00:00Z", "A", "pending", 9)]  # pending never counts
    data = charts.label_shares(trends(rows), min_count=5)
    assert data.set_index(["bucket", "key"])["thin"].tolist() == [True, False, False]
    figure = charts.label_share_figure(trends(rows), min_count=5)
    positive = next(t for t in figure.data if t.name == "positive")
    assert list(positive.marker.opacity) == [0.25, 1.0]
    assert list(positive.marker.pattern.shape) == ["/", ""]
    assert "pending" not in {t.name for t in figure.data}


def test_net_sentiment_and_sarcasm_rate_need_enough_posts():
    moods = trends([("2026-01-01T00:00:00Z", "A", "positive", 6),
                    ("2026-01-01T00:00:00Z", "A", "negative", 2),
                    ("2026-01-01T00:00:00Z", "A", "neutral", 5),
                    ("2026-01-02T00:00:00Z", "A", "negative", 1)])
    net = charts.net_sentiment(moods, min_count=5)
    assert net["net"].iloc[0] == pytest.approx(0.5) and pd.isna(net["net"].iloc[1])
    assert net["polar"].tolist() == [8, 1]
    rate = charts.rate(trends(LABEL_ROWS), "sarcastic", min_count=3)
    b = rate[rate["brand"] == "B"]
    assert pd.isna(b["rate"].iloc[0])  # 2 analyzed posts only
    assert b["rate"].iloc[1] == 0 and b["total"].iloc[1] == 3  # pending left out
    assert frames.net(moods, "A") == pytest.approx((6 - 3) / 9)


def test_share_of_voice_sums_to_one_per_bucket():
    data = charts.share_of_voice(trends(LABEL_ROWS))
    assert data.groupby("bucket")["share"].sum().round(9).eq(1).all()
    first = data[data["bucket"] == data["bucket"].min()].set_index("brand")["share"]
    assert first.to_dict() == {"A": pytest.approx(4 / 6), "B": pytest.approx(2 / 6)}


def test_a_future_post_never_stretches_the_axis():
    rows = [*LABEL_ROWS, ("2099-01-01T00:00:00Z", "A", "positive", 1)]
    span = (pd.Timestamp("2026-01-01T00:00:00Z"), pd.Timestamp("2026-01-04T00:00:00Z"))
    figure = charts.volume_figure(trends(rows), "day", span=span)
    assert [utc(x) for x in figure.layout.xaxis.range] == list(span)
    assert max(utc(x) for t in figure.data for x in t.x) <= span[1]
    assert list(figure.data[0].y) == [4, 0, 2, 0]  # the whole span, quiet days as 0
    labels = charts.label_share_figure(trends(rows), span=span)
    assert all(utc(x).year == 2026 for t in labels.data for x in t.x)


def utc(value) -> pd.Timestamp:
    """A figure's time value (plotly may hand it back zone-less) as a UTC timestamp."""
    moment = pd.Timestamp(value)
    return moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")


def test_alerts_are_marked_on_the_time_axis_inside_the_span():
    alerts = frames.alerts_frame([
        {"id": 1, "kind": "sarcasm", "brand": "B", "message": "disguised criticism",
         "created_at": "2026-01-02T10:00:00Z"},
        {"id": 2, "kind": "spike", "brand": "B", "message": "old", "created_at":
         "2025-06-01T00:00:00Z"}])
    span = (pd.Timestamp("2026-01-01T00:00:00Z"), pd.Timestamp("2026-01-04T00:00:00Z"))
    figure = charts.volume_figure(trends(LABEL_ROWS), "day", span=span, alerts=alerts)
    markers = next(t for t in figure.data if t.name == "alerts")
    assert [utc(x) for x in markers.x] == [pd.Timestamp("2026-01-02T10:00:00Z")]
    assert markers.marker.symbol == "triangle-up" and "sarcasm alert" in markers.hovertext[0]


def test_a_clicked_point_selects_its_bucket_and_brand():
    event = {"points": [{"x": "2026-01-03", "y": 2, "curve_number": 0,
                         "customdata": ["A"]}]}
    assert charts.selected(event) == (pd.Timestamp("2026-01-03T00:00:00Z"), "A")
    assert charts.selected({"points": [{"x": "2026-01-03 13:00", "customdata": ["B", 3, 4]}]}
                           ) == (pd.Timestamp("2026-01-03T13:00:00Z"), "B")
    assert charts.selected({"points": []}) is None and charts.selected(None) is None
    moment = pd.Timestamp("2026-01-07T13:20:00Z")  # a Wednesday
    assert charts.bucket_start(moment, "week") == pd.Timestamp("2026-01-05T00:00:00Z")
    assert charts.bucket_start(moment, "hour") == pd.Timestamp("2026-01-07T13:00:00Z")


def test_kpi_counts_are_integers_and_deltas_need_a_previous_period():
    table = frames.kpis(trends(LABEL_ROWS), trends([]), ["A", "B"])
    row = table.loc["A"].to_dict()
    assert frames.count_delta(row["posts"], row["prev_posts"]) is None  # nothing before
    assert f"{int(row['posts'])}" == "6"
    assert frames.count_delta(6, 4) == 2
    assert frames.points_delta(0.5, None) is None and frames.points_delta(0.5, 0.25) == "+25 pp"
    assert frames.percent(-0.333, signed=True) == "-33%" and frames.percent(None) == "–"


def test_posts_frame_says_pending_and_uses_the_display_zone():
    items = [{"created_at": "2026-01-01T23:30:00Z", "brands": ["A"], "label": None,
              "emotion": None, "lang": None, "id": "x"}]
    frame = frames.posts_frame(items, frames.zone("Asia/Shanghai"))
    assert frame.loc[0, "label"] == "pending" and frame.loc[0, "emotion"] == "pending"
    assert str(frame.loc[0, "created_at"]) == "2026-01-02 07:30:00+08:00"
    assert frames.iso("2026-01-01T23:30:00Z", frames.zone("Asia/Shanghai")) == \
        "2026-01-02T07:30:00+08:00"
    assert frames.when("2026-01-01T23:30:00Z", pd.Timestamp("2026-01-02T00:30:00Z"),
                       frames.zone("Europe/Berlin")) == "2026-01-02 00:30 Europe/Berlin (1 h ago)"
    assert frames.zone("Not/AZone").key == "UTC"


def test_throughput_from_analyze_runs():
    now = pd.Timestamp("2026-01-01T12:00:00Z")
    runs = pd.DataFrame({"job": ["analyze", "analyze", "collect", "analyze"],
                         "started_at": [now - pd.Timedelta(minutes=m) for m in (5, 10, 1, 90)],
                         "new": [30, 10, 99, 500], "duration_s": [2.0, 2.0, 1.0, 9.0]})
    assert frames.throughput(runs, now) == {"posts": 40, "runs": 2, "busy_s": 4.0,
                                            "per_s": 10.0}
