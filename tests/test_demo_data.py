"""The bundled demo dataset (data/demo): well-formed, consistent with its labels and images,
telling the intended story, and reproducible from data/demo/make_demo.py."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from data.demo import make_demo
from data.demo.memes import MemeSpec, find_cjk_font, render_meme

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"
POST_KEYS = {"id", "text", "lang", "author", "days_ago", "image", "likes", "reposts", "replies"}
LABELS = {"positive", "negative", "neutral", "sarcastic"}
QUERIES = {"Nimbus": ("nimbus", "云朵"), "Voltra": ("voltra", "伏特拉")}  # demo subtext.toml
CJK = re.compile(r"[\u3400-\u9fff]")
MAX_IMAGE_BYTES = 3 * 1024 * 1024


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def posts() -> list[dict]:
    return read_jsonl(DEMO / "posts.jsonl")


@pytest.fixture(scope="module")
def labels(posts) -> dict[str, dict]:
    return {row["id"]: row for row in read_jsonl(DEMO / "labels.jsonl")}


def brands(text: str) -> set[str]:
    lowered = text.lower()
    return {b for b, terms in QUERIES.items() if any(t in lowered for t in terms)}


def test_posts_have_exactly_the_documented_fields(posts):
    assert 260 <= len(posts) <= 320
    for post in posts:
        assert set(post) == POST_KEYS, post["id"]
        assert re.fullmatch(r"d\d{4}", post["id"])
        assert isinstance(post["text"], str) and post["text"].strip()
        assert isinstance(post["author"], str) and post["author"]
        assert post["lang"] in ("en", "zh")
        assert post["image"] is None or re.fullmatch(r"images/[a-z0-9_]+\.png", post["image"])
        for key in ("likes", "reposts", "replies"):
            assert isinstance(post[key], int) and post[key] >= 0, (post["id"], key)


def test_ids_unique_and_labels_match(posts, labels):
    ids = [p["id"] for p in posts]
    assert len(ids) == len(set(ids))
    label_rows = read_jsonl(DEMO / "labels.jsonl")
    assert [row["id"] for row in label_rows] == ids
    for row in label_rows:
        assert set(row) >= {"id", "label", "sentiment"}
        assert row["label"] in LABELS
        # sarcastic praise means the opposite: its intended polarity is negative
        expected = "negative" if row["label"] == "sarcastic" else row["label"]
        assert row["sentiment"] == expected, row


def test_every_post_is_found_by_a_demo_brand_query(posts):
    missing = [p["text"] for p in posts if not brands(p["text"])]
    assert not missing
    both = sum(1 for p in posts if len(brands(p["text"])) == 2)
    assert 0.05 <= both / len(posts) <= 0.15  # some posts compare the two brands


def test_languages(posts):
    langs = Counter(p["lang"] for p in posts)
    assert set(langs) == {"en", "zh"}
    assert 0.45 <= langs["en"] / len(posts) <= 0.65
    for post in posts:  # the lang field agrees with the script the text is written in
        assert bool(CJK.search(post["text"])) == (post["lang"] == "zh"), post["text"]


def test_days_ago_in_range_and_oldest_first(posts):
    days = [p["days_ago"] for p in posts]
    assert all(isinstance(d, float) and 0 < d <= 30 for d in days)
    assert days == sorted(days, reverse=True)


def test_label_mix(labels):
    mix = Counter(row["label"] for row in labels.values())
    total = sum(mix.values())
    assert set(mix) == LABELS
    assert 0.28 <= mix["positive"] / total <= 0.42
    for label in ("negative", "neutral", "sarcastic"):
        assert 0.15 <= mix[label] / total <= 0.30, (label, mix)


def test_texts_are_not_repeated(posts):
    counts = Counter(p["text"] for p in posts)
    assert [t for t, n in counts.items() if n > 1] == []


def _bad_share(posts, labels, brand, newest, oldest) -> tuple[float, float]:
    """Share of negative+sarcastic posts for `brand` inside and outside a window of days."""
    inside, outside = Counter(), Counter()
    for post in posts:
        if brand in brands(post["text"]):
            bucket = inside if newest <= post["days_ago"] <= oldest else outside
            bucket[labels[post["id"]]["sentiment"] == "negative"] += 1
    return (inside[True] / sum(inside.values()), outside[True] / sum(outside.values()))


def test_story_nimbus_dip_and_voltra_scandal(posts, labels):
    dip, rest = _bad_share(posts, labels, "Nimbus", 13.5, 16.5)
    assert dip > 0.5 and rest < 0.3, (dip, rest)
    scandal, before = _bad_share(posts, labels, "Voltra", 0, 8.5)
    assert scandal > 0.6 and before < 0.3, (scandal, before)
    voltra_days = [p["days_ago"] for p in posts if "Voltra" in brands(p["text"])]
    recent = sum(1 for d in voltra_days if d <= 8) / 8
    earlier = sum(1 for d in voltra_days if d > 8) / 22
    assert recent > 2 * earlier  # the scandal is loud: more posts per day


def test_referenced_images_exist_open_and_are_small(posts):
    referenced = {p["image"] for p in posts if p["image"]}
    for rel in referenced:
        path = DEMO / rel
        assert path.is_file(), rel
        with Image.open(path) as img:
            img.verify()
        with Image.open(path) as img:
            assert max(img.size) <= 512, (rel, img.size)
    files = sorted((DEMO / "images").glob("*.png"))
    assert 30 <= len(files) <= 45
    assert {f"images/{f.name}" for f in files} == referenced  # no orphans either
    assert sum(f.stat().st_size for f in files) < MAX_IMAGE_BYTES


def test_image_share_and_reuse(posts):
    with_image = [p["image"] for p in posts if p["image"]]
    assert 0.30 <= len(with_image) / len(posts) <= 0.40
    assert max(Counter(with_image).values()) >= 3  # memes get reposted


def test_posts_and_labels_regenerate_identically(tmp_path):
    make_demo.write_posts(tmp_path)
    for name in ("posts.jsonl", "labels.jsonl"):
        assert (tmp_path / name).read_bytes() == (DEMO / name).read_bytes(), (
            f"{name} is stale: run python -m data.demo.make_demo")


def _top_band(path: Path) -> Image.Image:
    with Image.open(path) as img:
        rgb = img.convert("RGB")
    return rgb.crop((0, 0, rgb.width, rgb.height // 5))


def _changed_pixels(a: Image.Image, b: Image.Image) -> int:
    diff = ImageChops.difference(a, b).convert("L").point(lambda v: 255 if v > 40 else 0)
    return diff.histogram()[255]


@pytest.mark.skipif(find_cjk_font() is None,
                    reason="no CJK font installed (Debian package fonts-wqy-microhei)")
def test_meme_renders_chinese_caption(tmp_path):
    def render(name: str, caption: str) -> Path:
        spec = MemeSpec("caption_test", "face", caption, "", options={"mood": "panda"})
        return render_meme(spec, tmp_path / f"{name}.png")

    blank = _top_band(render("blank", ""))
    sleepless = _top_band(render("sleepless", "三天没睡着"))
    battery = _top_band(render("battery", "续航真厉害"))
    area = blank.width * blank.height
    assert _changed_pixels(blank, sleepless) > area * 0.05  # the caption was drawn
    # Two different five-character captions must differ: a font without Chinese glyphs
    # would draw the same five "missing glyph" boxes for both.
    assert _changed_pixels(sleepless, battery) > area * 0.03


def test_missing_font_is_reported_with_the_package_name(tmp_path, monkeypatch, capsys):
    from data.demo import memes

    monkeypatch.delenv(memes.FONT_ENV, raising=False)
    monkeypatch.setattr(memes, "FONT_CANDIDATES", ())
    assert make_demo.main(["--out", str(tmp_path)]) == 2
    assert "fonts-wqy-microhei" in capsys.readouterr().err
    assert not (tmp_path / "posts.jsonl").exists()  # nothing half-written
