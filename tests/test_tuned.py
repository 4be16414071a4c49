"""The fine-tuned English encoder: adapters export and merge exactly, the committed one loads
offline and reads sarcasm, and the text model stands without it."""

import json
import logging

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertModel

from analysis import tune
from analysis import tuned as T
from analysis.heads import ARTIFACTS, TextModel

SARCASTIC = ["Oh great, my flight got cancelled again. Best airline ever!",
             "I just love waiting two hours on hold. Such amazing customer service."]
SINCERE = ["Had a lovely dinner with my parents tonight.",
           "The new library downtown opens on Monday at 9am."]


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    """A two-layer BERT built from a config, with the real MiniLM tokenizer (its vocabulary)."""
    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(T.base_path(), local_files_only=True)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=80)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_exported_adapters_reproduce_the_trained_model(tiny_base, tmp_path):
    rng = np.random.default_rng(1)
    tokenizer, model, heads = tune.adapted_model(rng, tiny_base)
    with torch.no_grad():  # as if trained: adapters and norms away from their start
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.05)
    model.eval()
    np.savez_compressed(tmp_path / T.ARTIFACT, **tune.export(model, heads))
    texts = SARCASTIC + SINCERE + [""]
    with torch.inference_mode():
        vectors = tune.pooled(tokenizer, model, texts)
        ref = {task: head(vectors).numpy() for task, head in heads.items()}
    encoder = T.TunedEncoder.load(tmp_path, base=tiny_base)
    ours = encoder.logits(texts)
    assert ours["sarcasm"].shape == (len(texts), 1) and ours["emotion"].shape == (len(texts), 7)
    for task in T.TASK_WIDTH:  # float16 storage moves the logits only a little
        assert np.abs(ours[task] - ref[task]).max() < 0.02
    assert {k: v.shape for k, v in encoder.logits([]).items()} == {"sarcasm": (0, 1),
                                                                    "emotion": (0, 7)}


def test_a_repost_is_encoded_once(tiny_base, tmp_path, monkeypatch):
    """Texts that normalise alike (handles, links, spacing) share one forward pass."""
    _, model, heads = tune.adapted_model(np.random.default_rng(3), tiny_base)
    np.savez(tmp_path / T.ARTIFACT, **tune.export(model, heads))
    encoder = T.TunedEncoder.load(tmp_path, base=tiny_base)
    seen = []
    forward = encoder._forward
    monkeypatch.setattr(encoder, "_forward", lambda texts: seen.append(texts) or forward(texts))
    first = encoder.logits(["@ana Voltra X2 died again https://t.co/x", SINCERE[0]])
    again = encoder.logits(["@bob  Voltra X2 died again https://t.co/y", SINCERE[1]])
    assert seen == [["@user Voltra X2 died again http", SINCERE[0]], [SINCERE[1]]]
    assert np.allclose(first["sarcasm"][0], again["sarcasm"][0])


def test_merge_changes_the_base_weights(tiny_base, tmp_path):
    rng = np.random.default_rng(2)
    tokenizer, model, heads = tune.adapted_model(rng, tiny_base)
    arrays = tune.export(model, heads)
    assert not np.any(arrays["0.attention.self.query.B"])  # B starts at zero: no change yet
    arrays["0.attention.self.query.B"] = np.ones_like(arrays["0.attention.self.query.B"])
    np.savez(tmp_path / T.ARTIFACT, **arrays)
    merged = T.TunedEncoder.load(tmp_path, base=tiny_base).model
    _, plain = T.load_base(tiny_base)
    before = plain.encoder.layer[0].attention.self.query.weight.detach().numpy()
    after = merged.encoder.layer[0].attention.self.query.weight.detach().numpy()
    expected = (T.ALPHA / T.RANK) * (arrays["0.attention.self.query.B"].astype(np.float32)
                                     @ arrays["0.attention.self.query.A"].astype(np.float32))
    assert np.allclose(after - before, expected, atol=1e-3)


def test_committed_encoder_reads_sarcasm_offline(offline):
    encoder = T.TunedEncoder.load(ARTIFACTS)
    z = encoder.logits(SARCASTIC + SINCERE)["sarcasm"][:, 0]
    assert z[:2].min() > z[2:].max()


def test_committed_artifact_is_small_float16():
    path = ARTIFACTS / T.ARTIFACT
    assert path.stat().st_size < 2 * 2**20
    with np.load(path, allow_pickle=False) as data:
        assert {data[k].dtype for k in data.files} == {np.dtype("float16")}


def test_text_model_stands_without_the_base_model(monkeypatch, caplog):
    def missing():
        raise FileNotFoundError("the English base model is not installed")

    with_it = TextModel.load()
    assert with_it.tuned_weight  # the committed heads do use the encoder
    expected = with_it.predict(SARCASTIC, ["en", "en"], embed="always")
    monkeypatch.setattr(T, "base_path", missing)
    without = TextModel.load()
    with caplog.at_level(logging.WARNING, logger="analysis.heads"):
        scores = without.predict(SARCASTIC, ["en", "en"], embed="always")
    assert "fine-tuned English encoder unavailable" in caplog.text
    assert all(0.0 <= s.sarcasm <= 1.0 for s in scores)
    assert [s.sarcasm for s in scores] != [s.sarcasm for s in expected]
    # Chinese posts never use it
    assert without.predict(["太差了"], ["zh"])[0].lang == "zh"


def test_a_fine_tuning_run_alone_records_its_provenance(tmp_path):
    """`python -m analysis.tune` on its own replaces the encoder the heads' PROVENANCE.json
    describes: the record says so and from which heads run the rest comes."""
    (tmp_path / "PROVENANCE.json").write_text(json.dumps(
        {"created": "2026-12-02T05:45:29Z", "tuned_encoder": {"steps": 1063}}))
    tune.record(tmp_path, {"steps": 1110, "seconds": 900.0}, log=lambda m: None)
    recorded = json.loads((tmp_path / "PROVENANCE.json").read_text())["tuned_encoder"]
    assert recorded["steps"] == 1110 and recorded["seconds"] == 900.0
    assert recorded["trained_alone"]["heads_from"] == "2026-12-02T05:45:29Z"
    assert recorded["trained_alone"]["command"] == "python -m analysis.tune"
