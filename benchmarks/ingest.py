"""Ingest speed through the paths users run: `POST /v1/ingest` of a real engine (uvicorn on
127.0.0.1, started with `python -m subtext engine`) and `python -m subtext import FILE`
(straight into the store with the engine stopped, and through the engine's API).

Synthetic text-only posts (English, about the two demo brands, brands matched by the engine's
brand queries). Prints posts/s, p50/p95 per request, the engine's peak RSS and CPU-ms per post,
with the load average. Two rounds: "quiet" (analysis idle) and "busy" (the engine analyzes
every second beside the ingest) and, in both, a dashboard call (`/v1/posts` page 1 and
`/v1/trends`) timed every 0.5 s while the ingest runs.

    nice -n 10 python -m benchmarks.ingest [--posts 200000] [--batch 1000] [--clients 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from benchmarks.engine_memory import free_port, memory_mb

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("camera battery screen price update love hate slow fast great terrible support "
         "refund shipping design heavy light bright dull amazing broken").split()
BRANDS = ("Nimbus", "Voltra")

CONFIG = """
[storage]
data_dir = "{data}"

[[brands]]
name = "Nimbus"
query = "nimbus OR 云朵"

[[brands]]
name = "Voltra"
query = "voltra OR 伏特拉"

[analysis]
backend = "lite"
batch_size = 64
every_seconds = {analyze_every}

[alerts]
every_seconds = 3600

[api]
port = {port}
"""


def synthetic_posts(n: int, seed: int = 7, prefix: str = "p") -> list[dict]:
    rng = random.Random(seed)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    posts = []
    for i in range(n):
        words = rng.choices(WORDS, k=rng.randint(6, 24))
        words.insert(rng.randrange(len(words)), rng.choice(BRANDS))
        posts.append({
            "id": f"{prefix}{i}", "text": " ".join(words), "lang": "en",
            "author": f"user{rng.randrange(5000)}", "url": f"https://example.org/{prefix}{i}",
            "created_at": (start + timedelta(seconds=rng.randrange(60 * 86400))).isoformat(),
            "likes": rng.randrange(100), "reposts": rng.randrange(10),
            "replies": rng.randrange(10)})
    return posts


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


class Engine:
    """`python -m subtext engine` on a fresh data directory, stopped on exit."""

    def __init__(self, tmp: Path, analyze_every: int):
        tmp.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.config = tmp / f"bench-{self.port}.toml"
        self.config.write_text(CONFIG.format(data=(tmp / "var").as_posix(), port=self.port,
                                             analyze_every=analyze_every), encoding="utf-8")
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Engine:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "subtext", "--config", str(self.config), "engine"], cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/health", timeout=2).raise_for_status()
                return self
            except httpx.HTTPError:
                time.sleep(0.3)
        raise RuntimeError("the engine did not start")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


class Watcher(threading.Thread):
    """Times one dashboard call every 0.5 s until stopped."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.stop, self.times, self.failures = url, threading.Event(), {}, 0

    def run(self) -> None:
        calls = {"posts page 1": "/v1/posts?limit=50", "trends by day": "/v1/trends?bucket=day"}
        with httpx.Client(base_url=self.url, timeout=60) as client:
            while not self.stop.wait(0.5):
                for name, path in calls.items():
                    start = time.perf_counter()
                    ok = client.get(path).status_code == 200
                    self.failures += not ok
                    self.times.setdefault(name, []).append(time.perf_counter() - start)

    def report(self) -> str:
        return "; ".join(f"{name} p50 {percentile(t, .5) * 1e3:.0f} ms p95 "
                         f"{percentile(t, .95) * 1e3:.0f} ms max {max(t) * 1e3:.0f} ms (n={len(t)})"
                         for name, t in self.times.items()) + f"; failures {self.failures}"


def warm_up_analysis(client: httpx.Client, url: str, timeout_s: float = 180) -> None:
    """Store a few posts and wait for their first verdicts: the analyzer takes seconds to load
    its models, longer than a whole timed ingest lasts, so without this "busy" measured
    ingest beside a scheduler with nothing analysed yet."""
    warm = synthetic_posts(300, seed=11, prefix="warm")
    client.post("/v1/ingest", json={"posts": warm}).raise_for_status()
    deadline = time.monotonic() + timeout_s
    while httpx.get(f"{url}/health", timeout=60).json()["counts"]["verdicts"] == 0:
        if time.monotonic() > deadline:
            raise SystemExit(f"busy round: no verdict within {timeout_s:.0f} s")
        time.sleep(0.5)


def bench_api(tmp: Path, posts: list[dict], batch: int, clients: int, busy: bool) -> None:
    bodies = [json.dumps({"posts": posts[i:i + batch]}).encode()
              for i in range(0, len(posts), batch)]
    with Engine(tmp, analyze_every=1 if busy else 86400) as engine:
        watcher = Watcher(engine.url)
        cpu_before, times, counts = cpu_s(engine.process.pid), [], {"new": 0, "updated": 0}
        lock = threading.Lock()

        def send(client: httpx.Client, body: bytes) -> None:
            start = time.perf_counter()
            response = client.post("/v1/ingest", content=body,
                                   headers={"content-type": "application/json"})
            response.raise_for_status()
            with lock:
                times.append(time.perf_counter() - start)
                for key in counts:
                    counts[key] += response.json()[key]

        http = [httpx.Client(base_url=engine.url, timeout=300) for _ in range(clients)]
        if busy:
            warm_up_analysis(http[0], engine.url)
        watcher.start()
        load_before = loadavg()
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(lambda job: send(http[job[0] % clients], job[1]), enumerate(bodies)))
        took = time.perf_counter() - start
        watcher.stop.set()
        watcher.join()
        cpu = cpu_s(engine.process.pid) - cpu_before
        memory = memory_mb(engine.process.pid)
        for client in http:
            client.close()
        health = httpx.get(f"{engine.url}/health", timeout=60).json()
    mode = "busy (analysis every 1 s)" if busy else "quiet (analysis idle)"
    print(f"\nAPI /v1/ingest, {mode}: {len(posts)} posts in {len(bodies)} requests of {batch}, "
          f"{clients} clients")
    print(f"  {len(posts) / took:,.0f} posts/s; per request p50 {percentile(times, .5) * 1e3:.0f}"
          f" ms p95 {percentile(times, .95) * 1e3:.0f} ms; new {counts['new']} updated "
          f"{counts['updated']}; stored {health['counts']['posts']}, analyzed "
          f"{health['counts']['verdicts']} (incl. {300 if busy else 0} warm-up posts)")
    print(f"  engine: peak RSS {memory['VmHWM']:.0f} MB, CPU {cpu * 1e3 / len(posts):.3f} ms/post"
          f" (all engine threads, analysis included)")
    print(f"  dashboard meanwhile: {watcher.report()}")
    print(f"  loadavg before {load_before} / after {loadavg()}")


def bench_import(tmp: Path, posts: list[dict]) -> None:
    """`subtext import` twice per path: into an empty database (all new), then the same file
    again (all updated, nothing doubled)."""
    path = tmp / "import.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in posts), encoding="utf-8")
    for label, running in (("store (engine stopped)", False), ("engine API", True)):
        engine = Engine(tmp / label.split()[0], analyze_every=86400)
        if running:
            engine.__enter__()
        try:
            for _ in range(2):
                import_once(engine, path, label, len(posts), running)
        finally:
            if running:
                engine.__exit__()


def import_once(engine: Engine, path: Path, label: str, n: int, running: bool) -> None:
    load_before = loadavg()
    engine_cpu = cpu_s(engine.process.pid) if running else 0.0
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "subtext", "--config", str(engine.config),
                              "import", str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(child.pid, 0)
    took = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    summary = child.stdout.read().strip()
    print(f"\nimport via {label}: {n} posts in {took:.1f} s = {n / took:,.0f} posts/s "
          f"(process start included); importer CPU "
          f"{(usage.ru_utime + usage.ru_stime) * 1e3 / n:.3f} ms/post, peak RSS "
          f"{usage.ru_maxrss / 1024:.0f} MB, exit {child.returncode}")
    print(f"  {summary}")
    if running:  # the engine's share: it checks and stores every row
        print(f"  engine CPU {(cpu_s(engine.process.pid) - engine_cpu) * 1e3 / n:.3f} ms/post")
    print(f"  loadavg before {load_before} / after {loadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--skip", choices=["api", "import"], action="append", default=[])
    args = parser.parse_args()
    print(f"loadavg at start: {loadavg()}  ({os.cpu_count()} CPUs, shared machine)")
    posts = synthetic_posts(args.posts)
    if "api" not in args.skip:
        for busy in (False, True):
            with tempfile.TemporaryDirectory() as tmp:
                bench_api(Path(tmp), posts, args.batch, args.clients, busy)
    if "import" not in args.skip:
        with tempfile.TemporaryDirectory() as tmp:
            bench_import(Path(tmp), posts)


if __name__ == "__main__":
    main()
