"""Mastodon: hashtag timelines and token search against a local server playing the API."""

import copy
import json
from datetime import datetime, timedelta

import pytest

from collectors.mastodon import MastodonCollector
from collectors.registry import build_collector
from data import queries
from subtext import jobs
from subtext.config import Brand
from tests.fixtures.servers import FAST, Reply, Server, fixture_json, png_reply

BRANDS = (Brand("Nimbus", "nimbus OR 云朵"), Brand("Voltra", "voltra OR 伏特拉"))


@pytest.fixture
def server():
    running = Server()
    running.route("/media/original/night.png", png_reply("navy"))
    running.route("/media/small/panda.png", png_reply("white"))
    yield running
    running.close()


def timeline(statuses: list[dict]):
    """The tag timeline's paging: newest first, since_id / max_id exclusive, limit."""
    def answer(request):
        items = sorted(statuses, key=lambda s: int(s["id"]), reverse=True)
        if since := request.arg("since_id"):
            items = [s for s in items if int(s["id"]) > int(since)]
        if top := request.arg("max_id"):
            items = [s for s in items if int(s["id"]) < int(top)]
        page = items[:int(request.arg("limit", "20"))]
        headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "299",
                   "X-RateLimit-Reset": "2026-11-02T10:00:00.000Z"}
        if page:  # Mastodon links the next and previous pages whenever there are statuses
            here = f"http://{request.headers['host']}{request.path}"
            headers["Link"] = (f'<{here}?max_id={page[-1]["id"]}>; rel="next", '
                               f'<{here}?min_id={page[0]["id"]}>; rel="prev"')
        return Reply(200, page, headers)
    return answer


def collect(store, collector, brand=BRANDS[0]):
    return jobs.collect(store, collector.name, collector, brand, BRANDS, every_seconds=60)


@pytest.fixture
def mastodon(server):
    """Builds collectors against the server, and closes their clients after the test."""
    built = []

    def build(**settings):
        built.append(MastodonCollector("masto", instance=server.url, **{**FAST, **settings}))
        return built[-1]

    yield build
    for collector in built:
        collector.close()


def test_tag_timeline_first_run(server, store, mastodon):
    server.route("/api/v1/timelines/tag/nimbus",
                 timeline(fixture_json("mastodon/tag_timeline.json", server.url)))
    collector = mastodon()
    result = collect(store, collector)
    (request,) = server.hits("/api/v1/timelines/tag/nimbus")
    assert request.query["any[]"] == ["云朵"] and request.arg("limit") == "40"
    assert "since_id" not in request.query  # a first run reads the newest page only
    assert (result.fetched, result.matched, result.new, result.errors) == (4, 2, 2, 1)
    post = queries.get_post(store, "masto:113500000000000004")
    assert post["text"] == "Love the new #Nimbus 7 camera & its night mode"
    assert (post["author"], post["likes"], post["reposts"], post["replies"]) == ("ann", 7, 1, 2)
    assert post["brands"] == ["Nimbus"] and len(post["images"]) == 1
    zh = queries.get_post(store, "masto:113500000000000003")
    assert zh["author"] == "xiaowang@other.example" and zh["lang"] == "zh"
    assert len(zh["images"]) == 1  # the still of a GIF
    assert queries.get_post(store, "masto:113500000000000002") is None  # #nimbuscloud ≠ nimbus
    run = queries.list_runs(store)[0]
    assert (run["status"], run["matched"], run["errors"]) == ("ok", 2, 1)
    assert run["last_error"] == "malformed status 113500000000000001: KeyError: 'account'"
    assert json.loads(store.get_cursor("masto", "Nimbus"))["walks"] == {
        "tags:nimbus,云朵": {"since": 113500000000000004, "top": None, "next": None}}


def test_later_runs_page_back_to_the_last_id_and_resume(server, store, mastodon):
    statuses = fixture_json("mastodon/tag_timeline.json", server.url)
    server.route("/api/v1/timelines/tag/nimbus", timeline(statuses))
    collector = mastodon(max_pages=1)
    collect(store, collector)
    template = statuses[0]
    for n in range(45):  # 45 new statuses: more than one page of 40
        status = copy.deepcopy(template)
        status["id"] = str(113500000000001000 + n)
        status["content"] = f"<p>Nimbus post number {n}</p>"
        status["media_attachments"] = []
        statuses.append(status)
    first = collect(store, collector)  # max_pages=1: 40 now, the walk is left unfinished
    walk = json.loads(store.get_cursor("masto", "Nimbus"))["walks"]["tags:nimbus,云朵"]
    assert first.new == 40 and walk["next"] == "113500000000001005"
    second = collect(store, collector)  # resumes below the oldest id read, down to since_id
    assert second.new == 5
    last = server.hits("/api/v1/timelines/tag/nimbus")[-1]
    assert last.arg("max_id") == "113500000000001005"
    assert last.arg("since_id") == "113500000000000004"
    assert queries.counts(store)["posts"] == 47  # nothing lost, nothing doubled
    walk = json.loads(store.get_cursor("masto", "Nimbus"))["walks"]["tags:nimbus,云朵"]
    assert walk == {"since": 113500000000001044, "top": None, "next": None}


def test_search_with_a_token_from_the_environment(server, store):
    server.route("/api/v1/timelines/tag/nimbus", Reply(200, []))
    server.route("/api/v2/search", Reply(200, fixture_json("mastodon/search.json")))
    collector = build_collector("masto", "mastodon", {"instance": server.url, **FAST},
                                env={"SUBTEXT_MASTO_TOKEN": "s3cret"})
    try:
        result = collect(store, collector)
    finally:
        collector.close()
    searches = server.hits("/api/v2/search")
    assert [(r.arg("q"), r.arg("type"), r.arg("offset")) for r in searches] == [
        ("nimbus", "statuses", "0"), ("云朵", "statuses", "0")]
    assert all(r.headers["authorization"] == "Bearer s3cret" for r in server.requests
               if r.path.startswith("/api/"))
    assert result.new == 1
    post = queries.get_post(store, "masto:113600000000000010")
    assert post["text"] == "Phone rant\nGreat, another Nimbus update that breaks Bluetooth 🙄"


def test_configured_hashtags_replace_the_derived_ones(server, store, mastodon):
    server.route("/api/v1/timelines/tag/nimbusphone", Reply(200, []))
    collector = mastodon(hashtags=["#NimbusPhone", "nimbus7"], local=True)
    collect(store, collector)
    (request,) = server.hits("/api/v1/timelines/tag/nimbusphone")
    assert request.query["any[]"] == ["nimbus7"] and request.arg("local") == "true"


# -- back-fill ---------------------------------------------------------------------------------

NOW = datetime(2026, 11, 2, 12, 0, 0)


def snowflake(moment: datetime, sequence: int = 0) -> str:
    """A Mastodon id: the creation time in milliseconds, shifted left 16 bits."""
    ms = int((moment - datetime(1970, 1, 1)).total_seconds() * 1000)
    return str(ms << 16 | sequence)


def history(count: int, template: dict, spacing=timedelta(minutes=2)) -> list[dict]:
    """`count` Nimbus statuses, the newest a minute before NOW, `spacing` apart."""
    statuses = []
    for n in range(count):
        at = NOW - timedelta(minutes=1) - n * spacing
        status = copy.deepcopy(template)
        status.update(id=snowflake(at, n), created_at=at.isoformat() + ".000Z",
                      content=f"<p>Nimbus post {n}</p>", media_attachments=[])
        statuses.append(status)
    return statuses


@pytest.fixture
def backlog(server):
    """110 statuses over 3 h 40 min: with a 3 h back-fill, 90 are due, in pages of 40, 40, 10."""
    template = fixture_json("mastodon/tag_timeline.json", server.url)[0]
    statuses = history(110, template)
    server.route("/api/v1/timelines/tag/nimbus", timeline(statuses))
    return statuses


def due_ids(statuses: list[dict]) -> set[str]:
    horizon = int(snowflake(NOW - timedelta(hours=3)))
    return {f"masto:{s['id']}" for s in statuses if int(s["id"]) >= horizon}


def stored_ids(store) -> set[str]:
    return {row[0] for row in store.reader().execute("SELECT id FROM posts").fetchall()}


def test_a_first_run_back_fills_every_page_inside_backfill_hours(server, store, mastodon,
                                                                backlog):
    collector = mastodon(backfill_hours=3, now=lambda: NOW)
    result = collect(store, collector)
    hits = server.hits("/api/v1/timelines/tag/nimbus")
    assert len(hits) == 3  # 40 + 40 + 10: the short page is the last
    horizon = snowflake(NOW - timedelta(hours=3))
    assert all(h.arg("since_id") == horizon for h in hits)
    assert [h.arg("max_id") for h in hits] == [None, backlog[39]["id"], backlog[79]["id"]]
    assert result.new == 90 and stored_ids(store) == due_ids(backlog)
    walk = json.loads(store.get_cursor("masto", "Nimbus"))["walks"]["tags:nimbus,云朵"]
    assert walk == {"since": int(backlog[0]["id"]), "top": None, "next": None}
    assert collect(store, collector).new == 0  # the next run starts at the newest id


def test_the_back_fill_is_bounded_per_run_and_resumes(server, store, mastodon, backlog):
    collector = mastodon(backfill_hours=3, now=lambda: NOW, max_pages=2)
    assert collect(store, collector).new == 80
    walk = json.loads(store.get_cursor("masto", "Nimbus"))["walks"]["tags:nimbus,云朵"]
    assert walk["next"] == backlog[79]["id"]  # where the next run goes on
    newer = history(1, backlog[0], spacing=timedelta(0))[0]
    newer["id"] = snowflake(NOW, 999)  # posted between the runs
    backlog.append(newer)
    second = collect(store, collector)
    assert second.new == 10 and len(server.hits("/api/v1/timelines/tag/nimbus")) == 3
    third = collect(store, collector)  # the finished walk's newest id is the next bound
    assert third.new == 1 and server.hits("/api/v1/timelines/tag/nimbus")[-1].arg(
        "since_id") == backlog[0]["id"]
    assert stored_ids(store) == due_ids(backlog) | {f"masto:{newer['id']}"}
    assert queries.counts(store)["posts"] == 91  # nothing doubled


def test_an_interrupted_back_fill_resumes_without_loss_or_doubles(server, store, mastodon,
                                                                 backlog):
    answer = timeline(backlog)
    failing = {"on": True}

    def flaky(request):
        if request.arg("max_id") == backlog[79]["id"] and failing["on"]:
            return Reply(502, "bad gateway")
        return answer(request)
    server.route("/api/v1/timelines/tag/nimbus", flaky)
    collector = mastodon(backfill_hours=3, now=lambda: NOW)
    assert collect(store, collector) is None  # the third page failed: the run failed
    assert queries.counts(store)["posts"] == 80  # the first two pages were kept
    failing["on"] = False
    assert collect(store, collector).new == 10
    assert server.hits("/api/v1/timelines/tag/nimbus")[-1].arg("max_id") == backlog[79]["id"]
    assert stored_ids(store) == due_ids(backlog) and queries.counts(store)["posts"] == 90
