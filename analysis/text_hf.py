"""The `text-hf` backend: transformer text classifiers, fused like `lite` fuses its heads.

Up to three `text-classification` pipelines (sentiment, irony, emotion; each a hub id or a
directory, the last two optional) score the post text and its image's caption (OCR) in
batches. Each model's labels are mapped onto ours (built-in synonyms, or
[analysis.label_maps]), and the per-text scores go through analysis.fusion.fuse with the
picture's face signals, so disguised criticism (praise in the words, mockery in the picture)
is judged by the same rules whatever reads the text.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from analysis.base import ModelNotAvailable
from analysis.explain import Evidence, explain
from analysis.fusion import fuse
from analysis.hf_models import Lazy, locate, place, placement, resolve_device, resolve_dtype
from analysis.prompts import MAX_POST_CHARS, post_lang
from analysis.verdict import EMOTIONS, SENTIMENTS, Item, Verdict

VERSION = "0.1"
ROLES = ("sentiment", "irony", "emotion")
TARGETS = {"sentiment": SENTIMENTS, "irony": ("sarcastic", "not_sarcastic"),
           "emotion": EMOTIONS}
# Labels popular checkpoints use for our labels; anything else needs [analysis.label_maps].
SYNONYMS = {
    "sentiment": {"pos": "positive", "neg": "negative", "neu": "neutral"},
    "irony": {"irony": "sarcastic", "ironic": "sarcastic", "sarcasm": "sarcastic",
              "non_irony": "not_sarcastic", "not_irony": "not_sarcastic",
              "non_ironic": "not_sarcastic", "not_sarcasm": "not_sarcastic",
              "non_sarcastic": "not_sarcastic"},
    "emotion": {"happiness": "joy", "happy": "joy", "sad": "sadness", "angry": "anger",
                "fearful": "fear", "surprised": "surprise", "disgusted": "disgust"},
}
EMPTY_CONFIDENCE = 0.2  # nothing to read: neutral, and routing should not trust it


@dataclass
class TextScores:
    """One text's scores, in the shape analysis.fusion reads (its Scores protocol)."""

    sentiment: dict[str, float]
    emotion: dict[str, float]
    sarcasm: float
    lang: str
    cues: list[str] = field(default_factory=list)  # no cue lexicon here: the models judge


@dataclass
class Classifier:
    pipe: object  # transformers TextClassificationPipeline
    labels: dict[str, str]  # model label -> ours
    max_length: int


class TextHfAnalyzer:
    name = "text-hf"

    def __init__(self, settings, image_reader: object | None | str = "auto"):
        """`settings`: the [analysis] config. `image_reader` reads captions and faces from
        images (analysis.image_signals.ImageReader when "auto" and installed; anything with
        `read_many(paths)`; None to read no images)."""
        self.settings = settings
        self.models = {"sentiment": settings.sentiment_model, "irony": settings.irony_model,
                       "emotion": settings.emotion_model}
        self.models = {role: m for role, m in self.models.items() if m}
        self.version = VERSION + "+" + "+".join(Path(m).name for m in self.models.values())
        # Fail at start when a model or the GPU is missing; weights load on first use.
        self.paths = {role: locate(m) for role, m in self.models.items()}
        self.device = resolve_device(settings.device)
        self._classifiers = Lazy(self._load)
        self._image_reader = image_reader
        self._reader_lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------

    def load(self) -> dict[str, Classifier]:
        return self._classifiers.get()

    def describe(self) -> dict:
        self.load()
        dtype = resolve_dtype(self.settings.dtype, self.device)
        return {"model": ", ".join(f"{r}={m}" for r, m in self.models.items()),
                "device": str(self.device), "dtype": str(dtype).removeprefix("torch."),
                "load_s": self._classifiers.load_s}

    def close(self) -> None:
        self._classifiers.close()

    def _load(self) -> dict[str, Classifier]:
        return {role: self._classifier(role) for role in self.models}

    def _classifier(self, role: str) -> Classifier:
        from transformers import (
            AutoModelForSequenceClassification,
            AutoTokenizer,
            pipeline,
        )

        path = self.paths[role]
        dtype = resolve_dtype(self.settings.dtype, self.device)
        kwargs = placement(self.device, dtype, load_in_4bit=False)
        model = AutoModelForSequenceClassification.from_pretrained(
            path, local_files_only=True, **kwargs)
        model = place(model, kwargs, self.device)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        labels = label_map(role, self.models[role], list(model.config.id2label.values()),
                           self.settings.label_maps.get(role, {}))
        pipe = pipeline("text-classification", model=model, tokenizer=tokenizer, top_k=None)
        # Tokenizers of some checkpoints report a huge model_max_length; the positions are
        # the real limit.
        limit = min(tokenizer.model_max_length,
                    getattr(model.config, "max_position_embeddings", 512), 512)
        return Classifier(pipe, labels, limit)

    # -- analysis -------------------------------------------------------------------------

    def analyze(self, items: Sequence[Item]) -> list[Verdict]:
        if not items:
            return []
        start = time.perf_counter()
        classifiers = self.load()
        texts = [(item.text or "")[:MAX_POST_CHARS] for item in items]
        langs = [post_lang(t, item.lang) for t, item in zip(texts, items, strict=True)]
        images, notes = self._read_images(items)
        captions = [s.ocr_text.strip() if s is not None and s.ok else "" for s in images]
        scored = self._score(classifiers, texts + captions, langs + langs)
        each_ms = round((time.perf_counter() - start) * 1000 / len(items), 3)
        return [self._verdict(texts[i], langs[i], scored[i], scored[len(items) + i],
                              images[i], notes[i], each_ms) for i in range(len(items))]

    def _read_images(self, items: Sequence[Item]) -> tuple[list, list[list[str]]]:
        """Image signals per item (None when there is no image or no reader) and notes."""
        notes: list[list[str]] = [[] for _ in items]
        signals: list = [None] * len(items)
        wanted = [i for i, item in enumerate(items) if item.image is not None]
        reader = self._reader() if wanted else None
        if wanted and reader is None:
            for i in wanted:
                notes[i].append("image not read: no image reader installed")
            return signals, notes
        if not wanted:
            return signals, notes
        try:
            results = reader.read_many([Path(items[i].image) for i in wanted])
        except Exception as exc:  # a broken OCR install must not lose the text verdicts
            for i in wanted:
                notes[i].append(f"image not read ({type(exc).__name__}: {exc}); text only")
            return signals, notes
        for i, result in zip(wanted, results, strict=True):
            signals[i] = result
            notes[i] += list(result.notes)
        return signals, notes

    def _reader(self):
        with self._reader_lock:
            if self._image_reader == "auto":
                try:
                    from analysis.image_signals import ImageReader

                    self._image_reader = ImageReader()
                except ImportError:
                    self._image_reader = None
            return self._image_reader

    def _score(self, classifiers: dict[str, Classifier], texts: list[str],
               langs: list[str]) -> list[TextScores | None]:
        """Scores per text (None for an empty one), every model over all texts in batches."""
        todo = [i for i, t in enumerate(texts) if t.strip()]
        batch = [texts[i] for i in todo]
        per_role = {role: self._run(c, batch) for role, c in classifiers.items()}
        out: list[TextScores | None] = [None] * len(texts)
        for j, i in enumerate(todo):
            sentiment = per_role["sentiment"][j]
            emotion = per_role["emotion"][j] if "emotion" in per_role else from_sentiment(
                sentiment)
            sarcasm = per_role["irony"][j].get("sarcastic", 0.0) if "irony" in per_role else 0.0
            out[i] = TextScores(sentiment, emotion, sarcasm, langs[i])
        return out

    def _run(self, c: Classifier, texts: list[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        results = c.pipe(texts, batch_size=self.settings.batch_size, truncation=True,
                         max_length=c.max_length)
        return [mapped(result, c.labels) for result in results]

    def _verdict(self, text: str, lang: str, post: TextScores | None,
                 caption: TextScores | None, image, notes: list[str],
                 latency_ms: float) -> Verdict:
        ocr = image.ocr_text.strip() if image is not None and image.ok else ""
        faces = image.faces if image is not None and image.ok else []
        face_pol = image.face_polarity if image is not None and image.ok else None
        base = post or caption
        if base is None:  # no words anywhere: nothing for the models to judge
            return self._empty(lang, ocr, notes, latency_ms)
        face = max(faces, key=lambda f: f["box"][2] * f["box"][3]) if faces else None
        fused = fuse(base, caption if post is not None else None, face_pol,
                     face["scores"] if face else None)
        explanation = explain(Evidence(
            lang=lang, label=fused.label, text=text, caption=ocr,
            caption_polarity=fused.polarity.get("caption"),
            face=face["expression"] if face else None, face_polarity=face_pol,
            incongruity=fused.incongruity))
        evidence = {"ocr_text": ocr, "polarity": fused.polarity, "incongruity": fused.incongruity,
                    "scores": {"post": _rounded(post), "caption": _rounded(caption)},
                    "faces": faces, "notes": notes,
                    "confidence_source": "fusion of classifier probabilities (uncalibrated)"}
        return Verdict(label=fused.label, sentiment=fused.sentiment, sarcasm=fused.sarcasm,
                       sarcasm_score=fused.sarcasm_score, emotion=fused.emotion,
                       emotions=fused.emotions, confidence=fused.confidence,
                       explanation=explanation, analyzer=f"{self.name}@{self.version}",
                       latency_ms=latency_ms, evidence=evidence)

    def _empty(self, lang: str, ocr: str, notes: list[str], latency_ms: float) -> Verdict:
        return Verdict(label="neutral", sentiment="neutral", sarcasm=False, sarcasm_score=0.0,
                       emotion="neutral", emotions={e: float(e == "neutral") for e in EMOTIONS},
                       confidence=EMPTY_CONFIDENCE,
                       explanation=explain(Evidence(lang=lang, label="neutral", text="",
                                                    empty=True)),
                       analyzer=f"{self.name}@{self.version}", latency_ms=latency_ms,
                       evidence={"ocr_text": ocr, "notes": notes})


def label_map(role: str, model: str, model_labels: list[str],
              configured: dict[str, str]) -> dict[str, str]:
    """Each of the model's labels mapped onto ours: the configured map first, then our own
    names and common synonyms (case-insensitive). An unmapped label fails the load with the
    config key that fixes it."""
    out = {}
    for label in model_labels:
        word = label.strip().lower()
        ours = configured.get(label) or SYNONYMS[role].get(word, word)
        if ours not in TARGETS[role]:
            raise ModelNotAvailable(
                f"label {label!r} of the {role} model {model!r} is not one Subtext knows; map "
                f"it in the config: [analysis.label_maps.{role}] {label} = \"one of "
                f"{', '.join(TARGETS[role])}\"")
        out[label] = ours
    return out


def mapped(result: list[dict], labels: dict[str, str]) -> dict[str, float]:
    """A pipeline result ([{label, score}, ...]) as our labels -> probability (labels that
    map to the same one of ours add up)."""
    out: dict[str, float] = {}
    for entry in result:
        ours = labels[entry["label"]]
        out[ours] = out.get(ours, 0.0) + float(entry["score"])
    return out


def from_sentiment(sentiment: dict[str, float]) -> dict[str, float]:
    """Emotions when no emotion model is configured: a coarse reading of the polarity."""
    negative = sentiment.get("negative", 0.0)
    return {"anger": negative / 2, "disgust": 0.0, "fear": 0.0,
            "joy": sentiment.get("positive", 0.0), "sadness": negative / 2, "surprise": 0.0,
            "neutral": sentiment.get("neutral", 0.0)}


def _rounded(scores: TextScores | None) -> dict | None:
    if scores is None:
        return None
    return {"sentiment": {k: round(v, 4) for k, v in scores.sentiment.items()},
            "emotion": {k: round(v, 4) for k, v in scores.emotion.items()},
            "sarcasm": round(scores.sarcasm, 4)}
