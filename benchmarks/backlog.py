"""How long a real engine takes to catch up with a burst, with and without `backlog_auto`.

A `python -m subtext engine` on 127.0.0.1 (lite, `embed = "always"`, analysing every second)
loads its models on 20 warm-up posts, then takes in N TweetEval tweets (each naming a demo
brand) in one `POST /v1/ingest`, as a collector's back-fill or a viral hour arrives. It prints
the time until every post has its verdict, the time until the hurried ones were read again in
full, posts/s, the engine's CPU-ms a post (both phases) and peak RSS, the share of posts the
encoders read (from the store once the engine stopped: 1.0 after the re-reading), the dashboard
calls' latency meanwhile and the load average. Once with `backlog_auto = 0` (every post
encoded) and once per value given (default 1000, the shipped default).

    nice python -m benchmarks.backlog [--posts 2000] [--backlog 1000 500]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.engine_memory import memory_mb
from benchmarks.ingest import BRANDS, Engine, Watcher, cpu_s, loadavg


def tweets(n: int) -> list[dict]:
    from analysis import datasets

    texts = datasets.tweeteval("sentiment", "val").texts
    return [{"id": f"t{i}", "text": f"{BRANDS[i % 2]}: {texts[i % len(texts)]}", "lang": "en",
             "author": f"user{i}", "url": f"https://example.org/t{i}",
             "created_at": "2026-12-01T12:00:00+00:00"} for i in range(n)]


def run(tmp: Path, posts: list[dict], backlog: int) -> dict:
    engine = Engine(tmp / f"backlog-{backlog}", analyze_every=1)
    text = engine.config.read_text(encoding="utf-8")
    setting = f"[analysis]\nbacklog_auto = {backlog}\n"
    engine.config.write_text(text.replace("[analysis]\n", setting), encoding="utf-8")
    with engine, httpx.Client(base_url=engine.url, timeout=120) as client:
        warm = [dict(p, id=f"warm{i}") for i, p in enumerate(posts[:20])]
        client.post("/v1/ingest", json={"posts": warm}).raise_for_status()
        wait_for(client, len(warm), 300)
        load, cpu0, watcher = loadavg(), cpu_s(engine.process.pid), Watcher(engine.url)
        watcher.start()
        start = time.perf_counter()
        for i in range(0, len(posts), 500):  # the API takes at most 1,000 posts a request
            client.post("/v1/ingest", json={"posts": posts[i:i + 500]}).raise_for_status()
        wait_for(client, len(warm) + len(posts), 1800)
        took = time.perf_counter() - start
        full = settled(client, start)  # the hurried posts read again in full
        watcher.stop.set()
        cpu = cpu_s(engine.process.pid) - cpu0
        rss = memory_mb(engine.process.pid)
    return {"backlog_auto": backlog, "posts": len(posts), "seconds": round(took, 1),
            "seconds_to_full_reading": round(full, 1),
            "posts_per_s": round(len(posts) / took, 1),
            "cpu_ms_per_post": round(1000 * cpu / len(posts), 1), "rss_mb": rss,
            "encoded_share": encoded_share(engine.config), "load_before": load,
            "load_after": loadavg(), "dashboard": watcher.report()}


def wait_for(client: httpx.Client, verdicts: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while client.get("/health").json()["counts"]["verdicts"] < verdicts:
        if time.monotonic() > deadline:
            raise SystemExit(f"fewer than {verdicts} verdicts after {timeout_s:.0f} s")
        time.sleep(0.25)


def settled(client: httpx.Client, start: float, quiet_s: float = 25.0) -> float:
    """Seconds from `start` until the analyze job last stored anything: once every post has a
    verdict, its runs are the re-reading of hurried posts (idle runs are not recorded). A run
    is recorded when it ends (at most its 20 s budget), hence the long quiet wait."""
    total, changed = None, time.perf_counter()
    while time.perf_counter() - changed < quiet_s:
        runs = client.get("/v1/runs", params={"limit": 500}).json()["items"]
        now = sum(r["new"] or 0 for r in runs if r["job"] == "analyze")
        if now != total:
            total, changed = now, time.perf_counter()
        time.sleep(0.25)
    return changed - start


def encoded_share(config: Path) -> float:
    """The share of verdicts whose evidence says the encoders read the post (engine stopped)."""
    from data.store import Store
    from subtext.config import load

    with Store.open(load(config).data_dir) as store:
        rows = store.reader().execute("SELECT evidence FROM verdicts").fetchall()
    return round(sum(json.loads(e).get("encoded", False) for (e,) in rows) / len(rows), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--backlog", type=int, nargs="*", default=[1000])
    args = parser.parse_args()
    posts = tweets(args.posts)
    with tempfile.TemporaryDirectory() as tmp:
        for backlog in [0, *args.backlog]:
            print(json.dumps(run(Path(tmp), posts, backlog)), flush=True)


if __name__ == "__main__":
    main()
