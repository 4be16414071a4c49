"""The brand query language: parsing (errors name the position), matching English and Chinese,
and the server-side queries derived from it."""

import json
from pathlib import Path

import pytest

from collectors.query import QueryError, matches, matching_brands, parse
from subtext.config import Brand

DEMO = Path(__file__).resolve().parent.parent / "data" / "demo" / "posts.jsonl"


@pytest.mark.parametrize("query, text, expected", [
    ("nimbus", "Love my NIMBUS 7", True),
    ("nimbus", "nimbuses everywhere", False),  # whole words in spaced scripts
    ("nimbus", "Cumulonimbus clouds", False),
    ("nimbus", "cumulonimbus and nimbuses, then a Nimbus", True),  # a later whole word
    ("#nimbus", "nimbus #nimbus7 #nimbus", True),
    ("nimbus", "Nimbus's camera", True),
    ('"nimbus 7"', "the Nimbus   7 camera", True),  # any whitespace inside a phrase
    ('"nimbus 7"', "Nimbus 70", False),
    ("nimbus camera", "camera of the Nimbus", True),  # juxtaposed terms mean AND
    ("nimbus camera", "Nimbus battery", False),
    ("nimbus AND (camera OR battery)", "nimbus battery", True),
    ("nimbus AND (camera OR battery)", "nimbus screen", False),
    ("nimbus -refund", "nimbus refund please", False),
    ("nimbus NOT refund", "nimbus is fine", True),
    ("nimbus OR voltra AND x2", "nimbus alone", True),  # AND binds tighter than OR
    ("(nimbus OR voltra) AND x2", "nimbus alone", False),
    ("nimbus and voltra", "nimbus", False),  # lower-case "and" is a word to find
    ("#nimbus", "so good #Nimbus", True),
    ("#nimbus", "so good nimbus", False),
    ("#nimbus", "#nimbus7 is out", False),
    ("e-commerce", "our E-Commerce site", True),
    ("c++", "written in C++ mostly", True),
])
def test_english(query, text, expected):
    assert matches(query, text) is expected


@pytest.mark.parametrize("query, text, expected", [
    ("云朵", "买了云朵手机，后悔", True),  # no word boundaries in Chinese
    ("云朵手机", "云朵 手机", False),
    ('"云朵 手机"', "云朵 手机 不错", True),
    ("nimbus OR 云朵", "我的Nimbus手机", True),  # Latin inside Chinese text
    ("nimbus", "ＮＩＭＢＵＳ最棒", True),  # full-width letters
    ("云朵 -广告", "云朵手机广告", False),
    ("云朵 -广告", "云朵手机真好", True),
    ("“云朵手机” AND （续航 OR 电池）", "云朵手机的电池不行", True),  # Chinese punctuation
    ("#云朵#", "#云朵# 新品发布", True),  # Weibo-style topic
    ("伏特拉 NOT (真好 OR 推荐)", "伏特拉真厉害，让我三天没睡着 🙂", True),
])
def test_chinese(query, text, expected):
    assert matches(query, text) is expected


def test_accounts_match_the_author_or_a_mention():
    query = parse("@nimbus_official")
    assert query.matches("hello", author="nimbus_official")
    assert query.matches("hello", author="@Nimbus_Official")
    assert query.matches("hello", author="nimbus_official@mastodon.example")
    assert query.matches("thanks @nimbus_official!", author="someone")
    assert not query.matches("thanks @nimbus_official_fan", author="someone")


@pytest.mark.parametrize("query, reason, position", [
    ("", "empty query", 1),
    ("nimbus OR", "expected a term", 10),
    ("(nimbus OR voltra", "'(' is never closed", 1),
    ("nimbus)", "unmatched ')'", 7),
    ('nimbus "night mode', "unterminated quote", 8),
    ('nimbus ""', "empty phrase", 8),
    ("OR nimbus", "expected a term before 'OR'", 1),
    ("nimbus AND AND x", "expected a term before 'AND'", 12),
    ("NOT nimbus", "at least one term that is not negated", 1),
    ("-云朵", "at least one term that is not negated", 1),
    ("云朵 OR NOT 广告", "at least one term that is not negated", 1),
])
def test_parse_errors_name_the_position(query, reason, position):
    with pytest.raises(QueryError) as error:
        parse(query)
    assert reason in error.value.reason
    assert error.value.position + 1 == position
    assert f"at position {position}" in str(error.value)


def test_server_side_queries_are_derived():
    query = parse('"nimbus 7" OR (云朵 AND 手机 -广告) OR #nimbusphone')
    # at least one of these is in every match: one search each where there is no OR
    assert [t.search_text() for t in query.any_terms()] == ['"nimbus 7"', "云朵", "#nimbusphone"]
    assert [t.bare for t in query.any_terms()] == ["nimbus 7", "云朵", "nimbusphone"]
    # the whole query for Lucene-like search boxes
    assert query.boolean() == '("nimbus 7" OR (云朵 AND 手机 AND NOT 广告) OR #nimbusphone)'
    assert parse("@nimbus OR nimbus").boolean("from:") == "(from:nimbus OR nimbus)"
    assert [t.text for t in parse("nimbus AND (a OR b OR c)").any_terms()] == ["nimbus"]


def test_a_post_can_match_several_brands():
    brands = [Brand("Nimbus", "nimbus OR 云朵"), Brand("Voltra", "voltra OR 伏特拉"),
              Brand("Acme", '"acme phone"')]
    assert matching_brands(brands, "云朵还是伏特拉？") == ["Nimbus", "Voltra"]
    assert matching_brands(brands, "acme phones") == []


def test_the_demo_queries_match_what_they_matched_before():
    """The demo's `nimbus OR 云朵` / `voltra OR 伏特拉` select the same posts as the OR-only
    substring matcher they replace."""
    rows = [json.loads(line) for line in DEMO.read_text("utf-8").splitlines() if line.strip()]
    for query in ("nimbus OR 云朵", "voltra OR 伏特拉"):
        words = [w.lower() for w in query.split(" OR ")]
        before = {r["id"] for r in rows if any(w in r["text"].lower() for w in words)}
        now = {r["id"] for r in rows if matches(query, r["text"])}
        assert now == before and len(now) > 100


@pytest.mark.parametrize("query, text, expected", [
    ("batter*", "my Battery died", True),
    ("batter*", "batteries included", True),
    ("batter*", "the batter was thin", True),
    ("batter*", "a batte", False),
    ("batter*", "a rebattery", False),  # the word must start with the prefix
    ("#nimbus*", "#NimbusPhone rocks", True),
    ("nimbus NEAR/3 camera", "nimbus has a great camera", True),  # 3 words between
    ("nimbus NEAR/2 camera", "nimbus has a great camera", False),
    ("camera NEAR/3 nimbus", "nimbus has a great camera", True),  # either order
    ("nimbus NEAR/0 camera", "Nimbus camera", True),
    ("batter* NEAR/1 drain*", "Voltra battery keeps draining", True),
    ('"nimbus 7" NEAR/2 camera', "the Nimbus 7 has a camera", True),
    ("(nimbus OR 云朵) NEAR/3 (续航 OR battery)", "云朵手机的续航不行", True),
    ("云朵 NEAR/2 续航", "云朵手机的续航不行", False),  # each Chinese character is a word
    ("云朵 NEAR/3 续航", "云朵手机的续航不行", True),
    ("nimbus NEAR/3 camera AND -refund", "nimbus camera refund", False),
])
def test_wildcards_and_proximity(query, text, expected):
    assert matches(query, text) is expected


@pytest.mark.parametrize("query, reason, position", [
    ("nimbus NEAR camera", "NEAR needs a distance", 8),
    ("nimbus NEAR/x camera", "NEAR needs a distance", 8),
    ("NEAR/3 camera", "expected a term before 'NEAR/3'", 1),
    ("nimbus NEAR/3 (camera AND lens)", "NEAR joins terms", 16),
    ("*mbus", "'*' goes at the end of a word", 1),
    ("ni*mbus", "'*' goes at the end of a word", 3),
    ("n*", "'*' goes at the end of a word", 2),
])
def test_wildcard_and_proximity_errors(query, reason, position):
    with pytest.raises(QueryError) as error:
        parse(query)
    assert reason in error.value.reason
    assert error.value.position + 1 == position


def test_new_operators_on_the_server_side_and_in_explanations():
    query = parse("nimbus NEAR/3 batter* -refund")
    assert query.boolean() == "((nimbus AND batter*) AND NOT refund)"  # broad; we confirm
    assert [t.bare for t in query.any_terms()] == ["nimbus"]
    assert parse("batter*").any_terms()[0].bare == "batter"
    assert query.explain("Nimbus battery, refund please") == {
        "found": ["nimbus", "batter*", "refund"], "missing": []}
    assert query.explain("nimbus") == {"found": ["nimbus"], "missing": ["batter*", "refund"]}
