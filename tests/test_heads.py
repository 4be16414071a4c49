"""The committed text model: loads offline, and gives sane scores on obvious posts."""

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from analysis import heads
from analysis.heads import ARTIFACTS, TextModel, detect_lang, ngram_features
from analysis.verdict import EMOTIONS, SENTIMENTS

PRAISE = "I love this phone, best purchase ever"
RAGE = "这手机太垃圾了，气死我了"
SARCASM = "Great, another update that breaks everything 🙄"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def model():
    return TextModel.load()


def test_artifacts_are_small_and_not_pickles():
    files = {p.name: p.stat().st_size for p in ARTIFACTS.iterdir()}
    assert {heads.WEIGHTS_FILE, heads.CONFIG_FILE, "PROVENANCE.json"} <= set(files)
    assert sum(files.values()) < 5 * 2**20
    assert not any(name.endswith((".pkl", ".pickle", ".joblib")) for name in files)
    with np.load(ARTIFACTS / heads.WEIGHTS_FILE, allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)


def test_loads_and_predicts_with_the_network_unreachable(offline):
    fresh = TextModel.load()  # a new instance: the e5 engine is loaded under the patch too
    scores = fresh.predict([PRAISE, RAGE], ["en", "zh"], embed="always")
    assert all(s.embedded for s in scores)
    assert scores[0].sentiment["positive"] > 0.5


@pytest.mark.parametrize("embed", ["never", "auto", "always"])
def test_obvious_posts(model, embed):
    praise, rage, sarcasm = model.predict([PRAISE, RAGE, SARCASM], ["en", "zh", "en"],
                                          embed=embed)
    assert max(praise.sentiment, key=praise.sentiment.get) == "positive"
    assert max(praise.emotion, key=praise.emotion.get) == "joy"
    assert max(rage.sentiment, key=rage.sentiment.get) == "negative"
    assert max(rage.emotion, key=rage.emotion.get) == "anger"
    assert sarcasm.sarcasm > 0.5
    assert sarcasm.sarcasm > praise.sarcasm
    assert "🙄" in sarcasm.cues


@pytest.mark.parametrize("embed", ["never", "always"])
def test_sarcasm_prior_of_a_real_feed(model, embed):
    # trained on half-sarcastic sets, the head over-calls sincere hyperbole at prior 0.5;
    # with a realistic share of sarcastic posts (0.3; fusion's stream default is 0.35) the
    # sincere ones fall below 0.5 and the sarcastic one stays above
    praise, sarcasm = model.predict([PRAISE, SARCASM], ["en", "en"], embed=embed,
                                    sarcasm_prior=0.3)
    assert praise.sarcasm < 0.5 < sarcasm.sarcasm
    with pytest.raises(ValueError):
        model.predict([PRAISE], ["en"], sarcasm_prior=1.0)


def test_distributions_are_complete_and_sum_to_one(model):
    (s,) = model.predict(["The update is out today."], None, embed="never")
    assert tuple(s.sentiment) == SENTIMENTS and tuple(s.emotion) == EMOTIONS
    assert abs(sum(s.sentiment.values()) - 1) < 1e-3 and abs(sum(s.emotion.values()) - 1) < 1e-3
    assert 0.0 <= s.sarcasm <= 1.0


def test_language_is_detected_when_not_given(model):
    en, zh = model.predict(["battery is fine", "电池还行"], [None, None], embed="never")
    assert (en.lang, zh.lang) == ("en", "zh")
    assert detect_lang("iPhone 15 真香") == "zh"
    assert detect_lang("") == "en"


def test_explicit_marker_settles_sarcasm(model):
    (s,) = model.predict(["Love how my phone restarts every hour /s"], ["en"], embed="never")
    assert s.sarcasm >= heads.EXPLICIT_SARCASM and "/s" in s.cues


def test_empty_text_is_neutral_and_not_embedded(model):
    (s,) = model.predict(["   "], ["en"], embed="always")
    assert max(s.sentiment, key=s.sentiment.get) == "neutral"
    assert s.sentiment["neutral"] < 0.9 and not s.embedded and s.cues == []


def test_very_long_text_is_handled(model):
    (s,) = model.predict(["this phone is great " * 2000], ["en"], embed="never")
    assert s.sentiment["positive"] > 0.5


def test_bad_arguments(model):
    with pytest.raises(ValueError):
        model.predict(["a", "b"], ["en"])
    with pytest.raises(ValueError):
        model.predict(["a"], ["en"], embed="sometimes")
    assert model.predict([], []) == []


def test_hashing_is_the_same_in_another_process():
    # crc32, not Python's salted hash(): the committed weights depend on these exact buckets
    code = ("from analysis.heads import ngram_features; "
            "print(sorted(ngram_features('真厉害 great', 18)[0].tolist()))")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, cwd=REPO, env={**os.environ, "PYTHONHASHSEED": seed}
                           ).stdout for seed in ("1", "2")]
    assert runs[0] == runs[1] == f"{sorted(ngram_features('真厉害 great', 18)[0].tolist())}\n"


def test_matches_training_buckets():
    config = json.loads((ARTIFACTS / heads.CONFIG_FILE).read_text())
    assert config["ngram_bits"] == 18
    idx, _ = ngram_features("a", config["ngram_bits"])
    # " a " padded: " ", "a", " a", "a ", " a ", the word "w a" — crc32 buckets, fixed forever
    want = {zlib.crc32(g.encode()) & ((1 << 18) - 1) for g in [" ", "a", " a", "a ", " a ", "w a"]}
    assert set(idx.tolist()) == want


def test_the_sarcasm_head_reads_chinese_posts_without_weibo_contempt_emoticons():
    assert heads.sarcasm_text("真是贴心呢 [微笑]", "zh") == "真是贴心呢  "
    assert heads.sarcasm_text("[doge][白眼]好一个优化", "zh") == "  好一个优化"
    assert heads.sarcasm_text("开心 [哈哈]", "zh") == "开心 [哈哈]"  # not a contempt cue
    assert heads.sarcasm_text("so thoughtful [doge]", "en") == "so thoughtful [doge]"


@pytest.mark.parametrize("embed", ["never", "always"])
@pytest.mark.parametrize("emoticon", ["[微笑]", "[doge]", "[白眼]"])
def test_a_contempt_emoticon_never_makes_a_chinese_post_less_sarcastic(model, embed, emoticon):
    """The cue names it as evidence of sarcasm; the sarcasm heads had learned it as sincerity
    (it reaches their training data only in joyful Weibo posts): 0.65 -> 0.24 with [微笑]."""
    posts = ["伏特拉X2预装了十几个游戏，真是贴心呢", "感谢伏特拉X2，让我养成了随身带充电宝的好习惯",
             "谢谢云朵客服，很快就帮我修好了"]
    plain = model.predict(posts, ["zh"] * 3, embed=embed)
    marked = model.predict([f"{p} {emoticon}" for p in posts], ["zh"] * 3, embed=embed)
    for before, after in zip(plain, marked, strict=True):
        assert emoticon in after.cues
        assert after.sarcasm >= before.sarcasm
