"""Sarcasm cues on hand-written English and Chinese posts."""

import numpy as np
import pytest

from analysis.cues import FEATURES, INDEX, cue_names, cue_vector, find_cues, scare_quotes


def names(text, lang):
    return cue_names(find_cues(text, lang))


def features(text, lang):
    return {c.feature for c in find_cues(text, lang)}


def test_mocking_emoji_and_praise_complaint_in_english():
    found = names("Great, another update that breaks everything 🙄", "en")
    assert "🙄" in found
    assert "praise + complaint" in found


def test_chinese_disguised_criticism():
    text = "这产品真厉害，让我三天没睡着[微笑]"
    found = names(text, "zh")
    assert "夸中带贬" in found  # 厉害 (praise) with 没睡 (complaint)
    assert "[微笑]" in found  # the Weibo smile reads as contempt in Chinese


@pytest.mark.parametrize("text", ["my phone died again 🙂", "battery drains in an hour 😅"])
def test_smile_next_to_a_complaint_is_contempt_in_english(text):
    assert "contextual_smile" in features(text, "en")


def test_friendly_smile_in_english_is_not_a_cue():
    assert features("Thanks for the help 🙂 see you tomorrow", "en") == set()


def test_smile_in_chinese_is_contempt_even_without_complaint():
    assert "contextual_smile" in features("新系统挺好的🙂", "zh")


def test_hehe_and_sarcastic_thanks():
    found = names("真是谢谢你们的客服了，呵呵", "zh")
    assert "呵呵" in found and "真是谢谢" in found
    assert "呵" not in found  # the shorter match inside 呵呵 is not repeated


@pytest.mark.parametrize("text", ["Love this phone /s", "What a great day #sarcasm",
                                  "so fun #not", "nice one #irony"])
def test_explicit_markers(text):
    assert "explicit_marker" in features(text, "en")


def test_slash_in_a_path_or_url_is_not_a_marker():
    assert "explicit_marker" not in features("see docs/setup and a/b testing", "en")


def test_english_phrases():
    found = names("Yeah right, thanks a lot for deleting my photos", "en")
    assert "yeah right" in found and "thanks a lot" in found


def test_scare_quotes_short_spans_only():
    assert scare_quotes('Their "premium" support is a bot', "en") == ["premium"]
    assert scare_quotes("所谓的“民主”罢了", "zh") == ["民主"]
    # apostrophes inside words are no quotes: the span "s" was named as a cue before
    assert scare_quotes("Voltra's 'fast' charger, it's 2 hours", "en") == ["fast"]
    assert scare_quotes("it's Nimbus's best year, isn't it", "en") == []
    quote = '"I will never ever come back to this place because the food was cold"'
    assert scare_quotes(quote, "en") == []


def test_hyperbole_in_both_languages():
    assert "hyperbole" in features("Best update ever, sooooo smooth", "en")
    assert "hyperbole" in features("宇宙第一旗舰，遥遥领先", "zh")


def test_negated_praise_is_not_praise_in_chinese():
    assert "praise_complaint" not in features("不好用，还发烫", "zh")


def test_plain_posts_have_no_named_cues():
    assert names("The new phone ships on Friday in three colours.", "en") == []
    assert names("新手机周五发货，有三种颜色。", "zh") == []


def test_vector_shape_range_and_order():
    vec = cue_vector("Great, another update that breaks everything 🙄🙄🙄🙄", "en")
    assert vec.shape == (len(FEATURES),) and vec.dtype == np.float32
    assert 0.0 <= vec.min() and vec.max() <= 1.0
    assert vec[INDEX["mocking_emoji"]] > 0
    assert vec[INDEX["explicit_marker"]] == 0
    assert cue_vector("", "en").sum() == 0


def test_empty_and_none_text():
    assert find_cues("", "zh") == []
    assert find_cues(None, "en") == []


@pytest.mark.parametrize("text, lang", [
    ("Nimbus 7 one month in: no lag, no heat, battery still solid. Great phone.", "en"),
    ("Two weeks in and it never crashes, not slow at all. Love it.", "en"),
    ("说实话，云朵这次的系统动画做得很舒服，一点不卡", "zh"),
    ("从别家换到云朵7，最大的感受就是：安静，不烫，好用", "zh"),
    ("玩一小时游戏都没有问题，喜欢", "zh")])
def test_negated_complaints_are_not_complaints(text, lang):
    from analysis.cues import complaint_words

    assert complaint_words(text, lang) == []
    assert "praise_complaint" not in features(text, lang)


def test_negated_praise_is_a_complaint_in_english():
    from analysis.cues import complaint_words, praise_words

    text = "Camera app takes ages to open. Not a great first impression."
    assert complaint_words(text, "en") == ["not great"] and praise_words(text, "en") == []


def test_a_complaint_negated_once_but_stated_again_still_counts():
    from analysis.cues import complaint_words

    assert complaint_words("白天不烫，晚上玩游戏就烫", "zh") == ["烫"]


@pytest.mark.parametrize("text, lang", [
    ("Nimbus customer service replaced my screen for free. Thank you!", "en"),
    ("Thanks, support team, the replacement arrived in two days", "en"),
    ("谢谢云朵客服，很快就修好了", "zh")])
def test_sincere_thanks_is_no_sarcasm_cue(text, lang):
    assert names(text, lang) == []
