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
                 collectors: dict[str, Collector] | None = None):
        self.config = config
        self.collectors = collectors if collectors is not None else build_collectors(config)
        self.analyzer = analyzer or load_analyzer(config.analysis)
        self.analyzer_id = analyzer_id(self.analyzer)
        self.store = Store.open(config.data_dir)
        self.store.brand_terms = brand_terms(config.brands)  # 9b: for per-brand verdicts
        self.scheduler = BackgroundScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)
        self.started = time.monotonic()
        self.thresholds = Thresholds(config.alerts.sarcasm_threshold,
                                     config.alerts.negative_threshold)

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
        for collector in self.collectors.values():
            close = getattr(collector, "close", None)
            if close is not None:
                close()  # their HTTP clients
        self.store.close()
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
