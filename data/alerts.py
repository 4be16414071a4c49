"""The SQL of alerting: the alert job's input (post facts, window counts), its one-transaction
write (routes, alerts, spike episodes, deliveries, cursor), the workflow, the delivery log, and
the reads behind the alerts API.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from alerts.spikes import Episode, Window
from collectors.post import utcnow
from data import trend_rows
from data.store import Store

# -- the alert job's input --------------------------------------------------------------------


def post_facts(store: Store, ids: list[str]) -> dict[str, dict]:
    """What the rules need of each post beside its verdict: engagement, raw JSON (followers),
    link, author, language, time, and the analyzer of its latest verdict."""
    if not ids:
        return {}
    cur = store.reader().execute(
        """
        WITH wanted AS (SELECT unnest(?::VARCHAR[]) AS id)
        SELECT p.id, p.likes, p.reposts, p.replies, p.raw, p.url, p.author, p.lang,
               p.created_at AS post_created_at, v.analyzer
          FROM posts p JOIN wanted USING (id)
          LEFT JOIN (SELECT post_id, arg_max(analyzer, created_at) AS analyzer FROM verdicts
                      WHERE post_id IN (SELECT id FROM wanted) GROUP BY post_id) v
            ON v.post_id = p.id
        """, [ids])
    names = [d[0] for d in cur.description]
    out = {}
    for row in cur.fetchall():
        facts = dict(zip(names, row, strict=True))
        facts["raw"] = json.loads(facts["raw"]) if facts["raw"] else {}
        out[facts.pop("id")] = facts
    return out


def window_counts(store: Store, brands: list[str], now: datetime, window_minutes: int,
                  windows: int) -> dict[str, list[Window]]:
    """Per brand, `windows` + 1 windows of `window_minutes` ending at `now`: index 0 is the
    current window, 1.. the baseline (newest first). Counts posts by their time, and among
    those analyzed (latest verdict) the negative and the sarcastic ones."""
    span = timedelta(minutes=window_minutes)
    start = now - span * (windows + 1)
    rows = store.reader().execute(
        """
        WITH recent AS (
            SELECT p.id, b.brand, p.created_at FROM posts p
              JOIN post_brands b ON b.post_id = p.id
             WHERE p.created_at >= ? AND p.created_at < ? AND list_contains(?, b.brand)),
        latest AS (  -- each post's latest verdict (arg_max: cheaper than a window)
            SELECT post_id, arg_max(sentiment, created_at) AS sentiment,
                   arg_max(sarcasm, created_at) AS sarcasm FROM verdicts
             WHERE post_id IN (SELECT id FROM recent) GROUP BY post_id)
        SELECT r.brand,
               CAST(floor(date_diff('second', r.created_at, ?::TIMESTAMP) / ?) AS BIGINT) AS w,
               count(*), count(l.post_id),
               count(*) FILTER (WHERE l.sentiment = 'negative'),
               count(*) FILTER (WHERE l.sarcasm)
          FROM recent r LEFT JOIN latest l ON l.post_id = r.id
         GROUP BY ALL
        """, [start, now, brands, now, span.total_seconds()]).fetchall()
    out = {b: [Window() for _ in range(windows + 1)] for b in brands}
    for brand, w, total, analyzed, negative, sarcastic in rows:
        if 0 <= w <= windows:
            out[brand][w] = Window(total, analyzed, negative, sarcastic)
    return out


def window_posts(store: Store, brand: str, since: datetime, until: datetime,
                 limit: int = 500) -> list[dict]:
    """The posts about `brand` in [since, until) with their latest verdict, most engaged
    first: the posts behind a spike."""
    cur = store.reader().execute(
        """
        SELECT p.id AS post_id, p.text, p.url, p.author, p.lang, p.created_at, p.likes,
               p.reposts, p.replies, p.raw, v.label, v.sentiment, v.sarcasm, v.confidence
          FROM posts p JOIN post_brands b ON b.post_id = p.id AND b.brand = ?
          LEFT JOIN (SELECT post_id, arg_max(label, created_at) AS label,
                            arg_max(sentiment, created_at) AS sentiment,
                            arg_max(sarcasm, created_at) AS sarcasm,
                            arg_max(confidence, created_at) AS confidence
                       FROM verdicts WHERE post_id IN (
                         SELECT id FROM posts WHERE created_at >= ? AND created_at < ?)
                      GROUP BY post_id) v
            ON v.post_id = p.id
         WHERE p.created_at >= ? AND p.created_at < ?
         ORDER BY p.likes + p.reposts + p.replies DESC, p.created_at DESC LIMIT ?
        """, [brand, since, until, since, until, limit])
    rows = _rows(cur)
    for row in rows:
        row["raw"] = json.loads(row["raw"]) if row["raw"] else {}
    return rows


def spike_episodes(store: Store) -> dict[tuple[str, str], Episode]:
    """The latest spike alert of each brand × kind."""
    rows = store.reader().execute(
        """SELECT brand, kind, id, ended_at FROM alerts WHERE post_id IS NULL AND brand IS NOT NULL
           QUALIFY row_number() OVER (PARTITION BY brand, kind ORDER BY id DESC) = 1""").fetchall()
    return {(brand, kind): Episode(alert_id, ended) for brand, kind, alert_id, ended in rows}


# -- the alert job's write: one transaction per evaluation ----------------------------------


@dataclass
class Evaluation:
    routes: list[tuple[str, str | None, str, str]]  # post_id, analyzer, route, rule
    new_alerts: list[dict]  # key, kind, post_id, brand, score, severity, message, details
    updates: list[dict]  # id, score, severity, message, details (a running or reopened spike)
    ended: list[int]  # spike alerts whose spike is over
    cursor: tuple[str, str, str] | None = None
    # post_id -> why: open post alerts whose post's latest verdict raises none (a hurried
    # reading during a backlog, read again in full; a re-analysis)
    withdrawn: dict[str, str] = field(default_factory=dict)


ALERT_COLUMNS = ("key", "kind", "post_id", "brand", "score", "severity", "message", "details")


def save_evaluation(store: Store, ev: Evaluation,
                    channels_for: Callable[[dict], list[str]]) -> list[int]:
    """Write one evaluation in one transaction: verdict routes, new alerts (once per key)
    with a pending delivery per channel that wants them, spike updates and ends, and the
    cursor. Returns the ids of the alerts created (or reopened after a withdrawal)."""
    now = utcnow()
    with store._transaction() as cur:
        if ev.routes:
            routes = pa.table({"post_id": [r[0] for r in ev.routes],
                               "analyzer": [r[1] for r in ev.routes],
                               "route": [r[2] for r in ev.routes],
                               "rule": [r[3] for r in ev.routes]})
            cur.register("routes_in", routes)
            cur.execute("""INSERT OR REPLACE INTO verdict_routes
                           SELECT post_id, analyzer, route, rule, ?::TIMESTAMP FROM routes_in""",
                        [now])
            cur.unregister("routes_in")
        created = _insert_alerts(cur, ev.new_alerts, now)
        created += _reopen_withdrawn(cur, ev.new_alerts, {a["key"] for _, a in created}, now)
        deliveries = [(alert_id, channel) for alert_id, alert in created
                      for channel in channels_for(alert)]
        if deliveries:
            cur.register("deliveries_in", pa.table({
                "alert_id": [d[0] for d in deliveries], "channel": [d[1] for d in deliveries]}))
            cur.execute("""INSERT INTO deliveries (alert_id, channel, status, next_attempt_at,
                                                   created_at)
                           SELECT alert_id, channel, 'pending', ?::TIMESTAMP, ?::TIMESTAMP
                             FROM deliveries_in ON CONFLICT DO NOTHING""", [now, now])
            cur.unregister("deliveries_in")
        for update in ev.updates:
            cur.execute("""UPDATE alerts SET score = ?, severity = ?, message = ?, details = ?,
                                  updated_at = ?, ended_at = NULL WHERE id = ?""",
                        [update["score"], update["severity"], update["message"],
                         _json(update["details"]), now, update["id"]])
        for alert_id in ev.ended:
            cur.execute("UPDATE alerts SET ended_at = ?, updated_at = ? WHERE id = ?",
                        [now, now, alert_id])
        _withdraw(cur, ev.withdrawn, now)
        if ev.cursor:
            store._set_cursor(cur, *ev.cursor)
    return [alert_id for alert_id, _ in created]


WITHDRAWN_BY = "subtext"
WITHDRAWN_NOTE = "withdrawn:"  # how a withdrawal's note starts: what marks it for a reopen


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _withdraw(cur, reasons: dict[str, str], now: datetime) -> None:
    """Resolve the open post alerts of these posts, with the reason as note and event, and
    suppress their deliveries not yet sent: nobody is paged about a reading that no longer
    stands. Acknowledged alerts are left alone (a person is on them already), and so are
    reviewed posts' (a person's reading outranks the model's)."""
    if not reasons:
        return
    # open post alerts are few; the posts of an evaluation can be thousands
    open_alerts = cur.execute(
        """SELECT id, post_id FROM alerts WHERE status = 'open' AND post_id IS NOT NULL
              AND post_id NOT IN (SELECT post_id FROM feedback)""").fetchall()
    hits = [(alert_id, reasons[post_id]) for alert_id, post_id in open_alerts
            if post_id in reasons]
    for alert_id, note in hits:
        cur.execute("""UPDATE alerts SET status = 'resolved', status_at = ?, status_by = ?,
                              note = ?, updated_at = ? WHERE id = ?""",
                    [now, WITHDRAWN_BY, note, now, alert_id])
        cur.execute("""INSERT INTO alert_events (alert_id, action, actor, note, event_at)
                       VALUES (?, 'resolved', ?, ?, ?)""", [alert_id, WITHDRAWN_BY, note, now])
    if hits:
        cur.execute("""UPDATE deliveries SET status = 'suppressed', last_error = 'withdrawn'
                        WHERE list_contains(?, alert_id) AND status IN ('pending', 'failed')""",
                    [[alert_id for alert_id, _ in hits]])


def _reopen_withdrawn(cur, drafts: list[dict], inserted: set[str], now: datetime
                      ) -> list[tuple[int, dict]]:
    """Alerts subtext withdrew whose post a later reading raises again: open once more, with
    the new reading's score and message, a 'reopened' event, and the deliveries the withdrawal
    suppressed pending again (a key is one alert for good, so the insert left them alone).
    Alerts a person closed stay closed: their reading outranks the model's."""
    wanted = {d["key"]: d for d in drafts if d["key"] not in inserted and d.get("post_id")}
    if not wanted:
        return []
    rows = cur.execute(
        """SELECT id, key FROM alerts WHERE list_contains(?, key) AND status = 'resolved'
              AND status_by = ? AND starts_with(note, ?)""",
        [list(wanted), WITHDRAWN_BY, WITHDRAWN_NOTE]).fetchall()
    for alert_id, key in rows:
        d = wanted[key]
        cur.execute("""UPDATE alerts SET status = 'open', status_at = NULL, status_by = NULL,
                              note = NULL, score = ?, severity = ?, message = ?,
                              details = ?::JSON, updated_at = ? WHERE id = ?""",
                    [d["score"], d["severity"], d["message"], _json(d["details"]), now,
                     alert_id])
        cur.execute("""INSERT INTO alert_events (alert_id, action, actor, note, event_at)
                       VALUES (?, 'reopened', ?, ?, ?)""",
                    [alert_id, WITHDRAWN_BY, f"raised again: {d['message']}", now])
    if rows:
        cur.execute("""UPDATE deliveries SET status = 'pending', last_error = NULL,
                              next_attempt_at = ? WHERE list_contains(?, alert_id)
                          AND status = 'suppressed' AND last_error = 'withdrawn'""",
                    [now, [alert_id for alert_id, _ in rows]])
    return [(alert_id, wanted[key]) for alert_id, key in rows]


def _insert_alerts(cur, drafts: list[dict], now: datetime) -> list[tuple[int, dict]]:
    unique = list({d["key"]: d for d in drafts}.values())
    if not unique:
        return []
    table = pa.table({name: [_json(d[name]) if name == "details" else d[name] for d in unique]
                      for name in ALERT_COLUMNS},
                     schema=pa.schema([(n, pa.float64() if n == "score" else pa.string())
                                       for n in ALERT_COLUMNS]))
    cur.register("alerts_in", table)
    rows = cur.execute(
        """INSERT INTO alerts (key, kind, post_id, brand, score, severity, message, details,
                               created_at, updated_at, status)
           SELECT key, kind, post_id, brand, score, severity, message, details::JSON,
                  ?::TIMESTAMP, ?::TIMESTAMP, 'open' FROM alerts_in
           ON CONFLICT (key) DO NOTHING RETURNING id, key""", [now, now]).fetchall()
    cur.unregister("alerts_in")
    by_key = {d["key"]: d for d in unique}
    return [(alert_id, by_key[key]) for alert_id, key in rows]


# -- workflow ---------------------------------------------------------------------------------

ACTIONS = {"ack": "acknowledged", "resolve": "resolved", "false-alarm": "false_alarm"}
FINAL = {"resolved", "false_alarm"}


class Conflict(ValueError):
    """A workflow step that the alert's status does not allow."""


def set_status(store: Store, alert_id: int, action: str, by: str | None,
               note: str | None) -> dict | None:
    """Move an alert along open → acknowledged → resolved, or to false alarm; None when
    there is no such alert. Acknowledging twice keeps the first acknowledgement. A false
    alarm on a disguised-criticism alert is stored as feedback on its post: a sincere
    post (label positive, not sarcastic), for the review loop."""
    status = ACTIONS[action]
    now = utcnow()
    with store._transaction() as cur:
        row = cur.execute("SELECT status, kind, post_id FROM alerts WHERE id = ?",
                          [alert_id]).fetchone()
        if row is None:
            return None
        current, kind, post_id = row
        if current in FINAL or (status == "acknowledged" and current == "acknowledged"):
            if current == status or status == "acknowledged" and current != "open":
                return {"id": alert_id, "status": current, "changed": False}
            raise Conflict(f"alert {alert_id} is {current.replace('_', ' ')} already")
        cur.execute(
            """UPDATE alerts SET status = ?, status_at = ?, status_by = ?,
                      note = coalesce(?, note),
                      acknowledged_at = coalesce(acknowledged_at, ?),
                      acknowledged_by = CASE WHEN acknowledged_at IS NULL THEN ?
                                             ELSE acknowledged_by END
                WHERE id = ?""", [status, now, by, note, now, by, alert_id])
        cur.execute("""INSERT INTO alert_events (alert_id, action, actor, note, event_at)
                       VALUES (?, ?, ?, ?, ?)""", [alert_id, status, by, note, now])
        feedback_id = None
        if status == "false_alarm" and kind == "sarcasm" and post_id is not None:
            feedback_id = cur.execute(
                """INSERT INTO feedback (post_id, label, sarcasm, note, reviewer, created_at)
                   VALUES (?, 'positive', false, ?, ?, ?) RETURNING id""",
                [post_id, f"false alarm on alert {alert_id}" + (f": {note}" if note else ""),
                 by, now]).fetchone()[0]
            trend_rows.refresh(cur, [post_id])
    return {"id": alert_id, "status": status, "changed": True, "feedback_id": feedback_id}


# -- delivery ---------------------------------------------------------------------------------

DUE = ("pending", "failed")


def due_deliveries(store: Store, now: datetime) -> list[dict]:
    """Deliveries waiting to be tried (pending, or failed and past their back-off), with their
    alert, oldest first."""
    cur = store.reader().execute(
        f"""SELECT d.id AS delivery_id, d.channel, d.attempts, d.created_at AS queued_at,
                   {ALERT_SELECT}
              FROM deliveries d JOIN alerts a ON a.id = d.alert_id
              LEFT JOIN posts p ON p.id = a.post_id
             WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at <= ?
             ORDER BY d.id""", [now])
    return [_decode(row) for row in _rows(cur)]


def record_delivery(store: Store, delivery_ids: list[int], status: str, error: str | None,
                    next_attempt_at: datetime | None = None) -> None:
    now = utcnow()
    with store._transaction() as cur:
        cur.execute(
            """UPDATE deliveries SET status = ?, attempts = attempts + ?, last_error = ?,
                      next_attempt_at = coalesce(?, next_attempt_at),
                      sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END
                WHERE list_contains(?, id)""",
            [status, 0 if status == "suppressed" else 1, error, next_attempt_at, status, now,
             delivery_ids])


def last_sent(store: Store, channel: str, brand: str | None = None,
              kind: str | None = None) -> datetime | None:
    """When `channel` last sent something (about brand × kind, when given)."""
    clauses, params = ["d.channel = ?", "d.status = 'sent'"], [channel]
    if kind is not None:
        clauses.append("a.kind = ? AND a.brand IS NOT DISTINCT FROM ?")
        params += [kind, brand]
    return store.reader().execute(
        f"""SELECT max(d.sent_at) FROM deliveries d JOIN alerts a ON a.id = d.alert_id
             WHERE {' AND '.join(clauses)}""", params).fetchone()[0]


def give_up_unknown(store: Store, channels: Iterable[str]) -> int:
    """Deliveries to channels no longer configured are given up, with that reason."""
    names = list(channels)
    with store._transaction() as cur:
        return cur.execute(
            """UPDATE deliveries SET status = 'gave_up',
                      last_error = 'channel no longer configured'
                WHERE status IN ('pending', 'failed') AND NOT list_contains(?, channel)
                RETURNING id""", [names]).fetchall().__len__()


# -- reads behind the API -----------------------------------------------------------------------

ALERT_SELECT = """
    a.id, a.key, a.kind, a.post_id, a.brand, a.score, a.severity, a.message, a.details,
    a.created_at, a.updated_at, a.ended_at, a.status, a.status_at, a.status_by, a.note,
    a.acknowledged_at, a.acknowledged_by,
    p.text, p.url, p.author, p.lang, p.created_at AS post_created_at
"""

STATUS_FILTERS = {"open": "a.status = 'open'", "acknowledged": "a.status = 'acknowledged'",
                  "resolved": "a.status = 'resolved'", "false_alarm": "a.status = 'false_alarm'",
                  "active": "a.status IN ('open', 'acknowledged')", "all": "TRUE"}


def list_alerts(store: Store, status: str = "open", brand: str | None = None,
                kind: str | None = None, severity: str | None = None, limit: int = 50,
                offset: int = 0) -> dict:
    """Alerts newest first, each with its post and latest verdict (and route), its
    deliveries and images."""
    clauses, params = [STATUS_FILTERS[status]], []
    for column, value in (("a.brand", brand), ("a.kind", kind), ("a.severity", severity)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    where = " AND ".join(clauses)
    con = store.reader()
    total = con.execute(f"SELECT count(*) FROM alerts a WHERE {where}", params).fetchone()[0]
    cur = con.execute(
        f"""SELECT {ALERT_SELECT}, v.label, v.sentiment, v.sarcasm_score, v.confidence,
                   v.explanation, v.evidence ->> 'ocr_text' AS ocr_text,
                   r.route, r.rule AS route_rule,
                   (SELECT list(i.sha256 ORDER BY pi.position) FROM post_images pi
                      JOIN images i USING (sha256)
                     WHERE pi.post_id = a.post_id AND i.status = 'ok') AS images,
                   (SELECT list({{'channel': d.channel, 'status': d.status,
                                 'attempts': d.attempts, 'error': d.last_error,
                                 'sent_at': d.sent_at}} ORDER BY d.id)
                      FROM deliveries d WHERE d.alert_id = a.id) AS deliveries
              FROM (SELECT * FROM alerts a WHERE {where}
                     ORDER BY a.created_at DESC, a.id DESC LIMIT ? OFFSET ?) a
              LEFT JOIN posts p ON p.id = a.post_id
              LEFT JOIN verdict_routes r ON r.post_id = a.post_id
              LEFT JOIN (SELECT * FROM verdicts WHERE post_id IN (
                            SELECT post_id FROM alerts a WHERE {where})
                         QUALIFY row_number() OVER (PARTITION BY post_id
                                                    ORDER BY created_at DESC, analyzer) = 1) v
                ON v.post_id = a.post_id
             ORDER BY a.created_at DESC, a.id DESC""", [*params, limit, offset, *params])
    return {"total": total, "items": [_decode(row) for row in _rows(cur)]}


def get_alert(store: Store, alert_id: int) -> dict | None:
    cur = store.reader().execute(
        f"""SELECT {ALERT_SELECT} FROM alerts a LEFT JOIN posts p ON p.id = a.post_id
             WHERE a.id = ?""", [alert_id])
    rows = _rows(cur)
    if not rows:
        return None
    alert = _decode(rows[0])
    alert["events"] = _rows(store.reader().execute(
        """SELECT action, actor AS by, note, event_at AS at FROM alert_events
            WHERE alert_id = ? ORDER BY id""", [alert_id]))
    alert["deliveries"] = _rows(store.reader().execute(
        """SELECT channel, status, attempts, last_error AS error, created_at, sent_at,
                  next_attempt_at FROM deliveries WHERE alert_id = ? ORDER BY id""",
        [alert_id]))
    return alert


def route_of(store: Store, post_id: str) -> dict | None:
    rows = _rows(store.reader().execute(
        "SELECT post_id, analyzer, route, rule, routed_at FROM verdict_routes WHERE post_id = ?",
        [post_id]))
    return rows[0] if rows else None


def route_counts(store: Store) -> list[dict]:
    return _rows(store.reader().execute(
        """SELECT route, rule, count(*) AS count FROM verdict_routes
            GROUP BY ALL ORDER BY route, count DESC, rule"""))


def _decode(row: dict) -> dict:
    if isinstance(row.get("details"), str):
        row["details"] = json.loads(row["details"])
    if "images" in row:
        row["images"] = row["images"] or []
    if "deliveries" in row:
        row["deliveries"] = [{k: v.replace(tzinfo=UTC) if isinstance(v, datetime) else v
                              for k, v in d.items()} for d in row["deliveries"] or []]
    return row


def _rows(cur) -> list[dict]:
    names = [d[0] for d in cur.description]
    return [{k: v.replace(tzinfo=UTC) if isinstance(v, datetime) else v
             for k, v in zip(names, row, strict=True)} for row in cur.fetchall()]
