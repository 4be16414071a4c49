"""Fusion and explanations on hand-made contrasting pairs."""

from dataclasses import dataclass, field

import pytest

from analysis.explain import Evidence, explain
from analysis.fusion import fuse, incongruity

NEUTRAL_EMOTIONS = {"anger": 0.05, "disgust": 0.05, "fear": 0.05, "joy": 0.1, "sadness": 0.05,
                    "surprise": 0.05, "neutral": 0.65}


@dataclass
class S:
    sentiment: dict
    sarcasm: float = 0.05
    emotion: dict = field(default_factory=lambda: dict(NEUTRAL_EMOTIONS))
    cues: list = field(default_factory=list)
    lang: str = "en"


PRAISE = S({"positive": 0.9, "negative": 0.03, "neutral": 0.07},
           emotion={**NEUTRAL_EMOTIONS, "joy": 0.8, "neutral": 0.0})
COMPLAINT = S({"positive": 0.05, "negative": 0.85, "neutral": 0.1},
              emotion={**NEUTRAL_EMOTIONS, "sadness": 0.6, "neutral": 0.1})
CALM = S({"positive": 0.1, "negative": 0.1, "neutral": 0.8})


def test_praise_alone_is_positive():
    fused = fuse(PRAISE)
    assert fused.label == "positive" and not fused.sarcasm and fused.emotion == "joy"
    assert fused.confidence > 0.8 and fused.incongruity == 0


def test_praise_against_a_complaining_caption_is_sarcastic():
    fused = fuse(PRAISE, caption=COMPLAINT)
    assert fused.label == "sarcastic" and fused.sentiment == "negative"
    assert fused.incongruity > 0.5 and fused.sarcasm_score > fuse(PRAISE).sarcasm_score
    assert fused.emotion in ("anger", "disgust", "sadness")
    # the sarcasm score's share of the joy went to disgust and anger
    sincere = fuse(PRAISE, caption=CALM).emotions
    assert fused.emotions["joy"] < sincere["joy"] * (1 - fused.sarcasm_score) + 0.02


def test_a_narrow_sarcasm_call_keeps_the_rest_of_the_joy():
    narrow = fuse(S(PRAISE.sentiment, sarcasm=0.75, cues=["🙄"], emotion=PRAISE.emotion))
    sure = fuse(S(PRAISE.sentiment, sarcasm=0.99, cues=["🙄"], emotion=PRAISE.emotion))
    assert narrow.label == sure.label == "sarcastic"
    assert narrow.sarcasm_score < sure.sarcasm_score
    joy = fuse(PRAISE).emotions["joy"]  # sincere praise keeps all of it
    assert joy == pytest.approx(0.8 / 1.05, abs=0.01)
    assert narrow.emotions["joy"] == pytest.approx(joy * (1 - narrow.sarcasm_score), abs=0.01)
    assert sure.emotions["joy"] < narrow.emotions["joy"]
    assert narrow.emotions["anger"] == narrow.emotions["disgust"] > NEUTRAL_EMOTIONS["anger"]


def test_praise_against_a_miserable_face_is_sarcastic():
    assert fuse(PRAISE, face_polarity=-0.9).label == "sarcastic"
    assert fuse(PRAISE, face_polarity=0.8).label == "positive"  # a happy face agrees


def test_agreeing_caption_keeps_the_praise_sincere():
    fused = fuse(PRAISE, caption=PRAISE)
    assert fused.label == "positive" and fused.incongruity == 0


def test_complaint_with_a_complaining_caption_is_plain_negative():
    fused = fuse(COMPLAINT, caption=COMPLAINT)
    assert fused.label == "negative" and fused.sentiment == "negative"


def test_text_sarcasm_alone_is_enough():
    fused = fuse(S(PRAISE.sentiment, sarcasm=0.9, cues=["🙄"]))
    assert fused.label == "sarcastic" and fused.confidence > 0.5


def test_sarcasm_odds_move_to_the_stream_prior():
    from analysis.fusion import STREAM_SARCASM_PRIOR, stream_sarcasm

    cued = S(PRAISE.sentiment, sarcasm=0.45, cues=["🙄"])
    assert stream_sarcasm(cued) == pytest.approx(STREAM_SARCASM_PRIOR, abs=1e-6)
    assert stream_sarcasm(cued, prior=0.6) == pytest.approx(0.6, abs=1e-6)
    assert stream_sarcasm(S(PRAISE.sentiment, sarcasm=0.9, cues=["🙄"])) < 0.9


def test_a_higher_deployment_prior_calls_more_sarcasm():
    borderline = S(PRAISE.sentiment, sarcasm=0.6, cues=["🙄"])
    assert fuse(borderline, prior=0.1).label == "positive"
    assert fuse(borderline, prior=0.8).label == "sarcastic"


def test_sarcasm_with_no_cue_behind_it_counts_less():
    from analysis.fusion import stream_sarcasm

    bare, cued = S(PRAISE.sentiment, sarcasm=0.7), S(PRAISE.sentiment, sarcasm=0.7, cues=["🙄"])
    assert stream_sarcasm(bare) < stream_sarcasm(cued)


def test_a_plain_complaint_without_a_cue_counts_less_as_sarcasm():
    """Sarcasm says the opposite of what it means: plainly negative words with no cue are a
    complaint; the same head score on praise, or behind a cue, keeps its odds."""
    from analysis.fusion import PLAIN_COMPLAINT_ODDS, stream_sarcasm

    assert PLAIN_COMPLAINT_ODDS["en"] < 1
    plain = S(COMPLAINT.sentiment, sarcasm=0.7)
    praise = S(PRAISE.sentiment, sarcasm=0.7)
    cued = S(COMPLAINT.sentiment, sarcasm=0.7, cues=["🙄"])
    odds = lambda p: p / (1 - p)  # noqa: E731
    assert odds(stream_sarcasm(plain)) == pytest.approx(
        odds(stream_sarcasm(praise)) * PLAIN_COMPLAINT_ODDS["en"], rel=1e-4)
    assert stream_sarcasm(cued) > stream_sarcasm(praise) > stream_sarcasm(plain)


def test_positive_post_under_a_positive_picture_is_not_sarcastic():
    sarcastic_caption = S(PRAISE.sentiment, sarcasm=0.95, cues=["hyperbole"])
    fused = fuse(PRAISE, caption=sarcastic_caption, face_polarity=0.8)
    assert fused.label == "positive" and fused.incongruity == 0
    assert fused.sarcasm_score == fuse(PRAISE).sarcasm_score  # the caption adds nothing


@pytest.mark.parametrize("text_pol, picture_pol, expected", [
    (0.9, -0.8, 0.72), (0.9, 0.5, 0.0), (-0.5, -0.8, 0.0), (0.9, None, 0.0)])
def test_incongruity(text_pol, picture_pol, expected):
    assert incongruity(text_pol, picture_pol) == pytest.approx(expected)


def test_probabilities_are_distributions():
    fused = fuse(PRAISE, caption=COMPLAINT, face_polarity=-0.5,
                 face_emotions={"sad": 0.7, "neutral": 0.3})
    assert sum(fused.emotions.values()) == pytest.approx(1, abs=1e-3)
    assert 0 <= fused.confidence <= 1 and 0 <= fused.sarcasm_score <= 1


def test_chinese_explanation_names_caption_face_and_words():
    text = "这产品真厉害，让我三天没睡着"
    sentence = explain(Evidence(lang="zh", label="sarcastic", text=text, caption="熊猫眼",
                                caption_polarity=-0.6, face="sad", face_polarity=-0.8))
    assert "真厉害" in sentence and "没睡着" in sentence and "熊猫眼" in sentence
    assert "痛苦" in sentence and sentence.endswith("反讽，实为负面。")


def test_english_explanation_of_a_meme():
    sentence = explain(Evidence(lang="en", label="sarcastic",
                                text="Love how the Voltra X2 keeps my hands warm",
                                caption="THIS IS FINE", caption_polarity=-0.4, cues=["🙄"]))
    assert sentence.startswith("The post praises ('love')")
    assert "'THIS IS FINE'" in sentence and "'🙄'" in sentence
    assert sentence.endswith("sarcastic, negative.")


def test_plain_explanations_in_both_languages():
    assert explain(Evidence("en", "negative", "Battery drains fast, terrible")) == (
        "The post reads negative ('terrible', 'drains').")
    assert explain(Evidence("zh", "positive", "拍照很棒，推荐")) == "帖子整体正面（'棒', '推荐'）。"
    assert "low confidence" in explain(Evidence("en", "neutral", "", empty=True))


def test_sarcasm_on_negative_words_never_sounds_positive():
    text = "My Voltra X2 overheats after ten minutes of maps. Very disappointed."
    sentence = explain(Evidence("en", "sarcastic", text, text_polarity=-0.8, text_sarcasm=0.7))
    assert "sounds positive" not in sentence and "praises" not in sentence
    assert "'overheats'" in sentence and "'disappointed'" in sentence and "0.70" in sentence
    zh = explain(Evidence("zh", "sarcastic", "发烫严重，太失望了", text_polarity=-0.7,
                          text_sarcasm=0.66))
    assert "看似正面" not in zh and "'失望'" in zh


def test_explanations_skip_negated_words():
    sentence = explain(Evidence("en", "positive", "No lag, no heat, great battery"))
    assert sentence == "The post reads positive ('great')."
    assert "'卡'" not in explain(Evidence("zh", "positive", "一点不卡，很流畅"))
