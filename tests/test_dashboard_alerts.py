"""The Alerts page on a spike: its chart with the baseline band, the posts behind it, the
filters, and the workflow buttons, against a real engine API on 127.0.0.1."""

import json
from datetime import timedelta

import httpx
import pytest

from collectors.post import utcnow
from subtext.api import create_app
from tests.test_alert_rules import add_posts
from tests.test_dashboard import plotly_specs, run_page, serve, texts, unescape


@pytest.fixture
def spike_url(engine, monkeypatch):
    now = utcnow()
    for hours in range(1, 25):  # a quiet day: one post an hour
        add_posts(engine.store, "Voltra", 1, now - timedelta(hours=hours, minutes=10), 0,
                  f"b{hours}-")
    add_posts(engine.store, "Voltra", 30, now - timedelta(minutes=10), 20, "now-")
    engine.evaluate_alerts()
    with serve(create_app(engine, schedule=False)) as url:
        monkeypatch.setenv("SUBTEXT_API_URL", url)
        yield url


def test_spike_chart_band_posts_and_filters(spike_url):
    at = run_page("pages/alerts.py")
    at.selectbox[2].set_value("volume_spike").run()  # Kind
    shown = unescape(texts(at))
    assert "Volume spike" in shown and "30 posts in the last hour vs 1.0 usually" in shown
    assert "Voltra battery gets hot #overheat 29" in shown  # the most engaged post first
    [spec] = plotly_specs(at)
    figure = json.loads(spec)
    bars = figure["data"][0]
    assert bars["type"] == "bar" and len(bars["y"]) == 25 and bars["y"][-1] == 30
    band = next(s for s in figure["layout"]["shapes"] if s["type"] == "rect")
    assert band["y0"] == 1 and band["y1"] > 1  # from the mean to mean + k·σ
    at.button(key="resolve-1").click().run()
    assert not at.exception
    resolved = httpx.get(f"{spike_url}/v1/alerts/1").json()
    assert resolved["status"] == "resolved"


def test_filters_with_no_match_say_so(spike_url):
    at = run_page("pages/alerts.py")
    at.selectbox[0].set_value("low").run()  # Severity
    assert "(with these filters)" in at.info[0].value
