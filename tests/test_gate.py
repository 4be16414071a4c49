"""The `auto` gate: which posts the encoders are worth (analysis/gate.py)."""

import json
import shutil

import numpy as np
import pytest

from analysis import datasets, gate
from analysis import train as T
from analysis.heads import ARTIFACTS, TextModel, TextScores
from analysis.verdict import EMOTIONS

needs_data = pytest.mark.skipif(not datasets.available(), reason="shared data not found")


def scores(sentiment, emotion="joy", sarcasm=0.1, cues=(), lang="en"):
    emotions = {e: (0.7 if e == emotion else 0.05) for e in EMOTIONS}
    return TextScores(dict(zip(("positive", "negative", "neutral"), sentiment, strict=True)),
                      emotions, sarcasm, list(cues), lang, False, {"lexicon_polarity": -0.4})


def test_features_read_the_fast_verdict():
    sure = dict(zip(gate.FEATURES, gate.features(scores((0.9, 0.05, 0.05)), "Love it"),
                    strict=True))
    torn = dict(zip(gate.FEATURES, gate.features(scores((0.3, 0.35, 0.35), "anger", 0.6,
                                                        ["🙄"], "zh"), "好吧"), strict=True))
    assert sure["label_positive"] == 1 and sure["label_sarcastic"] == 0
    assert sure["emotion_joy"] == 1 and torn["emotion_anger"] == 1
    assert sure["label_margin"] > 0.5 > torn["label_margin"]
    assert torn["is_zh"] == 1 and torn["has_cue"] == 1 and sure["has_cue"] == 0
    assert sure["abs_polarity"] == pytest.approx(0.4)
    assert sure["log_chars"] == pytest.approx(np.log1p(7))


def test_probability_stays_inside_zero_and_one():
    g = gate.Gate(np.full(len(gate.FEATURES), 100.0), 0.0, 0.5)
    rows = np.stack([np.ones(len(gate.FEATURES)), -np.ones(len(gate.FEATURES))])
    p = g.p_change(rows)
    assert 0.5 < p[0] < 1.0 and 0.0 < p[1] < 0.5


def test_a_gate_fitted_on_other_features_is_refused(tmp_path):
    assert gate.Gate.load(tmp_path) is None  # absent: the fast uncertainty decides
    (tmp_path / gate.FILE).write_text(json.dumps({"features": ["length"], "weights": [1.0],
                                                  "bias": 0, "threshold": 0.5}))
    with pytest.raises(ValueError, match="refit"):
        gate.Gate.load(tmp_path)


def test_catch_curve_counts_changes_from_the_most_likely_down():
    curve = gate.catch_curve(np.array([0.9, 0.1, 0.8, 0.2]), np.array([1, 0, 0, 1]))
    assert [(round(s, 2), round(c, 2)) for _, s, c in curve] == [
        (0.25, 0.5), (0.5, 0.5), (0.75, 1.0), (1.0, 1.0)]


def test_shipped_model_uses_the_gate_and_its_threshold_decides():
    model = TextModel.load()
    assert model.gate is not None and model.auto_threshold == model.gate.threshold
    opt_in = TextModel.load(ARTIFACTS / "e5")  # text_encoder = "e5": a gate fitted to its heads
    assert opt_in.gate is not None and opt_in.gate.threshold != model.gate.threshold
    texts = ["I love this phone, best purchase ever", "Oh great, it broke again", "ok"]
    for threshold, expected in ((0.0, [True] * 3), (1.0, [False] * 3)):
        model.auto_threshold = threshold
        assert [s.embedded for s in model.predict(texts, embed="auto")] == expected


@needs_data
def test_fit_on_rows_no_quality_figure_reads(tmp_path):
    folder = tmp_path / "artifacts"
    shutil.copytree(ARTIFACTS, folder, ignore=shutil.ignore_patterns(gate.FILE))
    data = gate.fit(folder, per_source=12, log=lambda *_: None)
    text = (folder / gate.FILE).read_text()
    assert json.loads(text) == data and text.count("\n") < 60  # row ids one line a source
    loaded = gate.Gate.load(folder)
    assert loaded is not None and 0.0 < loaded.threshold < 1.0
    assert loaded.weights.shape == (len(gate.FEATURES),)
    assert data["provenance"]["texts"] == 12 * (len(gate.UNUSED) + len(gate.DEV_SOURCES))
    corpora = T.load_corpora(None)
    drawn = datasets.sampled_rows({n: len(corpora[n].split) for n in T.benchmark_corpora()},
                                  gate.BENCHMARK_SAMPLE, T.SEED)
    for name, rows in gate.fitted_rows(folder).items():
        assert not rows & set(drawn.get(name, ())), name


@needs_data
def test_quality_benchmark_leaves_out_the_shipped_gates_rows(monkeypatch):
    from benchmarks import quality

    corpora = T.load_corpora(None)
    drawn = quality.dev_lines(corpora, 400)
    fitted = gate.fitted_rows(ARTIFACTS)
    assert fitted and all(not set(rows) & fitted.get(name, set())
                          for name, rows in drawn.items())
    # a row the gate read is dropped from the figures, even when the draw picks it
    name, row = "tweeteval-irony-val", drawn["tweeteval-irony-val"][0]
    monkeypatch.setattr(gate, "fitted_rows", lambda _: {name: {row}})
    assert row not in quality.dev_lines(corpora, 400)[name]
