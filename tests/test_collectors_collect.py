"""The collect job around any source: pages committed with their cursors (a killed run resumes
without losing or doubling posts), runs recorded, failing sources backing off and flagged."""

import json
import os
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from collectors.base import Page
from collectors.hackernews import HackerNewsCollector
from collectors.http import RateLimited
from collectors.post import Post, utcnow
from data import queries
from data.store import Store
from subtext import jobs
from subtext.api import create_app
from subtext.config import Brand, load
from subtext.engine import Engine
from tests.fixtures.servers import Reply, Server, fixture_json

ROOT = Path(__file__).resolve().parent.parent
BRANDS = (Brand("Nimbus", "nimbus OR 云朵"), Brand("Voltra", "voltra OR 伏特拉"))


def hits(n: int) -> list[dict]:
    template = fixture_json("hackernews/search_by_date.json")["hits"][1]
    out = []
    for i in range(n):
        hit = dict(template, objectID=str(43000000 + i), title=f"Nimbus story {i}",
                   created_at_i=1793779200 - 60 * i)
        out.append(hit)
    return out


class SlowSecondPage:
    """Algolia search_by_date for "nimbus", 2 hits a page; page 2 hangs while `hang` is set
    and tells the test it was asked for."""

    def __init__(self, server: Server, items: list[dict]):
        self.items, self.hang, self.asked = items, True, threading.Event()
        server.route("/api/v1/search_by_date", self.answer)

    def answer(self, request):
        page = int(request.arg("page", "0"))
        if request.arg("query") != "nimbus":
            return Reply(200, {"hits": [], "page": 0, "nbPages": 0})
        if page >= 1 and self.hang:
            self.asked.set()
            return Reply(200, {"hits": []}, delay=20)  # the run is killed meanwhile
        chunk = self.items[page * 2:page * 2 + 2]
        return Reply(200, {"hits": chunk, "page": page, "nbPages": -(-len(self.items) // 2),
                           "hitsPerPage": 2})


CHILD = textwrap.dedent("""
    import sys
    from collectors.hackernews import HackerNewsCollector
    from data.store import Store
    from subtext import jobs
    from subtext.config import Brand, load
    brand = Brand("Nimbus", "nimbus OR 云朵")
    with Store.open(sys.argv[1]) as store:
        collector = HackerNewsCollector("hn", api_url=sys.argv[2], timeout_s=60, retries=0,
                                        backfill_hours=1e6, per_minute=60000)
        jobs.collect(store, "hn", collector, brand, [brand])
""")


def test_a_killed_run_resumes_without_losing_or_doubling(tmp_path):
    server = Server()
    try:
        fake = SlowSecondPage(server, hits(5))
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "db"),
                                  server.url + "/api/v1"], cwd=ROOT,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            assert fake.asked.wait(30), "the child never asked for page 2"
        finally:
            child.kill()  # SIGKILL while page 2 is in flight: no clean-up runs
            child.wait(10)
        fake.hang = False
        with Store.open(tmp_path / "db") as store:
            assert queries.counts(store)["posts"] == 2  # page 1 was committed
            walk = json.loads(store.get_cursor("hn", "Nimbus"))["walks"]["nimbus"]
            assert walk["next"] == "1" and walk["top"] == 1793779200  # mid-walk
            collector = HackerNewsCollector("hn", api_url=server.url + "/api/v1",
                                            timeout_s=2, backfill_hours=1e6,
                                            per_minute=60000)
            result = jobs.collect(store, "hn", collector, BRANDS[0], BRANDS)
            collector.close()
            assert result.new == 3
            ids = [r[0] for r in store.reader().execute("SELECT id FROM posts").fetchall()]
            assert sorted(ids) == [f"hn:{43000000 + i}" for i in range(5)]
            resumed = [r.arg("page") for r in server.hits("/api/v1/search_by_date")
                       if r.arg("query") == "nimbus"]
            assert resumed == ["0", "1", "1", "2"]  # the killed page 1 is asked again
            walk = json.loads(store.get_cursor("hn", "Nimbus"))["walks"]["nimbus"]
            assert walk == {"since": 1793779200 - 600, "top": None, "next": None}
    finally:
        server.close()


class Pages:
    """A scripted source: yields the given pages, then raises `then` if set."""

    def __init__(self, *pages: Page, then: Exception | None = None):
        self.scripted, self.then = list(pages), then

    def pages(self, brand, cursor):
        yield from self.scripted
        if self.then:
            raise self.then


def post(native_id: str, text: str, **extra) -> Post:
    return Post("src", native_id, text, utcnow(), **extra)


def test_only_posts_that_match_a_brand_are_kept_and_counted(store):
    page = Page([post("1", "Nimbus 7 rocks"), post("2", "伏特拉 还行"), post("3", "cloudy"),
                 post("4", "Nimbus vs Voltra")], cursor="c1", fetched=5,
                errors=["malformed item #4: KeyError: 'text'"])
    result = jobs.collect(store, "src", Pages(page), BRANDS[0], BRANDS)
    assert (result.fetched, result.matched, result.new, result.errors) == (5, 3, 3, 1)
    assert queries.get_post(store, "src:4")["brands"] == ["Nimbus", "Voltra"]
    assert queries.get_post(store, "src:3") is None
    run = queries.list_runs(store)[0]
    assert (run["status"], run["fetched"], run["matched"], run["new"], run["errors"]) == (
        "ok", 5, 3, 3, 1)
    assert run["last_error"] == "malformed item #4: KeyError: 'text'"
    assert store.get_cursor("src", "Nimbus") == "c1"


def test_a_failure_after_some_pages_keeps_them_and_their_cursor(store):
    source = Pages(Page([post("1", "Nimbus one")], cursor="after-1", fetched=1),
                   then=ConnectionError("reset by peer"))
    assert jobs.collect(store, "src", source, BRANDS[0], BRANDS) is None
    assert store.get_cursor("src", "Nimbus") == "after-1"
    run = queries.list_runs(store)[0]
    assert (run["status"], run["new"], run["errors"]) == ("failed", 1, 1)
    assert run["last_error"] == "ConnectionError: reset by peer"


def test_a_failing_source_backs_off_more_and_more_then_recovers(store):
    broken = Pages(then=ConnectionError("down"))

    def run():
        return jobs.collect(store, "src", broken, BRANDS[0], BRANDS, every_seconds=60)

    def state():
        return store.source_state("src", "Nimbus")

    assert run() is None and state().failures == 1 and state().skip_until is None
    assert run() is None  # the second failure in a row skips the next scheduled run
    waited = state().skip_until - utcnow()
    assert state().failures == 2 and timedelta(seconds=55) < waited <= timedelta(seconds=60)
    assert run().skipped and len(queries.list_runs(store)) == 2  # skips are not recorded
    store.set_source_state("src", "Nimbus", 2, utcnow() - timedelta(seconds=1))
    assert run() is None
    waited = state().skip_until - utcnow()
    assert state().failures == 3 and timedelta(seconds=170) < waited <= timedelta(seconds=180)
    store.set_source_state("src", "Nimbus", 3)  # the back-off is over
    broken.then = None
    assert run().skipped is False
    assert state().failures == 0 and state().skip_until is None
    assert state().last_error == "ConnectionError: down"  # kept for the record


def test_retry_after_sets_the_back_off(store):
    limited = Pages(then=RateLimited("HTTP 429: retry after 3600 s", 3600))
    assert jobs.collect(store, "src", limited, BRANDS[0], BRANDS, every_seconds=60) is None
    waited = store.source_state("src", "Nimbus").skip_until - utcnow()
    assert timedelta(minutes=59) < waited <= timedelta(hours=1)


def test_health_flags_a_source_that_keeps_failing(config):
    engine = Engine(config, collectors={"replay": Pages(then=TimeoutError("no answer"))})
    try:
        with TestClient(create_app(engine, schedule=False), base_url="http://127.0.0.1") as client:
            assert client.get("/health").json()["sources"][0]["status"] == "ok"
            for attempt in range(3):
                if attempt:  # no waiting out the back-off in a test: retry at once
                    failures = engine.store.source_state("replay", "Nimbus").failures
                    engine.store.set_source_state("replay", "Nimbus", failures)
                engine.collect("replay", "Nimbus")
            engine.collect("replay", "Voltra")
            source = client.get("/health").json()["sources"][0]
    finally:
        engine.stop()
    assert (source["name"], source["kind"], source["every_seconds"]) == ("replay", "replay", 60)
    assert source["status"] == "failing" and source["flagged"] and source["failures"] == 3
    by_brand = {b["brand"]: b for b in source["brands"]}
    assert by_brand["Nimbus"]["failures"] == 3 and by_brand["Voltra"]["failures"] == 1
    assert by_brand["Nimbus"]["last_error"] == "TimeoutError: no answer"
    assert by_brand["Nimbus"]["last_status"] == "failed"
    assert by_brand["Nimbus"]["skip_until"] is not None


def test_a_configured_source_runs_through_the_engine_and_its_api(tmp_path, monkeypatch):
    server = Server()
    server.route("/api/v1/search_by_date", Reply(200, fixture_json(
        "hackernews/search_by_date.json")))
    path = tmp_path / "subtext.toml"
    path.write_text(f"""
[storage]
data_dir = "{(tmp_path / 'var').as_posix()}"

[[brands]]
name = "Nimbus"
query = "nimbus"

[[sources]]
name = "hn"
kind = "hackernews"
every_seconds = 600
api_url = "{server.url}/api/v1"
backfill_hours = 1000000
timeout_s = 2
per_minute = 6000
""", encoding="utf-8")
    monkeypatch.delenv("SUBTEXT_DATA_DIR", raising=False)
    engine = Engine(load(path))
    try:
        with TestClient(create_app(engine, schedule=False), base_url="http://127.0.0.1") as client:
            engine.collect_all()
            (run,) = client.get("/v1/runs").json()["items"]
            source = client.get("/health").json()["sources"][0]
    finally:
        engine.stop()
        server.close()
    assert (run["source"], run["fetched"], run["matched"], run["new"], run["errors"]) == (
        "hn", 4, 2, 2, 1)
    assert source["status"] == "ok" and not source["flagged"]
    assert source["brands"][0]["new"] == 2 and source["brands"][0]["last_ok_at"]
