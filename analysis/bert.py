"""A BERT encoder in plain torch, for inference: both encoders of the lite analyzer run on it.

Importing `transformers` costs ~3 s of every process start (it pulls in torch._dynamo and its
distributed tensor code) for two models that are each a dozen matrix products. This module
holds the same encoder (absolute positions, post-layer-norm blocks, erf GELU, no pooler, no
dropout) under `transformers`' parameter names, so a `BertModel` state dict loads as it is and
the LoRA merge of `analysis/tuned.py` finds the same layers. Training keeps `transformers`
(its dropout is part of the recipe); the tests check that both give the same hidden states.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

# What a BertModel state dict holds that this encoder does not use.
UNUSED = ("pooler.", "embeddings.position_ids", "embeddings.token_type_ids")


@dataclass(frozen=True)
class Shape:
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    vocab_size: int  # 0: the caller passes inputs_embeds (e5 keeps its words 4-bit)
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12

    @classmethod
    def from_config(cls, config: dict) -> Shape:
        """From a `config.json` of a BERT with absolute positions and erf GELU (refused
        otherwise: this encoder would silently compute something else)."""
        if config.get("hidden_act", "gelu") != "gelu" or config.get(
                "position_embedding_type", "absolute") != "absolute":
            raise ValueError("only BERT with absolute positions and erf GELU is supported")
        return cls(**{k: config[k] for k in cls.__dataclass_fields__ if k in config})


class _Linear(nn.Linear):
    def reset_parameters(self) -> None:  # left uninitialised: `Bert.load` sets every weight
        pass


class _Embedding(nn.Embedding):
    def reset_parameters(self) -> None:  # as _Linear (the random init cost ~0.25 s a start)
        pass


class _Node(nn.Module):
    """A named container, so parameter paths match transformers' (`attention.self.query`)."""


class Layer(nn.Module):
    def __init__(self, s: Shape):
        super().__init__()
        h, eps = s.hidden_size, s.layer_norm_eps
        self.heads = s.num_attention_heads
        self.attention = _Node()
        self.attention.self = _Node()
        for name in ("query", "key", "value"):
            setattr(self.attention.self, name, _Linear(h, h))
        self.attention.output = _Node()
        self.attention.output.dense = _Linear(h, h)
        self.attention.output.LayerNorm = nn.LayerNorm(h, eps=eps)
        self.intermediate = _Node()
        self.intermediate.dense = _Linear(h, s.intermediate_size)
        self.output = _Node()
        self.output.dense = _Linear(s.intermediate_size, h)
        self.output.LayerNorm = nn.LayerNorm(h, eps=eps)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        n, length, h = x.shape
        a = self.attention

        def split(t):
            return t.view(n, length, self.heads, h // self.heads).transpose(1, 2)

        q, k, v = (split(getattr(a.self, name)(x)) for name in ("query", "key", "value"))
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
        context = context.transpose(1, 2).reshape(n, length, h)
        x = a.output.LayerNorm(a.output.dense(context) + x)
        inner = F.gelu(self.intermediate.dense(x))
        return self.output.LayerNorm(self.output.dense(inner) + x)


class Bert(nn.Module):
    """`Bert(shape).load(state)(input_ids or inputs_embeds, attention_mask)` -> last hidden
    state. Its weights are uninitialised until `load`."""

    def __init__(self, s: Shape):
        super().__init__()
        self.config = s
        h = s.hidden_size
        self.embeddings = _Node()
        if s.vocab_size:
            self.embeddings.word_embeddings = _Embedding(s.vocab_size, h)
        self.embeddings.position_embeddings = _Embedding(s.max_position_embeddings, h)
        self.embeddings.token_type_embeddings = _Embedding(s.type_vocab_size, h)
        self.embeddings.LayerNorm = nn.LayerNorm(h, eps=s.layer_norm_eps)
        self.encoder = _Node()
        self.encoder.layer = nn.ModuleList(Layer(s) for _ in range(s.num_hidden_layers))

    def forward(self, input_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None,
                inputs_embeds: torch.Tensor | None = None) -> torch.Tensor:
        e = self.embeddings
        x = e.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds
        length = x.shape[1]
        # token type 0 everywhere (single texts), positions from 0
        x = x + e.position_embeddings.weight[:length] + e.token_type_embeddings.weight[0]
        x = e.LayerNorm(x)
        if attention_mask is None:
            attention_mask = torch.ones(x.shape[:2], dtype=torch.long)
        keep = attention_mask.bool()[:, None, None, :]  # padding is never attended to
        for layer in self.encoder.layer:
            x = layer(x, keep)
        return x

    def load(self, state: dict[str, torch.Tensor], assign: bool = False) -> Bert:
        """Load a BertModel state dict (its pooler and buffers ignored); every weight of this
        encoder must be in it. `assign`: take the tensors themselves (no second copy), for
        tensors this model may own and change."""
        state = {k: v for k, v in state.items() if not k.startswith(UNUSED)}
        self.load_state_dict(state, strict=True, assign=assign)
        return self.eval()


def pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask) of token id rows, padded to the longest."""
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, :len(row)] = 1
    return ids, mask


class FolderTokenizer:
    """The `tokenizer.json` of a saved model folder, read by `tokenizers` alone (what
    transformers' fast tokenizer runs underneath): `[CLS] … [SEP]`, head-truncated."""

    def __init__(self, folder: Path, max_length: int):
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
        # padded positions are masked out of attention and pooling: any id serves
        self.pad_id = self.tok.padding["pad_id"] if self.tok.padding else 0
        self.tok.no_padding()
        self.tok.enable_truncation(max_length=max_length)

    def ids(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tok.encode_batch(texts, add_special_tokens=True)]


def from_pretrained(folder: Path) -> Bert:
    """The encoder of a saved BertModel folder (config.json + model.safetensors), offline."""
    from safetensors.torch import load_file

    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    state = load_file(folder / "model.safetensors")
    return Bert(Shape.from_config(config)).load(state, assign=True)
