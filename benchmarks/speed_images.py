"""Speed and memory of the image side (caption OCR + faces), with quality checks alongside.

    nice python -m benchmarks.speed_images [--json out.json] [--workers 2]

Images: the 44 demo memes (cartoon faces, phones, charts, EN/ZH captions), plus images drawn
here: captions on plain backgrounds, photo-like clutter without text, smooth pictures, and
captioned clutter. Measures, on whatever machine runs it:

- cold: import + model load, and the first read;
- warm, cache off: per-image latency (p50/p95) of one read, by kind of image, and its parts
  (decode, OCR with / without text, faces);
- batches: amortised ms per image and images/s through read_many, distinct images and the
  demo's real post list (58% of its image posts repost a meme: the cache's case);
- cache hits: latency of a repeat;
- CPU ms per image (robust when other jobs share the cores), peak RSS, load average;
- quality: OCR character recall on the demo captions, captions the skip probe would miss,
  and faces found on the demo images.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw, ImageFilter, ImageFont  # noqa: E402

DEMO = ROOT / "data" / "demo"
FACE_MOODS = ("panda", "clown", "eyeroll", "crying", "happy", "heart", "smile", "sweat")
EN_CAPTIONS = ["THIS IS FINE", "BATTERY LIFE BE LIKE", "SURE. TOTALLY NORMAL", "10/10 WOULD BUY"]
ZH_CAPTIONS = ["三天没睡着", "续航真厉害", "没事，挺好的", "懂的都懂"]


def main() -> None:
    args = parse_args()
    out: dict = {"load_avg_start": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        sets = render_sets(Path(tmp))
        sets["demo"] = sorted((DEMO / "images").glob("*.png"))
        shared = cold(out, args.workers)
        per_kind(out, shared, sets, args.repeat)
        batches(out, shared, sets, args.workers)
        cache_hits(out, shared, sets)
        quality(out, shared, sets)
    out["peak_rss_mb"] = rss_mb()
    out["load_avg_end"] = os.getloadavg()
    print(f"\npeak RSS {out['peak_rss_mb']:.0f} MB; load average start "
          f"{fmt_load(out['load_avg_start'])}, end {fmt_load(out['load_avg_end'])} "
          f"on {os.cpu_count()} cores")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, ensure_ascii=False))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--workers", type=int, default=2, help="threads for read_many")
    parser.add_argument("--repeat", type=int, default=2, help="warm passes per image set")
    return parser.parse_args()


# ---------------------------------------------------------------- measurements


def cold(out: dict, workers: int):
    """Import, model load and the first image, as the engine's first analysis pays them.
    Returns the reader: its models are shared by every later measurement."""
    rss_before = rss_mb()
    start = time.perf_counter()
    from analysis.image_signals import ImageReader

    reader = ImageReader(workers=workers)
    reader.warm_up()
    loaded = time.perf_counter()
    reader.read(DEMO / "images" / "panda_zh.png")
    out["cold_load_ms"] = round(ms(loaded - start))
    out["cold_first_read_ms"] = round(ms(time.perf_counter() - loaded))
    out["rss_models_mb"] = round(rss_mb() - rss_before)
    print(f"cold: import + model load {out['cold_load_ms']} ms, first read "
          f"{out['cold_first_read_ms']} ms; models and first read add {out['rss_models_mb']} "
          "MB to peak RSS")
    reader._cache = type(reader._cache)(reader._cache.size)  # forget the first read
    return reader


def per_kind(out: dict, shared, sets: dict, repeat: int) -> None:
    """One read at a time, cache off: what a single image post costs, by kind of image."""
    from analysis.image_signals import ImageReader
    from analysis.preprocess import load_image

    reader = ImageReader(cache_size=0, ocr=shared.ocr, faces=shared.faces)
    print("\nwarm, one read at a time, cache off (ms)")
    print(f"  {'images':22s} {'n':>3s} {'p50':>6s} {'p95':>6s} {'decode':>7s} {'ocr':>6s} "
          f"{'faces':>6s} {'cpu/img':>8s}")
    out["per_kind"] = {}
    for name, paths in sets.items():
        total, decode, ocr, faces = [], [], [], []
        cpu_start = time.process_time()
        for _ in range(repeat):
            for path in paths:
                t0 = time.perf_counter()
                image = load_image(path)
                t1 = time.perf_counter()
                shared.ocr.read(image.bgr())
                t2 = time.perf_counter()
                shared.faces.read(image.gray())
                t3 = time.perf_counter()
                reader.read(path)  # the whole path, as the analyzer calls it
                total.append(ms(time.perf_counter() - t3))
                decode.append(ms(t1 - t0))
                ocr.append(ms(t2 - t1))
                faces.append(ms(t3 - t2))
        cpu = ms(time.process_time() - cpu_start) / (len(total) * 2)  # each image ran twice
        row = {"n": len(paths), "p50": pct(total, 50), "p95": pct(total, 95),
               "decode_p50": pct(decode, 50), "ocr_p50": pct(ocr, 50),
               "faces_p50": pct(faces, 50), "cpu_ms_per_image": round(cpu, 1)}
        out["per_kind"][name] = row
        print(f"  {name:22s} {row['n']:3d} {row['p50']:6.0f} {row['p95']:6.0f} "
              f"{row['decode_p50']:7.1f} {row['ocr_p50']:6.0f} {row['faces_p50']:6.0f} "
              f"{row['cpu_ms_per_image']:8.0f}")


def batches(out: dict, shared, sets: dict, workers: int) -> None:
    """read_many over a batch, amortised: the engine's analyze job."""
    from analysis.image_signals import ImageReader

    distinct = [p for paths in sets.values() for p in paths]
    posts = [json.loads(line) for line in (DEMO / "posts.jsonl").read_text().splitlines()]
    reposted = [DEMO / post["image"] for post in posts if post.get("image")]
    print(f"\nbatches through read_many ({workers} workers)")
    out["batches"] = {}
    for name, paths in (("distinct images", distinct), ("demo image posts", reposted)):
        reader = ImageReader(workers=workers, ocr=shared.ocr, faces=shared.faces)
        cpu_start, start = time.process_time(), time.perf_counter()
        results = reader.read_many(paths)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        row = {"n": len(paths), "unique": sum(not r.cached for r in results),
               "amortised_ms": round(ms(wall) / len(paths), 1),
               "images_per_s": round(len(paths) / wall, 2),
               "cpu_ms_per_image": round(ms(cpu) / len(paths), 1)}
        out["batches"][name] = row
        print(f"  {name:18s} {row['n']:3d} images ({row['unique']} distinct): "
              f"{row['amortised_ms']:.0f} ms/image amortised, {row['images_per_s']:.1f} "
              f"images/s, {row['cpu_ms_per_image']:.0f} CPU ms/image")


def cache_hits(out: dict, shared, sets: dict) -> None:
    paths = sets["demo"]
    for path in paths:
        shared.read(path)
    hits = [shared.read(path).latency_ms for path in paths]
    out["cache_hit_ms"] = {"p50": pct(hits, 50), "p95": pct(hits, 95)}
    print(f"\ncache hit (file read + sha256 + copy): p50 {pct(hits, 50):.2f} ms, "
          f"p95 {pct(hits, 95):.2f} ms")


def quality(out: dict, shared, sets: dict) -> None:
    from analysis.ocr import looks_like_text
    from analysis.preprocess import load_image
    from data.demo.content import MEMES

    expected = {m.name: f"{m.top} {m.bottom} {m.options.get('label', '')}" for m in MEMES}
    recalls = [char_recall(expected[p.stem], shared.read(p).ocr_text) for p in sets["demo"]]
    captioned = [p for name in ("captions en", "captions zh", "captioned clutter", "demo")
                 for p in sets.get(name, [])]
    missed = [p.name for p in captioned if not looks_like_text(load_image(p).bgr())]
    skipped = {name: Counter(skip_reason(shared.read(p)) for p in sets[name])
               for name in ("smooth, no text", "clutter, no text")}
    out["ocr_demo_char_recall"] = round(statistics.mean(recalls), 4)
    out["probe_missed_captions"] = missed
    out["text_free_outcomes"] = {k: dict(v) for k, v in skipped.items()}
    print(f"\nOCR character recall on the {len(recalls)} demo captions: "
          f"{statistics.mean(recalls):.3f} (worst {min(recalls):.2f})")
    print(f"captioned images the skip probe would skip: {len(missed)} of {len(captioned)}")
    for name, outcome in skipped.items():
        print(f"  {name}: {dict(outcome)}")
    faces_on_demo(out, shared, sets["demo"])


def faces_on_demo(out: dict, shared, demo: list[Path]) -> None:
    found, false = [], []
    print("\nfaces on the demo images (16 drawn faces; the 'this is fine' dog also counts)")
    for path in demo:
        signals = shared.read(path)
        has_face = any(mood in path.stem for mood in FACE_MOODS)
        if has_face and signals.faces:
            found.append(path.stem)
        if not has_face and signals.faces and "fine" not in path.stem:
            false.append(path.stem)
        if signals.faces:
            face = signals.faces[0]
            print(f"  {path.stem:20s} {face['detector']:8s} {face['expression']:9s} "
                  f"polarity {signals.face_polarity:+.2f}")
        elif has_face:
            print(f"  {path.stem:20s} MISSED")
    total = sum(any(m in p.stem for m in FACE_MOODS) for p in demo)
    out["demo_faces_found"] = f"{len(found)}/{total}"
    out["demo_face_false_positives"] = false
    print(f"  drawn faces found {len(found)}/{total}; faces on other images: {false or 'none'}")


# ---------------------------------------------------------------- images drawn here


def render_sets(folder: Path) -> dict[str, list[Path]]:
    from data.demo.memes import find_cjk_font

    rng = random.Random(3)
    cjk = find_cjk_font()
    sets = {
        "captions en": [caption(folder, f"en{i}", text, ImageFont.load_default(size=52), rng)
                        for i, text in enumerate(EN_CAPTIONS)],
        "smooth, no text": [smooth(folder, f"smooth{i}", rng) for i in range(4)],
        "clutter, no text": [clutter(folder, f"clutter{i}", rng) for i in range(6)],
        "captioned clutter": [clutter(folder, f"capclutter{i}", rng, text)
                              for i, text in enumerate(EN_CAPTIONS)],
    }
    if cjk is not None:
        font = ImageFont.truetype(str(cjk), 60)
        sets["captions zh"] = [caption(folder, f"zh{i}", text, font, rng)
                               for i, text in enumerate(ZH_CAPTIONS)]
    return sets


def caption(folder: Path, name: str, text: str, font, rng) -> Path:
    img = Image.new("RGB", (480, 400), tuple(rng.randrange(40, 220) for _ in range(3)))
    _outlined(img, text, font)
    return _save(img, folder / f"{name}.png")


def smooth(folder: Path, name: str, rng) -> Path:
    img = Image.linear_gradient("L").rotate(rng.uniform(0, 360)).resize((512, 384))
    img = Image.merge("RGB", [img.point(lambda v, k=k: int(v * k)) for k in (0.6, 0.8, 1.0)])
    return _save(img.filter(ImageFilter.GaussianBlur(10)), folder / f"{name}.jpg")


def clutter(folder: Path, name: str, rng, text: str = "") -> Path:
    """Photo-like: overlapping shapes, blur, sensor noise; optionally a caption on top."""
    img = Image.new("RGB", (512, 384), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(30):
        x, y, r = rng.uniform(0, 512), rng.uniform(0, 384), rng.uniform(10, 90)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in "rgb"))
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 3)))
    noise = Image.effect_noise(img.size, 20).convert("RGB")
    img = Image.blend(img, noise, 0.15)
    if text:
        _outlined(img, text, ImageFont.load_default(size=44), y=img.height - 40)
    return _save(img, folder / f"{name}.jpg")


def _outlined(img: Image.Image, text: str, font, y: int | None = None) -> None:
    ImageDraw.Draw(img).text((img.width // 2, y or img.height // 5), text, font=font,
                             anchor="mm", fill="white", stroke_width=3, stroke_fill="black")


def _save(img: Image.Image, path: Path) -> Path:
    img.save(path, quality=90) if path.suffix == ".jpg" else img.save(path)
    return path


# ---------------------------------------------------------------- helpers


def skip_reason(signals) -> str:
    for note in signals.notes:
        if note.startswith("no text found ("):
            return note[len("no text found ("):-1]
    return "text found" if signals.ocr_text else "no note"


def char_recall(expected: str, got: str) -> float:
    want = Counter(c for c in expected.upper() if c.isalnum())
    have = Counter(c for c in got.upper() if c.isalnum())
    return sum(min(n, have[c]) for c, n in want.items()) / max(1, sum(want.values()))


def pct(values: list[float], q: int) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))], 2)


def ms(seconds: float) -> float:
    return seconds * 1000


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def fmt_load(load: tuple) -> str:
    return "/".join(f"{v:.1f}" for v in load)


if __name__ == "__main__":
    main()
