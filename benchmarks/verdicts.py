"""Verdict writes: Store.save_verdicts (verdicts, their latest flag, disagreements and the
per-brand verdicts in one transaction) in batches the size the analysis job writes, over a real
DuckDB file of N posts. Prints verdicts/s, p50/p95 per batch, CPU-ms per verdict, peak memory
and the load average (the machine may be shared).

    nice -n 10 python -m benchmarks.verdicts [--posts 50000] [--batch 64]
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from datetime import datetime
from pathlib import Path

from benchmarks.ingest import loadavg, percentile, synthetic_posts
from benchmarks.queries import LABELS, _verdict
from collectors.post import Post
from data.bulk import content_hash
from data.store import Pending, Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    print(f"loadavg at start: {loadavg()}")
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp)) as store:
        posts = [Post(source="bench", native_id=row["id"], text=row["text"], lang="en",
                      created_at=datetime.fromisoformat(row["created_at"]), brands=["Nimbus"])
                 for row in synthetic_posts(args.posts)]
        for first in range(0, len(posts), 5000):
            store.save_posts([(post, []) for post in posts[first:first + 5000]])
        pending = [Pending(p.id, p.text, p.lang, None, content_hash(p.text, [])) for p in posts]
        times, cpu_before, start = [], time.process_time(), time.perf_counter()
        for first in range(0, len(pending), args.batch):
            batch = [(item, _verdict(rng.choice(LABELS), "en", rng))
                     for item in pending[first:first + args.batch]]
            began = time.perf_counter()
            store.save_verdicts(batch)
            times.append(time.perf_counter() - began)
        took, cpu = time.perf_counter() - start, time.process_time() - cpu_before
    print(f"{len(pending):,} verdicts in batches of {args.batch}: {len(pending) / took:,.0f} "
          f"verdicts/s (building them included), save_verdicts p50 "
          f"{percentile(times, .5) * 1e3:.1f} ms p95 {percentile(times, .95) * 1e3:.1f} ms per "
          f"batch, CPU {cpu * 1e3 / len(pending):.3f} ms/verdict")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
          f"loadavg {loadavg()}")


if __name__ == "__main__":
    main()
