"""The collector interface, and what the HTTP sources share.

A collector turns (brand query, cursor) into pages of posts. The collect job stores each page
together with the page's cursor in one transaction, so a crash between pages re-fetches at
most one page, and re-fetched posts are upserted, never doubled.

Most sources list newest first (Reddit, HN, Bluesky search, YouTube, Mastodon). Committing the
newest page's position first would skip the older pages if the run then died, so such sources
walk a listing from the newest item down to where the last finished walk began (`Walk`),
keeping the walk's state in the cursor: an interrupted walk resumes where it stopped, and the
next walk starts from the newest item the finished one saw.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, Protocol

import httpx

from collectors.http import USER_AGENT, PoliteClient, Politeness, SourceError
from collectors.images import ImageFetcher
from collectors.post import Post, utcnow
from data.images import MAX_BYTES

log = logging.getLogger("subtext.collectors")


@dataclass
class Page:
    posts: list[Post] = field(default_factory=list)
    cursor: str | None = None  # where the next run starts; stored only after the posts are
    fetched: int = 0  # items the source returned, matched or not
    errors: list[str] = field(default_factory=list)  # items that could not be read, and why


class BrandQuery(Protocol):
    name: str
    query: str


class Collector(Protocol):
    """A source. `pages` yields pages; each page's cursor covers that page and all before it.
    A source that always returns one page may implement `collect(brand, cursor) -> Page`
    instead. Optional: `images` (an ImageFetcher for its image URLs), `local_images` (True
    when its posts may name local files: the demo replay, the drop folder) and `close()`."""

    def pages(self, brand: BrandQuery, cursor: str | None) -> Iterator[Page]: ...


def pages_of(collector: Any, brand: BrandQuery, cursor: str | None) -> Iterator[Page]:
    if hasattr(collector, "pages"):
        yield from collector.pages(brand, cursor)
    else:
        yield collector.collect(brand, cursor)


# -- newest-first walks -----------------------------------------------------------------------

@dataclass
class Walk:
    """Progress through one newest-first listing (one search term, one feed).

    Keys are what the source sorts by: epoch seconds, or a numeric id (Mastodon)."""

    since: int | None = None  # items before this were collected by a finished walk
    top: int | None = None  # the newest key this walk has seen: the next walk's `since`
    next: str | None = None  # the source's token for the next, older page of this walk


@dataclass
class Batch:
    """One page as the source returned it."""

    items: list[tuple[int, Post]]  # (sort key, post)
    next: str | None  # the token for the next older page; None when there is none
    fetched: int
    errors: list[str] = field(default_factory=list)


def load_walks(cursor: str | None) -> dict[str, Walk]:
    if not cursor:
        return {}
    try:
        raw = json.loads(cursor)["walks"]
        return {key: Walk(**value) for key, value in raw.items()}
    except (ValueError, KeyError, TypeError):
        log.warning("ignoring an unreadable cursor %.80r", cursor)
        return {}


def dump_walks(walks: dict[str, Walk]) -> str:
    return json.dumps({"walks": {k: asdict(w) for k, w in walks.items()}}, ensure_ascii=False)


def walk_pages(walks: dict[str, Walk], keys: Iterable[str],
               fetch: Callable[[str, Walk], Batch], *, start: int | None, max_pages: int,
               lookback: int = 0) -> Iterator[Page]:
    """Walk each listing in `keys` newest first, down to its `since` (or `start` for a new
    one; None: just the newest page). Yields a page per request, its cursor holding every
    walk's state. An unfinished walk (max_pages reached) resumes on the next run.
    `lookback` re-reads that much before the last top: late-indexed items are not missed
    (the upsert makes the overlap harmless)."""
    for key in keys:
        walk = walks.setdefault(key, Walk(since=start))
        for _ in range(max_pages):
            batch = _fetch_or_restart(fetch, key, walk)
            seen = [k for k, _ in batch.items]
            if seen:
                walk.top = max(seen) if walk.top is None else max(walk.top, *seen)
            fresh = [p for k, p in batch.items if walk.since is None or k >= walk.since]
            reached = walk.since is not None and any(k < walk.since for k in seen)
            more = batch.next is not None and not reached and walk.since is not None
            if more:
                walk.next = batch.next
            else:  # finished: the next walk stops where this one began
                since = walk.since if walk.top is None else walk.top - lookback
                walk = walks[key] = Walk(since=since)
            yield Page(fresh, cursor=dump_walks(walks), fetched=batch.fetched,
                       errors=batch.errors)
            if not more:
                break


def _fetch_or_restart(fetch: Callable[[str, Walk], Batch], key: str, walk: Walk) -> Batch:
    """Resume tokens can expire (Bluesky, YouTube): a client error on resuming restarts the
    walk from the newest item, which re-reads everything down to `since`: nothing is lost."""
    try:
        return fetch(key, walk)
    except SourceError as exc:
        if walk.next is None or exc.status is None or exc.status == 429 or exc.status >= 500:
            raise
        log.warning("resuming %s failed (%s); walking again from the newest", key, exc)
        walk.next = None
        return fetch(key, walk)


def read_items(items: Any, read: Callable[[dict], tuple[int, Post]],
               what: str = "item") -> tuple[list[tuple[int, Post]], list[str]]:
    """Apply `read` to each item; a malformed one is reported, not fatal."""
    if not isinstance(items, list):
        raise SourceError(f"unexpected response: expected a list of {what}s, "
                          f"got {type(items).__name__}")
    good, errors = [], []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise TypeError(f"not an object: {type(item).__name__}")
            good.append(read(item))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            ident = item.get("id") if isinstance(item, dict) else None
            errors.append(f"malformed {what} {ident or f'#{index}'}: "
                          f"{type(exc).__name__}: {exc}")
    return good, errors


# -- the base of the HTTP sources -------------------------------------------------------------

class HttpSource:
    """What every HTTP source shares: its polite client, its image fetcher, paging limits.

    Subclasses declare SECRETS (name → required), read by the registry from the environment
    as SUBTEXT_<SOURCE NAME>_<SECRET NAME>, never from the config file."""

    SECRETS: dict[str, bool] = {}
    local_images = False

    def __init__(self, name: str, *, per_minute: float = 60.0, timeout_s: float = 20.0,
                 retries: int = 3, backoff_s: float = 1.0, max_wait_s: float = 60.0,
                 user_agent: str = USER_AGENT, max_body_bytes: int = 10 * 1024 * 1024,
                 max_pages: int = 5,
                 backfill_hours: float = 24.0, allow_private_images: bool | list[str] = False,
                 image_max_bytes: int = MAX_BYTES, now: Callable[[], datetime] = utcnow):
        self.name = name
        self.politeness = Politeness(per_minute=per_minute, timeout_s=timeout_s,
                                     retries=retries, backoff_s=backoff_s,
                                     max_wait_s=max_wait_s, user_agent=user_agent,
                                     max_body_bytes=max_body_bytes)
        self.max_pages = positive_int("max_pages", max_pages)
        if not isinstance(backfill_hours, int | float) or backfill_hours < 0:
            raise ValueError("backfill_hours must be a number ≥ 0")
        self.backfill_s = float(backfill_hours) * 3600
        if not isinstance(allow_private_images, bool | list):
            raise ValueError("allow_private_images must be true, false or a list of addresses")
        self.client = PoliteClient(self.politeness)
        self.images = ImageFetcher(allow_private=allow_private_images,
                                   max_bytes=min(positive_int("image_max_bytes",
                                                              image_max_bytes), MAX_BYTES),
                                   timeout_s=timeout_s, user_agent=user_agent)
        self._now = now

    def stop_with(self, event) -> None:
        """The engine's stop signal ends the client's waits (Retry-After, back-off)."""
        self.client.stop_with(event)

    def close(self) -> None:
        self.client.close()
        self.images.close()

    def start_time(self) -> int:
        """Epoch seconds where a first walk by time stops: now minus the back-fill."""
        return int(epoch(self._now()) - self.backfill_s)

    def get_json(self, url: str, **kwargs) -> Any:
        return json_body(self.client.get(url, **kwargs))


def json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise SourceError(f"not JSON from {response.url.host}{response.url.path}") from None


def positive_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def string_list(name: str, value: object) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{name} must be a list of strings")
    return list(value)


def base_url(name: str, value: object) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"{name} must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


# -- small conversions ------------------------------------------------------------------------

def parse_time(value: str) -> datetime:
    """An ISO 8601 time (with Z or an offset) as an aware datetime."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class _Text(HTMLParser):
    BREAKS = {"br", "p", "div", "li", "blockquote", "h1", "h2", "h3", "h4", "tr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Readable text from post HTML (Mastodon content, feed summaries): tags dropped, entities
    decoded, paragraphs kept as line breaks."""
    if "<" not in markup:
        return html.unescape(markup).strip()
    parser = _Text()
    parser.feed(markup)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)
