"""Reddit: OAuth client credentials, listing paging, rate-limit headers, deleted posts."""

import base64
import copy
import json
from urllib.parse import parse_qs

import pytest

from collectors.reddit import RedditCollector
from data import queries
from subtext import __version__, jobs
from subtext.config import Brand
from tests.fixtures.servers import FAST, Reply, Server, fixture_json, png_reply

BRANDS = (Brand("Nimbus", "nimbus OR 云朵"), Brand("Voltra", "voltra OR 伏特拉"))
PER_PAGE = 2  # the fake pages every 2 posts, whatever the limit asked (Reddit may, too)


class FakeReddit:
    """The token endpoint and /search with `after` paging over recorded listing children."""

    def __init__(self, server: Server, children: list[dict], headers=None):
        self.children, self.headers, self.tokens = children, headers or {}, 0
        self.revoked = False
        server.route("/api/v1/access_token", self.token)
        server.route("/search", self.search)
        server.route("/preview/nimbus.png", png_reply("orange"))

    def token(self, request):
        self.tokens += 1
        assert request.headers["authorization"] == "Basic " + base64.b64encode(
            b"the-id:the-secret").decode()
        assert parse_qs(request.body.decode()) == {"grant_type": ["client_credentials"]}
        body = fixture_json("reddit/token.json")
        body["access_token"] = f"token-{self.tokens}"
        return Reply(200, body)

    def search(self, request):
        if self.revoked and request.headers.get("authorization") == "bearer token-1":
            return Reply(401, {"message": "Unauthorized", "error": 401})
        names = [c["data"]["name"] for c in self.children]
        start = names.index(request.arg("after")) + 1 if request.arg("after") else 0
        page = self.children[start:start + PER_PAGE]
        more = start + PER_PAGE < len(self.children)
        listing = {"kind": "Listing", "data": {
            "after": page[-1]["data"]["name"] if more else None, "dist": len(page),
            "modhash": "", "geo_filter": "", "children": page, "before": None}}
        return Reply(200, listing, {"X-Ratelimit-Used": "1", "X-Ratelimit-Remaining": "99.0",
                                    "X-Ratelimit-Reset": "420", **self.headers})


@pytest.fixture
def reddit(server):
    built = []

    def build(**settings):
        settings = {**FAST, "username": "tester", **settings}
        built.append(RedditCollector("reddit", client_id="the-id", client_secret="the-secret",
                                     auth_url=server.url + "/api/v1/access_token",
                                     api_url=server.url, **settings))
        return built[-1]

    yield build
    for collector in built:
        collector.close()


def children(server) -> list[dict]:
    return fixture_json("reddit/search.json", server.url)["data"]["children"]


def collect(store, collector):
    return jobs.collect(store, "reddit", collector, BRANDS[0], BRANDS, every_seconds=60)


def test_oauth_search_pages_and_keeps_what_matches(server, store, reddit):
    fake = FakeReddit(server, children(server))
    result = collect(store, reddit())
    searches = server.hits("/search")
    assert fake.tokens == 1 and len(searches) == 2  # one token, two pages (after=…)
    first = searches[0]
    assert first.arg("q") == "(nimbus OR 云朵)" and first.arg("sort") == "new"
    assert first.arg("raw_json") == "1" and first.headers["authorization"] == "bearer token-1"
    assert first.headers["user-agent"] == f"python:subtext:{__version__} (by /u/tester)"
    assert searches[1].arg("after") == "t3_1gq2xyz"
    # 4 fetched: one deleted on Reddit (not kept), one without a title (an error)
    assert (result.fetched, result.matched, result.new, result.errors) == (4, 2, 2, 1)
    post = queries.get_post(store, "reddit:t3_1gq3abc")
    assert post["text"] == "Nimbus 7 night mode is unreal\nTook this at 2am, no tripod."
    assert post["url"].startswith("https://www.reddit.com/r/Android/comments/1gq3abc/")
    assert (post["likes"], post["replies"], post["reposts"]) == (412, 57, 2)
    assert len(post["images"]) == 1  # the preview's full-size source
    voltra = queries.get_post(store, "reddit:t3_1gq2xyz")  # found by Nimbus, it is Voltra's
    assert voltra["brands"] == ["Voltra"]
    assert queries.get_post(store, "reddit:t3_1gq1del") is None


def test_the_next_walk_stops_at_what_was_read(server, store, reddit):
    recorded = children(server)
    FakeReddit(server, recorded)
    collector = reddit()
    collect(store, collector)
    newer = copy.deepcopy(recorded[0])
    newer["data"].update(name="t3_1gq4new", id="1gq4new", title="Nimbus 8 rumours",
                         created_utc=recorded[0]["data"]["created_utc"] + 3600, preview=None)
    recorded.insert(0, newer)
    before = len(server.hits("/search"))
    assert collect(store, collector).new == 1
    # down to the first post older than the last walk's newest (less a 300 s margin): two
    # pages of the three
    assert len(server.hits("/search")) == before + 2
    walk = json.loads(store.get_cursor("reddit", "Nimbus"))["walks"]["(nimbus OR 云朵)"]
    assert walk["since"] == int(newer["data"]["created_utc"]) - 300 and walk["next"] is None


def test_a_revoked_token_is_renewed_once(server, store, reddit):
    fake = FakeReddit(server, children(server))
    collector = reddit()
    collect(store, collector)
    fake.revoked = True
    assert collect(store, collector) is not None
    assert fake.tokens == 2


def test_used_up_rate_limit_waits_for_the_reset(server, store, reddit):
    FakeReddit(server, children(server), headers={"X-Ratelimit-Remaining": "0",
                                                  "X-Ratelimit-Reset": "0.3"})
    collect(store, reddit())
    first, second = server.hits("/search")
    assert second.at - first.at >= 0.25


def test_a_far_reset_ends_the_run_and_backs_off(server, store, reddit):
    FakeReddit(server, children(server), headers={"X-Ratelimit-Remaining": "0",
                                                  "X-Ratelimit-Reset": "600"})
    assert collect(store, reddit()) is None  # page 1 stored, then no waiting 10 minutes
    assert queries.counts(store)["posts"] == 2 and len(server.hits("/search")) == 1
    state = store.source_state("reddit", "Nimbus")
    assert state.failures == 1 and state.skip_until is not None
    assert "RateLimited" in state.last_error


def test_a_username_or_user_agent_is_required():
    with pytest.raises(ValueError, match="username"):
        RedditCollector("reddit", client_id="a", client_secret="b")
