"""Posts/s of the batch path (`python -m subtext analyze`'s batch.run) with the local runner and
with the Ray runner, on the same posts, and the ratio: what the Ray path costs (or gains).

    python benchmarks/ray_runner.py                      # lite, a throwaway 2-node Ray here
    python benchmarks/ray_runner.py --posts 2000 --embed auto
    # on a GPU machine, the vlm backend on a running cluster (ray start --head --num-gpus 1):
    python benchmarks/ray_runner.py --backend vlm --model /models/qwen2-vl-2b \\
        --address auto --num-gpus 1 --concurrency 1 1 --batch-size 8 --posts 200

Without --address it starts a head and `--workers` worker nodes (1 CPU each) on 127.0.0.1 and
stops them after. The figures include starting the actor pool (each actor loads the model)
once per Ray job, as the engine pays it; the load average is printed beside them because the
machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

TEXTS = [
    ("Love my Nimbus 7, the camera is amazing", "en"),
    ("Great, another update that breaks everything 🙄", "en"),
    ("Voltra X2 battery drains in two hours, terrible", "en"),
    ("Nimbus or Voltra? Comparing both this weekend", "en"),
    ("Oh wonderful, the Nimbus app logged me out again. Best day ever.", "en"),
    ("这手机续航真厉害，让我三天没睡着", "zh"),
    ("云朵手机太卡了，客服也不回", "zh"),
    ("伏特拉的新款拍照很清楚，推荐", "zh"),
]


def posts_file(folder: Path, n: int) -> Path:
    path = folder / "posts.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            text, lang = TEXTS[i % len(TEXTS)]
            out.write(json.dumps({"id": i, "text": f"{text} #{i}", "lang": lang},
                                 ensure_ascii=False) + "\n")
    return path


def timed(runner, source: Path, out: Path) -> tuple[float, int]:
    from subtext import batch

    start = time.perf_counter()
    failed = batch.run(runner, source, out, runner.batch_posts)
    return time.perf_counter() - start, failed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--posts", type=int, default=1000)
    p.add_argument("--backend", default="lite")
    p.add_argument("--model", default="")
    p.add_argument("--embed", default="always", choices=["always", "auto", "never"])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--address", default="", help="a running cluster (default: start one here)")
    p.add_argument("--workers", type=int, default=1, help="worker nodes of the cluster started")
    p.add_argument("--concurrency", type=int, nargs=2, default=(1, 2), metavar=("MIN", "MAX"))
    p.add_argument("--num-gpus", type=float, default=0.0)
    p.add_argument("--skip-local", action="store_true", help="e.g. no GPU on the driver")
    args = p.parse_args()

    from analysis.base import load_analyzer
    from analysis.runners import LocalRunner, RayRunner
    from subtext.config import Analysis

    settings = Analysis(backend=args.backend, model=args.model, embed=args.embed,
                        batch_size=args.batch_size, runner="ray",
                        ray_concurrency=tuple(args.concurrency), ray_num_gpus=args.num_gpus)
    cluster = None
    if not args.address:
        from tests.ray_cluster import LocalCluster

        cluster = LocalCluster(workers=args.workers).start()
        os.environ.update(cluster.env)
    settings = replace(settings, ray_address=args.address or cluster.address)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            source = posts_file(folder, args.posts)
            if not args.skip_local:
                local = LocalRunner(load_analyzer(settings), settings.batch_size)
                local.analyze(load_items(source, 8))  # load the models: not part of the rate
                rows.append(("local", *timed(local, source, folder / "local.jsonl")))
            ray_runner = RayRunner(settings)
            start = time.perf_counter()
            ray_runner.connect()
            connect_s = time.perf_counter() - start
            rows.append(("ray", *timed(ray_runner, source, folder / "ray.jsonl")))
            same = (args.skip_local or verdicts(folder / "local.jsonl")
                    == verdicts(folder / "ray.jsonl"))
            ray_runner.close()
    finally:
        if cluster is not None:
            cluster.stop()
    load = Path("/proc/loadavg").read_text().split()[:3]
    where = (f"cluster {args.address}" if args.address
             else f"1 head + {args.workers} worker node(s) here, 1 CPU each")
    print(f"backend {args.backend} (embed {args.embed}), {args.posts} posts, batch "
          f"{args.batch_size}, Ray actors {args.concurrency[0]}-{args.concurrency[1]}, {where}")
    for name, seconds, failed in rows:
        print(f"  {name:5s} {args.posts / seconds:8.1f} posts/s  ({seconds:.1f} s, "
              f"{failed} failed)")
    if len(rows) == 2:
        print(f"  ray / local = {rows[0][1] / rows[1][1]:.2f} (posts/s ratio); same verdicts: "
              f"{same}")
    print(f"  ray connect {connect_s:.1f} s; driver peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB "
          "(workers not included)")
    print(f"  load average {' '.join(load)} on {os.cpu_count()} CPUs (shared machine)")
    return 0


def load_items(source: Path, n: int):
    from analysis.verdict import Item

    lines = source.read_text(encoding="utf-8").splitlines()[:n]
    return [Item(text=json.loads(x)["text"], lang=json.loads(x)["lang"]) for x in lines]


def verdicts(path: Path) -> list:
    keys = ("id", "label", "sentiment", "sarcasm_score", "confidence", "explanation")
    return [tuple(json.loads(x).get(k) for k in keys)
            for x in path.read_text(encoding="utf-8").splitlines()]


if __name__ == "__main__":
    sys.exit(main())
