"""YouTube comment threads: per video × term, pageToken paging, the key kept out of errors."""

import pytest

from collectors.registry import build_collector
from data import queries
from subtext import jobs
from subtext.config import Brand
from tests.fixtures.servers import FAST, Reply, fixture_json

BRANDS = (Brand("Nimbus", "nimbus OR 云朵"),)
KEY = "AIzaSy-test-key-never-logged"


@pytest.fixture
def youtube(server):
    built = []

    def build(**settings):
        built.append(build_collector(
            "yt", "youtube", {"api_url": server.url + "/youtube/v3", **FAST, **settings},
            env={"SUBTEXT_YT_API_KEY": KEY}))
        return built[-1]

    yield build
    for collector in built:
        collector.close()


def threads(request):
    """Page 1 is the recording; its nextPageToken leads to an empty last page."""
    body = fixture_json("youtube/comment_threads.json")
    if request.arg("pageToken"):
        body.update(items=[], pageInfo={"totalResults": 0, "resultsPerPage": 0})
        del body["nextPageToken"]
    elif request.arg("searchTerms") == "云朵":
        body["items"] = body["items"][1:]
        del body["nextPageToken"]
    return Reply(200, body)


def collect(store, collector):
    return jobs.collect(store, "yt", collector, BRANDS[0], BRANDS, every_seconds=60)


def test_comment_threads_per_video_and_term(server, store, youtube):
    server.route("/youtube/v3/commentThreads", threads)
    result = collect(store, youtube(videos=["nimbus7rev"]))
    calls = server.hits("/youtube/v3/commentThreads")
    assert [(c.arg("videoId"), c.arg("searchTerms"), c.arg("pageToken")) for c in calls] == [
        ("nimbus7rev", "nimbus", None),
        ("nimbus7rev", "nimbus", "QURTSl9pMlRkcGR5WWZqZ2N5NVBXbG9MZ1NONjd2d0lWZw=="),
        ("nimbus7rev", "云朵", None)]
    assert all(c.arg("key") == KEY and c.arg("order") == "time" for c in calls)
    assert (result.fetched, result.new) == (3, 2)  # the Chinese comment came back twice
    post = queries.get_post(store, "yt:UgzNimbusReview1AaABAg")
    assert post["text"] == 'Nimbus battery "lasts all day" if the day is 4 hours 🙂'
    assert post["url"] == "https://www.youtube.com/watch?v=nimbus7rev&lc=UgzNimbusReview1AaABAg"
    assert (post["author"], post["likes"], post["replies"]) == ("@techdad", 31, 4)


def test_channels_and_a_quota_error_without_the_key(server, store, youtube):
    server.route("/youtube/v3/commentThreads", Reply(403, {"error": {
        "code": 403, "message": "The request cannot be completed because you have exceeded "
        "your quota.", "errors": [{"reason": "quotaExceeded", "domain": "youtube.quota"}]}}))
    assert collect(store, youtube(channels=["UCnimbusOfficial000000000"])) is None
    (call,) = server.hits("/youtube/v3/commentThreads")
    assert call.arg("allThreadsRelatedToChannelId") == "UCnimbusOfficial000000000"
    error = queries.list_runs(store)[0]["last_error"]
    assert "HTTP 403" in error and "quotaExceeded" in error and KEY not in error


def test_videos_or_channels_are_required():
    with pytest.raises(ValueError, match="videos"):
        build_collector("yt", "youtube", {}, env={"SUBTEXT_YT_API_KEY": KEY})
