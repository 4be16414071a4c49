"""The demo's replay source: back-fills the bundled posts over the last N days, then trickles a
few of them again, as new posts, on every run, so the trend charts move. The trickle repeats
the posts of the story's current chapter (the last `story_days`), so the 24 h view continues
the 30-day one instead of replaying the happy launch with today's date.

Cursor (JSON): {"anchor": first run time, "sent": posts trickled so far}.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from collectors.base import BrandQuery, Page
from collectors.post import Post, utcnow
from collectors.query import matches


class ReplayCollector:
    local_images = True  # the bundled images sit beside the replay file
    def __init__(self, name: str, file: str | Path, backfill_days: float = 30, trickle: int = 3,
                 now=utcnow, story_days: float = 7):
        self.file = Path(file)  # relative to the working directory, the project root
        self.name, self.backfill_days, self.trickle, self._now = name, backfill_days, trickle, now
        self.story_days = story_days
        self._rows = [json.loads(line) for line in self.file.read_text("utf-8").splitlines()
                      if line.strip()]

    def collect(self, brand: BrandQuery, cursor: str | None) -> Page:
        rows = [r for r in self._rows if matches(brand.query, r["text"])]
        now = self._now()
        if cursor is None:  # first run: the whole history, placed relative to now
            posts = [self._post(r, r["id"], now - timedelta(days=self._days_ago(r))) for r in rows]
            state = {"anchor": now.isoformat(), "sent": 0}
        else:
            state = json.loads(cursor)
            sent = state["sent"]
            rows = [r for r in rows if self._days_ago(r) <= self.story_days] or rows
            chosen = [rows[(sent + i) % len(rows)] for i in range(self.trickle)] if rows else []
            posts = [self._post(r, f"{r['id']}-r{sent + i}", now - timedelta(seconds=5 * i))
                     for i, r in enumerate(chosen)]
            state["sent"] = sent + len(chosen)
        for post in posts:
            post.brands = [brand.name]
        return Page(posts=posts, cursor=json.dumps(state), fetched=len(posts))

    def _days_ago(self, row: dict) -> float:
        return min(float(row["days_ago"]), self.backfill_days)

    def _post(self, row: dict, native_id: str, created: datetime) -> Post:
        image = row.get("image")
        return Post(source=self.name, native_id=native_id, text=row["text"], created_at=created,
                    author=row.get("author"), lang=row.get("lang"),
                    likes=row.get("likes", 0), reposts=row.get("reposts", 0),
                    replies=row.get("replies", 0),
                    images=[str(self.file.parent / image)] if image else [],
                    raw={"replay_of": row["id"]})
