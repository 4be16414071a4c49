"""The demo's live trickle continues the demo's current story (issue 13)."""

import json
from datetime import datetime
from pathlib import Path

from collectors.replay import ReplayCollector
from subtext.config import Brand

DEMO = Path(__file__).resolve().parent.parent / "data" / "demo" / "posts.jsonl"
NOW = datetime(2026, 12, 1, 12, 0)


def test_the_trickle_repeats_the_current_week_not_the_launch():
    rows = {r["id"]: r for r in map(json.loads, DEMO.read_text("utf-8").splitlines())}
    replay = ReplayCollector("demo", DEMO, trickle=3, now=lambda: NOW)
    brand = Brand("Voltra", "voltra OR 伏特拉")
    page = replay.collect(brand, None)  # the back-fill: the whole 30 days
    assert max(float(rows[p.raw["replay_of"]]["days_ago"]) for p in page.posts) > 20
    cursor, trickled = page.cursor, []
    for _ in range(40):
        page = replay.collect(brand, cursor)
        cursor = page.cursor
        trickled += page.posts
    ages = [float(rows[p.raw["replay_of"]]["days_ago"]) for p in trickled]
    assert len(trickled) == 120 and max(ages) <= 7  # the scandal week, cycled
    assert len({p.native_id for p in trickled}) == 120  # each one a new post
    assert all(p.created_at <= NOW for p in trickled)
