"""How often a reposted meme template matches its original by perceptual hash, and how often
unrelated images falsely match: `python -m benchmarks.phash`.

Originals: the demo's meme images (data/demo/images) and templates rendered here
(tests/memes.py). Variants: half size, JPEG quality 40, a new caption band, and all three
(300 px, JPEG 50). False matches: every pair of distinct originals. The hash is the one the
store keeps (a 64-bit dHash of the decoded, downscaled image); a match is a Hamming distance of
at most the threshold (analysis/templates.MAX_DISTANCE is the one in use).
"""

from __future__ import annotations

import argparse
import io
import itertools
import time
from pathlib import Path

from PIL import Image

from analysis.templates import MAX_DISTANCE
from tests.memes import distance, encoded, phash, template, variants, with_caption

DEMO = Path(__file__).resolve().parent.parent / "data" / "demo" / "images"
THRESHOLDS = (4, 6, 8, 10, 12, 14)


def demo_variants(path: Path) -> tuple[bytes, dict[str, bytes]]:
    data = path.read_bytes()
    image = Image.open(io.BytesIO(data)).convert("RGB")
    half = image.resize((max(1, image.width // 2), max(1, image.height // 2)))
    captioned = with_caption(image, "me after three days of this phone")
    small = with_caption(image, "new words").resize((300, 300 * image.height // image.width))
    return data, {"resize": encoded(half), "jpeg": encoded(image, "JPEG", quality=40),
                  "caption": encoded(captioned), "all": encoded(small, "JPEG", quality=50)}


def rates(originals: dict[str, bytes], reposts: dict[str, dict[str, bytes]]) -> None:
    hashes = {name: phash(data) for name, data in originals.items()}
    kinds = ["resize", "jpeg", "caption", "all"]
    dist = {k: [distance(hashes[n], phash(reposts[n][k])) for n in originals] for k in kinds}
    unrelated = [distance(a, b) for a, b in itertools.combinations(hashes.values(), 2)]
    print(f"  {len(originals)} originals, {len(unrelated)} unrelated pairs")
    print("  threshold  " + "  ".join(f"{k:>8}" for k in kinds) + "  false-match")
    for t in THRESHOLDS:
        cells = "  ".join(f"{sum(d <= t for d in dist[k]) / len(dist[k]):8.1%}" for k in kinds)
        false = sum(d <= t for d in unrelated) / len(unrelated)
        mark = "  <- in use" if t == MAX_DISTANCE else ""
        print(f"  {t:>9}  {cells}  {false:11.2%}{mark}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rendered", type=int, default=200, help="templates to render")
    args = parser.parse_args()
    start = time.perf_counter()
    demo = {p.name: demo_variants(p) for p in sorted(DEMO.glob("*.png"))}
    print(f"demo meme images ({DEMO}):")
    rates({n: d for n, (d, _) in demo.items()}, {n: v for n, (_, v) in demo.items()})
    print("rendered templates (tests/memes.py):")
    rates({str(s): encoded(template(s)) for s in range(args.rendered)},
          {str(s): variants(s) for s in range(args.rendered)})
    print(f"({time.perf_counter() - start:.1f} s; load {Path('/proc/loadavg').read_text()})")


if __name__ == "__main__":
    main()
