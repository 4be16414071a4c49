"""Caption OCR: the words printed on a meme, with their boxes and scores as evidence.

RapidOCR runs the PP-OCRv6 detector and recogniser (Chinese + English) that ship inside the
rapidocr wheel on onnxruntime, so nothing is downloaded. Three things keep it fast:

- a contrast probe (under 1 ms) skips flat or smooth pictures outright: text makes sharp edges;
- the detector runs first and the recogniser only on the boxes it finds, so a photo with no text
  costs one detector pass;
- one onnxruntime thread per call: the reader runs images side by side on the machine's cores,
  which beats splitting one small image across threads.
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

# onnxruntime otherwise tries the network. Nothing above imports it; rapidocr (which does) is
# imported only when the models are first needed, after this line.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"
# Images arrive at <= 512 px; RapidOCR's default would upscale them to 736 first. At 384 the
# detector still read every demo caption and 12 px body text, 20% faster than at 512.
DET_SIDE = 384
MIN_LINE_SCORE = 0.5  # RapidOCR's own default cut-off for a recognised line
# Each detected box costs the recogniser ~25 ms of CPU. Boxes the detector is unsure of (0.5 to
# 0.6) were decorations on the demo memes (sparkles, dots, box edges): at 0.6 OCR costs 18%
# less with the same recall on the demo captions. What it loses: isolated words <= 10 px high.
BOX_THRESHOLD = 0.6

# The probe: how many pixels sit on a sharp edge. A caption, even one 10 px word at moderate
# contrast (which the recogniser still reads), puts about 80 pixels over this contrast; a flat
# graphic or a smooth, blurred picture puts none. Busy photos always pass: for them the
# detector pass is the skip. Measured in benchmarks/speed_images.py and the tests.
PROBE_CONTRAST = 32  # grey levels across a 3x3 neighbourhood
PROBE_MIN_PIXELS = 60

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]")
ALNUM = re.compile(r"[^\W_]", re.UNICODE)
CJK_PUNCT = "，。！？；：、）」』】》"


@dataclass
class OcrResult:
    text: str = ""
    lines: list[dict] = field(default_factory=list)  # {"text", "box", "score"}, reading order
    skipped: str | None = None  # why the recogniser did not run, when it did not
    latency_ms: float = 0.0


class CaptionOCR:
    """Loads the models once, on first use, and is safe to call from several threads."""

    def __init__(self, det_side: int = DET_SIDE, threads: int = 1) -> None:
        self.det_side = det_side
        self.threads = threads
        self._engine = None
        self._lock = threading.Lock()

    def read(self, bgr: np.ndarray) -> OcrResult:
        start = time.perf_counter()
        if not looks_like_text(bgr):
            result = OcrResult(skipped="OCR skipped: no sharp edges")
        else:
            result = self._recognise(bgr)
        result.latency_ms = round((time.perf_counter() - start) * 1000, 2)
        return result

    def load(self):
        """The RapidOCR engine, built on first call (double-checked: two threads build one)."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = _build_engine(self.det_side, self.threads)
        return self._engine

    def _recognise(self, bgr: np.ndarray) -> OcrResult:
        output = self.load()(bgr)
        if output.boxes is None or output.txts is None or not len(output.txts):
            return OcrResult(skipped="the text detector found none")
        lines = [{"text": text.strip(), "box": np.asarray(box).round().astype(int).tolist(),
                  "score": round(float(score), 3)}
                 for text, box, score in zip(output.txts, output.boxes, output.scores, strict=True)]
        lines = [line for line in lines if meaningful(line["text"], line["score"])]
        if not lines:
            return OcrResult(skipped="only stray marks recognised")
        return OcrResult(text=join_lines(lines), lines=lines)


def looks_like_text(bgr: np.ndarray) -> bool:
    """False only for pictures without sharp edges anywhere, which cannot carry a caption."""
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
    gradient = cv2.morphologyEx(grey, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    return int(np.count_nonzero(gradient >= PROBE_CONTRAST)) >= PROBE_MIN_PIXELS


def meaningful(text: str, score: float) -> bool:
    """Drop what the recogniser makes of decorations: sparkles read as 'X', dots as '●'."""
    if score < MIN_LINE_SCORE or not text:
        return False
    if CJK.search(text):
        return True
    alnum = ALNUM.findall(text)
    # Two letters or digits make a word or a number; one digit with a sign ("1%", "5℃") too.
    return len(alnum) >= 2 or (len(alnum) == 1 and alnum[0].isdigit() and len(text) > 1)


def join_lines(lines: list[dict]) -> str:
    """Lines in reading order as one string: Chinese joins without spaces inside a caption,
    Latin script with them; separate captions (top and bottom of a meme) get a space."""
    text = ""
    previous = None
    for line in lines:
        if previous is None:
            text = line["text"]
        else:
            text += _separator(previous, line, text) + line["text"]
        previous = line
    return text


def _separator(previous: dict, line: dict, so_far: str) -> str:
    same_caption = _gap(previous["box"], line["box"]) < 0.5 * _height(previous["box"])
    cjk_seam = CJK.search(so_far[-1:]) and CJK.search(line["text"][:1])
    if so_far.endswith(tuple(CJK_PUNCT)):
        return ""
    return "" if same_caption and cjk_seam else " "


def _height(box: list[list[int]]) -> float:
    ys = [point[1] for point in box]
    return max(1.0, max(ys) - min(ys))


def _gap(upper: list[list[int]], lower: list[list[int]]) -> float:
    """Vertical space between two boxes; negative when they share a row."""
    return min(p[1] for p in lower) - max(p[1] for p in upper)


def _build_engine(det_side: int, threads: int):
    from rapidocr import RapidOCR  # heavy: imports onnxruntime, so only when first needed

    models = _model_dir()
    params = {
        "Global.log_level": "error",
        "Global.use_cls": False,  # captions are upright; the angle classifier costs time
        "Det.model_path": str(models / DET_MODEL),  # explicit paths: RapidOCR never downloads
        "Rec.model_path": str(models / REC_MODEL),
        "Det.limit_type": "max",
        "Det.limit_side_len": det_side,
        "Det.box_thresh": BOX_THRESHOLD,
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": threads,
    }
    return RapidOCR(params=params)


def _model_dir() -> Path:
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("rapidocr is not installed: pip install rapidocr==3.10.0 onnxruntime")
    models = Path(spec.submodule_search_locations[0]) / "models"
    missing = [name for name in (DET_MODEL, REC_MODEL) if not (models / name).is_file()]
    if missing:
        raise RuntimeError(f"rapidocr's bundled models are missing ({', '.join(missing)} in "
                           f"{models}); reinstall rapidocr==3.10.0, which ships them")
    return models
