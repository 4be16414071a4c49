"""Bluesky, two ways: the public Jetstream firehose, and search with an app password.

kind "jetstream": wss://jetstream2.us-east.bsky.network/subscribe?wantedCollections=app.bsky.feed.post
    No auth. Every new post on the network (~50/s), as JSON; we keep those the brand query
    matches. Resumable: `cursor` is the microsecond time (time_us) of the last event read, so a
    run replays from where the last one stopped until it catches up with the present.

kind "bluesky": GET {service}/xrpc/app.bsky.feed.searchPosts?q=…&sort=latest&since=…&cursor=…
    Needs a session: the public AppView refuses unauthenticated search since 2025-01, so an app
    password comes from the environment (SUBTEXT_<NAME>_APP_PASSWORD). The syntax of `q` is
    unspecified, so each brand term is searched on its own (one Walk each, newest first); the
    maintainers ask that search not be used as a general data API: keep the brand terms few.

Images: embedded images become CDN URLs (feed_fullsize).

Both kinds key a post by its at:// URI alone (`at://<did>/app.bsky.feed.post/<rkey>`), not by
source name and id as other sources do: a post that search and Jetstream both see is stored once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator

from websockets.exceptions import ConnectionClosedOK, InvalidStatus, WebSocketException
from websockets.sync.client import connect

from collectors.base import (
    Batch,
    BrandQuery,
    HttpSource,
    Page,
    Walk,
    base_url,
    epoch,
    from_epoch,
    json_body,
    load_walks,
    parse_time,
    positive_int,
    read_items,
    walk_pages,
)
from collectors.http import (
    USER_AGENT,
    Interruptible,
    RateLimited,
    SourceError,
    backoff_wait,
    parse_retry_after,
)
from collectors.images import ImageFetcher
from collectors.post import Post, utcnow
from collectors.query import parse

log = logging.getLogger("subtext.collectors")

PAGE_SIZE = 100
CDN = "https://cdn.bsky.app"
POST_COLLECTION = "app.bsky.feed.post"


class BlueskyPost(Post):
    """A post keyed by its at:// URI, whichever Bluesky source collected it."""

    @property
    def id(self) -> str:
        return self.native_id


def post_uri(did: str, rkey: str) -> str:
    return f"at://{did}/{POST_COLLECTION}/{rkey}"


def canonical_uri(uri: str, did: str) -> str:
    """The URI with the author's DID as its authority: a URI may name a handle instead
    (at://ann.bsky.social/…), which would key the same post differently."""
    rest = uri.strip().removeprefix("at://")
    authority, collection, rkey = rest.split("/")  # ValueError: not a record URI
    if collection != POST_COLLECTION or not rkey:
        raise ValueError(f"not a post URI: {uri[:120]!r}")
    return post_uri(authority if authority.startswith("did:") else did, rkey)


def _rkey(uri: str) -> str:
    return uri.rsplit("/", 1)[-1]


def _record_images(record: dict, did: str, cdn: str) -> list[str]:
    """Image blobs of a post record (plain or with a quoted record) as CDN URLs."""
    embed = record.get("embed") or {}
    if embed.get("$type") == "app.bsky.embed.recordWithMedia":
        embed = embed.get("media") or {}
    if embed.get("$type") != "app.bsky.embed.images":
        return []
    links = [(image.get("image") or {}).get("ref", {}).get("$link")
             for image in embed.get("images") or []]
    return [f"{cdn}/img/feed_fullsize/plain/{did}/{link}@jpeg" for link in links if link][:4]


def _view_images(embed: dict | None) -> list[str]:
    """Image URLs of a hydrated embed view (search results carry them ready-made)."""
    embed = embed or {}
    if embed.get("$type") == "app.bsky.embed.recordWithMedia#view":
        embed = embed.get("media") or {}
    if embed.get("$type") != "app.bsky.embed.images#view":
        return []
    return [i["fullsize"] for i in embed.get("images") or [] if i.get("fullsize")][:4]


# -- search -----------------------------------------------------------------------------------

class BlueskySearchCollector(HttpSource):
    SECRETS = {"app_password": True}

    def __init__(self, name: str, handle: str, app_password: str,
                 service: str = "https://bsky.social", lang: str | None = None,
                 lookback_s: int = 300, **common):
        super().__init__(name, **common)
        if not isinstance(handle, str) or not handle:
            raise ValueError("bluesky needs `handle`: the account the app password belongs to")
        self.handle, self.password = handle, app_password
        self.service, self.lang = base_url("service", service), lang
        self.lookback = int(lookback_s)
        self._session: str | None = None
        self._session_lock = threading.Lock()

    def pages(self, brand: BrandQuery, cursor: str | None) -> Iterator[Page]:
        terms = [t.search_text() for t in parse(brand.query).any_terms()]
        yield from walk_pages(load_walks(cursor), terms, self._page, start=self.start_time(),
                              max_pages=self.max_pages, lookback=self.lookback)

    def _page(self, term: str, walk: Walk) -> Batch:
        params = {"q": term, "sort": "latest", "limit": PAGE_SIZE,
                  "since": from_epoch(walk.since).strftime("%Y-%m-%dT%H:%M:%SZ")}
        if self.lang:
            params["lang"] = self.lang
        if walk.next:
            params["cursor"] = walk.next
        body = self._search(params)
        if not isinstance(body, dict):
            raise SourceError("unexpected response: not an object")
        views = body.get("posts")
        items, errors = read_items(views, self._read, "post")
        return Batch(items, body.get("cursor") if views else None, len(views), errors)

    def _search(self, params: dict) -> object:
        url = f"{self.service}/xrpc/app.bsky.feed.searchPosts"
        headers = self._auth()  # outside the retry: a refused password is tried once
        try:
            return json_body(self.client.get(url, params=params, headers=headers))
        except SourceError as exc:
            expired = exc.status == 401 or (exc.status == 400 and "ExpiredToken" in str(exc))
            if not expired:
                raise
            with self._session_lock:
                self._session = None  # the access token expired: log in again, once
            return json_body(self.client.get(url, params=params, headers=self._auth()))

    def _auth(self) -> dict[str, str]:
        with self._session_lock:
            if self._session is None:
                body = json_body(self.client.post(
                    f"{self.service}/xrpc/com.atproto.server.createSession",
                    json={"identifier": self.handle, "password": self.password}))
                if not isinstance(body, dict) or not body.get("accessJwt"):
                    raise SourceError("Bluesky gave no session for the app password")
                self._session = body["accessJwt"]
            return {"Authorization": f"Bearer {self._session}"}

    def _read(self, view: dict) -> tuple[int, Post]:
        record, author = view["record"], view["author"]
        created = parse_time(record["createdAt"])
        indexed = parse_time(view.get("indexedAt") or record["createdAt"])
        langs = record.get("langs") or [None]
        uri = canonical_uri(view["uri"], author["did"])
        post = BlueskyPost(
            source=self.name, native_id=uri, text=record["text"], created_at=created,
            url=f"https://bsky.app/profile/{author['handle']}/post/{_rkey(uri)}",
            author=author["handle"], lang=langs[0], likes=int(view.get("likeCount") or 0),
            reposts=int(view.get("repostCount") or 0),
            replies=int(view.get("replyCount") or 0), images=_view_images(view.get("embed")),
            raw={"cid": view.get("cid"), "did": author.get("did")})
        # Search sorts by "sortAt", the earlier of the two (a client may set any createdAt).
        return int(min(epoch(created), epoch(indexed))), post


# -- Jetstream --------------------------------------------------------------------------------

class JetstreamCollector:
    """Reads the firehose from the cursor until it reaches the run's start (or a limit), one
    page per `page_events` posts; each page's cursor is the time_us of its last event.

    A refused connect (429, 5xx: Jetstream sheds load that way) or a failed one is tried again
    up to `retries` times: after the Retry-After it names (seconds or an HTTP date), else after
    a backoff doubling from `backoff_s` with jitter. A wait over `max_wait_s`, or a 429 once
    the retries are spent, ends the run with RateLimited, and the collect job skips the source
    until then: never a tight reconnect loop. The engine's stop ends a wait at once
    (Stopped), so a shutdown never waits out a Retry-After."""

    local_images = False

    def __init__(self, name: str,
                 url: str = "wss://jetstream2.us-east.bsky.network/subscribe",
                 backfill_seconds: int = 60, max_seconds: float = 20.0,
                 max_events: int = 20_000, page_events: int = 500, idle_s: float = 5.0,
                 cdn_url: str = CDN, user_agent: str = USER_AGENT,
                 allow_private_images: bool | list[str] = False, retries: int = 3,
                 backoff_s: float = 1.0, max_wait_s: float = 60.0, now=utcnow,
                 sleep: Callable[[float], None] | None = None):
        if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
            raise ValueError(f"url must be a ws:// or wss:// URL, got {url!r}")
        self.name, self.url, self.cdn = name, url, base_url("cdn_url", cdn_url)
        self.backfill_us = int(float(backfill_seconds) * 1_000_000)
        self.max_seconds, self.idle_s = float(max_seconds), float(idle_s)
        self.max_events = positive_int("max_events", max_events)
        self.page_events = positive_int("page_events", page_events)
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise ValueError("retries must be an integer ≥ 0")
        for setting, value in (("backoff_s", backoff_s), ("max_wait_s", max_wait_s)):
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{setting} must be a number ≥ 0")
        self.retries, self.backoff_s, self.max_wait_s = retries, float(backoff_s), \
            float(max_wait_s)
        self.user_agent, self._now, self._sleep = user_agent, now, Interruptible(sleep)
        self.images = ImageFetcher(allow_private=allow_private_images, user_agent=user_agent)

    def stop_with(self, event: threading.Event) -> None:
        self._sleep.stop_with(event)

    def close(self) -> None:
        self.images.close()

    def pages(self, brand: BrandQuery, cursor: str | None) -> Iterator[Page]:
        query = parse(brand.query)
        start_us = int(epoch(self._now()) * 1_000_000)
        position = int(cursor) if cursor and cursor.isdigit() else start_us - self.backfill_us
        deadline = time.monotonic() + self.max_seconds
        url = f"{self.url}?wantedCollections=app.bsky.feed.post&cursor={position}"
        page, fetched, seen = Page(), 0, 0
        try:
            with self._connect(url) as ws:
                while seen < self.max_events and time.monotonic() < deadline:
                    try:
                        message = ws.recv(timeout=min(self.idle_s,
                                                      max(0.0, deadline - time.monotonic())))
                    except TimeoutError:
                        break  # quiet: nothing more to read right now
                    except ConnectionClosedOK:
                        break  # the server ended the stream cleanly: what we read stands
                    seen += 1
                    event_us = self._read(message, query, page)
                    if event_us is None:
                        continue
                    position, fetched = event_us, fetched + 1
                    if fetched % self.page_events == 0:
                        yield self._close(page, position, fetched)
                        page = Page()
                    if event_us >= start_us:
                        break  # caught up with the moment the run began
        except (OSError, WebSocketException) as exc:
            raise SourceError(f"Jetstream: {type(exc).__name__}: {exc}") from None
        yield self._close(page, position, fetched % self.page_events)

    def _connect(self, url: str):
        for attempt in range(self.retries + 1):
            asked, status = None, None
            try:
                return connect(url, user_agent_header=self.user_agent, open_timeout=10,
                               close_timeout=2, max_size=2 ** 20, compression=None)
            except InvalidStatus as exc:
                status = exc.response.status_code
                problem = f"Jetstream refused the connection: HTTP {status}"
                if status != 429 and status < 500:
                    raise SourceError(problem, status) from None
                asked = parse_retry_after(exc.response.headers.get("Retry-After"), self._now())
            except (OSError, WebSocketException) as exc:  # refused, reset, timed out
                problem = f"Jetstream: {type(exc).__name__}: {exc}"
            wait = asked if asked is not None else backoff_wait(self.backoff_s, attempt,
                                                                self.max_wait_s)
            if wait > self.max_wait_s or attempt == self.retries:
                if status == 429 or asked is not None:
                    raise RateLimited(f"{problem}: retry after {wait:.0f} s", wait)
                raise SourceError(problem, status)
            log.info("%s; connecting again in %.2f s", problem, wait)
            self._sleep(wait)
        raise AssertionError("unreachable")

    @staticmethod
    def _close(page: Page, position: int, fetched: int) -> Page:
        page.cursor, page.fetched = str(position), fetched
        return page

    def _read(self, message: str | bytes, query, page: Page) -> int | None:
        """Add the event's post to `page` if it matches; return its time_us if it was a new
        post (None for other events: deletes, likes, identity, account)."""
        try:
            event = json.loads(message)
            commit = event.get("commit") or {}
            if event.get("kind") != "commit" or commit.get("operation") != "create" \
                    or commit.get("collection") != "app.bsky.feed.post":
                return None
            record, did, time_us = commit["record"], event["did"], int(event["time_us"])
            text = record.get("text") or ""
            if query.matches(text, did):
                page.posts.append(self._post(did, commit, record, text))
            return time_us
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            page.errors.append(f"malformed event: {type(exc).__name__}: {exc}")
            return None

    def _post(self, did: str, commit: dict, record: dict, text: str) -> Post:
        uri = post_uri(did, commit["rkey"])
        created = parse_time(record["createdAt"])
        if created.timestamp() > time.time() + 3600:
            created = from_epoch(time.time())  # a client clock far in the future
        langs = record.get("langs") or [None]
        return BlueskyPost(
            source=self.name, native_id=uri, text=text, created_at=created,
            url=f"https://bsky.app/profile/{did}/post/{commit['rkey']}", author=did,
            lang=langs[0], images=_record_images(record, did, self.cdn),
            raw={"cid": commit.get("cid")})
