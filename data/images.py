"""Content-addressed image files under the data directory, checked before they are kept.

An image is keyed by the sha256 of its original bytes, so a reposted meme is stored once. Bytes
that are not a readable image, or that would decompress into a huge bitmap, are recorded as
rejected (with the reason) and no file is written; the post is kept and analyzed text-only.
"""

from __future__ import annotations

import hashlib
import io
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_SIDE = 512  # the analyzers never look at more; storing more only costs disk
MAX_PIXELS = 40_000_000  # a decompression bomb is refused before its pixels are decoded
MAX_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class ImageRecord:
    sha256: str
    status: str  # 'ok' or 'rejected: <reason>'
    url: str | None = None
    width: int | None = None
    height: int | None = None
    phash: str | None = None
    path: str | None = None  # relative to the data directory
    bytes: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def rejected(reference: str, reason: str, data: bytes | None = None) -> ImageRecord:
    """The record of an image we could not keep: keyed by its bytes, or by its reference."""
    digest = hashlib.sha256(data if data is not None else reference.encode()).hexdigest()
    return ImageRecord(sha256=digest, status=f"rejected: {reason}", url=reference,
                       bytes=len(data) if data is not None else None)


def store_image(data_dir: Path, data: bytes, reference: str | None = None) -> ImageRecord:
    """Check `data` is a sane image and keep it (downscaled to MAX_SIDE) under data_dir."""
    if len(data) > MAX_BYTES:
        return rejected(reference or "", f"larger than {MAX_BYTES} bytes", data)
    try:
        image = decode_image(data)
    except ValueError as exc:
        return rejected(reference or "", str(exc), data)
    digest = hashlib.sha256(data).hexdigest()
    relative = Path("images") / digest[:2] / f"{digest}.png"
    target = data_dir / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        # A unique temp name: two jobs may store the same meme at once. The rename is atomic,
        # so a crash never leaves half a file under the final name.
        tmp = target.with_name(f".{digest}.{uuid.uuid4().hex}.tmp")
        image.save(tmp, format="PNG", optimize=True)
        tmp.replace(target)
    return ImageRecord(sha256=digest, status="ok", url=reference, width=image.width,
                       height=image.height, phash=difference_hash(image),
                       path=relative.as_posix(), bytes=len(data))


def decode_image(data: bytes) -> Image.Image:
    """Decode the first frame, upright and at most MAX_SIDE, or raise ValueError why not."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.width * probe.height > MAX_PIXELS:
                    raise ValueError(f"decompression bomb: {probe.width}x{probe.height} pixels")
                probe.seek(0)  # animated GIF/WebP: the first frame stands for the image
                image = ImageOps.exif_transpose(probe).convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValueError(f"decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise ValueError("not an image") from None
    except (OSError, SyntaxError, EOFError) as exc:  # truncated or corrupt files
        raise ValueError(f"corrupt image: {exc}") from None
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    return image


def difference_hash(image: Image.Image) -> str:
    """A 64-bit perceptual hash (dHash): near-identical memes get near-identical hashes."""
    small = image.convert("L").resize((9, 8), Image.Resampling.LANCZOS)
    pixels = list(small.get_flattened_data())
    bits = 0
    for row in range(8):
        for col in range(8):
            left, right = pixels[row * 9 + col], pixels[row * 9 + col + 1]
            bits = (bits << 1) | (left > right)
    return f"{bits:016x}"


def check_image_file(path: Path) -> str | None:
    """Why the image file at `path` cannot be analyzed, or None when it can."""
    try:
        if path.stat().st_size > MAX_BYTES:
            return f"larger than {MAX_BYTES} bytes"
        decode_image(path.read_bytes())
    except OSError as exc:
        return f"cannot read {path.name}: {exc.strerror or exc}"
    except ValueError as exc:
        return str(exc)
    return None
