"""Speed of the configured analysis backend: items/s and p50/p95 latency per batch size, with
peak GPU memory on CUDA, on the demo posts (text + meme images, English and Chinese).

    python -m benchmarks.speed_backends --config subtext.toml
    python -m benchmarks.speed_backends --backend vlm --model models/GLM-4.6V-Flash \\
        --batch-sizes 1,4,8,16 --batches 5

A smoke run on the tiny random model the tests use (its answers are noise, so all are
"unparsed" and each batch pays a repair round):

    python -m tests.tiny_models /tmp/tiny-vlm
    python -m benchmarks.speed_backends --backend vlm --model /tmp/tiny-vlm --device cpu

Every batch size runs `--batches` timed batches after one warm-up batch (kernel selection
and allocator growth are not what a running engine pays). A batch's latency is the wall time
of one `analyze()` call; "ms/item" divides it by the batch size. For the vlm backend the
number of answers that could not be parsed is reported too: speed that yields no verdicts is
not speed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

from analysis.base import analyzer_id, load_analyzer
from analysis.verdict import Item
from subtext.config import load

DEMO_POSTS = Path(__file__).resolve().parent.parent / "data" / "demo" / "posts.jsonl"


def demo_items(images: bool) -> list[Item]:
    items = []
    for line in DEMO_POSTS.read_text(encoding="utf-8").splitlines():
        post = json.loads(line)
        image = DEMO_POSTS.parent / post["image"] if images and post.get("image") else None
        items.append(Item(text=post["text"], image=image, lang=post.get("lang")))
    return items


def percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def measure(analyzer, items: list[Item], batch_size: int, batches: int) -> dict:
    import torch

    cuda = torch.cuda.is_available()
    pool = iter(items * (1 + (batch_size * (batches + 1)) // max(1, len(items))))
    take = lambda: [next(pool) for _ in range(batch_size)]  # noqa: E731
    analyzer.analyze(take())  # warm-up
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times, errors = [], 0
    for _ in range(batches):
        start = time.perf_counter()
        verdicts = analyzer.analyze(take())
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        errors += sum("error" in v.evidence for v in verdicts)
    total = sum(times)
    return {"batch": batch_size, "items_per_s": batch_size * batches / total,
            "p50_ms": percentile(times, 50) * 1000, "p95_ms": percentile(times, 95) * 1000,
            "ms_per_item": total * 1000 / (batch_size * batches),
            "peak_gpu_mib": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
            "unparsed": errors}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="subtext.toml whose [analysis] to measure")
    parser.add_argument("--backend", choices=["lite", "vlm", "text-hf"])
    parser.add_argument("--model", help="override [analysis] model (vlm)")
    parser.add_argument("--device", help="override [analysis] device")
    parser.add_argument("--dtype", help="override [analysis] dtype")
    parser.add_argument("--max-new-tokens", type=int)
    parser.add_argument("--max-image-side", type=int)
    parser.add_argument("--batch-sizes", default="1,4,8,16")
    parser.add_argument("--batches", type=int, default=5, help="timed batches per size")
    parser.add_argument("--no-images", action="store_true", help="text only")
    args = parser.parse_args(argv)

    sizes = [int(s) for s in args.batch_sizes.split(",")]
    overrides = {k: v for k, v in {"backend": args.backend, "model": args.model,
                                   "device": args.device, "dtype": args.dtype,
                                   "max_new_tokens": args.max_new_tokens,
                                   "max_image_side": args.max_image_side}.items()
                 if v is not None}
    settings = replace(load(args.config).analysis, **overrides, batch_size=max(sizes))
    start = time.perf_counter()
    analyzer = load_analyzer(settings)
    info = analyzer.describe() if hasattr(analyzer, "describe") else {}
    print(f"analyzer {analyzer_id(analyzer)}  device {info.get('device', 'cpu')}  "
          f"dtype {info.get('dtype', '-')}  load {time.perf_counter() - start:.1f} s  "
          f"images {'off' if args.no_images else 'on'}  "
          f"max_image_side {settings.max_image_side}  max_new_tokens {settings.max_new_tokens}")
    items = demo_items(images=not args.no_images)
    print(f"{'batch':>5} {'items/s':>9} {'p50 ms':>9} {'p95 ms':>9} {'ms/item':>9} "
          f"{'peak GPU MiB':>13} {'unparsed':>9}")
    for size in sizes:
        row = measure(analyzer, items, size, args.batches)
        gpu = f"{row['peak_gpu_mib']:.0f}" if row["peak_gpu_mib"] is not None else "-"
        print(f"{row['batch']:>5} {row['items_per_s']:>9.2f} {row['p50_ms']:>9.1f} "
              f"{row['p95_ms']:>9.1f} {row['ms_per_item']:>9.1f} {gpu:>13} "
              f"{row['unparsed']:>9}", flush=True)
    getattr(analyzer, "close", lambda: None)()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
