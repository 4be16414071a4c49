"""The polite client every source shares, against a real local server: retries with backoff
on 5xx and timeouts, 429 and Retry-After, X-RateLimit-*, pacing, size caps, User-Agent."""

import threading
import time

import pytest

from collectors.http import (
    PoliteClient,
    Politeness,
    RateLimited,
    SourceError,
    Stopped,
    retry_after,
)
from tests.fixtures.servers import Reply

FAST = Politeness(timeout_s=0.3, retries=2, backoff_s=0.01, max_wait_s=0.5, per_minute=60_000,
                  user_agent="SubtextTest/1.0 (+https://example.org/subtext)")


@pytest.fixture
def client():
    made = []

    def build(**changes):
        made.append(PoliteClient(Politeness(**{**FAST.__dict__, **changes})))
        return made[-1]

    yield build
    for c in made:
        c.close()


def test_5xx_are_retried_with_backoff_then_succeed(server, client):
    server.route("/x", [Reply(500, "oops"), Reply(503, "busy"), Reply(200, {"ok": True})])
    assert client().get(server.url + "/x").json() == {"ok": True}
    hits = server.hits("/x")
    assert len(hits) == 3
    assert hits[0].headers["user-agent"] == "SubtextTest/1.0 (+https://example.org/subtext)"


def test_5xx_that_persist_fail_after_the_retries(server, client):
    server.route("/x", Reply(502, "bad gateway"))
    with pytest.raises(SourceError, match="HTTP 502") as failed:
        client().get(server.url + "/x")
    assert failed.value.status == 502 and len(server.hits("/x")) == 3


def test_other_4xx_are_not_retried_and_keys_stay_out_of_messages(server, client):
    server.route("/x", Reply(403, {"error": "forbidden"}))
    with pytest.raises(SourceError) as failed:
        client().get(server.url + "/x", params={"key": "SECRET-KEY"})
    assert len(server.hits("/x")) == 1
    assert "SECRET-KEY" not in str(failed.value) and "/x" in str(failed.value)


def test_timeouts_are_retried(server, client):
    server.route("/slow", [Reply(200, "late", delay=1.0), Reply(200, "on time")])
    assert client().get(server.url + "/slow").text == "on time"
    with pytest.raises(SourceError, match="ReadTimeout"):
        server.route("/slower", Reply(200, "late", delay=1.0))
        client(retries=1).get(server.url + "/slower")


def test_429_waits_as_long_as_retry_after_says(server, client):
    server.route("/x", [Reply(429, "slow down", {"Retry-After": "0.3"}), Reply(200, "ok")])
    assert client().get(server.url + "/x").text == "ok"
    first, second = server.hits("/x")
    assert second.at - first.at >= 0.3


def test_a_stop_ends_a_retry_after_wait_at_once(server, client):
    """Retry-After: 60 is within max_wait_s, so the client waits; the engine's stop ends the
    wait (Stopped) instead of holding its shutdown for a minute."""
    server.route("/x", [Reply(429, "slow down", {"Retry-After": "60"}), Reply(200, "ok")])
    polite, stopping, raised = client(max_wait_s=60), threading.Event(), []
    polite.stop_with(stopping)

    def get():
        try:
            polite.get(server.url + "/x")
        except Stopped as exc:
            raised.append(exc)

    caller = threading.Thread(target=get)
    caller.start()
    deadline = time.monotonic() + 10
    while not server.hits("/x") and time.monotonic() < deadline:
        time.sleep(0.01)
    stopping.set()
    caller.join(timeout=10)  # time.sleep(60) would still be asleep
    assert not caller.is_alive() and len(raised) == 1
    assert len(server.hits("/x")) == 1  # not retried after the stop


def test_a_long_retry_after_ends_the_run_with_rate_limited(server, client):
    server.route("/x", Reply(429, "come back tomorrow", {"Retry-After": "3600"}))
    with pytest.raises(RateLimited) as limited:
        client().get(server.url + "/x")
    assert limited.value.retry_after_s == 3600 and len(server.hits("/x")) == 1


def test_429_without_retry_after_backs_off_like_a_5xx(server, client):
    server.route("/x", [Reply(429, "slow down"), Reply(200, "ok")])
    assert client().get(server.url + "/x").text == "ok"


def test_retry_after_as_an_http_date():
    import httpx
    future = httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"})
    assert retry_after(future) > 10**9
    assert retry_after(httpx.Response(429, headers={"Retry-After": "garbage"})) is None


def test_an_exhausted_rate_limit_holds_the_next_request(server, client):
    server.route("/x", [Reply(200, "a", {"X-RateLimit-Remaining": "0",
                                         "X-RateLimit-Reset": "0.3"}), Reply(200, "b")])
    polite = client()
    polite.get(server.url + "/x")
    polite.get(server.url + "/x")
    first, second = server.hits("/x")
    assert second.at - first.at >= 0.25


def test_a_distant_reset_ends_the_run(server, client):
    # Mastodon sends the reset as a time; one far away is not waited for
    server.route("/x", Reply(200, "a", {"X-RateLimit-Remaining": "0",
                                        "X-RateLimit-Reset": "2099-01-01T00:00:00.000Z"}))
    polite = client()
    polite.get(server.url + "/x")
    with pytest.raises(RateLimited):
        polite.get(server.url + "/x")
    assert len(server.hits("/x")) == 1


def test_requests_are_paced_per_minute(server, client):
    server.route("/x", Reply(200, "ok"))
    polite = client(per_minute=600)  # one every 0.1 s
    started = time.monotonic()
    for _ in range(4):
        polite.get(server.url + "/x")
    assert time.monotonic() - started >= 0.29


def test_oversized_bodies_are_refused(server, client):
    server.route("/big", Reply(200, b"x" * 50_000))
    server.route("/chunked", Reply(200, b"x" * 50_000, chunked=True))
    for path in ("/big", "/chunked"):
        with pytest.raises(SourceError, match="larger than 10000 bytes"):
            client(max_body_bytes=10_000).get(server.url + path)


def test_refused_connections_are_retried_then_reported(client):
    with pytest.raises(SourceError, match="ConnectError"):
        client(retries=1).get("http://127.0.0.1:9/nothing-listens-here")


@pytest.mark.parametrize("bad", [{"per_minute": 0}, {"retries": -1}, {"timeout_s": "fast"},
                                 {"user_agent": ""}])
def test_bad_politeness_settings_are_refused(bad):
    with pytest.raises(ValueError):
        Politeness(**bad)
