"""What the Trends page counts, the listings filter on and the review queue ranks, kept as the
store writes: one row per post and brand it counts for (one row with no brand for a post about
none), holding the effective verdict's values (reviews and per-brand verdicts applied) and
the post's reason to be reviewed.

A trend used to join the posts with their latest verdicts, the reviews and the per-brand
verdicts on every call: at 1M posts, 30 days by day took 214 ms (p95, uncached) and 90 days by
week 263 ms, most of it in those joins, and a listing filtered on the verdict (label=negative)
190-235 ms. The rows are that join's result per post, so each is one scan of a narrow table.
Every write that changes what a post counts as (its date, brands or language; its latest
verdict, per-brand verdicts or reviews) replaces its rows inside its own transaction: the rows
are never behind the data, and a test compares them with the joined query after each kind of
write."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from data.corrections import (
    BRANDS_OF,
    FALSE_ALARMS,
    LANG,
    QUEUE_REASON,
    REVIEWS_OF,
    effective_verdicts,
)

TABLE = """
    CREATE TABLE trend_rows (
        post_id          VARCHAR NOT NULL,
        created_at       TIMESTAMP NOT NULL,
        brand            VARCHAR,            -- one of the post's effective brands; NULL
                                             -- (one row) for a post about none of them
        first            BOOLEAN NOT NULL,   -- the post's first row: one per post
        source           VARCHAR NOT NULL,
        lang             VARCHAR,            -- the post's, else its analyzer's
        label            VARCHAR,            -- the post's effective verdict (NULL: pending)
        sentiment        VARCHAR,
        emotion          VARCHAR,
        sarcasm          BOOLEAN,
        confidence       DOUBLE,
        reviewed         BOOLEAN NOT NULL,
        brand_label      VARCHAR NOT NULL,   -- for this brand: its per-brand verdict unless a
        brand_sentiment  VARCHAR NOT NULL,   -- reviewer gave the label; 'pending' if none
        queue            VARCHAR,            -- why the post is in the review queue, NULL
                                             -- if it is not (corrections.QUEUE_REASON)
        model_confidence DOUBLE              -- the model's, the queue's order
    )
"""


def one_or_more(brands: str) -> str:
    """A list of brands, or one NULL for a post about none: it is listed all the same."""
    return f"CASE WHEN len({brands}) = 0 THEN [NULL::VARCHAR] ELSE {brands} END"


def rows_of(posts: str = "posts", latest: str = "SELECT * FROM verdicts WHERE latest",
            brand_verdicts: str = "post_brand_verdicts",
            disagreements: str = "verdict_disagreements") -> str:
    """The trend rows of the posts in `posts`, from their latest verdicts in `latest`, their
    reviews, their per-brand verdicts in `brand_verdicts` and the verdicts whose modalities
    disagree in `disagreements`: by default all stored posts; a write passes the part it
    changed (as tables or subqueries with those tables' columns)."""
    return f"""
    WITH facts AS (
        SELECT p.id AS post_id, p.created_at, {BRANDS_OF} AS brands, p.source,
               {LANG} AS lang, v.label, v.sentiment, v.emotion, v.sarcasm, v.confidence,
               coalesce(v.reviewed, false) AS reviewed, coalesce(v.human, false) AS human,
               v.analyzer, len(p.brands) > 1 AS several,
               CASE WHEN v.post_id IS NOT NULL THEN {QUEUE_REASON} END AS queue,
               v.model_confidence
          FROM {posts} p {REVIEWS_OF}
          LEFT JOIN ({effective_verdicts(latest)}) v ON v.post_id = p.id
          LEFT JOIN ({FALSE_ALARMS}) fa ON fa.post_id = p.id
          LEFT JOIN {disagreements} vd ON vd.post_id = v.post_id AND vd.analyzer = v.analyzer),
    rows AS (SELECT *, unnest({one_or_more("brands")}) AS brand FROM facts)
    SELECT rows.post_id, created_at, rows.brand, rows.brand IS NOT DISTINCT FROM brands[1],
           source, lang, rows.label, rows.sentiment,
           emotion, sarcasm, confidence, reviewed,
           CASE WHEN human THEN coalesce(rows.label, 'pending')
                ELSE coalesce(bv.label, rows.label, 'pending') END,
           CASE WHEN human THEN coalesce(rows.sentiment, 'pending')
                ELSE coalesce(bv.sentiment, rows.sentiment, 'pending') END,
           queue, model_confidence
      FROM rows
      LEFT JOIN {brand_verdicts} bv ON several AND bv.post_id = rows.post_id
           AND bv.brand = rows.brand AND bv.analyzer = rows.analyzer
    """


# Migration 12 built the table for the posts stored so far, and 13 rebuilt it with the review
# queue's columns; the index finds a post's rows when a batch of verdicts replaces them (5 ms
# for 64 posts at 1M, a scan 35 ms).
MIGRATION = f"""{TABLE};
INSERT INTO trend_rows {rows_of()};
CREATE INDEX trend_rows_post ON trend_rows (post_id);"""


# Up to this many ids go into a query as an IN list of parameters, which DuckDB looks up by
# the tables' indexes (64 posts: 5 ms at 1M); more are joined as a registered table, which
# scans (30 ms a table at 1M whatever the count), where the IN list grows 0.07 ms an id.
LISTED = 400


def ids_in(cur: duckdb.DuckDBPyConnection, column: str, ids: list[str],
           name: str = "listed_ids") -> tuple[str, list[str]]:
    """A filter on `column` for these ids, and its parameters (registers `name` on `cur`
    for a long list: the registration goes with the cursor)."""
    if len(ids) <= LISTED:
        return f"{column} IN ({', '.join('?' * len(ids))})", list(ids)
    cur.register(name, pa.table({"id": pa.array(ids, pa.string())}))
    return f"{column} IN (SELECT id FROM {name})", []


def refresh(cur: duckdb.DuckDBPyConnection, ids: list[str]) -> None:
    """Recompute the rows of these stored posts from the stored data, inside the caller's
    transaction: for the rarer writes (a review, a re-ingest that moves a post's date,
    brands or language)."""
    if not ids:
        return
    listed, params = ids_in(cur, "post_id", ids)
    cur.execute(f"DELETE FROM trend_rows WHERE {listed}", params).fetchall()
    posts, post_params = ids_in(cur, "id", ids)
    cur.execute(f"""INSERT INTO trend_rows {rows_of(
        posts=f"(SELECT * FROM posts WHERE {posts})",
        latest=f"SELECT * FROM verdicts WHERE latest AND {listed}")}""",
                [*post_params, *params]).fetchall()


def replace_for_verdicts(cur: duckdb.DuckDBPyConnection, posts: pa.Table, verdicts: pa.Table,
                         brand_verdicts: pa.Table) -> None:
    """The rows of a batch of verdicts just written (save_verdicts), from what the batch
    holds: its posts as stored (read in this transaction), the verdicts, which are now these
    posts' latest, and the per-brand verdicts written for them. Only the old rows are found
    in the table (by its index, for a batch)."""
    ids = posts["id"].to_pylist()
    if not ids:
        return
    listed, params = ids_in(cur, "post_id", ids)
    cur.execute(f"DELETE FROM trend_rows WHERE {listed}", params).fetchall()
    tables = {"trend_posts": posts, "trend_verdicts": verdicts,
              "trend_brand_verdicts": brand_verdicts}
    for name, table in tables.items():
        cur.register(name, table)
    try:  # the batch's disagreements were written just before (Store._note_disagreements)
        cur.execute(f"""INSERT INTO trend_rows {rows_of(
            "trend_posts", "SELECT * FROM trend_verdicts", "trend_brand_verdicts",
            disagreements="(SELECT * FROM verdict_disagreements WHERE post_id IN ("
                          "SELECT post_id FROM trend_verdicts))")}"""
                    ).fetchall()
    finally:
        for name in tables:
            cur.unregister(name)


def add_new(cur: duckdb.DuckDBPyConnection, staged: str) -> None:
    """The rows of posts this transaction stores for the first time (the table `staged`, in
    the posts' columns): rows_of() without its lookups, since a post not stored until now has
    no verdict, no review and no per-brand verdict (each is written for a stored post)."""
    cur.execute(f"""INSERT INTO trend_rows
                    SELECT id, created_at, brand, brand IS NOT DISTINCT FROM brands[1], source,
                           lang, NULL, NULL, NULL, NULL, NULL, false, 'pending', 'pending',
                           NULL, NULL
                      FROM (SELECT *, unnest({one_or_more("brands")}) AS brand
                              FROM {staged})
                    """).fetchall()
