"""The real dashboard (`streamlit run dashboard/app.py`) against a real engine API, driven in
headless Chromium: every page loads with no console error and no request leaving the machine,
filters change the table and the URL, exports hold the filtered rows, a click on a chart shows
the bucket's posts, user text stays inert. Screenshots go to var/artifacts/screenshots/ (or
SUBTEXT_SCREENSHOTS)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from openpyxl import load_workbook

from subtext.api import create_app
from tests.test_dashboard import SARCASTIC, free_port, load, serve

NASTY = "<script>window.pwned = 1</script> nimbus [click](http://evil.example) $$x^2$$"

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(os.environ.get("SUBTEXT_SCREENSHOTS")
                   or ROOT / "var" / "artifacts" / "screenshots")  # ignored by git
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture
def api_url(engine) -> Iterator[str]:
    load(engine)
    with serve(create_app(engine, schedule=False)) as url:
        httpx.post(f"{url}/v1/ingest", json={"posts": [
            {"id": "x1", "text": NASTY, "author": "<img src=x onerror=alert(1)>",
             "lang": "en"}]}).raise_for_status()
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
        wait_ready(f"{url}/_stcore/health", process, timeout=90)  # slow on a busy machine
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
            context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                          accept_downloads=True)
            tab = context.new_page()
            tab.set_default_timeout(45_000)  # the shared machine may be busy
            tab.errors, tab.remote, tab.dialogs = [], [], []
            tab.on("console", lambda m: tab.errors.append(f"{m.text} {m.location.get('url')}")
                   if m.type == "error" and not base_path_probe(m.location.get("url")) else None)
            tab.on("pageerror", lambda e: tab.errors.append(str(e)))
            tab.on("request", lambda r: tab.remote.append(r.url) if off_machine(r.url) else None)
            tab.on("dialog", lambda d: (tab.dialogs.append(d.message), d.dismiss()))
            tab.goto(dashboard_url)
            yield tab
        finally:
            browser.close()


def base_path_probe(url: str | None) -> bool:
    """Opened at /alerts, Streamlit's frontend first looks for its server under that path
    (/alerts/_stcore/health, a 404) before the root: its own probe, not an error of ours."""
    path = urlsplit(url or "").path
    return "/_stcore/" in path and not path.startswith("/_stcore/")


def off_machine(url: str) -> bool:
    """A request that would leave the machine (data: and blob: URLs stay in the page)."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOCAL_HOSTS


def snapshot(tab, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.wait_for_timeout(1500)  # let plotly finish its transitions
    tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def clean(tab) -> None:
    """No console error, no request off the machine, no script of a post ran."""
    assert tab.errors == [] and tab.remote == [] and tab.dialogs == []
    assert tab.evaluate("window.pwned") is None


@pytest.mark.timeout(300)
def test_trends_chart_and_alerts_in_the_browser(page):
    page.locator(".js-plotly-plot").nth(7).wait_for(state="visible")
    assert page.locator(".js-plotly-plot").count() == 8
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
    page.get_by_text("5 posts match").wait_for()  # the replay's 4 and the <script> one
    with page.expect_download() as download:
        page.get_by_role("button", name="CSV", exact=True).click()
    csv = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert SARCASTIC in csv and len(csv.strip().splitlines()) == 6  # header + 5 posts
    clean(page)


def wait_page(tab, title: str) -> None:
    tab.get_by_role("heading", name=title).first.wait_for()
    tab.locator('[data-testid="stSidebar"]').get_by_text("Engine: up").wait_for()
    tab.wait_for_timeout(1000)  # let late requests (fonts, images) go out


@pytest.mark.timeout(300)
def test_every_page_loads_offline_without_errors(page, dashboard_url, api_url):
    for path, title in (("", "Trends"), ("alerts", "Alerts"), ("explore", "Explore"),
                        ("health", "Health"), ("settings", "Settings")):
        page.goto(f"{dashboard_url}/{path}")
        wait_page(page, title)
        if title == "Trends":
            page.locator(".js-plotly-plot").nth(7).wait_for(state="visible")
        snapshot(page, title.lower())
        clean(page)
    page.goto(f"{api_url}/docs")  # the engine's API docs, from local assets
    page.locator(".swagger-ui .opblock").first.wait_for()
    snapshot(page, "api-docs")
    assert page.locator(".opblock").count() > 10
    clean(page)


@pytest.mark.timeout(300)
def test_explore_filter_url_exports_and_inert_text(page, dashboard_url, api_url):
    page.goto(f"{dashboard_url}/explore")
    page.get_by_text("5 posts match").wait_for()
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Label").click()
    page.get_by_role("option", name="sarcastic", exact=True).click()
    page.get_by_text("1 post matches").wait_for()
    page.wait_for_function("location.search.includes('label=sarcastic')")
    assert parse_qs(urlsplit(page.url).query)["label"] == ["sarcastic"]
    with page.expect_download() as download:
        page.get_by_role("button", name="Excel", exact=True).click()
    with open(download.value.path(), "rb") as file:  # the download's name has no .xlsx
        sheet = load_workbook(file, read_only=True).active
        rows = list(sheet.values)
    ids = [r[rows[0].index("id")] for r in rows[1:]]
    assert ids == ["replay:r3"] and rows[1][rows[0].index("label")] == "sarcastic"
    with page.expect_download() as download:
        page.get_by_role("button", name="CSV", exact=True).click()
    raw = Path(download.value.path()).read_bytes()
    assert raw.startswith("\ufeff".encode()) and SARCASTIC in raw.decode("utf-8-sig")
    snapshot(page, "explore-filtered")

    # A shared link opens the same view; a post's text, author and links stay text.
    page.goto(f"{dashboard_url}/explore?post=import:x1")
    detail = page.locator(".st-key-post-detail")
    detail.get_by_text("<script>window.pwned = 1</script>", exact=False).first.wait_for()
    # shown as typed (in the quote, and again in the folded raw JSON)
    assert detail.get_by_text("[click](http://evil.example)", exact=False).count() >= 1
    assert detail.get_by_text("$$x^2$$", exact=False).count() >= 1
    assert detail.locator("a[href*='evil']").count() == 0, detail.inner_html()[:2000]
    assert detail.locator("script, img[src='x']").count() == 0
    assert page.locator(".katex").count() == 0  # no LaTeX rendered
    snapshot(page, "explore-detail")
    clean(page)


@pytest.mark.timeout(300)
def test_clicking_a_chart_bucket_shows_its_posts(page, api_url):
    page.locator(".js-plotly-plot").nth(7).wait_for(state="visible")
    page.wait_for_timeout(1000)
    page.get_by_text("Nothing selected yet.").wait_for()  # no bucket until a click picks one
    # the volume chart's points, then the label mix's bars: the newest bucket first
    targets = [page.locator(".js-plotly-plot").nth(0).locator(".scatterlayer .point"),
               page.locator(".js-plotly-plot").nth(3).locator(".barlayer .point path")]
    shown = page.locator('[data-testid="stText"]')
    for points in targets:
        for index in reversed(range(points.count())):
            box = points.nth(index).bounding_box()
            if box is None or shown.count():
                continue
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(x, y)  # plotly picks the point on hover, then takes the click
            page.wait_for_timeout(300)
            page.mouse.click(x, y, delay=80)
            page.wait_for_timeout(2500)
    assert shown.count() >= 1  # the selected bucket's posts
    assert page.get_by_text("open them in Explore").count() == 1
    # ...and they are that bucket's: its day, as the engine counts it
    day = re.search(r"(\d+) posts? in \w+ (\d{4}-\d\d-\d\d)", page.locator(
        '[data-testid="stMarkdown"]').filter(has_text="open them in Explore").inner_text())
    assert day is not None and int(day[1]) >= 1
    since = datetime.fromisoformat(day[2]).replace(tzinfo=UTC)
    in_bucket = {p["text"] for p in httpx.get(f"{api_url}/v1/posts", params={
        "since": since.isoformat(), "until": (since + timedelta(days=1)).isoformat(),
        "limit": 500}).json()["items"]}
    assert {shown.nth(i).inner_text() for i in range(shown.count())} <= in_bucket
    snapshot(page, "trends-why")
    clean(page)
