"""RSS and Atom feeds: any feed URL, e.g. a self-hosted RSSHub route for Weibo or Telegram.

A feed URL may hold `{term}`: it is then read once per brand term (RSSHub's
/weibo/keyword/{term}); other feeds are read whole and the brand matcher keeps what mentions the
brand. Entries are keyed by their GUID (or link), so an entry seen again is updated, never
doubled. Image enclosures, media:content / media:thumbnail and inline <img> become images.
Polling is polite: ETag / Last-Modified are kept in the cursor and sent back, so an unchanged
feed costs a 304 and no parsing.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote, urljoin, urlsplit

import feedparser

from collectors.base import BrandQuery, HttpSource, Page, html_to_text, string_list
from collectors.http import SourceError
from collectors.post import Post, utcnow
from collectors.query import parse

IMG_SRC = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


class FeedCollector(HttpSource):
    def __init__(self, name: str, feeds: list[str], max_entries: int = 200, **common):
        super().__init__(name, **common)
        self.feeds = string_list("feeds", feeds)
        if not self.feeds:
            raise ValueError("rss needs at least one URL in `feeds`")
        for url in self.feeds:
            if urlsplit(url).scheme not in ("http", "https"):
                raise ValueError(f"feeds: {url!r} is not an http(s) URL")
        self.max_entries = int(max_entries)

    def pages(self, brand: BrandQuery, cursor: str | None) -> Iterator[Page]:
        state = _load(cursor)
        terms = [t.bare for t in parse(brand.query).any_terms()]
        for url in self._urls(terms):
            posts, fetched, errors, validators = self._read_feed(url, state.get(url, {}))
            state[url] = validators
            yield Page(posts, cursor=json.dumps({"feeds": state}, ensure_ascii=False),
                       fetched=fetched, errors=errors)

    def _urls(self, terms: list[str]) -> list[str]:
        urls = []
        for feed in self.feeds:
            if "{term}" in feed:
                urls += [feed.replace("{term}", quote(term, safe="")) for term in terms]
            else:
                urls.append(feed)
        return list(dict.fromkeys(urls))

    def _read_feed(self, url: str, validators: dict) -> tuple[list[Post], int, list[str], dict]:
        headers = {}
        if validators.get("etag"):
            headers["If-None-Match"] = validators["etag"]
        if validators.get("modified"):
            headers["If-Modified-Since"] = validators["modified"]
        response = self.client.get(url, headers=headers, ok=(200, 304))
        if response.status_code == 304:
            return [], 0, [], validators
        # A file object, never a string: feedparser would fetch a string that looks like a URL
        # or open one that looks like a path.
        feed = feedparser.parse(io.BytesIO(response.content),
                                response_headers={"content-type":
                                                  response.headers.get("content-type", "")})
        if feed.bozo and not feed.entries:
            raise SourceError(f"not a feed at {urlsplit(url).netloc}{urlsplit(url).path}: "
                              f"{feed.get('bozo_exception')}")
        posts, errors = {}, []
        language = feed.feed.get("language")
        for index, entry in enumerate(feed.entries[:self.max_entries]):
            try:
                post = self._post(entry, url, language)
                posts.setdefault(post.native_id, post)  # a repeated entry: keep the first
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                errors.append(f"malformed entry #{index}: {type(exc).__name__}: {exc}")
        new_validators = {"etag": response.headers.get("etag"),
                          "modified": response.headers.get("last-modified")}
        return list(posts.values()), len(feed.entries), errors, new_validators

    def _post(self, entry, feed_url: str, language: str | None) -> Post:
        link = entry.get("link")
        dated = entry.get("published_parsed") or entry.get("updated_parsed")
        if not (entry.get("id") or link or (entry.get("title") and dated)):
            # nothing identifies it: stored, it would be a fresh mention at every fetch
            raise ValueError("entry has no guid, no link and no title with a date")
        native_id = entry.get("id") or link or _digest(entry)
        title = html_to_text(entry.get("title") or "")
        body = _body(entry)
        text = "\n".join(part for part in (title, html_to_text(body)) if part)
        if not text:
            raise ValueError("entry has no title and no text")
        return Post(source=self.name, native_id=native_id, text=text,
                    created_at=_when(entry), url=link, author=entry.get("author"),
                    lang=(language or "").split("-")[0] or None,
                    images=_images(entry, body, link or feed_url),
                    raw={"feed": feed_url, "tags": [t.get("term") for t in
                                                    entry.get("tags") or []]})


def _body(entry) -> str:
    """The fullest text the entry has: its content, else its summary."""
    contents = [c.get("value", "") for c in entry.get("content") or []]
    summary = entry.get("summary") or ""
    return max([summary, *contents], key=len)


def _when(entry) -> datetime:
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    if not stamp:
        return utcnow()  # undated entries: first seen now
    return datetime(*stamp[:6], tzinfo=UTC)


def _images(entry, body: str, base: str) -> list[str]:
    found = [e.get("href") for e in entry.get("enclosures") or []
             if (e.get("type") or "").startswith("image/")]
    found += [m.get("url") for m in entry.get("media_content") or []
              if m.get("medium") == "image" or (m.get("type") or "").startswith("image/")]
    found += [m.get("url") for m in entry.get("media_thumbnail") or []]
    found += IMG_SRC.findall(body)
    urls = [urljoin(base, u) for u in found if u]
    return [u for u in dict.fromkeys(urls) if urlsplit(u).scheme in ("http", "https")][:4]


def _digest(entry) -> str:
    """An id for an entry with neither GUID nor link: its title and date."""
    basis = f"{entry.get('title')}|{entry.get('published') or entry.get('updated')}"
    return "sha1:" + hashlib.sha1(basis.encode()).hexdigest()


def _load(cursor: str | None) -> dict:
    try:
        state = json.loads(cursor)["feeds"] if cursor else {}
    except (ValueError, KeyError, TypeError):
        state = {}
    return state if isinstance(state, dict) else {}
