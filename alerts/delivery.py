"""Delivery of alerts to channels, from the `deliveries` table.

The alert job writes a pending delivery per alert × channel in the transaction that creates
the alert, so a restart finds whatever was not sent yet, and a sent one is marked so before
the next run looks. (A crash in the instant between a receiver's answer and that mark repeats
one message: the X-Subtext-Delivery id lets a receiver drop it.)

Each channel runs in its own thread with its own timeouts: a failing or hanging channel never
holds up another. A failed attempt is retried after retry_seconds, doubled each time, until
max_attempts, then given up; every outcome and its reason is in `deliveries`. Per channel a
cooldown holds (suppresses) a second alert about the same brand × kind, and a digest sends
one message per digest_minutes with everything that came in meanwhile.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from alerts.channels import Channel, SendError
from alerts.settings import SEVERITIES, ChannelSettings
from collectors.post import utcnow
from data import alerts as db
from data.store import Store

log = logging.getLogger("subtext.alerts")


def wants(channel: ChannelSettings, alert: dict) -> bool:
    """Whether `channel` gets `alert`: its brands, its kinds, its minimum severity."""
    brands = (alert.get("details") or {}).get("brands") or [alert.get("brand")]
    if channel.brands and not set(channel.brands) & set(brands):
        return False
    if channel.kinds and alert["kind"] not in channel.kinds:
        return False
    return (SEVERITIES.index(alert.get("severity") or "medium")
            >= SEVERITIES.index(channel.min_severity))


def router(channels: dict[str, Channel]):
    """channels_for(alert) for the alert job: the names of the channels that want it."""
    return lambda alert: [name for name, c in channels.items() if wants(c.settings, alert)]


def deliver_due(store: Store, channels: dict[str, Channel],
                now: datetime | None = None) -> dict[str, int]:
    """Try every due delivery once; returns {status: count} of what was decided."""
    now = now or utcnow()
    db.give_up_unknown(store, channels)
    by_channel: dict[str, list[dict]] = {}
    for row in db.due_deliveries(store, now):
        by_channel.setdefault(row["channel"], []).append(row)
    if not by_channel:
        return {}
    tally: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=len(by_channel),
                            thread_name_prefix="deliver") as pool:
        futures = [pool.submit(_run_channel, store, channels[name], rows, now)
                   for name, rows in by_channel.items()]
        for future in futures:
            for status, count in future.result().items():
                tally[status] = tally.get(status, 0) + count
    return tally


def _run_channel(store: Store, channel: Channel, rows: list[dict],
                 now: datetime) -> dict[str, int]:
    tally: dict[str, int] = {}
    try:
        for status, ids in _channel_batches(store, channel, rows, now):
            tally[status] = tally.get(status, 0) + ids
    except Exception:  # a bug here must not stop the other channels
        log.exception("delivery to %s failed", channel.name)
    return tally


def _channel_batches(store: Store, channel: Channel, rows: list[dict], now: datetime):
    s = channel.settings
    if s.digest_minutes:
        last = db.last_sent(store, s.name)
        if last is not None and now - last < timedelta(minutes=s.digest_minutes):
            return  # the next digest is not due: they wait
        yield _attempt(store, channel, rows, now)
        return
    for row in rows:
        if s.cooldown_minutes:
            last = db.last_sent(store, s.name, row["brand"], row["kind"])
            if last is not None and now - last < timedelta(minutes=s.cooldown_minutes):
                db.record_delivery(store, [row["delivery_id"]], "suppressed",
                                   f"cooldown: a {row['kind']} alert about {row['brand']} "
                                   f"went out at {last.isoformat(timespec='seconds')}")
                yield "suppressed", 1
                continue
        yield _attempt(store, channel, [row], now)


def _attempt(store: Store, channel: Channel, rows: list[dict], now: datetime) -> tuple[str, int]:
    """Send `rows` as one message and record the outcome on each."""
    ids = [r["delivery_id"] for r in rows]
    try:
        channel.send(rows, ids)
    except SendError as exc:
        attempts = max(r["attempts"] for r in rows) + 1
        s = channel.settings
        if attempts >= s.max_attempts:
            db.record_delivery(store, ids, "gave_up", f"after {attempts} attempts: {exc}")
            log.warning("gave up delivering %s to %s: %s", ids, channel.name, exc)
            return "gave_up", len(ids)
        wait = timedelta(seconds=s.retry_seconds * 2 ** (attempts - 1))
        db.record_delivery(store, ids, "failed", str(exc), next_attempt_at=now + wait)
        log.info("delivery %s to %s failed (%s); retrying in %s", ids, channel.name, exc, wait)
        return "failed", len(ids)
    db.record_delivery(store, ids, "sent", None)
    return "sent", len(ids)


TEST_ALERT = {"id": 0, "kind": "test", "brand": None, "severity": "low", "score": None,
              "status": "open", "post_id": None,
              "message": "Subtext test alert: this channel is set up and reachable.",
              "details": {}}


def send_test(channels: dict[str, Channel]) -> dict[str, str | None]:
    """Send the test alert to each channel at once (in parallel); {name: None or reason}."""
    def one(channel: Channel) -> str | None:
        try:
            channel.send([{**TEST_ALERT, "created_at": utcnow()}], [], test=True)
        except SendError as exc:
            return str(exc)
        return None

    if not channels:
        return {}
    with ThreadPoolExecutor(max_workers=len(channels)) as pool:
        results = dict(zip(channels, pool.map(one, channels.values()), strict=True))
    return results
