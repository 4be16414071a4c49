"""The engine's units of work, each usable from the scheduler, the CLI and the tests:
ingest posts, collect one source × brand, analyze what is pending, evaluate alert rules,
deliver alerts.

Every scheduled job records itself in collector_runs; a failure is logged and recorded with its
reason, and never propagates into the scheduler.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from alerts import delivery, evaluate
from alerts.channels import Channel
from alerts.settings import AlertSettings
from analysis import templates
from analysis.base import Analyzer, analyzer_id
from analysis.verdict import Item
from collectors.base import BrandQuery, Collector, Page, pages_of
from collectors.http import RateLimited, Stopped
from collectors.post import utcnow
from collectors.query import matching_brands
from data import feedback
from data.store import Store
from subtext.ingest import ingest  # here too: the collect job and callers use jobs.ingest
from subtext.scrub import scrub

log = logging.getLogger("subtext.jobs")


@dataclass(frozen=True)
class RunResult:
    fetched: int = 0
    new: int = 0
    errors: int = 0
    matched: int = 0
    skipped: bool = False  # a collect run not attempted: its source is backing off


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
                         error=scrub(f"{type(exc).__name__}: {exc}"))
        return None
    if record_idle or result.fetched or result.errors:
        store.record_run(job, source, brand, started, fetched=result.fetched, new=result.new,
                         errors=result.errors)
    return result


# A source × brand that keeps failing skips runs: after n failures in a row, the next
# 2^(n-1) - 1 scheduled runs (0, 1, 3, 7, … capped), or longer when the source said so
# (Retry-After). From FLAG_AFTER failures on, /health flags it.
MAX_BACKOFF_S = 6 * 3600
FLAG_AFTER = 3


@dataclass
class _Tally:
    fetched: int = 0
    matched: int = 0
    new: int = 0
    errors: int = 0
    last_error: str | None = None

    def record(self, store: Store, source: str, brand: str, started: datetime, error: str | None,
               failed: bool = False) -> None:
        store.record_run("collect", source, brand, started, fetched=self.fetched,
                         new=self.new, matched=self.matched, errors=self.errors, error=error,
                         failed=failed)

    def result(self) -> RunResult:
        return RunResult(fetched=self.fetched, new=self.new, errors=self.errors,
                         matched=self.matched)


def collect(store: Store, source: str, collector: Collector, brand: BrandQuery,
            all_brands: Iterable[BrandQuery], every_seconds: int = 300) -> RunResult | None:
    """Collect one source × brand: each page is stored with its cursor in one transaction,
    so a crash loses no committed page and re-fetched posts are upserted, not doubled.
    Records the run; returns None when it failed."""
    all_brands = list(all_brands)
    state = store.source_state(source, brand.name)
    if state and state.skip_until and state.skip_until > utcnow():
        log.info("skipping %s × %s: backing off after %d failures, until %s", source,
                 brand.name, state.failures, state.skip_until.isoformat(timespec="seconds"))
        return RunResult(skipped=True)
    started, tally = utcnow(), _Tally()
    pages = pages_of(collector, brand, store.get_cursor(source, brand.name))
    try:
        for page in pages:
            _store_page(store, source, collector, brand.name, all_brands, page, tally)
    except Stopped:  # the engine is stopping: not the source's failure, no back-off
        log.info("collect of %s × %s cut short: the engine is stopping", source, brand.name)
        tally.record(store, source, brand.name, started, "stopped: the engine is stopping")
        return tally.result()
    except Exception as exc:  # a source's failure must never kill the engine
        log.exception("collect failed (source=%s brand=%s)", source, brand.name)
        error = scrub(f"{type(exc).__name__}: {exc}")  # upstreams echo keys in errors
        tally.errors += 1
        tally.record(store, source, brand.name, started, error, failed=True)
        failures = (state.failures if state else 0) + 1
        store.set_source_state(source, brand.name, failures,
                               _skip_until(failures, every_seconds, exc), error)
        return None
    finally:
        close = getattr(pages, "close", None)
        if close is not None:
            close()  # a generator left mid-way releases its connection (and locks) now
    tally.record(store, source, brand.name, started, tally.last_error)
    store.set_source_state(source, brand.name, 0)
    log.info("collected %s × %s: %d fetched, %d matched, %d new, %d errors", source,
             brand.name, tally.fetched, tally.matched, tally.new, tally.errors)
    return tally.result()


def _store_page(store: Store, source: str, collector: Collector, brand: str,
                all_brands: list[BrandQuery], page: Page, tally: _Tally) -> None:
    """Keep the posts that match a brand (the local matcher confirms every source's results;
    a post can match several brands), skip those stored already (their images are not
    fetched again), and store the rest with the page's cursor."""
    kept = []
    for post in page.posts:
        matched = set(post.brands) | set(matching_brands(all_brands, post.text, post.author))
        if matched:
            post.brands = sorted(matched)
            kept.append(post)
    known = store.known_posts([p.id for p in kept])
    trusted = getattr(collector, "local_images", False)
    cursor = (source, brand, page.cursor) if page.cursor is not None else None
    saved = ingest(store, [p for p in kept if p.id not in known], all_brands,
                   base_dir=Path.cwd() if trusted else None,
                   fetcher=getattr(collector, "images", None), cursor=cursor)
    for error in page.errors:
        log.warning("%s × %s: %s", source, brand, error)
    tally.fetched += page.fetched
    tally.matched += len(kept)
    tally.new += saved.new
    tally.errors += len(page.errors)
    tally.last_error = scrub(page.errors[-1]) if page.errors else tally.last_error


def _skip_until(failures: int, every_seconds: int, exc: Exception) -> datetime | None:
    wait = min(every_seconds * (2 ** min(failures - 1, 20) - 1), MAX_BACKOFF_S)
    if isinstance(exc, RateLimited):
        wait = max(wait, exc.retry_after_s)
    return utcnow() + timedelta(seconds=wait) if wait > 0 else None


def analyze_pending(store: Store, analyzer: Analyzer, batch_size: int,
                    budget_s: float = 20.0, stopping: threading.Event | None = None,
                    backlog_auto: int = 0,
                    refine: threading.Event | None = None) -> RunResult | None:
    """Analyze pending posts in batches until none are left, the time budget is spent (the
    scheduler's next run picks up the rest) or `stopping` is set: a stop waits for one batch
    at most, and each batch's verdicts are committed together. While more than `backlog_auto`
    posts wait (0: never), batches go to the analyzer's cheaper pass (a runner's `hurry`) and
    their verdicts say so (`evidence.hurried`). While `refine` is set (by a hurried batch; the
    engine sets it at start for any left from before) and nothing waits, those posts are
    analyzed again in full, so a burst costs quality only until the engine has caught up; the
    search clears it once none is left (it scans the verdicts: not on every idle run)."""
    def work() -> RunResult:
        start = time.monotonic()
        done, hurried, refined, deadline = 0, 0, 0, start + budget_s
        while time.monotonic() < deadline and not (stopping and stopping.is_set()):
            pending = store.pending(analyzer_id(analyzer), batch_size)
            again = not pending and refine is not None and refine.is_set()
            if again:
                pending = store.hurried(analyzer_id(analyzer), batch_size)
                if not pending:
                    refine.clear()
            if not pending:
                break
            items = [Item(text=p.text, image=p.image_path, lang=p.lang) for p in pending]
            hurry = not again and _behind(store, analyzer, backlog_auto)
            verdicts = with_template_priors(store, pending,
                                            analyzer.analyze(items, hurry=True) if hurry
                                            else analyzer.analyze(items))
            for verdict in verdicts if hurry else ():
                verdict.evidence["hurried"] = True
            if hurry and refine is not None:
                refine.set()
            store.save_verdicts(list(zip(pending, verdicts, strict=True)))
            done += len(pending)
            hurried += len(pending) if hurry else 0
            refined += len(pending) if again else 0
        if done:  # the terminal's sign of life during a backlog (the dashboard shows it too)
            took = time.monotonic() - start
            log.info("analyzed %d posts in %.1f s (%.1f posts/s)%s%s", done, took,
                     done / max(took, 1e-9),
                     f"; {hurried} with the auto gate (more than backlog_auto = "
                     f"{backlog_auto} were waiting)" if hurried else "",
                     f"; {refined} read again in full after a backlog" if refined else "")
        return RunResult(fetched=done, new=done)

    return run_recorded(store, "analyze", work, record_idle=False)


def _behind(store: Store, analyzer: Analyzer, backlog_auto: int) -> bool:
    """Whether more than `backlog_auto` posts wait (0: off; a cheap count per batch)."""
    return backlog_auto > 0 and store.count_pending(analyzer_id(analyzer)) > backlog_auto


def with_template_priors(store: Store, pending: list, verdicts: list) -> list:
    """Posts whose image is a meme template reviewers labelled get that reading as a prior."""
    with_image = [p.id for p in pending if p.image_path is not None]
    readings = feedback.template_readings(store, with_image, templates.MAX_DISTANCE)
    return [templates.apply_prior(v, readings.get(p.id, {}))
            for p, v in zip(pending, verdicts, strict=True)]


def evaluate_alerts(store: Store, settings: AlertSettings, brands: list,
                    channels: dict[str, Channel]) -> RunResult | None:
    """Route every verdict written since the last evaluation and check each brand for spikes
    (alerts/evaluate.py): one transaction per run."""
    def work() -> RunResult:
        routed, new = evaluate.run(store, settings, brands, delivery.router(channels))
        return RunResult(fetched=routed, new=new)

    return run_recorded(store, "alerts", work, record_idle=False)


def deliver_alerts(store: Store, channels: dict[str, Channel]) -> RunResult | None:
    """Send what is due to each channel (alerts/delivery.py); a run that sent or failed
    something is recorded."""
    def work() -> RunResult:
        tally = delivery.deliver_due(store, channels)
        return RunResult(fetched=sum(tally.values()), new=tally.get("sent", 0),
                         errors=tally.get("failed", 0) + tally.get("gave_up", 0))

    return run_recorded(store, "deliver", work, record_idle=False)
