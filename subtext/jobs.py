"""The engine's units of work, each usable from the scheduler, the CLI and the tests:
ingest posts, collect one source × brand, analyze what is pending, evaluate alert rules.

Every scheduled job records itself in collector_runs; a failure is logged and recorded with its
reason, and never propagates into the scheduler.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from alerts.routing import Thresholds, route
from analysis.base import Analyzer, analyzer_id
from analysis.verdict import Item
from collectors.base import BrandQuery, Collector
from collectors.images import resolve_image
from collectors.post import Post, utcnow
from collectors.query import matching_brands
from data.store import Saved, Store

log = logging.getLogger("subtext.jobs")


@dataclass(frozen=True)
class RunResult:
    fetched: int = 0
    new: int = 0
    errors: int = 0


def ingest(store: Store, posts: Iterable[Post], brands: Iterable[BrandQuery], *,
           base_dir: Path | None = None, allow_private: bool = False,
           cursor: tuple[str, str, str] | None = None) -> Saved:
    """Store posts with their images; posts without brands get the ones their text matches.
    Local image paths are read only when `base_dir` is given (trusted callers)."""
    brands = list(brands)
    batch = []
    for post in posts:
        if not post.brands:
            post.brands = matching_brands(brands, post.text)
        images = [resolve_image(ref, store.data_dir, base_dir=base_dir,
                                allow_private=allow_private) for ref in post.images]
        batch.append((post, images))
    return store.save_posts(batch, cursor=cursor)


def run_recorded(store: Store, job: str, work: Callable[[], RunResult],
                 source: str | None = None, brand: str | None = None,
                 record_idle: bool = True) -> RunResult | None:
    """Run `work` and record it in collector_runs; on failure log and record the reason and
    return None. Idle runs of the frequent jobs (nothing to do) are not recorded."""
    started = utcnow()
    try:
        result = work()
    except Exception as exc:  # a job failure must never kill the engine
        log.exception("%s failed (source=%s brand=%s)", job, source, brand)
        store.record_run(job, source, brand, started, errors=1,
                         error=f"{type(exc).__name__}: {exc}")
        return None
    if record_idle or result.fetched or result.errors:
        store.record_run(job, source, brand, started, fetched=result.fetched, new=result.new,
                         errors=result.errors)
    return result


def collect(store: Store, source: str, collector: Collector, brand: BrandQuery,
            all_brands: Iterable[BrandQuery]) -> RunResult | None:
    def work() -> RunResult:
        page = collector.collect(brand, store.get_cursor(source, brand.name))
        cursor = (source, brand.name, page.cursor) if page.cursor is not None else None
        # Other brands the text also mentions are tagged too: one post, several brands.
        for post in page.posts:
            post.brands = sorted(set(post.brands) | set(matching_brands(all_brands, post.text)))
        saved = ingest(store, page.posts, all_brands, base_dir=Path.cwd(), cursor=cursor)
        log.info("collected %s × %s: %d fetched, %d new", source, brand.name, page.fetched,
                 saved.new)
        return RunResult(fetched=page.fetched, new=saved.new)

    return run_recorded(store, "collect", work, source, brand.name)


def analyze_pending(store: Store, analyzer: Analyzer, batch_size: int,
                    budget_s: float = 20.0) -> RunResult | None:
    """Analyze pending posts in batches until none are left or the time budget is spent
    (the scheduler's next run picks up the rest)."""
    def work() -> RunResult:
        done, deadline = 0, time.monotonic() + budget_s
        while time.monotonic() < deadline:
            pending = store.pending(analyzer_id(analyzer), batch_size)
            if not pending:
                break
            items = [Item(text=p.text, image=p.image_path, lang=p.lang) for p in pending]
            store.save_verdicts(list(zip(pending, analyzer.analyze(items), strict=True)))
            done += len(pending)
        return RunResult(fetched=done, new=done)

    return run_recorded(store, "analyze", work, record_idle=False)


ALERT_CURSOR = ("alerts", "*")


def evaluate_alerts(store: Store, limits: Thresholds) -> RunResult | None:
    """Route every verdict written since the last evaluation."""
    def work() -> RunResult:
        mark = store.get_cursor(*ALERT_CURSOR)
        rows = store.verdicts_since(datetime.fromisoformat(mark) if mark else None)
        new = 0
        for row in rows:
            for draft in route(row, limits):
                new += store.add_alert(draft.key, draft.kind, draft.message, draft.post_id,
                                       draft.brand, draft.score)
        if rows:
            store.set_cursor(*ALERT_CURSOR, rows[-1]["created_at"].isoformat())
        return RunResult(fetched=len(rows), new=new)

    return run_recorded(store, "alerts", work, record_idle=False)
