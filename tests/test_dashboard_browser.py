"""The real dashboard (`streamlit run dashboard/app.py`) against a real engine API, driven in
headless Chromium: the Trends page draws a chart and the Alerts page shows the alerted post."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from subtext.api import create_app
from tests.test_dashboard import SARCASTIC, free_port, load, serve

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = os.environ.get("SUBTEXT_SCREENSHOTS")  # a folder, to look at the pages by eye


@pytest.fixture
def api_url(engine) -> Iterator[str]:
    load(engine)
    with serve(create_app(engine, schedule=False)) as url:
        yield url


@pytest.fixture
def dashboard_url(api_url: str, tmp_path: Path) -> Iterator[str]:
    """`streamlit run` in a subprocess, ready to serve; always terminated."""
    port = free_port()
    env = {**os.environ, "SUBTEXT_API_URL": api_url, "PYTHONPATH": ""}
    log = (tmp_path / "streamlit.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{url}/_stcore/health", process, timeout=30)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


def wait_ready(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"streamlit not ready at {url} after {timeout} s")


@pytest.fixture
def page(dashboard_url: str):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                             timeout=20_000)
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.set_default_timeout(20_000)
            tab.goto(dashboard_url)
            yield tab
        finally:
            browser.close()


def snapshot(tab, name: str) -> None:
    if SCREENSHOTS:
        tab.wait_for_timeout(1500)  # let plotly finish its transitions
        tab.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


@pytest.mark.timeout(90)
def test_trends_chart_and_alerts_in_the_browser(page):
    page.locator(".js-plotly-plot").first.wait_for(state="visible")
    assert page.locator(".js-plotly-plot").count() == 3
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Engine: up").wait_for()
    assert page.get_by_text("Voltra").count() > 0
    snapshot(page, "trends")

    sidebar.get_by_role("link", name="Alerts").click()
    page.get_by_text(SARCASTIC).wait_for()
    page.get_by_role("button", name="Acknowledge").wait_for()
    page.locator('[data-testid="stImage"] img').first.wait_for(state="visible")
    assert "/alerts" in page.url
    sidebar.get_by_text("Engine: up").wait_for()  # app.py's sidebar also draws on other pages
    snapshot(page, "alerts")

    # The export is fetched only when clicked (a deferred download): AppTest cannot click it.
    sidebar.get_by_role("link", name="Explore").click()
    page.get_by_text("4 posts match").wait_for()
    with page.expect_download() as download:
        page.get_by_role("button", name="CSV", exact=True).click()
    csv = Path(download.value.path()).read_text(encoding="utf-8")
    assert SARCASTIC in csv and len(csv.strip().splitlines()) == 5  # header + 4 posts
