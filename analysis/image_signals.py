"""Everything the analyzers read from an image, behind one call: caption text and faces.

    reader = ImageReader()
    signals = reader.read(Path("meme.png"))           # one image
    batch = reader.read_many([path_a, path_b, ...])   # side by side on the machine's cores

Results are cached by the sha256 of the file's bytes (bounded LRU), because reposted memes are
common: a repost costs a file read and a hash. A bad image (unreadable, corrupt, a
decompression bomb) never raises: its signals carry `error` and a note, and the post is analysed
text-only. A missing face model turns faces off (a note on each image, captions still read); a
missing OCR model does raise, since no caption could be read at all.
"""

from __future__ import annotations

import copy
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from analysis.faces import FaceReader, face_polarity
from analysis.ocr import CaptionOCR
from analysis.preprocess import RawImage, prepare, read_raw

CACHE_SIZE = 4096  # a few KB each: OCR lines and face scores, never pixels
FAILED = "analysis failed"


@dataclass
class ImageSignals:
    sha256: str
    ocr_text: str = ""
    ocr_lines: list[dict] = field(default_factory=list)  # {"text", "box", "score"}
    faces: list[dict] = field(default_factory=list)  # {"box", "detector", "expression", "scores"}
    face_polarity: float | None = None  # None when no face
    notes: list[str] = field(default_factory=list)
    latency_ms: float = 0.0
    error: str | None = None  # why the image could not be read; the post goes text-only
    cached: bool = False  # served from the cache: nothing was decoded or run

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        return asdict(self)


class ImageReader:
    def __init__(self, cache_size: int = CACHE_SIZE, workers: int | None = None,
                 cartoon_faces: bool = True, ocr: CaptionOCR | None = None,
                 faces: FaceReader | None = None) -> None:
        # ocr / faces: pass loaded ones to share their models between readers.
        self.ocr = ocr or CaptionOCR()
        self.faces = faces or FaceReader(cartoon=cartoon_faces)
        self.workers = workers or max(1, min(2, os.cpu_count() or 1))
        self._cache = _LruCache(cache_size)

    def warm_up(self) -> None:
        """Load every model now (the first read would otherwise pay for it)."""
        self.ocr.load()
        self.faces.load()

    def clear_cache(self) -> None:
        self._cache = _LruCache(self._cache.size)

    def read(self, path: Path) -> ImageSignals:
        start = time.perf_counter()
        return self._read_raw(read_raw(Path(path)), start)

    def read_many(self, paths: list[Path]) -> list[ImageSignals]:
        """One result per path, in order. Distinct images run side by side; a meme that
        appears twice in the batch is analysed once."""
        self.warm_up()  # load before the threads start, so a broken install raises here
        raws = [read_raw(Path(p)) for p in paths]
        first = {}
        for index, raw in enumerate(raws):
            first.setdefault(raw.sha256, index)
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            done = dict(zip(first, pool.map(self._read_raw, (raws[i] for i in first.values())),
                            strict=True))
        return [done[raw.sha256] if first[raw.sha256] == index
                else replace(copy.deepcopy(done[raw.sha256]), cached=True, latency_ms=0.0)
                for index, raw in enumerate(raws)]

    def _read_raw(self, raw: RawImage, start: float | None = None) -> ImageSignals:
        start = time.perf_counter() if start is None else start
        if raw.data is None:  # nothing to key on: report, never cache
            return _rejected(raw.sha256, raw.error or "no data", start)
        hit = self._cache.get(raw.sha256)
        if hit is not None:
            return replace(hit, cached=True, latency_ms=_ms_since(start))
        signals = self._analyse(raw, start)
        if not (signals.error or "").startswith(FAILED):  # a crash may not recur: retry later
            self._cache.put(raw.sha256, copy.deepcopy(signals))  # callers may edit theirs
        return signals

    def _analyse(self, raw: RawImage, start: float) -> ImageSignals:
        self.warm_up()  # outside the guard below: missing models are not a bad image
        try:
            image = prepare(raw)
        except ValueError as exc:  # the decoder's own verdict: bomb, corrupt, not an image
            return _rejected(raw.sha256, str(exc), start)
        except Exception as exc:  # a file odd enough to trip Pillow itself
            return _rejected(raw.sha256, f"corrupt image: {type(exc).__name__}: {exc}", start)
        signals = ImageSignals(sha256=raw.sha256)
        try:
            self._add_caption(signals, image.bgr())
            self._add_faces(signals, image.gray())
        except Exception as exc:  # one odd image must not fail the batch
            signals.error = f"{FAILED}: {type(exc).__name__}: {exc}"
            signals.notes.append(f"image not analysed: {signals.error}")
        signals.latency_ms = _ms_since(start)
        return signals

    def _add_caption(self, signals: ImageSignals, bgr) -> None:
        result = self.ocr.read(bgr)
        signals.ocr_text, signals.ocr_lines = result.text, result.lines
        if result.skipped:
            signals.notes.append(f"no text found ({result.skipped})")

    def _add_faces(self, signals: ImageSignals, grey) -> None:
        signals.faces = self.faces.read(grey)
        if self.faces.unavailable:
            signals.notes.append(self.faces.unavailable)
        signals.face_polarity = face_polarity(signals.faces)
        drawn = sum(face["detector"] == "cartoon" for face in signals.faces)
        if drawn:
            signals.notes.append(f"{drawn} drawn (cartoon) face(s): expression read by a model "
                                 "trained on photos, less reliable")


def _rejected(sha256: str, reason: str, start: float) -> ImageSignals:
    return ImageSignals(sha256=sha256, error=reason, notes=[f"image rejected: {reason}"],
                        latency_ms=_ms_since(start))


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


class _LruCache:
    """A bounded, thread-safe map from image sha256 to its signals."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, ImageSignals] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> ImageSignals | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return copy.deepcopy(self._items[key])

    def put(self, key: str, value: ImageSignals) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
