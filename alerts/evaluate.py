"""One evaluation of the alert rules: route every verdict written since the last one, check each
brand's windows for spikes, and write it all (routes, alerts, spike episodes, the deliveries
they need, the cursor) in one transaction, so a crash leaves either all of it or none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta

from alerts import rules as post_rules
from alerts import spikes
from alerts.settings import AlertSettings, RuleSet
from alerts.summary import sentiment_mix, top_terms
from collectors.post import utcnow
from data import alerts as db
from data.store import Store

CURSOR = ("alerts", "*")
TOP_POSTS = 5


def run(store: Store, settings: AlertSettings, brands: list,
        channels_for: Callable[[dict], list[str]], now: datetime | None = None
        ) -> tuple[int, int]:
    """`brands`: names, or brand queries (their words are left out of an alert's terms).
    Returns (verdicts routed, alerts created)."""
    now = now or utcnow()
    aliases = {getattr(b, "name", b): _words(getattr(b, "query", "")) for b in brands}
    brands = list(aliases)
    mark = store.get_cursor(*CURSOR)
    rows = store.verdicts_since(datetime.fromisoformat(mark) if mark else None)
    facts = db.post_facts(store, [r["post_id"] for r in rows])
    ev = db.Evaluation(routes=[], new_alerts=[], updates=[], ended=[])
    for row in rows:
        row = {**facts.get(row["post_id"], {}), **row}
        decision = post_rules.route(row, settings)
        ev.routes.append((row["post_id"], row.get("analyzer"), decision.route, decision.rule))
        if decision.alert is not None:
            ev.new_alerts.append(asdict(decision.alert))
            ev.withdrawn.pop(row["post_id"], None)
        else:  # rows come oldest first: the post's latest reading decides
            ev.withdrawn[row["post_id"]] = withdrawal_note(row, decision)
    ev.new_alerts = [a for a in ev.new_alerts if a["post_id"] not in ev.withdrawn]
    _spikes(store, settings, aliases, now, ev)
    if rows:
        ev.cursor = (*CURSOR, rows[-1]["created_at"].isoformat())
    if ev.routes or ev.new_alerts or ev.updates or ev.ended:
        created = db.save_evaluation(store, ev, channels_for)
        return len(rows), len(created)
    return 0, 0


def withdrawal_note(row: dict, decision: post_rules.Decision) -> str:
    """Why an open alert on this post was withdrawn, for the PR inbox."""
    return (f"{db.WITHDRAWN_NOTE} the post was read again and is now {row['label']} "
            f"({row['sentiment']}, confidence {row['confidence']:.2f}; route "
            f"{decision.route}: {decision.rule.replace('_', ' ')})")


def _words(query: str) -> list[str]:
    return [w for w in re.findall(r"[\w-]+", query) if w not in {"OR", "AND", "NOT"}]


def _spikes(store: Store, settings: AlertSettings, aliases: dict[str, list[str]],
            now: datetime, ev: db.Evaluation) -> None:
    brands = list(aliases)
    episodes = db.spike_episodes(store)
    groups: dict[tuple[int, int], list[str]] = {}
    for brand in brands:
        rules = settings.rules_for(brand)
        groups.setdefault((rules.window_minutes, rules.baseline_windows), []).append(brand)
    for (minutes, windows), names in groups.items():
        counts = db.window_counts(store, names, now, minutes, windows)
        for brand in names:
            rules = settings.rules_for(brand)
            series = counts[brand]
            checks = spikes.check_all(series[0], series[:0:-1], rules)
            mine = {kind: ep for (b, kind), ep in episodes.items() if b == brand}
            for step in spikes.plan(brand, checks, mine, now, rules):
                _apply(store, step, checks, rules, now, ev, aliases[brand])


def _apply(store: Store, step: spikes.Step, checks: list[spikes.Check], rules: RuleSet,
           now: datetime, ev: db.Evaluation, aliases: list[str]) -> None:
    if step.action == "end":
        ev.ended.append(step.alert_id)
        return
    details = spike_details(store, step.brand, step.check, checks, rules, now, aliases)
    alert = {"score": round(step.check.now / step.check.threshold, 3)
             if step.check.threshold else 1.0,
             "severity": spikes.severity(step.check),
             "message": spikes.message(step.brand, step.check, rules.window_minutes),
             "details": details}
    if step.action == "create":
        start = details["window"]["start"]
        ev.new_alerts.append({**alert, "key": f"{step.kind}:{step.brand}:{start}",
                              "kind": step.kind, "brand": step.brand, "post_id": None})
    else:  # update a running spike, or reopen one that ended within the cooldown
        ev.updates.append({**alert, "id": step.alert_id})


def spike_details(store: Store, brand: str, check: spikes.Check, checks: list[spikes.Check],
                  rules: RuleSet, now: datetime, aliases: list[str] = ()) -> dict:
    """What a PR person needs to act on a spike: the window and its baseline, the figures of
    every check, the posts that drove it (by reach), their terms and hashtags, the window's
    sentiment mix and links."""
    span = timedelta(minutes=rules.window_minutes)
    start = now - span
    posts = db.window_posts(store, brand, start, now)
    driving = [p for p in posts if _drives(check.kind, p)]
    driving.sort(key=post_rules.reach, reverse=True)
    top = [{"post_id": p["post_id"], "text": post_rules.snippet(p["text"], 200),
            "url": p["url"], "author": p["author"], "lang": p["lang"],
            "created_at": p["created_at"].isoformat(), "reach": round(post_rules.reach(p), 1),
            "label": p["label"], "sentiment": p["sentiment"]} for p in driving[:TOP_POSTS]]
    return {
        "window": {"start": _iso(start), "end": _iso(now), "minutes": rules.window_minutes},
        "baseline": {"start": _iso(start - span * rules.baseline_windows),
                     "windows": rules.baseline_windows, "sensitivity": rules.sensitivity,
                     "k": rules.k},
        "figures": check.figures(),
        "checks": {c.kind: {**c.figures(), "fired": c.fired} for c in checks},
        "top_posts": top,
        "terms": top_terms([p["text"] for p in driving], exclude=[brand, *aliases]),
        "sentiment_mix": sentiment_mix(p["sentiment"] for p in posts),
        "links": [p["url"] for p in top if p["url"]],
        "brands": [brand],
    }


def _drives(kind: str, post: dict) -> bool:
    if kind == "negative_spike":
        return post["sentiment"] == "negative"
    if kind == "sarcasm_spike":
        return bool(post["sarcasm"])
    return True


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat() + "Z"
