"""The Review page in headless Chromium against a real engine API: a keyboard shortcut
records the reviewer's label through the API."""

from __future__ import annotations

import httpx
import pytest

from data import feedback
from tests import test_dashboard_browser as browser
from tests.test_dashboard import SARCASTIC

pytestmark = pytest.mark.browser

# The real engine API, `streamlit run` and Chromium of the dashboard's browser test.
api_url, dashboard_url, page = browser.api_url, browser.dashboard_url, browser.page


@pytest.mark.timeout(90)
def test_review_by_keyboard_in_the_browser(page, api_url, engine):
    feedback.record_false_alarm(engine.store, "replay:r3", "pr")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_role("link", name="Review").click()
    page.get_by_text(SARCASTIC).wait_for()
    page.get_by_text("An alert on it was dismissed as a false alarm").wait_for()
    page.locator('[data-testid="stImage"] img').first.wait_for(state="visible")
    browser.snapshot(page, "review")
    page.get_by_role("heading", name="Review").click()  # focus off the text boxes
    page.keyboard.press("4")  # "Sarcastic"
    page.get_by_text(SARCASTIC).wait_for(state="detached")
    rows = httpx.get(f"{api_url}/v1/feedback", params={"field": "label"}).json()["items"]
    assert [(r["post_id"], r["new_value"]) for r in rows] == [("replay:r3", "sarcastic")]
    assert httpx.get(f"{api_url}/v1/posts/replay:r3").json()["reviewed"] is True
