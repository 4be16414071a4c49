"""The scheduler's jobs: they run, record themselves, and survive failures."""

import json
import time

from collectors.base import Page
from collectors.replay import ReplayCollector
from data import alerts as alerts_db
from data import queries
from subtext.engine import Engine


def runs(engine):
    return queries.list_runs(engine.store, 100)


def test_collect_analyze_alert_cycle_is_recorded(engine):
    engine.collect_all()
    engine.analyze_pending()
    engine.evaluate_alerts()
    by_job = {}
    for run in runs(engine):
        by_job.setdefault(run["job"], []).append(run)
    assert {r["brand"] for r in by_job["collect"]} == {"Nimbus", "Voltra"}
    nimbus = next(r for r in by_job["collect"] if r["brand"] == "Nimbus")
    assert (nimbus["fetched"], nimbus["new"], nimbus["status"]) == (2, 2, "ok")
    assert by_job["analyze"][0]["new"] == 4
    assert by_job["alerts"][0]["new"] >= 1
    assert engine.store.count_pending(engine.analyzer_id) == 0


def test_recollecting_never_duplicates_and_the_trickle_adds(engine):
    engine.collect_all()
    first = queries.counts(engine.store)["posts"]
    assert first == 4  # r4 mentions both brands: collected twice, stored once
    engine.collect_all()  # after the back-fill: each brand trickles 2 new posts
    assert queries.counts(engine.store)["posts"] == first + 4
    cursor = json.loads(engine.store.get_cursor("replay", "Nimbus"))
    assert cursor["sent"] == 2


def test_idle_analysis_is_not_recorded(engine):
    engine.analyze_pending()
    engine.evaluate_alerts()
    assert runs(engine) == []


def test_alerts_are_raised_once(engine):
    engine.collect_all()
    engine.analyze_pending()
    engine.evaluate_alerts()
    engine.evaluate_alerts()
    alerts = alerts_db.list_alerts(engine.store)["items"]
    assert [a["post_id"] for a in alerts] == ["replay:r3"]


class Exploding:
    def collect(self, brand, cursor):
        raise ConnectionError("source is down")


def test_a_failing_collector_is_recorded_and_others_keep_running(config, replay_file):
    engine = Engine(config, collectors={"replay": Exploding()})
    try:
        assert engine.collect("replay", "Nimbus") is None
        failed = runs(engine)[0]
        assert failed["status"] == "failed" and failed["errors"] == 1
        assert failed["last_error"] == "ConnectionError: source is down"
        assert engine.store.get_cursor("replay", "Nimbus") is None  # cursor did not move
        engine.collectors["replay"] = ReplayCollector("replay", replay_file)
        assert engine.collect("replay", "Nimbus").new == 2
    finally:
        engine.stop()


class BadPage:
    """Returns a post whose timestamp the database rejects: the page fails as a whole."""

    def collect(self, brand, cursor):
        from collectors.post import Post
        return Page(posts=[Post("replay", "x", "Nimbus!", created_at="garbage")], cursor="next",
                    fetched=1)


def test_a_failed_page_keeps_the_old_cursor(config):
    engine = Engine(config, collectors={"replay": BadPage()})
    try:
        engine.store.set_cursor("replay", "Nimbus", "before")
        assert engine.collect("replay", "Nimbus") is None
        assert engine.store.get_cursor("replay", "Nimbus") == "before"
    finally:
        engine.stop()


def test_scheduler_runs_the_jobs(config):
    engine = Engine(config)
    try:
        engine.start()
        jobs = {j["id"] for j in engine.job_status()}
        assert jobs == {"collect:replay:Nimbus", "collect:replay:Voltra", "analyze", "alerts",
                        "deliver"}
        for job in engine.scheduler.get_jobs():
            assert job.coalesce and job.max_instances == 1 and job.misfire_grace_time == 30
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done = {r["job"] for r in runs(engine)}
            if {"collect", "analyze"} <= done and not engine.store.count_pending(
                    engine.analyzer_id):
                break
            time.sleep(0.2)
        assert {"collect", "analyze"} <= {r["job"] for r in runs(engine)}
        assert queries.counts(engine.store)["verdicts"] == 4
    finally:
        engine.stop()
    assert not engine.scheduler.running


def test_an_analysis_pass_says_what_it_did_and_overlap_warnings_stay_out(engine, caplog):
    import logging

    from subtext.cli import overlap_filter

    engine.collect_all()
    with caplog.at_level(logging.INFO, logger="subtext.jobs"):
        engine.analyze_pending()
        engine.analyze_pending()  # nothing left: no line
    lines = [r.getMessage() for r in caplog.records if r.name == "subtext.jobs"
             and r.getMessage().startswith("analyzed")]
    assert len(lines) == 1 and lines[0].startswith("analyzed 4 posts in ")

    def record(message):
        return logging.LogRecord("apscheduler.scheduler", logging.WARNING, __file__, 1, message,
                                 None, None)

    assert not overlap_filter(record('Execution of job "Engine.analyze_pending" skipped: '
                                     'maximum number of running instances reached (1)'))
    assert overlap_filter(record('Job "Engine.collect_all" raised an exception'))


def encoded(engine) -> list[bool]:
    rows = engine.store.reader().execute("SELECT evidence FROM verdicts").fetchall()
    return [json.loads(evidence)["encoded"] for (evidence,) in rows]


def test_a_backlog_goes_to_the_auto_gate_then_is_read_again_in_full(config_file, caplog):
    """backlog_auto = 2, one post a batch, a gate that picks no post (auto_threshold 1): the
    batches that start with 4 and 3 posts waiting skip the encoders, the last two do not; once
    nothing waits, the two hurried posts are read again in full, replacing their verdicts (one
    verdict and one trend count per post, as before)."""
    import logging

    from data.queries import PostFilter, trends
    from subtext.config import load

    text = config_file.read_text(encoding="utf-8")
    config_file.write_text(text + "\n[analysis]\nbatch_size = 1\nbacklog_auto = 2\n"
                           "auto_threshold = 1.0\n", encoding="utf-8")
    engine = Engine(load(config_file))
    try:
        engine.collect_all()
        assert engine.store.count_pending(engine.analyzer_id) == 4
        with caplog.at_level(logging.INFO, logger="subtext.jobs"):
            engine.analyze_pending()
        said = " ".join(r.getMessage() for r in caplog.records)
        assert "2 with the auto gate" in said and "2 read again in full" in said
        assert encoded(engine) == [True] * 4
        assert engine.store.hurried(engine.analyzer_id, 10) == []
        assert not engine.refine.is_set()  # none left: idle runs stop searching
        assert sum(row["count"] for row in trends(engine.store, PostFilter())) == 5  # r4: 2 brands
        engine.evaluate_alerts()  # the same alert as without a backlog (test above)
        assert [a["post_id"] for a in alerts_db.list_alerts(engine.store)["items"]] == [
            "replay:r3"]
    finally:
        engine.stop()


def test_a_small_backlog_gets_the_encoders_for_every_post(engine):
    from data.queries import PostFilter, trends

    engine.collect_all()
    engine.analyze_pending()
    assert encoded(engine) == [True] * 4
    assert sum(row["count"] for row in trends(engine.store, PostFilter())) == 5
