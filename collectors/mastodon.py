"""Mastodon: hashtag timelines of one instance, and its full-text search when a token is set.

GET /api/v1/timelines/tag/:tag?any[]=…  public on most instances; up to 4 extra tags per call
GET /api/v2/search?q=…&type=statuses     needs a token (offset paging, opted-in posts only)

Both list statuses newest first by id, so each is a Walk keyed by status id: a tag timeline
pages back with max_id (its Link rel="next") down to since_id; search pages with offset down to
the last id seen. A first walk goes back `backfill_hours`: Mastodon ids are snowflakes, the
creation time in milliseconds shifted left 16 bits, so the id of that moment is where it stops.
Each run reads at most `max_pages` pages per walk; an unfinished walk resumes the next run.
A brand's hashtags are its query's terms (`nimbus OR 云朵` → #nimbus, #云朵) unless the source
lists them. Media attachments become images (the preview still of a video or GIF).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, quote, urlsplit

from collectors.base import (
    Batch,
    BrandQuery,
    HttpSource,
    Page,
    Walk,
    base_url,
    html_to_text,
    json_body,
    load_walks,
    parse_time,
    read_items,
    string_list,
    walk_pages,
)
from collectors.post import Post
from collectors.query import parse

PAGE_SIZE = 40  # the API's maximum
TAGS_PER_CALL = 5  # the tag in the path plus at most 4 in any[] (Mastodon's TagFeed limit)
HASHTAG = re.compile(r"^\w+$")
SNOWFLAKE_SHIFT = 16  # id = milliseconds since the epoch << 16 | a sequence number


class MastodonCollector(HttpSource):
    SECRETS = {"token": False}

    def __init__(self, name: str, instance: str, hashtags: list[str] | None = None,
                 search: bool = True, local: bool = False, token: str | None = None,
                 **common):
        super().__init__(name, **common)
        self.instance = base_url("instance", instance)
        self.hashtags = [h.lstrip("#").lower() for h in string_list("hashtags", hashtags)] \
            if hashtags is not None else None
        self.search, self.local, self.token = bool(search), bool(local), token
        if token:
            self.client.http.headers["Authorization"] = f"Bearer {token}"

    def pages(self, brand: BrandQuery, cursor: str | None) -> Iterator[Page]:
        walks = load_walks(cursor)
        query = parse(brand.query)
        tags = self.hashtags if self.hashtags is not None else _tags_of(query.any_terms())
        groups = [tags[i:i + TAGS_PER_CALL] for i in range(0, len(tags), TAGS_PER_CALL)]
        keys = ["tags:" + ",".join(g) for g in groups]
        start = self.start_id()
        yield from walk_pages(walks, keys, self._tag_page, start=start, max_pages=self.max_pages)
        if self.token and self.search:
            terms = ["search:" + t.search_text() for t in query.any_terms()]
            yield from walk_pages(walks, terms, self._search_page, start=start,
                                  max_pages=self.max_pages)

    def start_id(self) -> int:
        """The snowflake id of now minus the back-fill: where a first walk stops."""
        return max(0, self.start_time()) * 1000 << SNOWFLAKE_SHIFT

    def _tag_page(self, key: str, walk: Walk) -> Batch:
        first, *more = key.removeprefix("tags:").split(",")
        params: list[tuple[str, str | int]] = [("any[]", t) for t in more]
        params.append(("limit", PAGE_SIZE))
        if self.local:
            params.append(("local", "true"))
        if walk.since:  # 0: a back-fill to the beginning of time, no bound to send
            params.append(("since_id", walk.since))
        if walk.next:
            params.append(("max_id", walk.next))
        response = self.client.get(f"{self.instance}/api/v1/timelines/tag/{quote(first)}",
                                   params=params)
        statuses = json_body(response)
        items, errors = read_items(statuses, self._read, "status")
        # A short page is the last one (Mastodon links a next page whenever a page has
        # statuses, so following the link alone would cost an empty request per walk).
        if len(statuses) < PAGE_SIZE:
            return Batch(items, None, len(statuses), errors)
        older = _next_max_id(response.headers.get("link", "")) \
            or min((k for k, _ in items), default=None)
        return Batch(items, str(older) if older is not None else None, len(statuses), errors)

    def _search_page(self, key: str, walk: Walk) -> Batch:
        offset = int(walk.next or 0)
        body = self.get_json(f"{self.instance}/api/v2/search", params={
            "q": key.removeprefix("search:"), "type": "statuses", "limit": PAGE_SIZE,
            "offset": offset})
        statuses = body.get("statuses") if isinstance(body, dict) else None
        items, errors = read_items(statuses, self._read, "status")
        full = len(statuses) == PAGE_SIZE
        return Batch(items, str(offset + PAGE_SIZE) if full else None, len(statuses), errors)

    def _read(self, status: dict) -> tuple[int, Post]:
        account = status["account"]
        text = html_to_text(status["content"] or "")
        if status.get("spoiler_text"):
            text = f"{status['spoiler_text']}\n{text}"
        media = status.get("media_attachments") or []
        post = Post(
            source=self.name, native_id=str(status["id"]), text=text,
            created_at=parse_time(status["created_at"]),
            url=status.get("url") or status.get("uri"), author=account["acct"],
            lang=status.get("language"), likes=int(status.get("favourites_count") or 0),
            reposts=int(status.get("reblogs_count") or 0),
            replies=int(status.get("replies_count") or 0),
            images=[u for m in media if (u := _image_of(m))][:4],
            raw={"uri": status.get("uri"),
                 "tags": [t.get("name") for t in status.get("tags") or []],
                 "alt": [m.get("description") for m in media if m.get("description")]})
        return int(status["id"]), post


def _next_max_id(link: str) -> str | None:
    """max_id of the Link header's rel="next" URL, if it has one."""
    for part in link.split(","):
        url, _, params = part.partition(";")
        if re.search(r'rel="?next"?', params):
            found = parse_qs(urlsplit(url.strip().strip("<>")).query).get("max_id")
            if found and found[0].isdigit():
                return found[0]
    return None


def _image_of(media: dict) -> str | None:
    if media.get("type") == "image":
        return media.get("url") or media.get("preview_url")
    if media.get("type") in ("gifv", "video"):
        return media.get("preview_url")  # a still of the clip: memes are often GIFs
    return None


def _tags_of(terms) -> list[str]:
    """Hashtags for a brand's terms: one word each ("nimbus 7" cannot be a hashtag)."""
    return list(dict.fromkeys(t.bare.lower() for t in terms if HASHTAG.match(t.bare)))
