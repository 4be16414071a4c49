"""The text-hf backend on tiny BERT-style classifiers saved to temp dirs: loading, label maps,
batched pipelines over post text and captions, and the fusion into one verdict.

A classifier built with `favour=` picks that label for any text, so each test knows what the
models say; the image side (caption OCR, faces) is another module's job and comes from a
stand-in reader here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from analysis.base import ModelNotAvailable, load_analyzer
from analysis.text_hf import TextHfAnalyzer, from_sentiment, label_map
from analysis.verdict import Item
from subtext.config import Analysis
from tests.tiny_models import save_classifier

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: torch on one thread

SENTIMENT = ["negative", "neutral", "positive"]
IRONY = ["non_irony", "irony"]
EMOTION = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]


@dataclass
class Signals:
    """What analysis.image_signals.ImageReader returns, for the fields text-hf reads."""

    ocr_text: str = ""
    faces: list[dict] = field(default_factory=list)
    face_polarity: float | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Reader:
    def __init__(self, by_name: dict[str, Signals]):
        self.by_name, self.calls = by_name, []

    def read_many(self, paths: list[Path]) -> list[Signals]:
        self.calls.append(paths)
        return [self.by_name[p.name] for p in paths]


MISERABLE = Signals(faces=[{"box": [10, 10, 80, 80], "detector": "cartoon", "expression": "sad",
                            "scores": {"angry": 0.05, "disgust": 0.05, "fear": 0.05,
                                       "happy": 0.0, "sad": 0.8, "surprise": 0.0,
                                       "neutral": 0.05}}],
                    face_polarity=-0.95)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("classifiers")
    return {
        "praise": save_classifier(root / "praise", SENTIMENT, favour="positive"),
        "complaint": save_classifier(root / "complaint", SENTIMENT, favour="negative"),
        "sincere": save_classifier(root / "sincere", IRONY, favour="non_irony"),
        "ironic": save_classifier(root / "ironic", IRONY, favour="irony"),
        "joy": save_classifier(root / "joy", EMOTION, favour="joy"),
        "numbered": save_classifier(root / "numbered", ["LABEL_0", "LABEL_1", "LABEL_2"],
                                    favour="LABEL_2"),
    }


def settings(models, sentiment="praise", irony="sincere", emotion="joy", **overrides):
    return replace(Analysis(backend="text-hf", device="cpu", batch_size=2,
                            sentiment_model=str(models[sentiment]),
                            irony_model=str(models[irony]) if irony else "",
                            emotion_model=str(models[emotion]) if emotion else ""),
                   **overrides)


def test_sincere_praise_is_positive(models):
    analyzer = load_analyzer(settings(models))
    assert isinstance(analyzer, TextHfAnalyzer)
    verdict = analyzer.analyze([Item("Love my Nimbus 7, the camera is amazing", lang="en")])[0]
    assert (verdict.label, verdict.sentiment, verdict.emotion) == ("positive", "positive", "joy")
    assert verdict.confidence > 0.8 and verdict.sarcasm_score < 0.1
    assert verdict.evidence["scores"]["post"]["sentiment"]["positive"] > 0.9
    assert "positive" in verdict.explanation and "'love'" in verdict.explanation
    assert verdict.analyzer == "text-hf@0.1+praise+sincere+joy"
    assert analyzer.describe()["device"] == "cpu"


def test_irony_model_makes_praise_sarcastic(models):
    analyzer = TextHfAnalyzer(settings(models, irony="ironic"), image_reader=None)
    verdict = analyzer.analyze([Item("伏特拉真厉害，让我三天没睡着", lang="zh")])[0]
    assert (verdict.label, verdict.sentiment, verdict.sarcasm) == ("sarcastic", "negative", True)
    # sarcastic praise is not joy: the sarcasm score's share of it went to contempt
    assert verdict.emotions["joy"] < 0.05 and verdict.emotion in ("anger", "disgust")
    assert "反讽" in verdict.explanation  # in the post's language


def test_miserable_face_under_praise_is_disguised_criticism(models, tmp_path):
    reader = Reader({"meme.png": MISERABLE})
    analyzer = TextHfAnalyzer(settings(models), image_reader=reader)
    verdict = analyzer.analyze([Item("Best phone ever, so smooth", tmp_path / "meme.png")])[0]
    assert verdict.label == "sarcastic"
    assert verdict.evidence["incongruity"] > 0.8
    assert verdict.evidence["polarity"]["faces"] == -0.95
    assert "miserable" in verdict.explanation


def test_captions_are_scored_in_the_same_batches(models, tmp_path):
    reader = Reader({"a.png": Signals(ocr_text="three days no sleep"),
                     "b.png": Signals(error="corrupt image", notes=["image rejected: corrupt"])})
    analyzer = TextHfAnalyzer(settings(models, sentiment="complaint"), image_reader=reader)
    items = [Item("Voltra battery drains fast", tmp_path / "a.png"),
             Item("Voltra again", tmp_path / "b.png"), Item("no picture here"),
             Item("", tmp_path / "a.png")]
    first, second, third, caption_only = analyzer.analyze(items)
    assert reader.calls == [[tmp_path / "a.png", tmp_path / "b.png", tmp_path / "a.png"]]
    assert first.evidence["ocr_text"] == "three days no sleep"
    assert first.evidence["scores"]["caption"]["sentiment"]["negative"] > 0.9
    assert "three days no sleep" in first.explanation
    assert second.evidence["scores"]["caption"] is None
    assert second.evidence["notes"] == ["image rejected: corrupt"]
    assert third.label == "negative" and third.evidence["scores"]["caption"] is None
    assert caption_only.label == "negative"  # the caption alone carries the post


def test_optional_models_and_empty_posts(models):
    analyzer = TextHfAnalyzer(settings(models, irony=None, emotion=None), image_reader=None)
    assert set(analyzer.models) == {"sentiment"}
    verdict, empty = analyzer.analyze([Item("great " * 400), Item("   ")])  # long: truncated
    assert verdict.label == "positive" and verdict.emotion == "joy"
    assert verdict.sarcasm_score == 0.0
    assert (empty.label, empty.confidence) == ("neutral", 0.2)
    assert from_sentiment({"negative": 1.0})["anger"] == 0.5


def test_images_without_a_reader_are_noted(models, tmp_path):
    analyzer = TextHfAnalyzer(settings(models), image_reader=None)
    verdict = analyzer.analyze([Item("Love it", tmp_path / "x.png")])[0]
    assert verdict.evidence["notes"] == ["image not read: no image reader installed"]

    class Broken:
        def read_many(self, paths):
            raise RuntimeError("OCR models missing")

    analyzer = TextHfAnalyzer(settings(models), image_reader=Broken())
    verdict = analyzer.analyze([Item("Love it", tmp_path / "x.png")])[0]
    assert verdict.label == "positive"
    assert "OCR models missing" in verdict.evidence["notes"][0]


def test_label_maps(models):
    unmapped = TextHfAnalyzer(settings(models, sentiment="numbered"), image_reader=None)
    with pytest.raises(ModelNotAvailable, match=r"\[analysis.label_maps.sentiment\] LABEL_0"):
        unmapped.analyze([Item("hi")])
    maps = {"sentiment": {"LABEL_0": "negative", "LABEL_1": "neutral", "LABEL_2": "positive"}}
    analyzer = TextHfAnalyzer(settings(models, sentiment="numbered", label_maps=maps),
                              image_reader=None)
    assert analyzer.analyze([Item("hi")])[0].label == "positive"
    assert label_map("irony", "m", ["NOT_SARCASM", "SARCASM"], {}) == {
        "NOT_SARCASM": "not_sarcastic", "SARCASM": "sarcastic"}


def test_missing_hub_model_fails_offline(models, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub_id = "subtext-tests/no-such-irony-model"  # in no cache, so the test holds anywhere
    with pytest.raises(ModelNotAvailable, match=f"{hub_id}' is not in the local cache"):
        load_analyzer(replace(settings(models), irony_model=hub_id))


def test_close_frees_and_reloads(models):
    analyzer = TextHfAnalyzer(settings(models), image_reader=None)
    analyzer.load()
    analyzer.close()
    assert not analyzer._classifiers.loaded
    assert analyzer.analyze([Item("Love it")])[0].label == "positive"
