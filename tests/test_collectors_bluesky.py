"""Bluesky: Jetstream over a real local websocket server, and searchPosts with an app password
against a local HTTP server."""

import json
import socket
import threading
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from websockets.sync.server import serve

from collectors.bluesky import JetstreamCollector
from collectors.registry import SettingError, build_collector
from data import queries
from data.store import Store
from subtext import jobs
from subtext.config import Brand
from subtext.engine import Engine
from tests.fixtures.servers import FAST, Reply, Server, fixture, fixture_json, png_reply

BRANDS = (Brand("Nimbus", "nimbus OR 云朵"), Brand("Voltra", "voltra OR 伏特拉"))
RUN_AT = datetime(2026, 11, 4, 10, 0, 5)  # between the recorded events
START_US = 1793786405000000


class FakeJetstream:
    """Replays the recorded events from the asked cursor, then idles like a quiet firehose
    (or drops the connection after `drop_after` events)."""

    def __init__(self):
        self.events = fixture("bluesky/jetstream.jsonl").splitlines()
        self.requests: list[dict] = []
        self.drop_after: int | None = None
        self.refusals: list[tuple[int, dict]] = []  # (status, headers) for the next connects
        self.attempts = 0  # handshakes asked for, refused or not
        self.server = serve(self._handle, "127.0.0.1", 0, compression=None,
                            process_request=self._refuse)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/subscribe"

    def _refuse(self, connection, request):
        self.attempts += 1
        if not self.refusals:
            return None
        status, headers = self.refusals.pop(0)
        response = connection.respond(status, "Too Many Requests\n")
        for name, value in headers.items():
            response.headers[name] = value
        return response

    def _handle(self, ws) -> None:
        query = parse_qs(urlsplit(ws.request.path).query)
        self.requests.append(query)
        cursor = int(query["cursor"][0])
        sent = 0
        for line in self.events:
            if json.loads(line)["time_us"] >= cursor:
                if sent == self.drop_after:
                    ws.close(code=1011, reason="backend restarting")
                    return
                ws.send(line)
                sent += 1
        try:
            ws.recv(timeout=5)  # stay open until the client leaves
        except Exception:
            pass

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def images():
    running = Server()
    running.route("/img/feed_fullsize/plain/did:plc:ann000000000000000000000/"
                  "bafkreicrackedscreen@jpeg", png_reply("gray"))
    yield running
    running.close()


@pytest.fixture
def jetstream():
    fake = FakeJetstream()
    yield fake
    fake.close()


def no_sleep(seconds: float) -> None:
    pytest.fail(f"the collector waited {seconds} s")


@pytest.fixture
def firehose(jetstream, images):
    built = []

    def build(now=RUN_AT, **settings):
        settings.setdefault("sleep", no_sleep)  # a test that expects waits passes its own
        built.append(JetstreamCollector("jet", url=jetstream.url, cdn_url=images.url,
                                        idle_s=0.3, max_seconds=5, now=lambda: now,
                                        allow_private_images=["127.0.0.1"], **settings))
        return built[-1]

    yield build
    for collector in built:
        collector.close()


def collect(store, collector, source="jet"):
    return jobs.collect(store, source, collector, BRANDS[0], BRANDS, every_seconds=60)


def test_jetstream_reads_from_the_cursor_until_it_catches_up(store, jetstream, firehose):
    result = collect(store, firehose())
    (asked,) = jetstream.requests
    assert asked["wantedCollections"] == ["app.bsky.feed.post"]
    assert asked["cursor"] == [str(START_US - 60_000_000)]  # a first run goes back 60 s
    # posts created: 4 (likes, identity and deletes are not posts), one malformed;
    # "Cumulonimbus" is not "nimbus"; the post after the run began ends the run
    assert (result.fetched, result.matched, result.new, result.errors) == (4, 3, 3, 1)
    assert store.get_cursor("jet", "Nimbus") == "1793786406000000"
    post = queries.get_post(store, "at://did:plc:ann000000000000000000000/"
                                   "app.bsky.feed.post/3lbx2k7yz2s2a")
    assert post["url"] == ("https://bsky.app/profile/did:plc:ann000000000000000000000/post/"
                           "3lbx2k7yz2s2a")
    assert post["lang"] == "en" and len(post["images"]) == 1
    run = queries.list_runs(store)[0]
    assert run["last_error"].startswith("malformed event: KeyError")


def test_jetstream_resumes_where_it_stopped(store, jetstream, firehose):
    collect(store, firehose())
    later = firehose(now=datetime(2026, 11, 4, 10, 0, 30))
    result = collect(store, later)
    assert jetstream.requests[-1]["cursor"] == ["1793786406000000"]
    assert result.new == 1  # the event at the cursor is read again, and not doubled
    assert queries.counts(store)["posts"] == 4
    assert store.get_cursor("jet", "Nimbus") == "1793786410000000"


def test_a_dropped_connection_keeps_the_committed_pages(store, jetstream, firehose):
    jetstream.drop_after = 2
    assert collect(store, firehose(page_events=1)) is None
    assert queries.counts(store)["posts"] == 1  # the first post's page was stored
    assert store.get_cursor("jet", "Nimbus") == "1793786390000000"
    jetstream.drop_after = None
    assert collect(store, firehose(page_events=1)).new == 2
    assert jetstream.requests[-1]["cursor"] == ["1793786390000000"]
    assert queries.counts(store)["posts"] == 3


# -- refused connects ------------------------------------------------------------------------

class Sleeper:
    """Records the waits asked for instead of waiting."""

    def __init__(self):
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def test_a_429_retry_after_in_seconds_or_as_a_date_is_honoured(store, jetstream, firehose):
    jetstream.refusals = [(429, {"Retry-After": "2"}),
                          (429, {"Retry-After": "Wed, 04 Nov 2026 10:00:08 GMT"}),  # RUN_AT+3s
                          (503, {"Retry-After": "1.5"})]
    sleeper = Sleeper()
    result = collect(store, firehose(sleep=sleeper, max_wait_s=10))
    assert sleeper.waits == [2.0, 3.0, 1.5]
    assert jetstream.attempts == 4 and len(jetstream.requests) == 1
    assert result.new == 3  # then read as usual


def test_a_429_without_retry_after_backs_off_exponentially_with_jitter(store, jetstream,
                                                                      firehose):
    jetstream.refusals = [(429, {})] * 4
    sleeper = Sleeper()
    assert collect(store, firehose(sleep=sleeper, retries=3, backoff_s=1,
                                   max_wait_s=1.5)) is None
    assert jetstream.attempts == 4 and jetstream.requests == []
    first, second, third = sleeper.waits  # 1 s doubling, each its upper half at random
    assert 0.5 <= first <= 1 and 1 <= second <= 1.5 and third == 1.5  # capped at max_wait_s
    run = queries.list_runs(store)[0]
    assert run["status"] == "failed" and "HTTP 429" in run["last_error"]
    # the run ended rate-limited: the source is skipped at least the last wait
    state = store.source_state("jet", "Nimbus")
    assert (state.skip_until - naive(run["started_at"])).total_seconds() >= 1.4


def test_a_long_retry_after_ends_the_run_and_skips_the_source(store, jetstream, firehose):
    jetstream.refusals = [(429, {"Retry-After": "3600"})]
    collector = firehose(max_wait_s=10)  # sleeping at all fails the test
    assert collect(store, collector) is None
    state = store.source_state("jet", "Nimbus")
    started = naive(queries.list_runs(store)[0]["started_at"])
    assert (state.skip_until - started).total_seconds() >= 3590
    assert collect(store, collector).skipped  # no reconnect before the hour is up
    assert jetstream.attempts == 1


def test_a_refusal_that_is_not_a_rate_limit_is_not_retried(store, jetstream, firehose):
    jetstream.refusals = [(403, {})]
    assert collect(store, firehose()) is None
    assert jetstream.attempts == 1
    assert "HTTP 403" in queries.list_runs(store)[0]["last_error"]


def test_a_connection_refused_is_retried_with_backoff(store, firehose):
    sleeper = Sleeper()
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = JetstreamCollector("jet", url=f"ws://127.0.0.1:{port}/subscribe", retries=2,
                                backoff_s=0.01, sleep=sleeper, now=lambda: RUN_AT)
    try:
        assert collect(store, closed) is None
    finally:
        closed.close()
    assert len(sleeper.waits) == 2 and all(0.005 <= w <= 0.02 for w in sleeper.waits)



def _until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_a_stop_during_a_retry_after_wait_ends_the_run_at_once(store, jetstream, firehose):
    """A 429 asking for 60 s, then the engine's stop: the run returns without the wait, what
    an earlier run stored stays, and the source is not counted as failing."""
    first = collect(store, firehose())
    cursor = store.get_cursor("jet", "Nimbus")
    jetstream.refusals = [(429, {"Retry-After": "60"})]
    stopping = threading.Event()
    collector = firehose(sleep=None, max_wait_s=60)  # the real, interruptible wait
    collector.stop_with(stopping)
    results = []
    run = threading.Thread(target=lambda: results.append(collect(store, collector)))
    run.start()
    assert _until(lambda: jetstream.attempts == 2)  # refused: now waiting its 60 s
    stopping.set()
    run.join(timeout=10)  # a sleep that ignored the stop would still be in its minute
    assert not run.is_alive()
    assert results[0] is not None and results[0].new == 0
    assert jetstream.attempts == 2  # no reconnect after the stop
    assert store.get_cursor("jet", "Nimbus") == cursor
    assert queries.list_posts(store, queries.PostFilter())["total"] == first.new
    assert store.source_state("jet", "Nimbus").failures == 0
    assert queries.list_runs(store)[0]["last_error"].startswith("stopped")



def test_the_engine_stops_during_a_retry_after_wait(config, jetstream, firehose):
    """The engine's own stop, with its scheduler running the collect jobs: both brands' runs
    are refused with Retry-After: 60 and waiting when stop() is called; it returns at once."""
    jetstream.refusals = [(429, {"Retry-After": "60"})] * 2
    engine = Engine(config, collectors={"replay": firehose(sleep=None, max_wait_s=60)})
    engine.start()
    stopper = threading.Thread(target=engine.stop)
    try:
        assert _until(lambda: jetstream.attempts == 2)  # both collect jobs are waiting
    finally:
        stopper.start()
        stopper.join(timeout=10)  # shutdown(wait=True) would wait out the minute
    assert not stopper.is_alive()
    with Store.open(config.data_dir) as store:
        runs = [r for r in queries.list_runs(store) if r["job"] == "collect"]
        assert len(runs) == 2 and all(r["last_error"].startswith("stopped") for r in runs)
        assert store.source_state("replay", "Nimbus") is None  # not counted as failing


# -- search ----------------------------------------------------------------------------------

class FakeAppView:
    """createSession and searchPosts (one recorded page per term, then an empty page)."""

    def __init__(self, server: Server):
        self.sessions = 0
        self.expire_next = False
        server.route("/xrpc/com.atproto.server.createSession", self.session)
        server.route("/xrpc/app.bsky.feed.searchPosts", self.search)
        self.base = server.url

    def session(self, request):
        self.sessions += 1
        body = fixture_json("bluesky/session.json")
        body["accessJwt"] = f"access-{self.sessions}"
        assert json.loads(request.body) == {"identifier": "monitor.bsky.social",
                                            "password": "abcd-efgh-ijkl-mnop"}
        return Reply(200, body)

    def search(self, request):
        if self.expire_next:
            self.expire_next = False
            return Reply(400, {"error": "ExpiredToken", "message": "Token has expired"})
        if request.headers.get("authorization") != f"Bearer access-{self.sessions}":
            return Reply(401, {"error": "AuthMissing", "message": "Authentication Required"})
        body = fixture_json("bluesky/search_posts.json", self.base)
        if request.arg("cursor"):
            return Reply(200, {"posts": [], "hitsTotal": 2})
        term = request.arg("q").lower()
        body["posts"] = [p for p in body["posts"] if term in p["record"]["text"].lower()]
        return Reply(200, body)


@pytest.fixture
def appview(images):
    return FakeAppView(images)


@pytest.fixture
def search(images):
    built = []

    def build(**settings):
        built.append(build_collector(
            "bsky", "bluesky", {"handle": "monitor.bsky.social", "service": images.url,
                                **FAST, **settings},
            env={"SUBTEXT_BSKY_APP_PASSWORD": "abcd-efgh-ijkl-mnop"}))
        return built[-1]

    yield build
    for collector in built:
        collector.close()


def test_search_logs_in_with_the_app_password_and_pages(store, images, appview, search):
    result = collect(store, search(), source="bsky")
    calls = images.hits("/xrpc/app.bsky.feed.searchPosts")
    assert [(c.arg("q"), c.arg("cursor")) for c in calls] == [
        ("nimbus", None), ("nimbus", "2"), ("云朵", None), ("云朵", "2")]
    assert calls[0].arg("sort") == "latest" and calls[0].arg("since").endswith("Z")
    assert appview.sessions == 1 and result.new == 2
    post = queries.get_post(store, "at://did:plc:ann000000000000000000000/"
                                   "app.bsky.feed.post/3lbx2k7yz2s2a")
    assert post["url"] == "https://bsky.app/profile/ann.bsky.social/post/3lbx2k7yz2s2a"
    assert (post["author"], post["likes"], post["reposts"], post["replies"]) == (
        "ann.bsky.social", 9, 2, 1)
    assert len(post["images"]) == 1


def test_an_expired_session_is_renewed(store, images, appview, search):
    collector = search()
    collect(store, collector, source="bsky")
    appview.expire_next = True
    assert collect(store, collector, source="bsky") is not None
    assert appview.sessions == 2


def test_a_wrong_password_is_tried_once_per_run(store, images, search):
    images.route("/xrpc/com.atproto.server.createSession", Reply(
        401, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"}))
    assert collect(store, search(), source="bsky") is None  # the run fails, recorded
    assert len(images.hits("/xrpc/com.atproto.server.createSession")) == 1
    assert images.hits("/xrpc/app.bsky.feed.searchPosts") == []


def test_search_needs_the_app_password_in_the_environment():
    with pytest.raises(SettingError, match="SUBTEXT_BSKY_APP_PASSWORD"):
        build_collector("bsky", "bluesky", {"handle": "x.bsky.social"}, env={})


# -- one post, two sources ---------------------------------------------------------------------

ANN_POST = "at://did:plc:ann000000000000000000000/app.bsky.feed.post/3lbx2k7yz2s2a"


def test_a_post_seen_by_search_and_jetstream_is_stored_once(store, appview, search, jetstream,
                                                            firehose):
    assert collect(store, search(), source="bsky").new == 2
    streamed = collect(store, firehose())
    # Ann's and Lin's posts were seen by both; Gus's only by Jetstream
    assert (streamed.matched, streamed.new) == (3, 1)
    assert queries.counts(store)["posts"] == 3
    post = queries.get_post(store, ANN_POST)
    assert post["id"] == ANN_POST and post["source"] == "bsky"  # kept as search stored it
    assert post["likes"] == 9


def test_jetstream_first_then_search_is_stored_once(store, appview, search, jetstream,
                                                    firehose):
    assert collect(store, firehose()).new == 3
    assert collect(store, search(), source="bsky").new == 0
    assert queries.counts(store)["posts"] == 3
    assert queries.get_post(store, ANN_POST)["source"] == "jet"


def test_a_search_uri_naming_a_handle_is_keyed_by_the_did(store, images, appview, search):
    def by_handle(request):
        reply = appview.search(request)
        for view in reply.body.get("posts", []) if isinstance(reply.body, dict) else []:
            view["uri"] = view["uri"].replace(view["author"]["did"], view["author"]["handle"])
        return reply
    images.route("/xrpc/app.bsky.feed.searchPosts", by_handle)
    assert collect(store, search(), source="bsky").new == 2
    assert queries.get_post(store, ANN_POST) is not None
