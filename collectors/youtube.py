"""YouTube comments on configured videos and channels (the Data API v3, an API key).

GET https://www.googleapis.com/youtube/v3/commentThreads?part=snippet&videoId=…
    (or allThreadsRelatedToChannelId=…)&searchTerms=…&order=time&maxResults=100&pageToken=…

Each call costs 1 quota unit of the default 10,000 a day. Finding videos (search.list) has its
own bucket of 100 calls a day, so the videos and channels to watch are configured, not searched.
Each target × brand term is a Walk (newest first by publishedAt); the local matcher confirms.
The key travels in the query string, so error messages never include query strings.
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
    epoch,
    load_walks,
    parse_time,
    read_items,
    string_list,
    walk_pages,
)
from collectors.http import SourceError
from collectors.post import Post
from collectors.query import parse

PAGE_SIZE = 100
TARGETS = {"video": "videoId", "channel": "allThreadsRelatedToChannelId"}


class YouTubeCollector(HttpSource):
    SECRETS = {"api_key": True}

    def __init__(self, name: str, api_key: str, videos: list[str] | None = None,
                 channels: list[str] | None = None,
                 api_url: str = "https://www.googleapis.com/youtube/v3", lookback_s: int = 300,
                 **common):
        super().__init__(name, **common)
        self.targets = [f"video:{v}" for v in string_list("videos", videos or [])] + \
            [f"channel:{c}" for c in string_list("channels", channels or [])]
        if not self.targets:
            raise ValueError("youtube needs `videos` or `channels` to watch")
        self.api_key, self.api_url = api_key, base_url("api_url", api_url)
        self.lookback = int(lookback_s)

    def pages(self, brand: BrandQuery, cursor: str | None) -> Iterator[Page]:
        terms = [t.search_text() for t in parse(brand.query).any_terms()]
        keys = [f"{target}|{term}" for target in self.targets for term in terms]
        yield from walk_pages(load_walks(cursor), keys, self._page, start=self.start_time(),
                              max_pages=self.max_pages, lookback=self.lookback)

    def _page(self, key: str, walk: Walk) -> Batch:
        target, term = key.split("|", 1)
        kind, ident = target.split(":", 1)
        params = {"part": "snippet", TARGETS[kind]: ident, "searchTerms": term,
                  "order": "time", "maxResults": PAGE_SIZE, "textFormat": "plainText",
                  "key": self.api_key}
        if walk.next:
            params["pageToken"] = walk.next
        body = self.get_json(f"{self.api_url}/commentThreads", params=params)
        if not isinstance(body, dict):
            raise SourceError("unexpected response: not an object")
        threads = body.get("items")
        items, errors = read_items(threads, self._read, "comment thread")
        return Batch(items, body.get("nextPageToken"), len(threads), errors)

    def _read(self, thread: dict) -> tuple[int, Post]:
        top = thread["snippet"]["topLevelComment"]
        s = top["snippet"]
        created = parse_time(s["publishedAt"])
        video = s.get("videoId") or thread["snippet"].get("videoId")
        post = Post(source=self.name, native_id=top["id"],
                    text=s.get("textOriginal") or s["textDisplay"], created_at=created,
                    url=f"https://www.youtube.com/watch?v={video}&lc={top['id']}"
                    if video else None,
                    author=s.get("authorDisplayName"), likes=int(s.get("likeCount") or 0),
                    replies=int(thread["snippet"].get("totalReplyCount") or 0),
                    raw={"video": video, "channel": s.get("channelId")})
        return int(epoch(created)), post
