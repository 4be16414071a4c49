"""Posts from outside (the ingest API, import files), validated fast.

PostIn (collectors/post.py) is the reference: its rules, its messages, its OpenAPI schema. A
pydantic model per row costs about 30 µs, most of the ingest budget at 20,000 posts/s, so each
row first goes through `fast_post`, a hand-written check that accepts only rows PostIn accepts
with the same result and gives up (None) on anything unusual: a bad row, but also a number
written as a string, padded text, a date in another format. Those rows go through PostIn, which
stores them or names their error. A test compares both on good and bad rows.

Strings from orjson are valid Unicode (it refuses lone surrogates), so the fast path skips that
check; rows parsed by the standard library (NaN, lone surrogates) take PostIn entirely.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from annotated_types import MaxLen
from pydantic import ValidationError

from collectors.post import EARLIEST, FUTURE_SKEW, MAX_BRANDS, MAX_COUNT, Post, PostIn, utcnow

FIELDS = frozenset(PostIn.model_fields)


def _max_len(name: str) -> int:
    """PostIn's max_length of a field: one source for both paths."""
    return next(m.max_length for m in PostIn.model_fields[name].metadata if isinstance(m, MaxLen))


ID_MAX, TEXT_MAX, SOURCE_MAX = _max_len("id"), _max_len("text"), _max_len("source")
AUTHOR_MAX, URL_MAX, LANG_MAX = _max_len("author"), _max_len("url"), _max_len("lang")
IMAGES_MAX, BRAND_MAX = _max_len("images"), 200
UNBOUNDED = sys.maxsize  # image references have no length of their own (the body cap bounds them)
NONE: list = []  # a field left out (never changed)
SOURCE = re.compile(r"[A-Za-z0-9_.-]+")
# The ISO 8601 forms both parsers read alike (pydantic's and datetime.fromisoformat).
UTC_SUFFIXES = ("Z", "+00:00", "-00:00")
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)?")


def _plain(value: Any, longest: int, shortest: int = 0) -> bool:
    """A str within the lengths that PostIn's whitespace stripping would leave alone (Python's
    isspace covers every character pydantic strips, and a few more: those go the slow way)."""
    return (type(value) is str and shortest <= len(value) <= longest
            and not (value[:1].isspace() or value[-1:].isspace()))


def _optional(value: Any, longest: int) -> bool:
    return value is None or _plain(value, longest)


def _count(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_COUNT


def _moment(value: Any, now: datetime) -> datetime | None:
    """The naive-UTC time of an ISO 8601 string inside the accepted range, else None."""
    if type(value) is not str or not ISO.fullmatch(value):
        return None
    try:
        if value.endswith(UTC_SUFFIXES):  # already UTC: the zone-less part, at half the cost
            moment = datetime.fromisoformat(value[:-1] if value[-1] == "Z" else value[:-6])
        else:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is not None:
                moment = moment.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # OverflowError: past year 9999 or before year 1
        return None
    return moment if EARLIEST <= moment <= now + FUTURE_SKEW else None


def fast_post(row: dict, known: frozenset[str] | None, now: datetime) -> Post | None:
    """The Post of a row PostIn would accept, or None to let PostIn decide. `known`: the
    configured brand names (None: any brand name)."""
    if not FIELDS.issuperset(row):
        return None
    native_id, text = row.get("id"), row.get("text")
    source = row.get("source", "import")
    author, url, lang = row.get("author"), row.get("url"), row.get("lang")
    likes, reposts, replies = row.get("likes", 0), row.get("reposts", 0), row.get("replies", 0)
    images, brands = row.get("images", NONE), row.get("brands", NONE)
    if not (_plain(native_id, ID_MAX, 1) and _plain(text, TEXT_MAX)
            and _plain(source, SOURCE_MAX, 1) and SOURCE.fullmatch(source)
            and _optional(author, AUTHOR_MAX) and _optional(url, URL_MAX)
            and _optional(lang, LANG_MAX)
            and _count(likes) and _count(reposts) and _count(replies)):
        return None
    if images is not NONE and not (type(images) is list and len(images) <= IMAGES_MAX
                                   and all(_plain(i, UNBOUNDED) for i in images)):
        return None
    if brands is not NONE and not (
            type(brands) is list and len(brands) <= MAX_BRANDS
            and all(_plain(b, BRAND_MAX) and (known is None or b in known) for b in brands)):
        return None
    created = row.get("created_at")
    if created is None:
        moment = now
    elif (moment := _moment(created, now)) is None:
        return None
    return Post(source=source, native_id=native_id, text=text, created_at=moment, url=url,
                author=author, lang=lang, likes=likes, reposts=reposts, replies=replies,
                images=list(images), brands=list(brands))


def validate_rows(rows: Iterable[Any], brands: Iterable[str] | None = None, *,
                  fast: bool = True) -> list[tuple[int, Post | ValidationError]]:
    """(index, Post or PostIn's ValidationError) for each row. With `brands`, brands not
    among them are refused. `fast=False`: every row through PostIn (rows whose strings may
    not be valid Unicode)."""
    known = frozenset(brands) if brands is not None else None
    context = {"brands": sorted(known)} if known is not None else None
    now = utcnow()
    out: list[tuple[int, Post | ValidationError]] = []
    for index, row in enumerate(rows):
        post = fast_post(row, known, now) if fast and type(row) is dict else None
        if post is None:
            try:
                post = PostIn.model_validate(row, context=context).to_post()
            except ValidationError as exc:
                out.append((index, exc))
                continue
        out.append((index, post))
    return out
