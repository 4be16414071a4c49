"""Hacker News (Algolia search_by_date): per-term walks, time filters, paging."""

import json
from datetime import UTC, datetime

import pytest

from collectors.hackernews import HackerNewsCollector
from data import queries
from subtext import jobs
from subtext.config import Brand
from tests.fixtures.servers import FAST, Reply, Server, fixture_json

BRANDS = (Brand("Nimbus", "nimbus OR 云朵"), Brand("Voltra", "voltra OR 伏特拉"))


class FakeAlgolia:
    """search_by_date over recorded hits: a term filter, created_at_i>=, newest first,
    `page` paging of `per_page` hits."""

    def __init__(self, server: Server, hits: list[dict], per_page: int = 2):
        self.hits, self.per_page = hits, per_page
        self.fail_pages: set[int] = set()
        server.route("/api/v1/search_by_date", self.search)

    def search(self, request):
        page = int(request.arg("page", "0"))
        if page in self.fail_pages:
            return Reply(500, "upstream timeout")
        term = request.arg("query").strip('"').lower()
        floor = int(request.arg("numericFilters").split(">=")[1])
        found = [h for h in self.hits if term in json.dumps(h, ensure_ascii=False).lower()
                 and h.get("created_at_i", floor) >= floor]
        found.sort(key=lambda h: h.get("created_at_i", 0), reverse=True)
        pages = max(1, -(-len(found) // self.per_page))
        body = fixture_json("hackernews/search_by_date.json")
        body.update(hits=found[page * self.per_page:(page + 1) * self.per_page], page=page,
                    nbPages=pages, nbHits=len(found), hitsPerPage=self.per_page,
                    query=request.arg("query"))
        return Reply(200, body)


@pytest.fixture
def hn(server):
    built = []

    def build(**settings):
        built.append(HackerNewsCollector("hn", api_url=server.url + "/api/v1",
                                         **{**FAST, **settings}))
        return built[-1]

    yield build
    for collector in built:
        collector.close()


def collect(store, collector):
    return jobs.collect(store, "hn", collector, BRANDS[0], BRANDS, every_seconds=60)


def test_each_term_is_walked_with_a_time_floor(server, store, hn):
    FakeAlgolia(server, fixture_json("hackernews/search_by_date.json")["hits"])
    result = collect(store, hn(backfill_hours=1_000_000))
    requests = server.hits("/api/v1/search_by_date")
    assert [(r.arg("query"), r.arg("page")) for r in requests] == [
        ("nimbus", "0"), ("nimbus", "1"), ("云朵", "0")]
    assert requests[0].arg("tags") == "(story,comment)"
    assert requests[0].arg("numericFilters").startswith("created_at_i>=")
    # 3 nimbus hits (one without a time: an error) + the Ask HN that mentions 云朵
    assert (result.fetched, result.matched, result.new, result.errors) == (4, 3, 3, 1)
    comment = queries.get_post(store, "hn:42000010")
    assert comment["text"] == ('The Nimbus bootloader is locked, which is "great" for '
                               "security and terrible for repair.\nI'd still buy one.")
    assert comment["url"] == "https://news.ycombinator.com/item?id=42000010"
    story = queries.get_post(store, "hn:42000001")
    assert (story["likes"], story["replies"], story["text"]) == (240, 88, "Nimbus 7 teardown")
    ask = queries.get_post(store, "hn:42000002")
    assert ask["text"] == ("Ask HN: Phones with unlockable bootloaders?\n"
                           "Has anyone used the 云朵 phone's dev mode?")
    walks = json.loads(store.get_cursor("hn", "Nimbus"))["walks"]
    assert walks["nimbus"]["since"] == 1793785200 - 600  # the newest, less the margin
    assert walks["云朵"]["since"] == 1793775600 - 600


def test_the_floor_comes_from_the_last_walk(server, store, hn):
    FakeAlgolia(server, fixture_json("hackernews/search_by_date.json")["hits"])
    collector = hn()
    collect(store, collector)
    again = collect(store, collector)
    assert again.new == 0
    last = server.hits("/api/v1/search_by_date")[-1]
    assert last.arg("numericFilters") == f"created_at_i>={1793775600 - 600}"


def test_a_short_backfill_skips_old_items(server, store, hn):
    FakeAlgolia(server, fixture_json("hackernews/search_by_date.json")["hits"])
    a_day_later = datetime(2026, 11, 5, 9, 0)  # the recorded hits are from the day before
    assert collect(store, hn(backfill_hours=1, now=lambda: a_day_later)).new == 0
    floor = int(a_day_later.replace(tzinfo=UTC).timestamp()) - 3600
    assert server.hits("/api/v1/search_by_date")[0].arg("numericFilters") == \
        f"created_at_i>={floor}"
