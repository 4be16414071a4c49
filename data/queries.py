"""Read queries behind the API: filtered post listings, trends, exports, alerts, runs.

Every listing goes through PostFilter.where(), so the table, the trend chart and the export of
one filter always agree on which posts it selects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from data.store import Store

# The newest verdict of each post: history across analyzers is kept, the listing shows the latest.
LATEST_VERDICTS = """
    SELECT * FROM verdicts
    QUALIFY row_number() OVER (PARTITION BY post_id ORDER BY created_at DESC, analyzer) = 1
"""

POST_COLUMNS = """
    p.id, p.source, p.url, p.author, p.text, p.lang, p.created_at, p.collected_at,
    p.likes, p.reposts, p.replies,
    coalesce((SELECT list(brand ORDER BY brand) FROM post_brands b WHERE b.post_id = p.id),
             []) AS brands,
    (SELECT list(i.sha256 ORDER BY pi.position) FROM post_images pi JOIN images i USING (sha256)
      WHERE pi.post_id = p.id AND i.status = 'ok') AS images,
    v.label, v.sentiment, v.sarcasm, v.sarcasm_score, v.emotion, v.emotions, v.confidence,
    v.explanation, v.evidence, v.analyzer, v.latency_ms
"""

BUCKETS = {"hour": "hour", "day": "day", "week": "week"}
TREND_KEYS = {
    "label": "coalesce(v.label, 'pending')",
    "emotion": "coalesce(v.emotion, 'pending')",
    "sentiment": "coalesce(v.sentiment, 'pending')",
    "brand": "b.brand",
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
    q: str | None = None  # case-insensitive substring of the text

    def where(self) -> tuple[str, list]:
        """The WHERE clause over posts p LEFT JOIN latest verdicts v, and its parameters."""
        clauses, params = ["TRUE"], []

        def add(sql: str, value: object) -> None:
            clauses.append(sql)
            params.append(value)

        if self.brand is not None:
            add("p.id IN (SELECT post_id FROM post_brands WHERE brand = ?)", self.brand)
        if self.since is not None:
            add("p.created_at >= ?", self.since)
        if self.until is not None:
            add("p.created_at < ?", self.until)
        if self.source is not None:
            add("p.source = ?", self.source)
        if self.lang is not None:
            add("p.lang = ?", self.lang)
        if self.label is not None:
            add("v.label = ?", self.label)
        if self.sarcasm is not None:
            add("v.sarcasm = ?", self.sarcasm)
        if self.min_confidence is not None:
            add("v.confidence >= ?", self.min_confidence)
        if self.q:
            add("contains(lower(p.text), lower(?))", self.q)
        return " AND ".join(clauses), params


def _from() -> str:
    return f"posts p LEFT JOIN ({LATEST_VERDICTS}) v ON v.post_id = p.id"


def _rows(cur: duckdb.DuckDBPyConnection) -> list[dict]:
    """Rows as dicts, timestamps marked UTC (the database keeps them zone-less)."""
    names = [d[0] for d in cur.description]
    return [{k: v.replace(tzinfo=UTC) if isinstance(v, datetime) else v
             for k, v in zip(names, row, strict=True)} for row in cur.fetchall()]


def list_posts(store: Store, f: PostFilter, limit: int = 50, offset: int = 0) -> dict:
    where, params = f.where()
    con = store.reader()
    total = con.execute(f"SELECT count(*) FROM {_from()} WHERE {where}", params).fetchone()[0]
    cur = con.execute(
        f"""SELECT {POST_COLUMNS} FROM {_from()} WHERE {where}
            ORDER BY p.created_at DESC, p.id LIMIT ? OFFSET ?""", [*params, limit, offset])
    items = [_decode_json(row) for row in _rows(cur)]
    return {"total": total, "items": items}


def get_post(store: Store, post_id: str) -> dict | None:
    cur = store.reader().execute(f"SELECT {POST_COLUMNS} FROM {_from()} WHERE p.id = ?",
                                 [post_id])
    rows = _rows(cur)
    return _decode_json(rows[0]) if rows else None


def _decode_json(row: dict) -> dict:
    for key in ("emotions", "evidence"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    row["images"] = row.get("images") or []
    return row


def trends(store: Store, f: PostFilter, bucket: str = "day", by: str = "label") -> list[dict]:
    """Post counts per time bucket, brand and key (label, emotion, sentiment or brand)."""
    where, params = f.where()
    if f.brand is not None:  # a post about both brands counts only for the one asked for
        where, params = f"{where} AND b.brand = ?", [*params, f.brand]
    # 9b: a post about two brands counts for each with its per-brand verdict, if it has one
    key = {"label": "coalesce(bv.label, v.label, 'pending')",
           "sentiment": "coalesce(bv.sentiment, v.sentiment, 'pending')"}.get(by, TREND_KEYS[by])
    cur = store.reader().execute(
        f"""
        SELECT date_trunc('{BUCKETS[bucket]}', p.created_at) AS bucket, b.brand AS brand,
               {key} AS key, count(*) AS count
          FROM {_from()} JOIN post_brands b ON b.post_id = p.id
          LEFT JOIN post_brand_verdicts bv
            ON bv.post_id = p.id AND bv.brand = b.brand AND bv.analyzer = v.analyzer
         WHERE {where}
         GROUP BY ALL ORDER BY bucket, brand, key
        """, params)
    return _rows(cur)


EXPORT_COLUMNS = """
    p.id, p.source, p.url, p.author, p.text, p.lang, p.created_at, p.likes, p.reposts,
    p.replies,
    array_to_string(coalesce((SELECT list(brand ORDER BY brand) FROM post_brands b
                               WHERE b.post_id = p.id), []), ';') AS brands,
    v.label, v.sentiment, v.sarcasm, v.sarcasm_score, v.emotion, v.confidence, v.explanation,
    v.evidence ->> 'ocr_text' AS ocr_text, v.analyzer
"""


def export_reader(store: Store, f: PostFilter, batch_rows: int = 10_000) -> pa.RecordBatchReader:
    """The filtered posts as Arrow batches, newest first, read lazily for streaming."""
    where, params = f.where()
    relation = store.reader().sql(
        f"SELECT {EXPORT_COLUMNS} FROM {_from()} WHERE {where} "
        "ORDER BY p.created_at DESC, p.id", params=params)
    return relation.to_arrow_reader(batch_rows)


def list_alerts(store: Store, status: str = "open", brand: str | None = None,
                limit: int = 50, offset: int = 0) -> dict:
    clauses, params = ["TRUE"], []
    if status == "open":
        clauses.append("a.acknowledged_at IS NULL")
    elif status == "acknowledged":
        clauses.append("a.acknowledged_at IS NOT NULL")
    if brand is not None:
        clauses.append("a.brand = ?")
        params.append(brand)
    where = " AND ".join(clauses)
    con = store.reader()
    total = con.execute(f"SELECT count(*) FROM alerts a WHERE {where}", params).fetchone()[0]
    cur = con.execute(
        f"""SELECT a.id, a.kind, a.post_id, a.brand, a.score, a.message, a.created_at,
                   a.acknowledged_at, a.acknowledged_by, p.text, p.url, p.author, p.lang,
                   p.created_at AS post_created_at, v.label, v.sentiment, v.sarcasm_score,
                   v.confidence, v.explanation, v.evidence ->> 'ocr_text' AS ocr_text,
                   (SELECT list(i.sha256 ORDER BY pi.position) FROM post_images pi
                      JOIN images i USING (sha256)
                     WHERE pi.post_id = a.post_id AND i.status = 'ok') AS images
              FROM alerts a LEFT JOIN posts p ON p.id = a.post_id
              LEFT JOIN ({LATEST_VERDICTS}) v ON v.post_id = a.post_id
             WHERE {where} ORDER BY a.created_at DESC, a.id DESC LIMIT ? OFFSET ?""",
        [*params, limit, offset])
    items = _rows(cur)
    for item in items:
        item["images"] = item["images"] or []
    return {"total": total, "items": items}


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
