"""The plain-torch BERT of inference (analysis/bert.py) computes what transformers' does."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertModel

from analysis import bert
from analysis import tuned as T

REPO = Path(__file__).resolve().parent.parent
TEXTS = ["Oh great, my flight got cancelled again.", "hi",
         "The new library downtown opens on Monday at 9am. " * 3, "伏特拉真厉害 🙂", ""]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A saved three-layer BertModel with random weights (and a pooler, which we ignore)."""
    folder = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=120, hidden_size=48, num_hidden_layers=3,
                        num_attention_heads=4, intermediate_size=96, max_position_embeddings=40)
    BertModel(config).eval().save_pretrained(folder)
    return folder


def _padded_batch():
    ids = torch.randint(1, 120, (3, 11))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0  # padding at the end of two rows
    mask[2, 2:] = 0
    return ids, mask


def test_same_hidden_states_as_transformers(tiny):
    reference = BertModel.from_pretrained(tiny).eval()
    ours = bert.from_pretrained(tiny)
    ids, mask = _padded_batch()
    with torch.inference_mode():
        expected = reference(input_ids=ids, attention_mask=mask).last_hidden_state
        got = ours(ids, mask)
        embeds = reference.embeddings.word_embeddings(ids)
        from_embeds = ours(inputs_embeds=embeds, attention_mask=mask)
    real = mask.bool()
    assert (got - expected)[real].abs().max() < 1e-5
    assert (from_embeds - expected)[real].abs().max() < 1e-5


def test_padding_does_not_change_a_text(tiny):
    model = bert.from_pretrained(tiny)
    ids, _ = _padded_batch()
    alone, alone_mask = bert.pad([ids[2, :2].tolist()], 0)
    batch, mask = bert.pad([ids[0].tolist(), ids[2, :2].tolist()], 0)
    with torch.inference_mode():
        assert torch.allclose(model(alone, alone_mask)[0], model(batch, mask)[1, :2], atol=1e-5)
    assert mask.tolist()[1] == [1, 1] + [0] * 9 and batch[1, 2:].eq(0).all()


def test_other_architectures_and_missing_weights_are_refused(tiny):
    config = json.loads((tiny / "config.json").read_text())
    for change in ({"position_embedding_type": "relative_key"}, {"hidden_act": "relu"}):
        with pytest.raises(ValueError, match="only BERT"):
            bert.Shape.from_config({**config, **change})
    state = BertModel.from_pretrained(tiny).state_dict()
    del state["encoder.layer.1.output.dense.weight"]
    with pytest.raises(RuntimeError, match="encoder.layer.1.output.dense.weight"):
        bert.Bert(bert.Shape.from_config(config)).load(state)


def test_tokenizer_gives_the_ids_transformers_gives():
    reference = AutoTokenizer.from_pretrained(T.base_path(), local_files_only=True)
    ours = bert.FolderTokenizer(T.base_path(), T.MAX_TOKENS)
    texts = T.clipped(TEXTS + ["word " * 200])
    assert ours.ids(texts) == reference(texts, truncation=True,
                                        max_length=T.MAX_TOKENS)["input_ids"]
    assert len(ours.ids(texts)[-1]) == T.MAX_TOKENS


def test_inference_never_imports_transformers():
    """The point of analysis/bert.py: importing transformers costs seconds of every start."""
    code = ("import sys; from analysis.heads import TextModel; "
            "s = TextModel.load().predict(['Oh great, it broke again', '这手机太垃圾了'], "
            "embed='always'); assert all(x.embedded for x in s); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'transformers'))")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "[]"
