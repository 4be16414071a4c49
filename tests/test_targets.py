"""Per-brand verdicts of posts that name both demo brands (rules of analysis/targets.py)."""

import pytest

from analysis.targets import brand_verdicts

BRANDS = {"Nimbus": ["nimbus", "云朵"], "Voltra": ["voltra", "伏特拉"]}


def per_brand(text, label="positive", sentiment=None):
    found = brand_verdicts(text, BRANDS, label, sentiment or
                           ("negative" if label == "sarcastic" else label))
    return {v.brand: (v.sentiment, v.label, v.rule) for v in found}


@pytest.mark.parametrize("text, label, winner", [
    ("Night camera shootout, Nimbus 7 vs Voltra X2: Nimbus wins easily.", "positive",
     "Nimbus"),
    ("Glad I picked the Nimbus 7 over the Voltra X2 last month. Dodged a bullet.", "positive",
     "Nimbus"),
    ("伏特拉X2退了，换了云朵7，终于不烫手了", "positive", "Nimbus"),
    ("Switched from Voltra X2 to the Nimbus 7, no regrets", "positive", "Nimbus"),
    ("Voltra X2 crushes the Nimbus 7 in charging speed", "positive", "Voltra"),
    ("Nimbus 7 > Voltra X2, not even close", "positive", "Nimbus"),
    ("伏特拉X2续航真厉害，比云朵7少撑了整整五个小时呢 👍", "sarcastic", "Nimbus"),
    ("伏特拉这次比云朵上次的蓝牙事故严重多了，毕竟是电池安全问题", "negative", "Nimbus"),
    ("伏特拉X2不如云朵7", "negative", "Nimbus"),
])
def test_comparisons_split_the_verdict(text, label, winner):
    got = per_brand(text, label)
    loser = next(b for b in BRANDS if b != winner)
    assert got[winner][0] == "positive"
    assert got[loser][0] == "negative"
    if label == "sarcastic":
        assert got[loser][1] == "sarcastic"  # the mockery goes to the brand it targets


@pytest.mark.parametrize("text, label", [
    ("Both Nimbus and Voltra put out great phones this year. Good time to upgrade.",
     "positive"),
    ("Nimbus 7 or Voltra X2? I mostly use my phone for photos and WhatsApp.", "neutral"),
    ("云朵和伏特拉今年都很能打，选哪个都不亏", "positive")])
def test_without_a_comparison_every_brand_gets_the_post_verdict(text, label):
    got = per_brand(text, label)
    assert set(got) == {"Nimbus", "Voltra"}
    assert all(v == (label, label, "post") for v in got.values())


def test_a_post_naming_one_brand_keeps_its_verdict():
    assert per_brand("Voltra X2 overheats again", "negative") == {
        "Voltra": ("negative", "negative", "post")}
    assert per_brand("nothing about phones", "neutral") == {}
