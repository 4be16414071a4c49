"""Alert rule evaluation at scale: one run of the alert job (route the verdicts written since the
last run, check every brand's windows for spikes, write it all in one transaction) over a real
DuckDB file holding N posts (default 1M) with verdicts, two brands, spread over 15 days.

    python -m benchmarks.alerts [--posts 1000000] [--new 1000] [--runs 10]

Prints ms per run (p50 / p95) for a run with `--new` fresh verdicts and for an idle run (spikes
only), the peak memory, and the load average (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from datetime import timedelta

from alerts import evaluate
from alerts.settings import AlertSettings
from collectors.post import utcnow
from data.store import Store

BRANDS = ["Nimbus", "Voltra"]


def build(store: Store, posts: int, new: int) -> None:
    """N posts over 15 days (newest first), each with one old verdict; the newest `new` posts
    also get a fresh verdict from another analyzer, written after the alert cursor."""
    now = utcnow()
    step = 15 * 86400 / posts
    con = store._con
    con.execute(f"""
        INSERT INTO posts SELECT 'b:' || i, 'b', i::VARCHAR, 'https://x.test/' || i,
               'user' || (i % 5000), 'Voltra battery runs hot #overheat ' || i, 'en',
               ?::TIMESTAMP - to_microseconds(CAST(i * {step} * 1e6 AS BIGINT)), ?::TIMESTAMP,
               i % 97, i % 13, i % 7, 'h', '{{}}',
               [CASE WHEN i % 2 = 0 THEN 'Voltra' ELSE 'Nimbus' END]
          FROM range({posts}) t(i)""", [now, now])
    con.execute(f"INSERT INTO post_brands SELECT 'b:' || i, CASE WHEN i % 2 = 0 THEN 'Voltra' "
                f"ELSE 'Nimbus' END FROM range({posts}) t(i)")
    verdict = """'b:' || i, '{a}', 'h',
        CASE WHEN hash(i) % 10 < 2 THEN 'sarcastic' WHEN hash(i) % 10 < 5 THEN 'negative'
             ELSE 'positive' END,
        CASE WHEN hash(i) % 10 < 5 THEN 'negative' ELSE 'positive' END,
        hash(i) % 10 < 2, (hash(i) % 100) / 100.0, 'neutral', '{{}}', 0.4 + (hash(i) % 60) / 100.0,
        'bench', '{{}}', 1.0, ?::TIMESTAMP, {latest}"""
    con.execute(f"INSERT INTO verdicts SELECT {verdict.format(a='bench@1', latest=f'i >= {new}')} "
                f"FROM range({posts}) t(i)", [now - timedelta(days=1)])
    con.execute(f"INSERT INTO verdicts SELECT {verdict.format(a='bench@2', latest='true')} "
                f"FROM range({new}) t(i)", [now])


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    settings = AlertSettings()  # hourly windows against the 24 before
    with tempfile.TemporaryDirectory() as folder, Store.open(folder) as store:
        start = time.perf_counter()
        build(store, args.posts, args.new)
        print(f"built {args.posts:,} posts with verdicts in {time.perf_counter() - start:.1f} s")
        mark = (utcnow() - timedelta(hours=1)).isoformat()

        def with_new() -> None:
            store.set_cursor(*evaluate.CURSOR, mark)  # the same fresh verdicts each run
            routed, _ = evaluate.run(store, settings, BRANDS, lambda a: [])
            assert routed == args.new

        def idle() -> None:
            evaluate.run(store, settings, BRANDS, lambda a: [])

        busy, quiet = timed(with_new, args.runs), timed(idle, args.runs)
        alerts = store.reader().execute("SELECT count(*) FROM alerts").fetchone()[0]
    for name, values in ((f"run with {args.new} new verdicts", busy),
                         ("idle run (spike checks only)", quiet)):
        p95 = statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]
        print(f"{name}: p50 {statistics.median(values):.0f} ms, p95 {p95:.0f} ms "
              f"({args.runs} runs)")
    print(f"alerts created: {alerts}")
    print(f"peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
