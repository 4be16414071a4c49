"""Speed and memory of the whole `lite` analyzer, as the engine runs it (batches of posts).

    nice python -m benchmarks.speed_lite [--batch 64] [--posts 2000]

Text-only posts: the demo's texts, repeated with a varying suffix so no cache helps. Image
posts: the demo's image posts as they are (memes reposted: the image cache's real case) and the
demo images each once (no repeat). Cold = the first batch, model loading included; warm = the
rest. Prints posts/s, per-post latency p50/p95 (a batch's time shared by its posts) and the
process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from analysis.lite import LiteAnalyzer  # noqa: E402
from analysis.verdict import Item  # noqa: E402

DEMO = ROOT / "data" / "demo"


def demo_posts() -> list[dict]:
    return [json.loads(line) for line in (DEMO / "posts.jsonl").read_text("utf-8").splitlines()]


def text_items(count: int) -> list[Item]:
    posts = demo_posts()
    return [Item(text=f"{posts[i % len(posts)]['text']} #{i}", lang=posts[i % len(posts)]["lang"])
            for i in range(count)]


def image_items(repost: bool) -> list[Item]:
    posts = [p for p in demo_posts() if p["image"]]
    if not repost:  # each meme once
        seen: dict[str, dict] = {}
        for p in posts:
            seen.setdefault(p["image"], p)
        posts = list(seen.values())
    return [Item(text=p["text"], image=DEMO / p["image"], lang=p["lang"]) for p in posts]


def run(name: str, items: list[Item], batch: int) -> dict:
    analyzer = LiteAnalyzer()
    per_post, batch_s = [], []
    start = time.perf_counter()
    for offset in range(0, len(items), batch):
        chunk = items[offset:offset + batch]
        t0 = time.perf_counter()
        analyzer.analyze(chunk)
        took = time.perf_counter() - t0
        batch_s.append(took)
        per_post += [took * 1000 / len(chunk)] * len(chunk)
    total = time.perf_counter() - start
    cold_ms = batch_s[0] * 1000
    warm = per_post[len(items[:batch]):] or per_post
    warm_s = sum(batch_s[1:]) or batch_s[0]
    warm_n = len(items) - len(items[:batch]) or len(items)
    result = {
        "set": name, "posts": len(items), "batch": batch,
        "cold_first_batch_ms": round(cold_ms),
        "warm_posts_per_s": round(warm_n / warm_s, 1),
        "warm_p50_ms": round(statistics.median(warm), 2),
        "warm_p95_ms": round(sorted(warm)[int(0.95 * (len(warm) - 1))], 2),
        "overall_posts_per_s": round(len(items) / total, 1),
    }
    print(f"{name:28s} {len(items):5d} posts  cold first batch {result['cold_first_batch_ms']:6d}"
          f" ms   warm {result['warm_posts_per_s']:7.1f} posts/s   p50 {result['warm_p50_ms']:7.2f}"
          f" ms   p95 {result['warm_p95_ms']:7.2f} ms", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--posts", type=int, default=2000, help="text-only posts")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    results = [run("text only", text_items(args.posts), args.batch),
               run("image posts (demo, reposts)", image_items(repost=True), args.batch),
               run("image posts (each meme once)", image_items(repost=False), args.batch)]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB; load average at end: {os.getloadavg()[0]:.2f}")
    print(json.dumps({"results": results, "peak_rss_mb": round(peak)}, indent=1))


if __name__ == "__main__":
    main()
