"""Hacker News through its Algolia search API: stories and comments, newest first.

GET https://hn.algolia.com/api/v1/search_by_date?query=…&tags=(story,comment)
    &numericFilters=created_at_i>=T&hitsPerPage=100&page=N

No key; about 10,000 requests an hour per IP (community-reported) and at most ~1,000 hits per
query, so runs should be frequent enough to stay under that. Algolia has no OR, so each of the
brand's terms is searched on its own (one Walk each) and the local matcher confirms.
"""

from __future__ import annotations

from collections.abc import Iterator

from collectors.base import (
    Batch,
    BrandQuery,
    HttpSource,
    Page,
    Walk,
    base_url,
    from_epoch,
    html_to_text,
    load_walks,
    read_items,
    string_list,
    walk_pages,
)
from collectors.http import SourceError
from collectors.post import Post
from collectors.query import parse

PAGE_SIZE = 100


class HackerNewsCollector(HttpSource):
    def __init__(self, name: str, api_url: str = "https://hn.algolia.com/api/v1",
                 kinds: list[str] | None = None, lookback_s: int = 600, **common):
        super().__init__(name, **common)
        self.api_url = base_url("api_url", api_url)
        self.kinds = string_list("kinds", kinds or ["story", "comment"])
        self.lookback = int(lookback_s)  # Algolia indexes with a delay: re-read a margin

    def pages(self, brand: BrandQuery, cursor: str | None) -> Iterator[Page]:
        terms = [t.search_text() for t in parse(brand.query).any_terms()]
        yield from walk_pages(load_walks(cursor), terms, self._page, start=self.start_time(),
                              max_pages=self.max_pages, lookback=self.lookback)

    def _page(self, term: str, walk: Walk) -> Batch:
        page = int(walk.next or 0)
        body = self.get_json(f"{self.api_url}/search_by_date", params={
            "query": term, "tags": f"({','.join(self.kinds)})", "hitsPerPage": PAGE_SIZE,
            "numericFilters": f"created_at_i>={walk.since}", "page": page})
        if not isinstance(body, dict):
            raise SourceError("unexpected response: not an object")
        hits = body.get("hits")
        items, errors = read_items(hits, self._read, "hit")
        more = page + 1 < int(body.get("nbPages") or 0)
        return Batch(items, str(page + 1) if more else None, len(hits), errors)

    def _read(self, hit: dict) -> tuple[int, Post]:
        created = int(hit["created_at_i"])
        story = hit.get("title") or hit.get("story_title") or ""
        if hit.get("comment_text") is not None:
            text = html_to_text(hit["comment_text"])
        else:
            body = html_to_text(hit.get("story_text") or "")
            text = f"{hit['title']}\n{body}" if body else hit["title"]
        item = str(hit["objectID"])
        post = Post(source=self.name, native_id=item, text=text, created_at=from_epoch(created),
                    url=f"https://news.ycombinator.com/item?id={item}", author=hit.get("author"),
                    likes=max(0, int(hit.get("points") or 0)),
                    replies=int(hit.get("num_comments") or 0),
                    raw={"story": story, "story_id": hit.get("story_id"),
                         "link": hit.get("url"), "tags": hit.get("_tags")})
        return created, post
