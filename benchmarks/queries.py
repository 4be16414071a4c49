"""Dashboard calls at 1M (or 10M) posts, through the engine's HTTP API.

Generates a database in bulk through the store's own write path (Store.save_posts and
save_verdicts: posts over 90 days, two brands, 1 in 10 posts about both, a verdict by the
engine's analyzer for every post and the alert job's cursor past them, so the engine's own jobs
stay idle), starts `python -m subtext engine` on it (uvicorn on 127.0.0.1), and times each call
the dashboard makes: p50/p95 over --repeat calls, with the load average. The engine keeps a
result until the next write (data/cache.py), so "first" is each call's uncached time and
--cold turns the cache off to time every read.

    nice -n 10 python -m benchmarks.queries [--posts 1000000] [--repeat 20] [--keep DIR]
                                            [--only "posts label,why panel"] [--cold]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from analysis.lite import VERSION
from analysis.verdict import Verdict
from benchmarks.engine_memory import free_port, memory_mb
from benchmarks.ingest import CONFIG, WORDS, loadavg, percentile
from collectors.post import Post
from data import alerts as alerts_db
from data import trend_rows
from data.bulk import content_hash
from data.store import Pending, Store

ROOT = Path(__file__).resolve().parents[1]
ANALYZER = f"lite@{VERSION}"
LABELS = ("positive", "negative", "neutral", "sarcastic")
SENTIMENT = {"positive": "positive", "negative": "negative", "neutral": "neutral",
             "sarcastic": "negative"}
EMOTIONS = ("joy", "anger", "sadness", "neutral", "surprise")
END = datetime(2026, 11, 30)
BATCH = 50_000


def generate(data_dir: Path, n: int, seed: int = 11, quiet: bool = True) -> None:
    """`quiet`: every post analyzed and the alert job's cursor past every verdict, so the
    engine's own jobs stay idle while the calls are timed."""
    rng = random.Random(seed)
    start = time.perf_counter()
    with Store.open(data_dir) as store:
        for first in range(0, n, BATCH):
            posts, verdicts = [], []
            for i in range(first, min(n, first + BATCH)):
                created = END - timedelta(seconds=(n - i) * 90 * 86400 / n)  # oldest first
                brand = rng.choice(("Nimbus", "Voltra"))
                brands = ["Nimbus", "Voltra"] if rng.random() < 0.1 else [brand]
                text = " ".join([*rng.choices(WORDS, k=rng.randint(5, 20)), *brands])
                post = Post(source=rng.choice(("reddit", "bluesky", "mastodon", "rss")),
                            native_id=str(i), text=text, created_at=created,
                            author=f"user{rng.randrange(20_000)}", lang=rng.choice(("en", "zh")),
                            likes=rng.randrange(100), brands=brands)
                posts.append((post, []))
                if quiet or i < n * 0.98:
                    label = rng.choices(LABELS, weights=(4, 3, 5, 1))[0]
                    verdicts.append((post, label))
            store.save_posts(posts)
            store.save_verdicts([
                (Pending(post.id, post.text, post.lang, None, content_hash(post.text, [])),
                 _verdict(label, post.lang, rng)) for post, label in verdicts])
            print(f"  {min(n, first + BATCH):,} posts written, {time.perf_counter() - start:.0f} s",
                  flush=True)
        with store._transaction() as cur:
            add_reviews(cur, n)
        alerts_db.save_evaluation(store, alerts_db.Evaluation(routes=[], new_alerts=[{
            "key": "bench:1", "kind": "sarcasm", "post_id": "reddit:1", "brand": "Nimbus",
            "score": 0.9, "severity": "high", "message": "a benchmark alert", "details": {}}],
            updates=[], ended=[]), lambda alert: [])
        if quiet:
            store.set_cursor("alerts", "*", datetime.now(UTC).replace(tzinfo=None).isoformat())


def add_reviews(cur, n: int, seed: int = 12) -> None:
    """Reviewers' corrections on 1 post in 500 (label, sarcasm, emotion, brand, irrelevant:
    one field each), in a few statements on cursor `cur`: every effective-verdict read
    applies them."""
    rng = random.Random(seed)
    picked: dict[str, list] = {}
    for i in rng.sample(range(n), n // 500):
        field = rng.choice(("label", "label", "sarcasm", "emotion", "brand", "irrelevant"))
        value = {"label": rng.choice(LABELS), "sarcasm": rng.random() < 0.5,
                 "emotion": rng.choice(EMOTIONS), "brand": "Nimbus", "irrelevant": True}[field]
        picked.setdefault(field, []).append((str(i), value))
    for field, rows in picked.items():
        # a brand review names one of the post's brands, as the API requires
        named = "list_contains(p.brands, r.value)" if field == "brand" else "TRUE"
        cur.execute(f"""INSERT INTO feedback (post_id, {field}, field, new_value, reviewer,
                                              created_at)
                        SELECT p.id, r.value, ?, r.value::VARCHAR, 'bench', now()::TIMESTAMP
                          FROM (SELECT unnest(?) AS native_id, unnest(?) AS value) r
                          JOIN posts p USING (native_id) WHERE {named}""",
                    [field, [r[0] for r in rows], [r[1] for r in rows]])
    # written here in SQL, so the trend rows of these posts are refreshed as the store does
    trend_rows.refresh(cur, [r[0] for r in cur.execute(
        "SELECT DISTINCT post_id FROM feedback WHERE reviewer = 'bench'").fetchall()])


def _verdict(label: str, lang: str, rng: random.Random) -> Verdict:
    """With evidence shaped as the lite analyzer writes it (analysis/lite.py), which the
    review queue's reasons and the reviewed face-value reading parse."""
    evidence = {"ocr_text": "", "ocr_lines": [], "faces": [],
                "cues": rng.sample(("but", "lol", "yeah right", "/s", "great", "🙃"),
                                   rng.randint(0, 2)),
                "polarity": {"text": round(rng.uniform(-1, 1), 3)},
                "incongruity": round(rng.random() ** 4 * 0.5, 3),
                "text_sarcasm": round(rng.random(), 4), "lang": lang, "notes": []}
    return Verdict(label=label, sentiment=SENTIMENT[label], sarcasm=label == "sarcastic",
                   sarcasm_score=round(rng.random(), 3), emotion=rng.choice(EMOTIONS),
                   emotions={"neutral": 1.0}, confidence=round(rng.uniform(0.3, 1), 3),
                   explanation="benchmark", analyzer=ANALYZER, evidence=evidence)


def calls(n: int) -> dict[str, str]:
    """What the dashboard's pages ask for (dashboard/pages/*.py), at the newest posts."""
    day = (END - timedelta(days=1)).isoformat()
    week = (END - timedelta(days=7)).isoformat()
    two_weeks = (END - timedelta(days=14)).isoformat()
    month = (END - timedelta(days=30)).isoformat()
    now = f"until={END.isoformat()}"
    return {
        "health": "/health",
        "posts page 1": "/v1/posts?limit=50",
        "posts 30 days (Explore's default)": f"/v1/posts?limit=50&since={month}&{now}",
        "posts 30 days, page 100": f"/v1/posts?limit=50&since={month}&{now}&offset=4950",
        "posts label": "/v1/posts?limit=50&label=negative",
        "posts brand+label": "/v1/posts?limit=50&brand=Nimbus&label=sarcastic",
        "posts 30 days, min_confidence": f"/v1/posts?limit=50&since={month}&min_confidence=0.8",
        "posts text search": "/v1/posts?limit=50&q=refund%20shipping",
        "posts deep offset (n/2)": f"/v1/posts?limit=50&offset={n // 2}",
        "posts page 2 by cursor": "CURSOR",
        "post by id": "/v1/posts/reddit:1",
        "trends 30 days by day, label": f"/v1/trends?bucket=day&by=label&since={month}",
        "trends 7 days by hour, label": f"/v1/trends?bucket=hour&by=label&since={week}",
        "trends all by week, brand": "/v1/trends?bucket=week&by=brand",
        "trends Nimbus 30 days, emotion": f"/v1/trends?bucket=day&by=emotion&brand=Nimbus"
                                          f"&since={month}",
        "trends 7 days by day, sentiment": f"/v1/trends?bucket=day&by=sentiment&since={week}"
                                           f"&{now}",
        "trends 7 days by day, source": f"/v1/trends?bucket=day&by=source&since={week}&{now}",
        "trends 7 days by day, lang": f"/v1/trends?bucket=day&by=lang&since={week}&{now}",
        "trends previous 7 days, week": f"/v1/trends?bucket=week&by=label&since={two_weeks}"
                                        f"&until={week}",
        "trends 90 days by week, label": f"/v1/trends?bucket=week&by=label"
                                         f"&since={(END - timedelta(days=90)).isoformat()}&{now}",
        "why panel: 1 day's terms, posts": f"/v1/insights/terms?since={day}&{now}&top=15"
                                           f"&posts=5",
        "review queue": "/v1/review/queue?limit=20",
        "alerts open": "/v1/alerts",
        "alerts all (Trends' markers)": "/v1/alerts?status=all&limit=500",
        "runs": "/v1/runs",
    }


def bench(data_dir: Path, n: int, repeat: int, only: str | None = None,
          cold: bool = False) -> None:
    port = free_port()
    config = data_dir.parent / "bench-queries.toml"
    config.write_text(CONFIG.format(data=data_dir.as_posix(), port=port, analyze_every=86400),
                      encoding="utf-8")
    env = {**os.environ, **({"SUBTEXT_RESULT_CACHE": "0"} if cold else {})}
    engine = subprocess.Popen([sys.executable, "-m", "subtext", "--config", str(config),
                               "engine"], cwd=ROOT, stdout=subprocess.DEVNULL, env=env,
                              stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            _wait(client)
            time.sleep(3)  # the analyze job's first (idle) run
            mode = " (cold: no result cache)" if cold else ""
            print(f"\n{n:,} posts; {repeat} calls each{mode}; loadavg {loadavg()}")
            # first: the call's first time, before the engine keeps its result (data/cache.py)
            print(f"{'call':34} {'first ms':>8} {'p50 ms':>8} {'p95 ms':>8}  result")
            for name, path in calls(n).items():
                if only and not any(part in name for part in only.split(",")):
                    continue
                times, note = [], ""
                for _ in range(repeat):
                    url = path
                    if path == "CURSOR":
                        page_1 = client.get("/v1/posts?limit=50").json()
                        url = f"/v1/posts?limit=50&cursor={page_1['next_cursor']}"
                    started = time.perf_counter()
                    response = client.get(url)
                    times.append(time.perf_counter() - started)
                    response.raise_for_status()
                    note = _summary(response.json())
                print(f"{name:34} {times[0] * 1e3:8.1f} {percentile(times, .5) * 1e3:8.1f} "
                      f"{percentile(times, .95) * 1e3:8.1f}  {note}")
            print(f"engine peak RSS {memory_mb(engine.pid)['VmHWM']:.0f} MB; "
                  f"loadavg {loadavg()}")
    finally:
        engine.terminate()
        engine.wait(timeout=120)


def _wait(client: httpx.Client) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            client.get("/health", timeout=30).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.5)
    raise RuntimeError("the engine did not start")


def _summary(body: dict) -> str:
    if "total" in body:
        return f"total {body['total']:,}, {len(body['items'])} items"
    if "items" in body:
        return f"{len(body['items'])} rows"
    if "previous_posts" in body:
        return f"{body['posts']:,} posts, {len(body['terms'])} terms"
    if "counts" in body:
        return f"posts {body['counts']['posts']:,}, pending {body['pending']:,}"
    return f"{len(body)} fields"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="reuse (or create) the database here")
    parser.add_argument("--only",
                        help="time only the calls whose name contains this (or one of a,b,c)")
    parser.add_argument("--cold", action="store_true",
                        help="the engine keeps no results between writes: every call reads")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = (args.keep or Path(tmp)) / "var"
        if not (data_dir / "subtext.duckdb").exists():
            print(f"generating {args.posts:,} posts in {data_dir} (loadavg {loadavg()})")
            started = time.perf_counter()
            generate(data_dir, args.posts)
            print(f"generated in {time.perf_counter() - started:.0f} s")
        bench(data_dir, args.posts, args.repeat, args.only, args.cold)


if __name__ == "__main__":
    main()
