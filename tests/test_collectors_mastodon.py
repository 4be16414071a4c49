"""Mastodon: hashtag timelines and token search against a local server playing the API."""

import copy
import json

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
        return Reply(200, items[:int(request.arg("limit", "20"))],
                     {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "299",
                      "X-RateLimit-Reset": "2026-11-02T10:00:00.000Z"})
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
