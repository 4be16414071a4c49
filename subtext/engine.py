"""The engine: owns the store, the analyzer and the collectors, and schedules the jobs.

APScheduler runs each job in its thread pool: collect (every source × brand), analyze what is
pending, evaluate alert rules, deliver alerts. coalesce + max_instances=1 mean a slow job is
never stacked up behind itself; misfire grace lets a late run still happen once instead of
being dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from alerts import channels
from analysis import learn
from analysis.base import Analyzer, analyzer_id, load_analyzer
from analysis.runners import LocalRunner, RayRunner, build_runner
from analysis.targets import brand_terms
from collectors.base import Collector
from collectors.registry import SettingError, build_collector
from data import queries
from data.store import Store
from subtext import jobs
from subtext.config import Config, ConfigError

log = logging.getLogger("subtext.engine")

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}


class Engine:
    def __init__(self, config: Config, analyzer: Analyzer | None = None,
                 collectors: dict[str, Collector] | None = None,
                 runner: LocalRunner | RayRunner | None = None):
        self.config = config
        self.channels = build_channels(config)  # first: a missing secret fails fast
        self.collectors = collectors if collectors is not None else build_collectors(config)
        # With the deployment's learned correction layer, when `learn` installed one.
        self.analyzer = learn.wrap(analyzer or load_analyzer(config.analysis), config.data_dir)
        self.analyzer_id = analyzer_id(self.analyzer)
        # Where the analyze job's batches run ([analysis] runner); /v1/analyze stays local.
        self.runner = runner or build_runner(config.analysis, self.analyzer)
        # Posts analyzed in a hurry (a backlog above backlog_auto) may await a full reading:
        # looked for once at start, then after each hurried batch (jobs.analyze_pending).
        self.refine = threading.Event()
        self.refine.set()
        self.store = Store.open(config.data_dir)
        self.store.brand_terms = brand_terms(config.brands)  # 9b: for per-brand verdicts
        self.scheduler = BackgroundScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)
        self.started = time.monotonic()
        self.stopping = threading.Event()  # set by stop(): long jobs end after their batch
        for collector in self.collectors.values():
            stop_with = getattr(collector, "stop_with", None)
            if stop_with is not None:
                stop_with(self.stopping)  # a rate-limit wait ends at stop, not after 60 s

    # -- the jobs, callable directly (CLI, tests) or by the scheduler ----------------------

    def collect(self, source: str, brand_name: str) -> jobs.RunResult | None:
        brand = next(b for b in self.config.brands if b.name == brand_name)
        every = next((s.every_seconds for s in self.config.sources if s.name == source), 300)
        return jobs.collect(self.store, source, self.collectors[source], brand,
                            self.config.brands, every_seconds=every)

    def collect_all(self) -> dict[tuple[str, str], jobs.RunResult | None]:
        return {(s.name, b.name): self.collect(s.name, b.name)
                for s in self.config.sources for b in self.config.brands}

    def analyze_pending(self) -> jobs.RunResult | None:
        return jobs.analyze_pending(self.store, self.runner, self.runner.batch_posts,
                                    stopping=self.stopping,
                                    backlog_auto=self.config.analysis.backlog_auto,
                                    refine=self.refine)

    def evaluate_alerts(self) -> jobs.RunResult | None:
        return jobs.evaluate_alerts(self.store, self.config.alerts.settings,
                                    list(self.config.brands), self.channels)

    def deliver_alerts(self) -> jobs.RunResult | None:
        return jobs.deliver_alerts(self.store, self.channels)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        now = datetime.now(UTC)
        for source in self.config.sources:
            for brand in self.config.brands:
                self.scheduler.add_job(self.collect, "interval", args=[source.name, brand.name],
                                       seconds=source.every_seconds, next_run_time=now,
                                       id=f"collect:{source.name}:{brand.name}")
        self.scheduler.add_job(self.analyze_pending, "interval", id="analyze", next_run_time=now,
                               seconds=self.config.analysis.every_seconds)
        self.scheduler.add_job(self.evaluate_alerts, "interval", id="alerts",
                               seconds=self.config.alerts.every_seconds,
                               next_run_time=now + timedelta(seconds=3))
        self.scheduler.add_job(self.deliver_alerts, "interval", id="deliver",
                               seconds=self.config.alerts.settings.deliver_every_seconds,
                               next_run_time=now + timedelta(seconds=1))
        self.scheduler.start()
        log.info("engine started: %d sources × %d brands, analyzer %s, data in %s",
                 len(self.config.sources), len(self.config.brands), self.analyzer_id,
                 self.config.data_dir)

    def stop(self) -> None:
        self.stopping.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)  # let running jobs finish their transaction
        for collector in self.collectors.values():
            close = getattr(collector, "close", None)
            if close is not None:
                close()  # their HTTP clients
        self.store.close()
        self.runner.close()
        close = getattr(self.analyzer, "close", None)
        if close is not None:
            close()  # transformers backends free their model and its GPU memory
        log.info("engine stopped")

    def source_status(self) -> list[dict]:
        """Each configured source with its health: "ok", "retrying" (failed lately),
        "backing off" (skipping runs) or "failing" (flagged: FLAG_AFTER failures in a row),
        the worst of its brands, and per brand the failures, back-off, last error and the
        latest run's counts."""
        states: dict[str, list[dict]] = {}
        for row in queries.source_states(self.store):
            states.setdefault(row["source"], []).append(row)
        now = datetime.now(UTC)
        out = []
        for source in self.config.sources:
            brands = states.get(source.name, [])
            failures = max((b["failures"] for b in brands), default=0)
            skip = max((b["skip_until"] for b in brands if b["skip_until"]), default=None)
            if failures >= jobs.FLAG_AFTER:
                status = "failing"
            elif skip is not None and skip > now:
                status = "backing off"
            else:
                status = "retrying" if failures else "ok"
            out.append({"name": source.name, "kind": source.kind,
                        "every_seconds": source.every_seconds, "status": status,
                        "flagged": failures >= jobs.FLAG_AFTER, "failures": failures,
                        "skip_until": skip if skip is not None and skip > now else None,
                        "brands": [{k: v for k, v in b.items() if k != "source"}
                                   for b in brands]})
        return out

    def job_status(self) -> list[dict]:
        return [{"id": job.id, "next_run": job.next_run_time}
                for job in self.scheduler.get_jobs()] if self.scheduler.running else []


def build_collectors(config: Config) -> dict[str, Collector]:
    """A collector per configured source; a bad setting or missing secret fails the start
    with the file, the key (sources[i].setting) and the reason."""
    collectors: dict[str, Collector] = {}
    for i, source in enumerate(config.sources):
        try:
            collectors[source.name] = build_collector(source.name, source.kind, source.settings)
        except SettingError as exc:
            for built in collectors.values():
                getattr(built, "close", lambda: None)()
            key = f"sources[{i}]" if exc.key == "-" else f"sources[{i}].{exc.key}"
            raise ConfigError(config.path or "-", key, exc.reason) from None
    return collectors


def build_channels(config: Config) -> dict[str, channels.Channel]:
    """The alert channels with their secrets; a missing secret fails the start with the key."""
    try:
        return channels.build(config.alerts.settings.channels)
    except channels.MissingSecret as exc:
        raise ConfigError(config.path or "-", exc.key, exc.reason) from None
