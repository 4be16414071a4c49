"""The Review page (AppTest) against a real engine API on 127.0.0.1: one post at a time, the
reviewer's click is recorded through the API and the queue moves on."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from data import feedback
from subtext.api import create_app
from tests import test_dashboard
from tests.test_dashboard import SARCASTIC, load, run_page, serve, texts, unescape

PAGE = "pages/review.py"
down_url = test_dashboard.down_url  # the fixture: an engine URL nothing listens on


@pytest.fixture
def review_url(engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    load(engine)
    with serve(create_app(engine, schedule=False)) as url:
        monkeypatch.setenv("SUBTEXT_API_URL", url)
        yield url


def post(url: str, post_id: str) -> dict:
    return httpx.get(f"{url}/v1/posts/{post_id}").json()


def shown_post(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith(">"))


def test_review_a_false_alarm_then_skip_and_remove_from_the_brand(review_url, engine):
    feedback.record_false_alarm(engine.store, "replay:r3", "pr")
    at = run_page(PAGE)
    shown = unescape(texts(at))
    assert SARCASTIC in shown and "dismissed as a false alarm" in shown
    assert "model: sarcastic" in shown  # the model's verdict beside the post
    assert len(at.image) == 1  # the post's picture, through the engine
    at.text_input(key="reviewer").set_value("rev")
    at.selectbox(key="emotion-replay:r3").set_value("surprise")
    at.button(key="review-sarcastic").click().run()
    assert not at.exception
    reviewed = post(review_url, "replay:r3")
    assert (reviewed["label"], reviewed["emotion"], reviewed["reviewed_by"]) == (
        "sarcastic", "surprise", "rev")
    rows = httpx.get(f"{review_url}/v1/feedback").json()["items"]
    assert {(r["field"], r["new_value"], r["reviewer"]) for r in rows} >= {
        ("label", "sarcastic", "rev"), ("emotion", "surprise", "rev")}
    assert SARCASTIC not in unescape(texts(at))  # the queue moved on

    queue = httpx.get(f"{review_url}/v1/review/queue", params={"limit": 50}).json()["items"]
    if not queue:
        assert "Nothing to review" in at.info[0].value
        return
    first = shown_post(at)
    at.button(key="review-skip").click().run()
    assert shown_post(at) != first if len(queue) > 1 else "Only skipped posts" in at.info[0].value
    at.button(key="review-unskip" if len(queue) == 1 else "review-irrelevant").click().run()
    assert not at.exception
    if len(queue) > 1:
        assert post(review_url, queue[1]["id"])["brands"] == []


def test_a_two_brand_post_is_assigned_to_one_brand(review_url, engine):
    feedback.record_false_alarm(engine.store, "replay:r4", None)
    at = run_page(PAGE)
    assert "Comparing both" in unescape(shown_post(at))
    at.radio(key="brand-replay:r4").set_value("Voltra")
    at.button(key="review-neutral").click().run()
    assert not at.exception
    assert post(review_url, "replay:r4")["brands"] == ["Voltra"]
    assert post(review_url, "replay:r4")["label"] == "neutral"


def test_review_filters_and_empty_state(review_url):
    at = run_page(PAGE)
    at.selectbox(key="review_lang").set_value("fr").run()
    assert "Nothing to review" in at.info[0].value


def test_review_page_says_when_the_engine_is_down(down_url):
    at = run_page(PAGE)
    assert any(down_url in e.value for e in at.error) and not at.button


def test_explore_marks_and_filters_reviewed_posts(review_url):
    httpx.post(f"{review_url}/v1/feedback", json={"post_id": "replay:r2", "label": "neutral"})
    at = run_page("pages/explore.py")
    table = at.dataframe[0].value.set_index("id")
    assert table.loc["replay:r2", "reviewed"] and table.loc["replay:r2", "label"] == "neutral"
    assert table.loc["replay:r2", "model_label"] == "negative"
    at.segmented_control(key="explore_reviewed").set_value("By a person").run()
    assert list(at.dataframe[0].value["id"]) == ["replay:r2"]
    at.segmented_control(key="explore_reviewed").set_value("Model only").run()
    assert "replay:r2" not in set(at.dataframe[0].value["id"])
