"""The vlm prompt and the parsing of model answers: plain strings, no model."""

from __future__ import annotations

import json

import pytest

from analysis import prompts
from analysis.prompts import ParseError, parse

GOOD = {"image_text": "三天没睡", "label": "sarcastic", "sentiment": "negative",
        "emotion": "anger", "explanation": "字面在夸，配字在抱怨。"}


def answer(**changes) -> str:
    return json.dumps({**GOOD, **changes}, ensure_ascii=False)


def test_plain_json_answer():
    got = parse(answer())
    assert (got.label, got.sentiment, got.emotion) == ("sarcastic", "negative", "anger")
    assert got.image_text == "三天没睡" and got.explanation.startswith("字面")


@pytest.mark.parametrize("wrap", [
    "```json\n{}\n```",
    "Here is my analysis:\n{}\nI hope this helps! {{\"note\": 1}}",
    "<think>The user wants JSON. {{\"label\": \"positive\"}} maybe?</think>\n{}",
    "Let me look at the image first.</think>{}",  # the template opened the think block
    "{{not json}} then {}",
])
def test_tolerates_fences_thinking_and_trailing_text(wrap):
    raw = wrap.format(answer())
    got = parse(raw)
    assert got.label == "sarcastic"
    start, end = got.spans["label"]
    assert raw[start:end] == "sarcastic"
    assert raw[slice(*got.spans["emotion"])] == "anger"


def test_labels_are_normalised_and_sarcasm_is_negative():
    got = parse(answer(label=" Sarcasm ", sentiment="positive", emotion="Happy"))
    assert (got.label, got.sentiment, got.emotion) == ("sarcastic", "negative", "joy")
    assert parse(answer(label="positive", sentiment=None)).sentiment == "positive"
    no_sentiment = {k: v for k, v in GOOD.items() if k != "sentiment"}
    assert parse(json.dumps({**no_sentiment, "label": "positive"})).sentiment == "positive"


@pytest.mark.parametrize("raw, reason", [
    ("I think it is sarcastic.", "no JSON object"),
    ('{"label": "sarcastic", "emotion": "anger", "explanation": "cut sho', "incomplete"),
    ("<think>hmm, the user wants", "only thinking"),
    (answer(label="mocking"), "\"label\" is 'mocking'"),
    (answer(emotion="contempt"), "\"emotion\" is 'contempt'"),
    (answer(sentiment="bitter", label="positive"), "\"sentiment\" is 'bitter'"),
    (answer(explanation=""), "explanation"),
    (answer(label=3), "\"label\" is missing or not a string"),
])
def test_broken_answers_say_what_is_wrong(raw, reason):
    with pytest.raises(ParseError, match=reason.replace("(", r"\(")):
        parse(raw)


def test_prompt_in_the_posts_language_with_the_image_first():
    chat = prompts.messages("这产品真厉害", "zh", image="IMG")
    assert chat[0]["role"] == "system" and "品牌舆情" in chat[0]["content"][0]["text"]
    user = chat[1]["content"]
    assert user[0] == {"type": "image", "image": "IMG"}
    assert "这产品真厉害" in user[1]["text"] and "简体中文" in user[1]["text"]
    english = prompts.messages("Love it", "en", image=None)[1]["content"]
    assert len(english) == 1 and "no image" in english[0]["text"]
    assert "in English" in english[0]["text"]


def test_long_posts_are_cut_and_empty_ones_say_so():
    long = prompts.messages("x" * 5000, "en", None)[1]["content"][0]["text"]
    assert "x" * prompts.MAX_POST_CHARS in long and "x" * (prompts.MAX_POST_CHARS + 1) not in long
    assert "(no text)" in prompts.messages("  ", "en", None)[1]["content"][0]["text"]


def test_without_system_folds_it_into_the_user_turn():
    chat = prompts.without_system(prompts.messages("hi", "en", image="IMG"))
    assert [m["role"] for m in chat] == ["user"]
    assert chat[0]["content"][0]["type"] == "image"
    assert chat[0]["content"][1]["text"].startswith(prompts.SYSTEM["en"])


def test_repair_quotes_the_answer_and_the_reason():
    chat = prompts.messages("hi", "en", None)
    fixed = prompts.repair(chat, "x" * 5000, "no JSON object found", "en")
    assert [m["role"] for m in fixed] == ["system", "user", "assistant", "user"]
    assert len(fixed[2]["content"][0]["text"]) == prompts.BAD_ANSWER_CHARS
    assert "no JSON object found" in fixed[3]["content"][0]["text"]


@pytest.mark.parametrize("text, lang, expected", [
    ("伏特拉真厉害", None, "zh"), ("Voltra 真厉害 lol", None, "zh"),
    ("Love my Nimbus", None, "en"), ("whatever", "zh-CN", "zh"), ("", None, "en"),
])
def test_post_lang(text, lang, expected):
    assert prompts.post_lang(text, lang) == expected


@pytest.mark.parametrize("text, lang, ok", [
    ("字面在夸 Nimbus，配字在抱怨。", "zh", True),
    ("The words praise, the caption complains.", "zh", False),
    ("The caption says '三天没睡' while the words praise.", "en", True),
    ("字面在夸，配字在抱怨。", "en", False),
])
def test_written_in(text, lang, ok):
    assert prompts.written_in(text, lang) is ok
