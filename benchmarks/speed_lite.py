"""Speed and memory of the whole `lite` analyzer, as the engine runs it (batches of posts).

    nice python -m benchmarks.speed_lite [--batch 64] [--posts 2000]

Text-only posts: the demo's texts, repeated with a varying suffix so no cache helps. Image
posts, with every model already loaded: the demo images each once (no cache help), then the
demo's image posts as they are (memes reposted: the image cache's real case), each on an empty
image cache. Cold = the first text batch, loading the text models included; warm = the rest.
Prints posts/s, per-post latency p50/p95 (a batch's time shared by its posts) and the
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


def run(analyzer: LiteAnalyzer, name: str, items: list[Item], batch: int, cold: bool) -> dict:
    """Batches through one analyzer. With `cold`, the first batch pays for loading the models
    and is reported apart; otherwise every batch counts as warm."""
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
    skip = 1 if cold and len(batch_s) > 1 else 0
    warm = per_post[len(items[:batch]) if skip else 0:]
    warm_s = sum(batch_s[skip:])
    result = {
        "set": name, "posts": len(items), "batch": batch,
        "cold_first_batch_ms": round(batch_s[0] * 1000) if cold else None,
        "warm_posts_per_s": round(len(warm) / warm_s, 1),
        "warm_p50_ms": round(statistics.median(warm), 2),
        "warm_p95_ms": round(sorted(warm)[int(0.95 * (len(warm) - 1))], 2),
        "overall_posts_per_s": round(len(items) / total, 1),
    }
    cold_text = f"cold first batch {result['cold_first_batch_ms']:6d} ms" if cold else " " * 25
    print(f"{name:28s} {len(items):5d} posts  {cold_text}   warm {result['warm_posts_per_s']:7.1f}"
          f" posts/s   p50 {result['warm_p50_ms']:7.2f} ms   p95 {result['warm_p95_ms']:7.2f} ms",
          flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--posts", type=int, default=2000, help="text-only posts")
    parser.add_argument("--embed", default="always", choices=["always", "auto", "never"])
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
          f"embed={args.embed}")
    analyzer = LiteAnalyzer(embed=args.embed)
    results = [run(analyzer, "text only", text_items(args.posts), args.batch, cold=True)]
    t0 = time.perf_counter()
    reader = analyzer._image_reader()
    reader.warm_up()
    print(f"image models loaded in {(time.perf_counter() - t0) * 1000:.0f} ms")
    # Every meme once, on an empty cache; then the demo's post list (58% of its image posts
    # repost a meme) on an empty cache again: the cache's real case.
    results.append(run(analyzer, "image posts (each meme once)", image_items(repost=False),
                       args.batch, cold=False))
    reader.clear_cache()
    results.append(run(analyzer, "image posts (demo, reposts)", image_items(repost=True),
                       args.batch, cold=False))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB; load average at end: {os.getloadavg()[0]:.2f}")
    print(json.dumps({"results": results, "peak_rss_mb": round(peak)}, indent=1))


if __name__ == "__main__":
    main()
