"""Image loading for analysis: one upright RGB frame of at most 512 px, and its cache key.

The checks themselves (decompression-bomb guard, EXIF orientation, first frame of an animation,
downscale) live in data.images.decode_image, shared with the store, so an image the store keeps
is exactly an image the analyzers can read. This module adds what analysis needs on top: the
sha256 of the original bytes (reposted memes hit the cache before anything is decoded) and the
pixel layouts the models want.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from data.images import MAX_BYTES, decode_image


@dataclass(frozen=True)
class RawImage:
    """The bytes of an image file and their sha256, or why they could not be read."""

    sha256: str
    data: bytes | None
    error: str | None = None


@dataclass(frozen=True)
class PreparedImage:
    """An upright RGB image of at most 512 px, ready for the models."""

    sha256: str
    image: Image.Image

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size

    def bgr(self) -> np.ndarray:
        """The layout OpenCV and RapidOCR expect (uint8, H x W x 3, BGR)."""
        return np.ascontiguousarray(np.asarray(self.image)[:, :, ::-1])

    def gray(self) -> np.ndarray:
        return np.asarray(self.image.convert("L"))


def read_raw(path: Path) -> RawImage:
    """Read a file's bytes for hashing; never raises. Huge files are refused before reading."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return RawImage(_digest(str(path).encode()), None, f"larger than {MAX_BYTES} bytes")
        data = path.read_bytes()
    except OSError as exc:
        # No bytes to key on: key on the path so the result is still reported, never cached.
        return RawImage(_digest(str(path).encode()), None,
                        f"cannot read {path.name}: {exc.strerror or exc}")
    return RawImage(_digest(data), data)


def prepare(raw: RawImage) -> PreparedImage:
    """Decode raw bytes into an analysable image, or raise ValueError saying why not."""
    if raw.data is None:
        raise ValueError(raw.error or "no image data")
    return PreparedImage(raw.sha256, decode_image(raw.data))


def load_image(path: Path) -> PreparedImage:
    """Read and decode one file; raises ValueError with the reason for a bad image."""
    return prepare(read_raw(path))


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
