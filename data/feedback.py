"""Reviewers' corrections: recording them (one row per field), listing them, and the review
queue of posts the model is least sure of. How a correction changes what every view shows is
data/corrections.py.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import pyarrow as pa

from collectors.post import utcnow
from data import queries, trend_rows
from data.corrections import (  # noqa: F401
    EFFECTIVE_BRANDS,
    FALSE_ALARM,
    FALSE_ALARMS,
    LATEST_MODEL_VERDICTS,
    LOW_CONFIDENCE,
    QUEUE_REASON,
    REVIEWS,
)
from data.store import DISAGREE, Store  # noqa: F401 (DISAGREE: the queue's threshold)

FIELDS = ("label", "sarcasm", "emotion", "brand", "irrelevant")


class BadCorrection(ValueError):
    """A correction that does not fit its post (a brand the post does not name)."""


@dataclass(frozen=True)
class Correction:
    """What a reviewer set; None = not touched."""

    label: str | None = None
    sarcasm: bool | None = None
    emotion: str | None = None
    brand: str | None = None  # the one brand (of those the post names) it is about
    irrelevant: bool | None = None  # not about any brand: spam, another "Nimbus"

    def fields(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Recorded:
    ids: list[int]
    closed_alerts: int


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ";".join(value)
    return str(value)


def _current(cur, post_id: str) -> dict | None:
    """The post's effective verdict and brands now (what a correction's old values are)."""
    cur.execute(f"""
        SELECT v.label, v.sarcasm, v.emotion, coalesce(v.irrelevant, false) AS irrelevant,
               coalesce((SELECT list(brand ORDER BY brand) FROM ({EFFECTIVE_BRANDS}) b
                          WHERE b.post_id = p.id), []) AS brand,
               (SELECT list(brand ORDER BY brand) FROM post_brands b
                 WHERE b.post_id = p.id) AS named
          FROM posts p LEFT JOIN ({queries.LATEST_VERDICTS}) v ON v.post_id = p.id
         WHERE p.id = ?""", [post_id])
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def record(store: Store, post_id: str, correction: Correction, reviewer: str | None,
           note: str | None = None, field_name: str | None = None) -> Recorded | None:
    """Store one row per field set, with the value it replaces; close the post's alerts the
    correction contradicts. None when the post does not exist."""
    fields = correction.fields()
    if not fields:
        raise BadCorrection("a correction sets at least one of " + ", ".join(FIELDS))
    now = utcnow()
    with store._transaction() as cur:  # the store's write lock and transaction
        current = _current(cur, post_id)
        if current is None:
            return None
        named = current["named"] or []
        if correction.brand is not None and correction.brand not in named:
            raise BadCorrection(f"post {post_id!r} names {named or 'no brand'}, "
                                f"not {correction.brand!r}")
        ids = []
        for name, value in fields.items():
            ids.append(cur.execute(
                f"""INSERT INTO feedback (post_id, {name}, field, old_value, new_value, note,
                                          reviewer, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                [post_id, value, field_name or name, _text(current[name]), _text(value), note,
                 reviewer, now]).fetchone()[0])
        trend_rows.refresh(cur, [post_id])
        closed = _close_alerts(cur, post_id, correction, reviewer, now)
    return Recorded(ids=ids, closed_alerts=closed)


def record_false_alarm(store: Store, post_id: str, reviewer: str | None,
                       note: str | None = None) -> Recorded | None:
    """An alert dismissed as a false alarm: the post is not sarcastic (its disguised-criticism
    alerts close), and it goes to the review queue for its real reading."""
    return record(store, post_id, Correction(sarcasm=False), reviewer, note,
                  field_name=FALSE_ALARM)


def _close_alerts(cur, post_id: str, correction: Correction, reviewer: str | None,
                  now: datetime) -> int:
    """Alerts the correction contradicts become false alarms in its name: all of an irrelevant
    post's, the sarcasm alerts of a post no longer sarcastic, those of brands it is not about."""
    clauses = []
    if correction.irrelevant:
        clauses.append("TRUE")
    not_sarcastic = correction.sarcasm is False or (
        correction.label is not None and correction.label != "sarcastic"
        and correction.sarcasm is not True)
    if not_sarcastic:
        clauses.append("kind = 'sarcasm'")
    params: dict = {}
    if correction.brand is not None:
        clauses.append("brand IS DISTINCT FROM $brand")
        params["brand"] = correction.brand
    if not clauses:
        return 0
    rows = cur.execute(
        f"""UPDATE alerts SET status = 'false_alarm', status_at = $now, status_by = $by,
                              acknowledged_at = coalesce(acknowledged_at, $now),
                              acknowledged_by = coalesce(acknowledged_by, $by)
             WHERE post_id = $post AND status IN ('open', 'acknowledged')
               AND ({' OR '.join(clauses)})
            RETURNING id""",
        {"now": now, "by": f"review: {reviewer or 'anonymous'}", "post": post_id,
         **params}).fetchall()
    return len(rows)


# -- listing ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class FeedbackFilter:
    post_id: str | None = None
    reviewer: str | None = None
    field: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> tuple[str, list]:
        clauses, params = ["TRUE"], []
        for sql, value in (("f.post_id = ?", self.post_id), ("f.reviewer = ?", self.reviewer),
                           ("coalesce(f.field, 'label') = ?", self.field),
                           ("f.created_at >= ?", self.since), ("f.created_at < ?", self.until)):
            if value is not None:
                clauses.append(sql)
                params.append(value)
        return " AND ".join(clauses), params


# Rows written before the review loop (label + sarcasm, no field) read as label corrections.
LIST_COLUMNS = """
    f.id, f.post_id, coalesce(f.field, 'label') AS field, f.old_value,
    coalesce(f.new_value, f.label) AS new_value, f.reviewer, f.note, f.created_at,
    p.lang, p.text
"""


def list_feedback(store: Store, f: FeedbackFilter, limit: int = 100, offset: int = 0) -> dict:
    where, params = f.where()
    con = store.reader()
    total = con.execute(f"SELECT count(*) FROM feedback f WHERE {where}", params).fetchone()[0]
    cur = con.execute(
        f"""SELECT {LIST_COLUMNS} FROM feedback f LEFT JOIN posts p ON p.id = f.post_id
             WHERE {where} ORDER BY f.id DESC LIMIT ? OFFSET ?""", [*params, limit, offset])
    return {"total": total, "items": queries._rows(cur)}


def feedback_table(store: Store, f: FeedbackFilter) -> pa.Table:
    """Every matching correction, oldest first, for export (feedback is small: reviewers
    write it by hand)."""
    where, params = f.where()
    return store.reader().sql(
        f"""SELECT {LIST_COLUMNS} FROM feedback f LEFT JOIN posts p ON p.id = f.post_id
             WHERE {where} ORDER BY f.id""", params=params).to_arrow_table()


# -- the review queue -------------------------------------------------------------------------

# False alarms first, then the least sure (ids break ties, so pages never overlap).
QUEUE_ORDER = "reason <> 'false alarm', model_confidence, id"


def _queue_source(verdicts: str) -> str:
    """Posts with these effective verdicts, their dismissed alerts, disagreements, reviews."""
    return f"""posts p JOIN ({verdicts}) v ON v.post_id = p.id
        LEFT JOIN ({FALSE_ALARMS}) fa ON fa.post_id = p.id
        LEFT JOIN verdict_disagreements vd
               ON vd.post_id = v.post_id AND vd.analyzer = v.analyzer
        {queries.REVIEWS_OF}"""


def queued(f: queries.PostFilter) -> tuple[str, list]:
    """The filter's queued posts (id, reason, model_confidence) and the query's parameters.
    From the trend rows, which keep each post's reason as the writes change it: ranking the
    joined verdicts took 150-210 ms at 1M posts, ranking the rows ~45. A text search (the
    rows hold no text) ranks the posts joined with their verdicts."""
    if f.q:
        where, params = f.where()
        return f"""SELECT * FROM (SELECT p.id, {QUEUE_REASON} AS reason, v.model_confidence
                                    FROM {_queue_source(queries.LATEST_VERDICTS)}
                                   WHERE {where})
                    WHERE reason IS NOT NULL""", params
    return queries.rows_of_posts(f, "post_id AS id, queue AS reason, model_confidence",
                                 also="queue IS NOT NULL")


def review_queue(store: Store, f: queries.PostFilter, limit: int = 20, offset: int = 0) -> dict:
    """Posts to review, false alarms first, then the least sure verdicts; each with its
    `reason`. Filters as for listings (brand, lang, label...).

    One pass ranks the queue (count and page together, from `queued`); the page's posts
    alone then get their full columns (images, brands), not every queued post."""
    source, params = queued(f)
    con = store.reader()
    total, ids = con.execute(
        f"""WITH queued AS MATERIALIZED ({source})
            SELECT (SELECT count(*) FROM queued),
                   (SELECT coalesce(list(id ORDER BY {QUEUE_ORDER}), []) FROM (
                        SELECT * FROM queued ORDER BY {QUEUE_ORDER} LIMIT ? OFFSET ?))""",
        [*params, limit, offset]).fetchone()
    if not ids:
        return {"total": total, "items": []}
    page = _queue_source(f"""SELECT * FROM ({queries.LATEST_VERDICTS})
                              WHERE post_id IN (SELECT unnest($ids))""")
    cur = con.execute(
        f"""SELECT {queries.POST_COLUMNS}, {QUEUE_REASON} AS reason,
                   v.model_confidence AS model_confidence,
                   v.model_sarcasm_score AS model_sarcasm_score,
                   (SELECT list(brand ORDER BY brand) FROM post_brands b
                     WHERE b.post_id = p.id) AS named_brands
              FROM {page} WHERE p.id IN (SELECT unnest($ids))
             ORDER BY {QUEUE_ORDER}""", {"ids": ids})
    items = [queries._decode_json(row) for row in queries._rows(cur)]
    for item in items:
        item["named_brands"] = item["named_brands"] or []
    return {"total": total, "items": items}


# -- learning: reviewed examples, and re-stamping verdicts when the learned layer changes ------

def reviewed_examples(store: Store) -> list[dict]:
    """Posts a reviewer labelled (label or sarcasm; not irrelevant): the reviewed label as
    `gold`, beside the model's verdict fields."""
    cur = store.reader().execute(f"""
        SELECT v.post_id AS id, v.label AS gold, v.model_label AS label,
               v.model_sarcasm_score AS sarcasm_score, v.model_confidence AS confidence,
               v.emotions, v.evidence, p.lang
          FROM posts p JOIN ({queries.LATEST_VERDICTS}) v ON v.post_id = p.id
         WHERE v.human AND NOT v.irrelevant ORDER BY v.post_id""")
    return [queries._decode_json(row) for row in queries._rows(cur)]


def verdicts_of(store: Store, base: str) -> list[dict]:
    """Each post's latest verdict from analyzer `base` or a learned layer over it, for posts
    whose content it still describes."""
    cur = store.reader().execute(f"""
        SELECT v.* FROM ({LATEST_MODEL_VERDICTS}) v JOIN posts p ON p.id = v.post_id
         WHERE (v.analyzer = ? OR starts_with(v.analyzer, ? || '+learned.'))
           AND v.content_hash = p.content_hash""", [base, base])
    return [queries._decode_json(row) for row in queries._rows(cur)]


# -- memes that come back: reviewed readings of near-duplicate images --------------------------

def _bits(column: str) -> str:
    return f"('0x' || {column})::UBIGINT"


def template_readings(store: Store, post_ids: list[str], max_distance: int) -> dict:
    """For each of these posts, what reviewers said about other posts carrying a near-duplicate
    image (perceptual hashes at most `max_distance` bits apart): {post_id: {label: posts}}."""
    if not post_ids:
        return {}
    rows = store.reader().execute(f"""
        WITH mine AS (
            SELECT pi.post_id, i.phash FROM post_images pi JOIN images i USING (sha256)
             WHERE list_contains(?, pi.post_id) AND i.phash IS NOT NULL AND i.status = 'ok'),
        readings AS (
            SELECT r.post_id, i.phash,
                   coalesce(r.r_label, CASE WHEN r.r_sarcasm THEN 'sarcastic' END) AS label
              FROM ({REVIEWS}) r JOIN post_images pi ON pi.post_id = r.post_id
              JOIN images i USING (sha256)
             WHERE i.phash IS NOT NULL AND NOT coalesce(r.r_irrelevant, false))
        SELECT m.post_id, g.label, count(DISTINCT g.post_id)
          FROM mine m JOIN readings g ON g.post_id <> m.post_id AND g.label IS NOT NULL
           AND bit_count(xor({_bits('m.phash')}, {_bits('g.phash')})) <= ?
         GROUP BY ALL""", [post_ids, max_distance]).fetchall()
    out: dict[str, dict[str, int]] = {}
    for post_id, label, count in rows:
        out.setdefault(post_id, {})[label] = count
    return out
