"""Speed of text-only analysis through `TextModel.predict`: posts/s, p50/p95, peak memory.

    python -m benchmarks.speed_text [--batch 64] [--posts 1024] [--modes never,auto,always]
    python -m benchmarks.speed_text --cli [--posts 1000] [--modes auto] [--beside-engine]
                                          [--reposts 0.3]

`--cli` measures the path users run instead: `python -m subtext analyze` on the first N
TweetEval sentiment tweets, under `/usr/bin/time -v` (wall, CPU = user + sys, peak RSS of the
whole process, loading included), once cold and once more (the OS file cache is then warm).
`--beside-engine` runs the same while a `subtext engine` on 127.0.0.1 takes in new posts over
`/v1/ingest` (20 a second, as collectors store them), analyses them every second and serves two
dashboard calls every 0.5 s: the machine as a deployment shares it. `--reposts 0.3` makes 30%
of the tweets copies of others (the encoders' caches answer them).

Posts are the demo's 301 hand-written English and Chinese posts, each made unique with a
counter (so the embedding cache never helps unless said so). For each `embed` mode it reports:

- cold: a fresh process's first batch, loading included (artifacts, and e5 when the mode uses it)
- warm: the following batches; per-batch latency p50/p95 and posts/s
- repeat: the same batches again (reposts: the embedding cache answers)
- CPU ms per post (robust when other jobs share the cores: 2 cores give 2000 CPU-ms a second)

Each mode runs in its own process so its peak RSS is its own. The machine's load average is
printed: on a shared two-core machine, other work slows every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
POSTS = REPO / "data" / "demo" / "posts.jsonl"


def demo_posts(n: int) -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in POSTS.read_text(encoding="utf-8").splitlines() if line]
    texts = [f"{rows[i % len(rows)]['text']} #{i}" for i in range(n)]
    return texts, [rows[i % len(rows)]["lang"] for i in range(n)]


def measure(mode: str, batch: int, posts: int) -> dict:
    t0 = time.perf_counter()
    from analysis.heads import TextModel

    model = TextModel.load()
    texts, langs = demo_posts(posts)
    batches = [(texts[i:i + batch], langs[i:i + batch]) for i in range(0, posts, batch)]
    latencies, embedded, cpu = [], 0, 0.0
    for n, (bt, bl) in enumerate(batches):
        start, cpu_start = time.perf_counter(), time.process_time()
        scores = model.predict(bt, bl, embed=mode)
        latencies.append(time.perf_counter() - (t0 if n == 0 else start))
        cpu += (time.process_time() - cpu_start) if n else 0.0
        embedded += sum(s.embedded for s in scores)
    warm = np.array(latencies[1:]) if len(latencies) > 1 else np.array(latencies)
    repeat_start = time.perf_counter()
    for bt, bl in batches[1:]:
        model.predict(bt, bl, embed=mode)
    repeat = time.perf_counter() - repeat_start
    warm_posts = posts - len(batches[0][0])
    return {
        "mode": mode, "batch": batch, "posts": posts,
        "cold_first_batch_s": round(latencies[0], 3),
        "warm_posts_per_s": round(warm_posts / warm.sum(), 1) if warm_posts else None,
        "warm_batch_p50_ms": round(1000 * float(np.percentile(warm, 50)), 1),
        "warm_batch_p95_ms": round(1000 * float(np.percentile(warm, 95)), 1),
        "warm_per_post_p50_ms": round(1000 * float(np.percentile(warm, 50)) / batch, 2),
        "warm_per_post_p95_ms": round(1000 * float(np.percentile(warm, 95)) / batch, 2),
        # CPU time is robust to other jobs on the cores; 2 cores give 2000 CPU-ms a second
        "warm_cpu_ms_per_post": round(1000 * cpu / warm_posts, 2) if warm_posts else None,
        "repeat_posts_per_s": round(warm_posts / repeat, 1) if warm_posts else None,
        "embedded_share": round(embedded / posts, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _time_v(field: str, text: str) -> float:
    line = next(x for x in text.splitlines() if x.strip().startswith(field))
    value = line.rsplit(": ", 1)[1].strip()
    if ":" in value:  # h:mm:ss or m:ss.ss
        parts = [float(p) for p in value.split(":")]
        return sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    return float(value)


def cli_texts(posts: int, reposts: float = 0.0) -> list[str]:
    """The first `posts` TweetEval tweets; with `reposts`, that share of them replaced by
    copies of other tweets of the run (a seeded draw, copies spread through it)."""
    from analysis import datasets

    texts = datasets.tweeteval("sentiment", "val").texts[:posts]
    copies = int(round(posts * reposts))
    if not copies:
        return texts
    rng = np.random.default_rng(7)
    originals = texts[:posts - copies]
    texts = originals + [originals[i] for i in rng.integers(0, len(originals), copies)]
    return [texts[i] for i in rng.permutation(len(texts))]


def cli(mode: str, posts: int, tmp: Path, encoder: str = "minilm",
        auto_threshold: float | None = None, reposts: float = 0.0) -> dict:
    """One `subtext analyze` run over `posts` TweetEval tweets, as a user runs it."""
    src, out, cfg = tmp / "in.jsonl", tmp / "out.jsonl", tmp / "subtext.toml"
    src.write_text("".join(json.dumps({"id": i, "text": t, "lang": "en"}) + "\n"
                           for i, t in enumerate(cli_texts(posts, reposts))), encoding="utf-8")
    gate = "" if auto_threshold is None else f"auto_threshold = {auto_threshold}\n"
    cfg.write_text(f'[analysis]\nembed = "{mode}"\ntext_encoder = "{encoder}"\n{gate}',
                   encoding="utf-8")
    load = os.getloadavg()
    run = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "subtext", "--config",
                          str(cfg), "analyze", str(src), "--out", str(out)], cwd=REPO,
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(run.stderr[-2000:])
    wall = _time_v("Elapsed (wall clock)", run.stderr)
    cpu = _time_v("User time", run.stderr) + _time_v("System time", run.stderr)
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    latency = np.array([x.get("latency_ms", 0.0) for x in lines])
    return {"mode": mode, "auto_threshold": auto_threshold, "text_encoder": encoder,
            "posts": len(lines), "reposts": reposts, "wall_s": round(wall, 1),
            "posts_per_s": round(len(lines) / wall, 1),
            "encoded_share": round(sum(x.get("evidence", {}).get("encoded", False)
                                       for x in lines) / len(lines), 3),
            "cpu_ms_per_post": round(1000 * cpu / len(lines), 1),
            "latency_p50_ms": round(float(np.percentile(latency, 50)), 1),
            "latency_p95_ms": round(float(np.percentile(latency, 95)), 1),
            "peak_rss_mb": round(_time_v("Maximum resident set size", run.stderr) / 1024),
            "load_before": [round(x, 2) for x in load],
            "load_after": [round(x, 2) for x in os.getloadavg()]}


class busy_engine:
    """A `subtext engine` that takes in 20 posts a second, analyses every second and serves
    dashboard calls (benchmarks/ingest.py's Engine and Watcher) until the block ends."""

    def __init__(self, tmp: Path, per_second: int = 20):
        from benchmarks.ingest import Engine

        self.engine, self.per_second = Engine(tmp, analyze_every=1), per_second
        self.stop = threading.Event()
        self.sent = 0

    def __enter__(self):
        import httpx

        from benchmarks.ingest import Watcher, warm_up_analysis

        self.engine.__enter__()
        self.client = httpx.Client(base_url=self.engine.url, timeout=60)
        warm_up_analysis(self.client, self.engine.url)  # its models are loaded and working
        self.watcher = Watcher(self.engine.url)
        self.feeder = threading.Thread(target=self._feed, daemon=True)
        self.watcher.start()
        self.feeder.start()
        return self

    def _feed(self) -> None:
        from benchmarks.ingest import synthetic_posts

        posts = synthetic_posts(100_000, seed=5, prefix="busy")
        while not self.stop.wait(1.0) and self.sent < len(posts):
            batch = posts[self.sent:self.sent + self.per_second]
            self.client.post("/v1/ingest", json={"posts": batch}).raise_for_status()
            self.sent += len(batch)

    def report(self) -> str:
        counts = self.client.get("/health").json()["counts"]
        return (f"engine ingested {self.sent} posts (20/s), {counts['verdicts']} verdicts; "
                + self.watcher.report())

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.watcher.stop.set()
        self.feeder.join()
        self.watcher.join()
        self.client.close()
        self.engine.__exit__(*exc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--posts", type=int, default=1024)
    parser.add_argument("--modes", default="never,auto,always")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child process: one mode, JSON out
    parser.add_argument("--cli", action="store_true", help="time `subtext analyze` instead")
    parser.add_argument("--text-encoder", default="minilm", help="with --cli: minilm | e5")
    parser.add_argument("--auto-threshold", type=float, default=None,
                        help="with --cli --modes auto: the gate (default: the shipped one)")
    parser.add_argument("--beside-engine", action="store_true",
                        help="with --cli: an engine ingests, analyses and serves meanwhile")
    parser.add_argument("--reposts", type=float, default=0.0,
                        help="with --cli: this share of the posts repeats others (0..1)")
    args = parser.parse_args(argv)
    if args.cli:
        import tempfile
        from contextlib import nullcontext

        with tempfile.TemporaryDirectory() as tmp:
            busy = busy_engine(Path(tmp) / "engine") if args.beside_engine else nullcontext()
            with busy as engine:
                for mode in args.modes.split(","):
                    for run in ("cold", "again"):
                        result = cli(mode, args.posts, Path(tmp), args.text_encoder,
                                     args.auto_threshold, args.reposts)
                        beside = engine.report() if engine else "quiet"
                        print(json.dumps({"run": run, **result, "beside": beside}), flush=True)
        return 0
    if args.one:
        print(json.dumps(measure(args.one, args.batch, args.posts)))
        return 0
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores); batch {args.batch}, "
          f"{args.posts} unique posts per mode")
    header = (f"{'embed':7} {'cold 1st batch':>14} {'posts/s':>8} {'batch p50':>10} "
              f"{'batch p95':>10} {'post p50':>9} {'post p95':>9} {'repeat/s':>9} "
              f"{'e5 share':>8} {'CPU ms/post':>11} {'peak RSS':>9}")
    print(header)
    print("-" * len(header))
    for mode in args.modes.split(","):
        child = subprocess.run([sys.executable, "-m", "benchmarks.speed_text", "--one", mode,
                                "--batch", str(args.batch), "--posts", str(args.posts)],
                               cwd=REPO, capture_output=True, text=True, check=True)
        r = json.loads(child.stdout.strip().splitlines()[-1])
        print(f"{mode:7} {r['cold_first_batch_s']:13.2f}s {r['warm_posts_per_s']:8.1f} "
              f"{r['warm_batch_p50_ms']:8.0f}ms {r['warm_batch_p95_ms']:8.0f}ms "
              f"{r['warm_per_post_p50_ms']:7.2f}ms {r['warm_per_post_p95_ms']:7.2f}ms "
              f"{r['repeat_posts_per_s']:9.1f} {100 * r['embedded_share']:7.0f}% "
              f"{r['warm_cpu_ms_per_post']:11.2f} {r['peak_rss_mb']:7.0f}MB")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
