"""The engine: owns the store, the analyzer and the collectors, and schedules the jobs.

APScheduler runs each job in its thread pool: collect (every source × brand), analyze what is
pending, evaluate alert rules. coalesce + max_instances=1 mean a slow job is never stacked up
behind itself; misfire grace lets a late run still happen once instead of being dropped.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from alerts.routing import Thresholds
from analysis.base import Analyzer, analyzer_id, load_analyzer
from collectors.base import Collector
from collectors.registry import build_collector
from data.store import Store
from subtext import jobs
from subtext.config import Config, ConfigError

log = logging.getLogger("subtext.engine")

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}


class Engine:
    def __init__(self, config: Config, analyzer: Analyzer | None = None,
                 collectors: dict[str, Collector] | None = None):
        self.config = config
        self.collectors = collectors if collectors is not None else build_collectors(config)
        self.analyzer = analyzer or load_analyzer(config.analysis.backend)
        self.analyzer_id = analyzer_id(self.analyzer)
        self.store = Store.open(config.data_dir)
        self.scheduler = BackgroundScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)
        self.started = time.monotonic()
        self.thresholds = Thresholds(config.alerts.sarcasm_threshold,
                                     config.alerts.negative_threshold)

    # -- the jobs, callable directly (CLI, tests) or by the scheduler ----------------------

    def collect(self, source: str, brand_name: str) -> jobs.RunResult | None:
        brand = next(b for b in self.config.brands if b.name == brand_name)
        return jobs.collect(self.store, source, self.collectors[source], brand,
                            self.config.brands)

    def collect_all(self) -> dict[tuple[str, str], jobs.RunResult | None]:
        return {(s.name, b.name): self.collect(s.name, b.name)
                for s in self.config.sources for b in self.config.brands}

    def analyze_pending(self) -> jobs.RunResult | None:
        return jobs.analyze_pending(self.store, self.analyzer, self.config.analysis.batch_size)

    def evaluate_alerts(self) -> jobs.RunResult | None:
        return jobs.evaluate_alerts(self.store, self.thresholds)

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
        self.scheduler.start()
        log.info("engine started: %d sources × %d brands, analyzer %s, data in %s",
                 len(self.config.sources), len(self.config.brands), self.analyzer_id,
                 self.config.data_dir)

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)  # let running jobs finish their transaction
        self.store.close()
        log.info("engine stopped")

    def job_status(self) -> list[dict]:
        return [{"id": job.id, "next_run": job.next_run_time}
                for job in self.scheduler.get_jobs()] if self.scheduler.running else []


def build_collectors(config: Config) -> dict[str, Collector]:
    collectors = {}
    for i, source in enumerate(config.sources):
        try:
            collectors[source.name] = build_collector(source.name, source.kind, source.settings)
        except ValueError as exc:
            raise ConfigError(config.path or "-", f"sources[{i}]", str(exc)) from None
    return collectors
