"""Read queries behind the API: filtered post listings, trends, exports, alerts, runs.

Every listing goes through PostFilter.where(), so the table, the trend chart and the export of
one filter always agree on which posts it selects.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from collectors.post import utc_naive
from data.corrections import BRANDS_OF, LANG, LATEST_VERDICTS, REVIEWS_OF
from data.store import Store

PAGE_COLUMNS = f"""
    p.id, p.source, p.url, p.author, p.text, coalesce(p.lang, v.evidence ->> 'lang') AS lang,
    p.created_at, p.collected_at, p.likes, p.reposts, p.replies, {BRANDS_OF} AS brands, im.images,
    v.label, v.sentiment, v.sarcasm, v.sarcasm_score, v.emotion, v.emotions, v.confidence,
    v.explanation, v.evidence, v.analyzer, v.latency_ms, coalesce(v.reviewed, false) AS reviewed,
    v.reviewed_by, v.reviewed_at, v.irrelevant, v.model_label, v.model_sarcasm, v.model_emotion
"""

# The same columns for a query over many posts (the review queue): images by subquery.
POST_COLUMNS = PAGE_COLUMNS.replace("im.images", """(
    SELECT list(i.sha256 ORDER BY pi.position) FROM post_images pi JOIN images i USING (sha256)
     WHERE pi.post_id = p.id AND i.status = 'ok') AS images""")

BUCKETS = {"hour": "hour", "day": "day", "week": "week"}
# Each key as read per post (inner) and per brand row (outer: "brand" is the unnested brand).
TREND_KEYS = {
    "label": ("coalesce(v.label, 'pending')", "key"),
    "emotion": ("coalesce(v.emotion, 'pending')", "key"),
    "sentiment": ("coalesce(v.sentiment, 'pending')", "key"),
    "brand": ("NULL", "brand"),
    "source": ("p.source", "key"),
    "lang": (f"coalesce({LANG}, 'unknown')", "key"),
}


@dataclass(frozen=True)
class PostFilter:
    brand: str | None = None
    since: datetime | None = None  # inclusive, UTC
    until: datetime | None = None  # exclusive, UTC
    source: str | None = None
    lang: str | None = None
    label: str | None = None
    sarcasm: bool | None = None
    min_confidence: float | None = None
    max_confidence: float | None = None
    emotion: str | None = None
    q: str | None = None  # case-insensitive substring of the text
    reviewed: bool | None = None  # corrected by a reviewer (or not)

    def where(self) -> tuple[str, list]:
        """The WHERE clause over posts p LEFT JOIN latest verdicts v, and its parameters."""
        clauses, params = ["TRUE"], []

        def add(sql: str, value: object) -> None:
            clauses.append(sql)
            params.append(value)

        if self.brand is not None:
            add(f"len(list_filter({BRANDS_OF}, lambda x: lower(x) = lower(?))) > 0", self.brand)
        if self.since is not None:
            add("p.created_at >= ?", self.since)
        if self.until is not None:
            add("p.created_at < ?", self.until)
        if self.source is not None:
            add("p.source = ?", self.source)
        if self.lang is not None:
            add(f"{LANG} = ?", self.lang)
        if self.label is not None:
            add("v.label = ?", self.label)
        if self.sarcasm is not None:
            add("v.sarcasm = ?", self.sarcasm)
        if self.min_confidence is not None:
            add("v.confidence >= ?", self.min_confidence)
        if self.max_confidence is not None:
            add("v.confidence <= ?", self.max_confidence)
        if self.emotion is not None:
            add("v.emotion = ?", self.emotion)
        if self.q:
            add("contains(lower(p.text), lower(?))", self.q)
        if self.reviewed is not None:
            add("coalesce(v.reviewed, false) = ?", self.reviewed)
        return " AND ".join(clauses), params

    def where_rows(self) -> tuple[str, list]:
        """where() over the trend rows (data/trend_rows.py): one row per post and brand, so
        the brand filter keeps the rows of that brand. Not for a text search (q)."""
        assert not self.q, "the trend rows hold no text"
        clauses, params = ["TRUE"], []
        for column, op, value in (
                ("lower(brand)", "= lower(?)", self.brand), ("created_at", ">= ?", self.since),
                ("created_at", "< ?", self.until), ("source", "= ?", self.source),
                ("lang", "= ?", self.lang), ("label", "= ?", self.label),
                ("sarcasm", "= ?", self.sarcasm), ("confidence", ">= ?", self.min_confidence),
                ("confidence", "<= ?", self.max_confidence), ("emotion", "= ?", self.emotion),
                ("reviewed", "= ?", self.reviewed)):
            if value is not None:
                clauses.append(f"{column} {op}")
                params.append(value)
        return " AND ".join(clauses), params

    def needs_verdicts(self) -> bool:
        """Whether where() reads the verdict (v.*) columns."""
        return any(x is not None for x in (self.label, self.sarcasm, self.min_confidence,
                                            self.max_confidence, self.emotion, self.lang,
                                            self.reviewed))


def rows_of_posts(f: PostFilter, columns: str, also: str = "TRUE") -> tuple[str, list]:
    """The trend rows (data/trend_rows.py: a row per post and brand) of the filter's posts, one
    per post, with these columns (of the post, not the brand), and their parameters. `also`:
    a further condition on the rows. Not for a text search (q)."""
    where, params = f.where_rows()
    rows = f"""SELECT {columns} FROM trend_rows
                WHERE {'first' if f.brand is None else 'TRUE'} AND {also} AND {where}"""
    if f.brand is not None:  # two spellings of one brand in a post: once
        rows = f"SELECT DISTINCT * FROM ({rows})"
    return rows, params


def _from(verdicts: bool = True) -> str:
    """Posts with their reviews (for BRANDS_OF) and, when asked, their effective verdicts."""
    joined = f"posts p {REVIEWS_OF}"
    return f"{joined} LEFT JOIN ({LATEST_VERDICTS}) v ON v.post_id = p.id" if verdicts else joined


def _rows(cur: duckdb.DuckDBPyConnection) -> list[dict]:
    """Rows as dicts, timestamps marked UTC (the database keeps them zone-less)."""
    names = [d[0] for d in cur.description]
    return [{k: v.replace(tzinfo=UTC) if isinstance(v, datetime) else v
             for k, v in zip(names, row, strict=True)} for row in cur.fetchall()]


def list_posts(store: Store, f: PostFilter, limit: int = 50, offset: int = 0,
               cursor: str | None = None) -> dict:
    """read_posts, kept until the next write (data/cache.py)."""
    return store.results.get(("posts", f, limit, offset, cursor), store.generation,
                             lambda: read_posts(store, f, limit, offset, cursor))


def read_posts(store: Store, f: PostFilter, limit: int = 50, offset: int = 0,
               cursor: str | None = None) -> dict:
    """One page, newest first, and the total. `cursor` (a page's next_cursor) continues after
    that page's last post (keyset: as fast on page 10,000 as on page 1); `offset` skips rows.

    The page's ids come first: from the posts alone when the filter reads neither verdict
    nor text (a count over zone maps, then a top-N); else from the trend rows (a text search:
    the posts, joined with their verdicts if it filters on them), counted and paged in one
    pass (materialized: the matches' ids and dates); then the columns of those ids alone: no
    listing joins all posts with all verdicts to build its rows."""
    where, params = f.where()
    source = _from(f.needs_verdicts())
    page = "ORDER BY created_at DESC, id LIMIT ? OFFSET ?"
    after, after_params = "TRUE", []
    if cursor is not None:
        moment, last_id = decode_cursor(cursor)
        after = "(created_at < ? OR (created_at = ? AND id > ?))"
        after_params = [moment, moment, last_id]
    con = store.reader()
    if not f.needs_verdicts() and not f.q:  # posts alone: a count over zone maps, a top-N
        total = con.execute(f"SELECT count(*) FROM {source} WHERE {where}",
                            params).fetchone()[0]
        ids = [r[0] for r in con.execute(
            f"""SELECT id FROM (SELECT p.id, p.created_at FROM {source} WHERE {where})
                 WHERE {after} {page}""", [*params, *after_params, limit, offset]).fetchall()]
    else:  # one pass over the filter's columns (not one for the count, one for the page):
        # the verdicts', or the texts of a search (1M texts: ~140 ms a pass)
        matched = f"SELECT p.id, p.created_at FROM {source} WHERE {where}"
        if not f.q:  # the trend rows hold them (data/trend_rows.py)
            matched, params = rows_of_posts(f, "post_id AS id, created_at")
        total, ids = con.execute(
            f"""WITH matched AS MATERIALIZED ({matched})
                SELECT (SELECT count(*) FROM matched),
                       (SELECT coalesce(list(id ORDER BY created_at DESC, id), [])
                          FROM (SELECT id, created_at FROM matched WHERE {after} {page}))""",
            [*params, *after_params, limit, offset]).fetchone()
    items = _posts_by_id(con, ids)
    more = len(ids) == limit
    return {"total": total, "items": items,
            "next_cursor": encode_cursor(items[-1]["created_at"], items[-1]["id"])
            if more and items else None}


def _posts_by_id(con: duckdb.DuckDBPyConnection, ids: list[str]) -> list[dict]:
    """The listing columns of these posts, in the order given. Every part is looked up by
    the ids (indexes on post_id), never joined whole."""
    if not ids:
        return []
    cur = con.execute(
        f"""WITH ids AS (SELECT unnest($ids) AS id),
            im AS (SELECT pi.post_id, list(i.sha256 ORDER BY pi.position) AS images
                     FROM post_images pi JOIN images i USING (sha256)
                    WHERE pi.post_id IN (SELECT id FROM ids) AND i.status = 'ok'
                    GROUP BY pi.post_id),
            v AS (SELECT * FROM ({LATEST_VERDICTS}) WHERE post_id IN (SELECT id FROM ids))
            SELECT {PAGE_COLUMNS}
              FROM posts p LEFT JOIN im ON im.post_id = p.id
              LEFT JOIN v ON v.post_id = p.id {REVIEWS_OF}
             WHERE p.id IN (SELECT id FROM ids)""", {"ids": ids})
    found = {row["id"]: _decode_json(row) for row in _rows(cur)}
    return [found[i] for i in ids if i in found]


def encode_cursor(created_at: datetime, post_id: str) -> str:
    raw = f"{utc_naive(created_at).isoformat()}|{post_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (created_at, id) a cursor continues after; ValueError for a malformed one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, post_id = raw.split("|", 1)
        return datetime.fromisoformat(moment), post_id
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise ValueError("not a cursor this API returned") from None


def get_post(store: Store, post_id: str) -> dict | None:
    found = _posts_by_id(store.reader(), [post_id])
    return found[0] if found else None


def _decode_json(row: dict) -> dict:
    for key in ("emotions", "evidence"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    row["images"] = row.get("images") or []
    return row


def trends(store: Store, f: PostFilter, bucket: str = "day", by: str = "label") -> list[dict]:
    """read_trends, kept until the next write (data/cache.py): the Trends page asks the same
    aggregates on every rerun, the data changes only when a collector or analysis commits."""
    return store.results.get(("trends", f, bucket, by), store.generation,
                             lambda: read_trends(store, f, bucket, by))


def read_trends(store: Store, f: PostFilter, bucket: str = "day",
                by: str = "label") -> list[dict]:
    """Post counts per time bucket, brand and key (label, emotion, sentiment or brand). A post
    counts once per brand it mentions; with a brand filter, only for the brand asked for.
    Read from the trend rows the store keeps (data/trend_rows.py), unless the filter searches
    the text, which only the posts hold."""
    if f.q:
        return joined_trends(store, f, bucket, by)
    where, params = f.where_rows()
    cur = store.reader().execute(
        f"""SELECT date_trunc('{BUCKETS[bucket]}', created_at) AS bucket, brand,
                   {ROW_KEYS[by]} AS key, count(*) AS count
              FROM trend_rows WHERE brand IS NOT NULL AND {where}
             GROUP BY ALL ORDER BY bucket, brand, key""", params)
    return _rows(cur)


# Each trend key as the trend rows hold it: per brand for label and sentiment (9b).
ROW_KEYS = {"label": "brand_label", "emotion": "coalesce(emotion, 'pending')",
            "sentiment": "brand_sentiment", "brand": "brand", "source": "source",
            "lang": "coalesce(lang, 'unknown')"}


def joined_trends(store: Store, f: PostFilter, bucket: str = "day",
                  by: str = "label") -> list[dict]:
    """read_trends from the posts joined with their verdicts, reviews and per-brand
    verdicts: for a text search, and the definition the trend rows are tested against.
    The verdicts are joined only when the key or the filter reads them."""
    where, params = f.where()
    inner, outer = TREND_KEYS[by]
    source = _from(by not in ("brand", "source") or f.needs_verdicts())
    only = ""
    if f.brand is not None:  # a post about both brands counts only for the one asked for
        only, params = "WHERE lower(rows.brand) = lower(?)", [*params, f.brand]
    extra = joined = ""
    if by in PER_BRAND:
        outer = PER_BRAND[by]
        # Only posts naming two or more brands have per-brand verdicts (a post's brands only
        # grow), so only their rows carry the post id to join on: the others skip the lookup.
        extra = """, CASE WHEN len(p.brands) > 1 THEN p.id END AS post_id,
                   v.analyzer AS analyzer, coalesce(v.human, false) AS human"""
        joined = """LEFT JOIN post_brand_verdicts bv ON bv.post_id = rows.post_id
                      AND bv.brand = rows.brand AND bv.analyzer = rows.analyzer"""
    cur = store.reader().execute(
        f"""
        WITH rows AS (SELECT date_trunc('{BUCKETS[bucket]}', p.created_at) AS bucket,
                             unnest({BRANDS_OF}) AS brand, {inner} AS key{extra}
                        FROM {source} WHERE {where})
        SELECT bucket, rows.brand AS brand, {outer} AS key, count(*) AS count
          FROM rows {joined} {only}
         GROUP BY ALL ORDER BY bucket, brand, key
        """, params)
    return _rows(cur)


# 9b: a post about two brands counts for each brand with its per-brand verdict, if it has one
# and no reviewer gave its label
PER_BRAND = {"label": "CASE WHEN human THEN key ELSE coalesce(bv.label, key) END",
             "sentiment": "CASE WHEN human THEN key ELSE coalesce(bv.sentiment, key) END"}


EXPORT_COLUMNS = f"""
    p.id, p.source, p.url, p.author, p.text, {LANG} AS lang, p.created_at, p.likes, p.reposts,
    p.replies,
    array_to_string({BRANDS_OF}, ';') AS brands,
    v.label, v.sentiment, v.sarcasm, v.sarcasm_score, v.emotion, v.confidence, v.explanation,
    v.evidence ->> 'ocr_text' AS ocr_text, v.analyzer, coalesce(v.reviewed, false) AS reviewed,
    v.reviewed_by, v.model_label, v.model_sarcasm, v.model_emotion
"""


def export_reader(store: Store, f: PostFilter, batch_rows: int = 10_000) -> pa.RecordBatchReader:
    """The filtered posts as Arrow batches, newest first, read lazily for streaming."""
    where, params = f.where()
    relation = store.reader().sql(
        f"SELECT {EXPORT_COLUMNS} FROM {_from()} WHERE {where} "
        "ORDER BY p.created_at DESC, p.id", params=params)
    return relation.to_arrow_reader(batch_rows)


def list_runs(store: Store, limit: int = 50) -> list[dict]:
    cur = store.reader().execute(
        "SELECT * FROM collector_runs ORDER BY started_at DESC, id DESC LIMIT ?", [limit])
    return _rows(cur)


def image_path(store: Store, sha256: str) -> str | None:
    row = store.reader().execute(
        "SELECT path FROM images WHERE sha256 = ? AND status = 'ok'", [sha256]).fetchone()
    return row[0] if row else None


def counts(store: Store) -> dict:
    row = store.reader().execute(
        """SELECT (SELECT count(*) FROM posts), (SELECT count(*) FROM verdicts),
                  (SELECT count(*) FROM images WHERE status = 'ok'),
                  (SELECT count(*) FROM images WHERE status <> 'ok'),
                  (SELECT count(*) FROM alerts WHERE acknowledged_at IS NULL),
                  (SELECT count(*) FROM feedback)""").fetchone()
    keys = ("posts", "verdicts", "images", "images_rejected", "open_alerts", "feedback")
    return dict(zip(keys, row, strict=True))


def source_states(store: Store) -> list[dict]:
    """Each source × brand that has run: consecutive failures, back-off, last error, and its
    latest collect run's counts (the Health page's sources table)."""
    cur = store.reader().execute(
        """
        SELECT s.source, s.brand, s.failures, s.skip_until, s.last_run_at, s.last_ok_at,
               s.last_error, r.status AS last_status, r.fetched, r.matched, r.new, r.errors,
               date_diff('millisecond', r.started_at, r.ended_at) / 1000.0 AS duration_s
          FROM source_state s
          LEFT JOIN (SELECT * FROM collector_runs WHERE job = 'collect'
                     QUALIFY row_number() OVER (PARTITION BY source, brand
                                                ORDER BY id DESC) = 1) r
            ON r.source = s.source AND r.brand = s.brand
         ORDER BY s.source, s.brand
        """)
    return _rows(cur)


def stored_brand(store: Store, name: str) -> bool:
    """Whether any stored post is about `name` (in any case): a brand taken out of the
    configuration still filters the posts collected for it."""
    row = store.reader().execute(
        "SELECT EXISTS (SELECT 1 FROM post_brands WHERE lower(brand) = lower(?))",
        [name]).fetchone()
    return bool(row[0])
