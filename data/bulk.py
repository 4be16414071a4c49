"""Set-based writes: a batch of posts (or verdicts) becomes Arrow tables, registered on the
transaction's cursor as staging tables, and each target table gets one INSERT … SELECT.

One statement per table instead of one per row: 1,000 posts cost a handful of statements, so
a request holds the write lock for milliseconds, not seconds.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from json.encoder import encode_basestring_ascii as _json_str

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from analysis.verdict import Verdict
from collectors.post import Post, utc_naive
from data import trend_rows
from data.images import ImageRecord

STAGED = ("staged_posts", "staged_brands", "staged_images", "staged_post_images")

POST_SCHEMA = pa.schema([
    ("id", pa.string()), ("source", pa.string()), ("native_id", pa.string()),
    ("url", pa.string()), ("author", pa.string()), ("text", pa.string()),
    ("lang", pa.string()), ("created_at", pa.timestamp("us")),
    ("collected_at", pa.timestamp("us")), ("likes", pa.int64()), ("reposts", pa.int64()),
    ("replies", pa.int64()), ("content_hash", pa.string()), ("raw", pa.string()),
    ("brands", pa.list_(pa.string())),
])
IMAGE_SCHEMA = pa.schema([
    ("sha256", pa.string()), ("url", pa.string()), ("width", pa.int32()),
    ("height", pa.int32()), ("phash", pa.string()), ("status", pa.string()),
    ("path", pa.string()), ("bytes", pa.int64()), ("created_at", pa.timestamp("us")),
])
BRAND_SCHEMA = pa.schema([("post_id", pa.string()), ("brand", pa.string())])
POST_IMAGE_SCHEMA = pa.schema([("post_id", pa.string()), ("position", pa.int32()),
                               ("sha256", pa.string())])
VERDICT_SCHEMA = pa.schema([
    ("post_id", pa.string()), ("analyzer", pa.string()), ("content_hash", pa.string()),
    ("label", pa.string()), ("sentiment", pa.string()), ("sarcasm", pa.bool_()),
    ("sarcasm_score", pa.float64()), ("emotion", pa.string()), ("emotions", pa.string()),
    ("confidence", pa.float64()), ("explanation", pa.string()), ("evidence", pa.string()),
    ("latency_ms", pa.float64()), ("created_at", pa.timestamp("us")),
])

# A re-ingested post takes the new values of everything but its first collection time: a
# corrected created_at (a re-import with the right date) replaces the old one. Brands add up,
# in posts.brands as in post_brands.
UPSERT_POSTS = """
    INSERT INTO posts SELECT * FROM staged_posts
    ON CONFLICT (id) DO UPDATE SET
        url = excluded.url, author = excluded.author, text = excluded.text,
        lang = excluded.lang, created_at = excluded.created_at, likes = excluded.likes,
        reposts = excluded.reposts, replies = excluded.replies,
        content_hash = excluded.content_hash, raw = excluded.raw,
        brands = list_sort(list_distinct(list_concat(posts.brands, excluded.brands)))
"""


def warm() -> None:
    """Arrow imports pandas on its first conversion (about a second): a server does that at
    start, not inside its first request."""
    pa.array(["warm"])


def without_pandas() -> None:
    """Tell Arrow, for the rest of this process, that pandas is not installed. Arrow imports
    pandas on its first conversion only to ask whether the input is a pandas object, which
    costs a one-off command (`subtext import`) 0.3 s; nothing here hands Arrow pandas
    objects or asks it for any. Only for processes that never will: Arrow's pandas
    conversions fail afterwards. Does nothing once pandas is loaded."""
    if "pandas" in sys.modules:
        return
    sys.meta_path.insert(0, _NoPandas)
    try:
        pa.array(["warm"])  # Arrow tries the import once and remembers that it failed
    finally:
        sys.meta_path.remove(_NoPandas)


class _NoPandas:
    """An import finder that refuses pandas (and finds nothing else)."""

    @staticmethod
    def find_spec(name: str, *_: object) -> None:
        if name.partition(".")[0] == "pandas":
            raise ImportError("pandas is kept from Arrow in this process")


def content_hash(text: str, images: list[ImageRecord]) -> str:
    """Of text + images: a change means re-analysis. The hashed string is
    json.dumps([text, [sha256, ...]]), written out by hand (a third of the cost): stored
    hashes must not change, or every re-ingested post would be analyzed again."""
    shas = ", ".join(_json_str(i.sha256) for i in images)
    return hashlib.sha256(f"[{_json_str(text)}, [{shas}]]".encode()).hexdigest()


def post_tables(batch: list[tuple[Post, list[ImageRecord]]],
                now: datetime) -> dict[str, pa.Table]:
    """The staging tables of one batch, built column by column. A post id given twice keeps
    its last version."""
    latest = {post.id: (post, images) for post, images in batch}
    posts = [post for post, _ in latest.values()]
    ids = list(latest)
    columns = {
        "id": ids, "source": [p.source for p in posts],
        "native_id": [p.native_id for p in posts], "url": [p.url for p in posts],
        "author": [p.author for p in posts], "text": [p.text for p in posts],
        "lang": [p.lang for p in posts],
        "created_at": [utc_naive(p.created_at) for p in posts],
        "collected_at": [now] * len(posts), "likes": [p.likes for p in posts],
        "reposts": [p.reposts for p in posts], "replies": [p.replies for p in posts],
        "content_hash": [content_hash(post.text, records) for post, records in latest.values()],
        "raw": [json.dumps(p.raw, ensure_ascii=False, default=str) if p.raw else "{}"
                for p in posts],
        "brands": [sorted(set(p.brands)) for p in posts],
    }
    brands = [(post_id, brand) for post_id, (post, _) in latest.items()
              for brand in dict.fromkeys(post.brands)]
    links = [(post_id, position, record.sha256) for post_id, (_, records) in latest.items()
             for position, record in enumerate(records)]
    images: dict[str, ImageRecord] = {}
    for _, records in latest.values():
        for record in records:
            images.setdefault(record.sha256, record)  # the first reference is kept, as stored
    image_columns = {name: [getattr(r, name, None) for r in images.values()]
                     for name in IMAGE_SCHEMA.names}
    image_columns["created_at"] = [now] * len(images)
    return {
        "staged_posts": pa.table(columns, schema=POST_SCHEMA),
        "staged_brands": _table(brands, BRAND_SCHEMA),
        "staged_images": pa.table(image_columns, schema=IMAGE_SCHEMA),
        "staged_post_images": _table(links, POST_IMAGE_SCHEMA),
    }


def _table(rows: list[tuple], schema: pa.Schema) -> pa.Table:
    # Column by column: zip(*rows) over a thousand rows costs fifteen times more.
    return pa.table({name: [row[i] for row in rows] for i, name in enumerate(schema.names)},
                    schema=schema)


def insert_new_posts(cur: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table]) -> int:
    """Write a staged batch of posts none of which is stored yet with plain INSERTs: a third
    of the cost of the upsert's ON CONFLICT. Raises duckdb.ConstraintException when one is
    stored after all (the caller rolls back and upserts)."""
    with registered(cur, tables):
        _run(cur, "INSERT INTO posts SELECT * FROM staged_posts")
        if tables["staged_brands"].num_rows:
            _run(cur, "INSERT INTO post_brands SELECT * FROM staged_brands")
        if tables["staged_post_images"].num_rows:
            _run(cur, "INSERT INTO images SELECT * FROM staged_images ON CONFLICT DO NOTHING")
            _run(cur, "INSERT INTO post_images SELECT * FROM staged_post_images")
        trend_rows.add_new(cur, "staged_posts")
    return tables["staged_posts"].num_rows


def upsert_posts(cur: duckdb.DuckDBPyConnection,
                 tables: dict[str, pa.Table]) -> tuple[int, list[str]]:
    """Write the staged batch inside the caller's transaction; return how many posts are new
    and the ids of the stored posts it changed. Brands add to a post's brands; its image
    list is replaced by the new one.

    One join finds the posts that are new or differ from what is stored: the rest (a
    re-import of the same file, a page fetched again) is left as it is, since the slow
    ON CONFLICT update would write the same values back."""
    with registered(cur, {"staged_posts": tables["staged_posts"]}):
        changes = cur.execute(CHANGED_POSTS).fetchall()
    new = [post_id for post_id, is_new, _ in changes if is_new]
    changed = [post_id for post_id, is_new, _ in changes if not is_new]
    if new:
        insert_new_posts(cur, _only(tables, new))
    if changed:
        _update_posts(cur, _only(tables, changed))
        # the trend rows hold a post's date, language and brands (its source is in its id)
        trend_rows.refresh(cur, [post_id for post_id, is_new, moved in changes
                                 if moved and not is_new])
    return len(new), changed


# The staged posts that are not stored yet (true) or differ from the stored post (false),
# and whether what the trend rows hold of them changed.
# Unchanged content_hash means unchanged images (it hashes their list), so their rows hold.
CHANGED_POSTS = """
    SELECT s.id, p.id IS NULL,
           s.created_at IS DISTINCT FROM p.created_at OR s.lang IS DISTINCT FROM p.lang
           OR NOT coalesce(list_has_all(p.brands, s.brands), false)
      FROM staged_posts s LEFT JOIN posts p ON p.id = s.id
     WHERE p.id IS NULL
        OR s.url IS DISTINCT FROM p.url OR s.author IS DISTINCT FROM p.author
        OR s.text IS DISTINCT FROM p.text OR s.lang IS DISTINCT FROM p.lang
        OR s.created_at IS DISTINCT FROM p.created_at OR s.likes IS DISTINCT FROM p.likes
        OR s.reposts IS DISTINCT FROM p.reposts OR s.replies IS DISTINCT FROM p.replies
        OR s.content_hash IS DISTINCT FROM p.content_hash
        OR s.raw IS DISTINCT FROM p.raw::VARCHAR
        OR NOT coalesce(list_has_all(p.brands, s.brands), false)
"""


def _update_posts(cur: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table]) -> None:
    """Staged posts all stored before: new values, added brands, their new image list."""
    with registered(cur, tables):
        _run(cur, UPSERT_POSTS)
        if tables["staged_brands"].num_rows:
            _run(cur, "INSERT INTO post_brands SELECT * FROM staged_brands "
                        "ON CONFLICT DO NOTHING")
        _run(cur, "DELETE FROM post_images WHERE post_id IN (SELECT id FROM staged_posts)")
        if tables["staged_post_images"].num_rows:
            _run(cur, "INSERT INTO images SELECT * FROM staged_images ON CONFLICT DO NOTHING")
            _run(cur, "INSERT INTO post_images SELECT * FROM staged_post_images")


def _only(tables: dict[str, pa.Table], ids: list[str]) -> dict[str, pa.Table]:
    """The staging tables cut down to the posts `ids` (and the images they show)."""
    keep = pa.array(ids, pa.string())
    posts = tables["staged_posts"].filter(pc.is_in(tables["staged_posts"]["id"], keep))
    links = tables["staged_post_images"]
    links = links.filter(pc.is_in(links["post_id"], keep))
    images = tables["staged_images"]
    return {
        "staged_posts": posts,
        "staged_brands": tables["staged_brands"].filter(
            pc.is_in(tables["staged_brands"]["post_id"], keep)),
        "staged_images": images.filter(pc.is_in(images["sha256"], links["sha256"])),
        "staged_post_images": links,
    }


@contextmanager
def registered(cur: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table]) -> Iterator[None]:
    """The tables as views of the cursor while the block runs. After a failed statement the
    transaction is aborted and unregistering would fail, hiding the error: the views go with
    the cursor, which the store's transaction closes."""
    # The SQL reads the other tables only when they have rows.
    used = [name for name, table in tables.items() if name == "staged_posts" or table.num_rows]
    for name in used:
        cur.register(name, tables[name])
    yield
    for name in used:
        cur.unregister(name)


def verdict_table(results: list[tuple[str, str, Verdict]], now: datetime) -> pa.Table:
    """(post id, content hash, verdict) rows as the verdicts table's staging table; the last
    verdict of a post × analyzer given twice wins."""
    latest = {(post_id, v.analyzer): (post_id, digest, v) for post_id, digest, v in results}
    rows = [(post_id, v.analyzer, digest, v.label, v.sentiment, v.sarcasm, v.sarcasm_score,
             v.emotion, json.dumps(v.emotions), v.confidence, v.explanation,
             json.dumps(v.evidence, ensure_ascii=False), v.latency_ms, now)
            for post_id, digest, v in latest.values()]
    return _table(rows, VERDICT_SCHEMA)


def replace_verdicts(cur: duckdb.DuckDBPyConnection, table: pa.Table) -> None:
    """Each post × analyzer keeps its newest verdict, which becomes the post's latest
    (verdicts.latest): two statements for the batch."""
    cur.register("staged_verdicts", table)
    try:
        _run(cur, """UPDATE verdicts SET latest = false
                        WHERE latest AND post_id IN (SELECT post_id FROM staged_verdicts)""")
        _run(cur, "INSERT OR REPLACE INTO verdicts SELECT *, true FROM staged_verdicts")
    finally:
        cur.unregister("staged_verdicts")


def _run(cur: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Execute a write and consume its result (its row count), which DuckDB wants done before
    the staging tables are unregistered."""
    cur.execute(sql).fetchall()
