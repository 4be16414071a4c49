"""Reddit: search of new posts through the OAuth API (application-only, client credentials).

POST https://www.reddit.com/api/v1/access_token  grant_type=client_credentials, HTTP basic auth
GET  https://oauth.reddit.com/search?q=…&sort=new  a Listing, newest first, paged by `after`

Free tier: 100 queries a minute per OAuth client, and a unique User-Agent
`<platform>:<app id>:<version> (by /u/<name>)`. X-Ratelimit-Remaining/Reset are honoured by the
polite client. Reddit's Data API terms require deleting content deleted on Reddit: posts already
deleted or removed when collected are skipped. The brand query is sent whole (Reddit search takes
AND / OR / NOT and quotes) and the local matcher confirms.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx

from collectors.base import (
    Batch,
    BrandQuery,
    HttpSource,
    Page,
    Walk,
    base_url,
    from_epoch,
    json_body,
    load_walks,
    read_items,
    string_list,
    walk_pages,
)
from collectors.http import SourceError
from collectors.post import Post
from collectors.query import parse
from subtext import __version__

PAGE_SIZE = 100
DELETED = {"[deleted]", "[removed]"}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp")


class RedditCollector(HttpSource):
    SECRETS = {"client_id": True, "client_secret": True}

    def __init__(self, name: str, client_id: str, client_secret: str,
                 username: str | None = None, subreddits: list[str] | None = None,
                 auth_url: str = "https://www.reddit.com/api/v1/access_token",
                 api_url: str = "https://oauth.reddit.com", lookback_s: int = 300,
                 per_minute: float = 60.0, **common):
        if "user_agent" not in common:
            if not username:
                raise ValueError("reddit needs `username` (your Reddit account, for the "
                                 "User-Agent Reddit requires) or a full `user_agent`")
            common["user_agent"] = f"python:subtext:{__version__} (by /u/{username})"
        super().__init__(name, per_minute=per_minute, **common)
        self.credentials = (client_id, client_secret)
        self.subreddits = string_list("subreddits", subreddits or [])
        self.auth_url, self.api_url = base_url("auth_url", auth_url), base_url("api_url",
                                                                              api_url)
        self.lookback = int(lookback_s)
        self._token: tuple[str, float] | None = None  # (access token, monotonic expiry)
        self._token_lock = threading.Lock()

    def pages(self, brand: BrandQuery, cursor: str | None) -> Iterator[Page]:
        query = parse(brand.query).boolean(account="author:")
        yield from walk_pages(load_walks(cursor), [query], self._page, start=self.start_time(),
                              max_pages=self.max_pages, lookback=self.lookback)

    def _page(self, query: str, walk: Walk) -> Batch:
        path = f"/r/{'+'.join(self.subreddits)}/search" if self.subreddits else "/search"
        params = {"q": query, "sort": "new", "t": "all", "limit": PAGE_SIZE, "type": "link",
                  "raw_json": 1, "restrict_sr": "on" if self.subreddits else "off"}
        if walk.next:
            params["after"] = walk.next
        body = self._get(self.api_url + path, params)
        listing = body.get("data") if isinstance(body, dict) else None
        if not isinstance(listing, dict):
            raise SourceError("unexpected response: no Listing data")
        children = listing.get("children")
        items, errors = read_items(children, self._read, "post")
        items = [(k, p) for k, p in items if p is not None]
        return Batch(items, listing.get("after"), len(children), errors)

    def _get(self, url: str, params: dict) -> dict:
        try:
            return json_body(self.client.get(url, params=params, headers=self._auth()))
        except SourceError as exc:
            if exc.status != 401:
                raise
            self._token = None  # revoked or expired early: one fresh token, one more try
            return json_body(self.client.get(url, params=params, headers=self._auth()))

    def _auth(self) -> dict[str, str]:
        with self._token_lock:
            if self._token is None or time.monotonic() > self._token[1]:
                response = self.client.post(self.auth_url, auth=httpx.BasicAuth(*self.credentials),
                                            data={"grant_type": "client_credentials"})
                body = json_body(response)
                if not isinstance(body, dict) or "access_token" not in body:
                    raise SourceError(f"no access token from Reddit: {body.get('error', body)!r}"
                                      if isinstance(body, dict) else "no access token")
                lifetime = float(body.get("expires_in", 3600))
                self._token = (body["access_token"], time.monotonic() + lifetime * 0.9)
            return {"Authorization": f"bearer {self._token[0]}"}

    def _read(self, child: dict) -> tuple[int, Post | None]:
        data = child["data"]
        created = int(float(data["created_utc"]))
        if data.get("author") in DELETED or data.get("selftext") in DELETED \
                or data.get("removed_by_category"):
            return created, None  # deleted on Reddit: its terms say we must not keep it
        text = data["title"] + (f"\n{data['selftext']}" if data.get("selftext") else "")
        post = Post(
            source=self.name, native_id=data["name"], text=text,
            created_at=from_epoch(created), url="https://www.reddit.com" + data["permalink"],
            author=data.get("author"), likes=max(0, int(data.get("score") or 0)),
            reposts=int(data.get("num_crossposts") or 0),
            replies=int(data.get("num_comments") or 0), images=_images(data),
            raw={"subreddit": data.get("subreddit"), "over_18": data.get("over_18")})
        return created, post


def _images(data: dict) -> list[str]:
    """The full-size preview, gallery images, or a direct image link."""
    found = [image["source"]["url"] for image in (data.get("preview") or {}).get("images", [])
             if image.get("source", {}).get("url")]
    for item in (data.get("media_metadata") or {}).values():
        if item.get("e") == "Image" and item.get("s", {}).get("u"):
            found.append(item["s"]["u"])
    link = data.get("url_overridden_by_dest") or data.get("url") or ""
    if not found and link.lower().split("?")[0].endswith(IMAGE_SUFFIXES):
        found.append(link)
    return found[:4]
