"""RSS and Atom: per-term RSSHub routes, GUID dedupe, images, ETag, bad feeds."""

import json

import pytest

from collectors.rss import FeedCollector
from data import queries
from subtext import jobs
from subtext.config import Brand
from tests.fixtures.servers import FAST, Reply, Server, fixture, png_reply

BRANDS = (Brand("Nimbus", "nimbus OR 云朵"), Brand("Voltra", "voltra OR 伏特拉"))
RSS = "application/rss+xml; charset=utf-8"


@pytest.fixture
def server():
    running = Server()
    for name, color in (("panda", "white"), ("eyeroll", "yellow"), ("blog", "green"),
                        ("update", "purple")):
        running.route(f"/media/{name}.png", png_reply(color))
    yield running
    running.close()


@pytest.fixture
def feeds(server):
    built = []

    def build(*urls, **settings):
        built.append(FeedCollector("rss", feeds=list(urls), **{**FAST, **settings}))
        return built[-1]

    yield build
    for collector in built:
        collector.close()


def collect(store, collector):
    return jobs.collect(store, "rss", collector, BRANDS[0], BRANDS, every_seconds=60)


def etagged(body: str, etag: str):
    """200 with an ETag, or 304 when the client sends it back."""
    def answer(request):
        if request.headers.get("if-none-match") == etag:
            return Reply(304, b"", {"ETag": etag})
        return Reply(200, body, {"Content-Type": RSS, "ETag": etag,
                                 "Last-Modified": "Wed, 04 Nov 2026 10:00:00 GMT"})
    return answer


def test_an_rsshub_route_per_term_with_guid_dedupe_and_images(server, store, feeds):
    weibo = fixture("rss/weibo_keyword.xml", server.url)
    server.route("/weibo/keyword/nimbus", Reply(200, weibo, {"Content-Type": RSS}))
    server.route("/weibo/keyword/%E4%BA%91%E6%9C%B5", Reply(200, weibo, {"Content-Type": RSS}))
    result = collect(store, feeds(server.url + "/weibo/keyword/{term}"))
    # two fetches of 5 entries; one repeats a GUID, one has no text at all (an error each time)
    assert (result.fetched, result.errors) == (10, 2)
    assert (result.matched, result.new) == (6, 3)  # 3 posts, each seen by both fetches
    panda = queries.get_post(store, "rss:https://weibo.com/1234567890/OuAbCdEfG")
    assert panda["text"].startswith("云朵手机真厉害，让我三天没睡着\n云朵手机真厉害")
    assert (panda["author"], panda["lang"]) == ("小王", "zh")
    assert panda["created_at"].isoformat() == "2026-11-04T08:00:00+00:00"
    assert len(panda["images"]) == 1  # the <img> in the description
    eyeroll = queries.get_post(store, "rss:https://weibo.com/2345678901/OuBcDeFgH")
    assert len(eyeroll["images"]) == 1  # enclosure and media:content name the same file
    voltra = queries.get_post(store, "rss:https://weibo.com/3456789012/OuCdEfGhI")  # by link
    assert voltra["brands"] == ["Voltra"]
    assert len(server.hits("/media/panda.png")) == 1


def test_an_unchanged_feed_costs_a_304(server, store, feeds):
    server.route("/feed.xml", etagged(fixture("rss/weibo_keyword.xml", server.url), '"v1"'))
    collector = feeds(server.url + "/feed.xml")
    assert collect(store, collector).new == 3
    again = collect(store, collector)
    assert (again.fetched, again.new) == (0, 0)
    assert server.hits("/feed.xml")[-1].headers["if-none-match"] == '"v1"'
    state = json.loads(store.get_cursor("rss", "Nimbus"))["feeds"]
    assert state[server.url + "/feed.xml"]["etag"] == '"v1"'


def test_atom_entries_with_thumbnails_and_relative_images(server, store, feeds):
    server.route("/news.atom", Reply(200, fixture("rss/blog.atom", server.url),
                                     {"Content-Type": "application/atom+xml"}))
    result = collect(store, feeds(server.url + "/news.atom"))
    assert (result.fetched, result.matched) == (2, 1)
    post = queries.get_post(store, "rss:tag:nimbus.example,2026:news/7-1")
    assert post["text"] == "Nimbus 7 update 7.1 fixes Bluetooth\nPairing works again. Also:"
    assert (post["author"], post["url"]) == ("Nimbus Team", server.url + "/news/7-1")
    # the content's relative <img> resolves against the entry's link; then the thumbnail
    assert len(post["images"]) == 2 and len(server.hits("/media/update.png")) == 1


def test_a_page_that_is_not_a_feed_fails_the_run(server, store, feeds):
    server.route("/feed.xml", Reply(200, "<html><body>Just a moment...</body></html>",
                                    {"Content-Type": "text/html"}))
    assert collect(store, feeds(server.url + "/feed.xml")) is None
    assert "not a feed" in queries.list_runs(store)[0]["last_error"]


def test_a_huge_feed_is_refused(server, store, feeds):
    server.route("/feed.xml", Reply(200, "<rss>" + "x" * 200_000 + "</rss>",
                                    {"Content-Type": RSS}, chunked=True))
    assert collect(store, feeds(server.url + "/feed.xml", max_body_bytes=100_000)) is None
    assert "larger than 100000 bytes" in queries.list_runs(store)[0]["last_error"]


def test_feeds_must_be_http_urls():
    with pytest.raises(ValueError, match="not an http"):
        FeedCollector("rss", feeds=["file:///etc/passwd"])


def test_an_entry_with_nothing_to_identify_it_is_skipped_as_an_error(server, store, feeds):
    server.route("/feed", Reply(200, """<?xml version="1.0"?><rss version="2.0"><channel>
        <title>t</title>
        <item><description>Nimbus and Voltra, no guid, link, title or date</description></item>
        <item><title>Nimbus undated, no guid</title></item>
        <item><guid>g1</guid><title>Nimbus is fine</title></item>
        <item><title>Nimbus dated</title><pubDate>Wed, 04 Nov 2026 10:00:00 GMT</pubDate></item>
        </channel></rss>""", {"Content-Type": RSS}))
    result = collect(store, feeds(server.url + "/feed"))
    assert (result.fetched, result.errors, result.new) == (4, 2, 2)
    texts = sorted(p["text"] for p in queries.list_posts(store, queries.PostFilter())["items"])
    assert texts == ["Nimbus dated", "Nimbus is fine"]
    assert "no guid, no link" in queries.list_runs(store)[0]["last_error"]
