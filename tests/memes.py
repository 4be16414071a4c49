"""Meme-like images the template tests and benchmarks/phash.py render themselves: a picture
(shapes from a seed) with a caption band, and its variants as reposts make them."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw

from data.images import decode_image, difference_hash


def template(seed: int, caption: str = "when the update ships", size: int = 400) -> Image.Image:
    rng = random.Random(seed)
    image = Image.new("RGB", (size, size), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = rng.randrange(size), rng.randrange(size)
        r = rng.randrange(40, 160)
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
    return with_caption(image, caption)


def with_caption(image: Image.Image, caption: str) -> Image.Image:
    out = image.copy()
    draw = ImageDraw.Draw(out)
    band = out.height // 8
    draw.rectangle((0, out.height - band, out.width, out.height), fill="white")
    draw.text((10, out.height - band + band // 3), caption, fill="black")
    return out


def encoded(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def variants(seed: int) -> dict[str, bytes]:
    """How a template comes back: resized, JPEG re-encoded, re-captioned, all three."""
    base = template(seed)
    half = base.resize((base.width // 2, base.height // 2))
    recaptioned = with_caption(template(seed, caption=""), "me after three days of this phone")
    return {"resize": encoded(half), "jpeg": encoded(base, "JPEG", quality=40),
            "caption": encoded(recaptioned),
            "all": encoded(with_caption(template(seed, ""), "new words").resize((300, 300)),
                           "JPEG", quality=50)}


def phash(data: bytes) -> str:
    """The hash the store keeps (data/images.store_image): of the decoded, downscaled image."""
    return difference_hash(decode_image(data))


def distance(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")
