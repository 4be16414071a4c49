"""The structured prompt of the `vlm` backend and the parsing of what the model answers.

One system message and one instruction, in English or Chinese by the post's language, ask for a
single JSON object. Models wrap it in code fences, think aloud first (<think>…</think>), or keep
talking after it, so parsing looks for the first JSON object that carries the fields, checks
every label against the verdict's vocabulary, and says exactly what is wrong when it fails: that
reason goes into the one repair prompt the backend sends before it gives up.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from analysis.verdict import EMOTIONS, LABELS, SENTIMENTS

MAX_POST_CHARS = 2000  # a longer post is a document; its start carries the tone
BAD_ANSWER_CHARS = 1500  # how much of a broken answer the repair prompt quotes back

SYSTEM = {
    "en": ("You are a brand-monitoring analyst. You read one social media post (its text and, "
           "when given, its image, often a meme with a caption) and judge the opinion it "
           "expresses. Watch for disguised criticism: words that praise while the picture, "
           "its caption or the context mocks. Sarcastic praise is negative."),
    "zh": ("你是品牌舆情分析师。你会读到一条社交媒体帖子（文字，以及可能附带的图片，常见为带配字的"
           "表情包），判断它表达的态度。注意“明褒暗贬”：字面在夸，图片、配字或语境却在嘲讽。"
           "反讽式的夸奖属于负面。"),
}

INSTRUCTION = {
    "en": """Post text:
<<<
{text}
>>>
{image_line}
Answer with one JSON object and nothing else:
{{"image_text": "...", "label": "...", "sentiment": "...", "emotion": "...", "explanation": "..."}}
- image_text: the words written in the image ("" when there is no image or no words)
- label: positive, negative, neutral or sarcastic (sarcastic: praise that means criticism)
- sentiment: the intended polarity: positive, negative or neutral (sarcastic means negative)
- emotion: anger, disgust, fear, joy, sadness, surprise or neutral
- explanation: one or two sentences in English naming the evidence (the words, the caption, \
the face)""",
    "zh": """帖子文字：
<<<
{text}
>>>
{image_line}
只输出一个 JSON 对象，不要输出其他内容：
{{"image_text": "...", "label": "...", "sentiment": "...", "emotion": "...", "explanation": "..."}}
- image_text：图片里写的文字（没有图片或没有文字时为 ""）
- label：positive、negative、neutral 或 sarcastic 之一（sarcastic：明褒暗贬）
- sentiment：真实态度：positive、negative 或 neutral（sarcastic 即 negative）
- emotion：anger、disgust、fear、joy、sadness、surprise 或 neutral 之一
- explanation：用简体中文写一到两句话，指出依据（哪些字词、图片配字、人物表情）
- 字段名和标签保持英文""",
}

IMAGE_LINE = {
    "en": ("The post's image is attached above.", "The post has no image."),
    "zh": ("帖子的图片见上。", "帖子没有图片。"),
}

REPAIR = {
    "en": ("Your answer could not be used: {reason}. Answer again with only the JSON object, "
           "with the five fields and the allowed values, and keep the explanation short."),
    "zh": ("你的回答无法使用：{reason}。请重新回答，只输出 JSON 对象，"
           "包含五个字段并使用允许的取值，解释写短一些。"),
}

# Words models use for our labels; anything else is an error that earns the repair prompt.
SYNONYMS = {"sarcasm": "sarcastic", "ironic": "sarcastic", "irony": "sarcastic",
            "pos": "positive", "neg": "negative", "neu": "neutral", "happiness": "joy",
            "happy": "joy", "sad": "sadness", "angry": "anger", "none": "neutral"}


def post_lang(text: str, lang: str | None) -> str:
    """"zh" or "en": the prompt and explanation language. A given lang wins; otherwise the
    text is Chinese when Han characters make up a fifth of its letters."""
    if lang:
        return "zh" if lang.lower().startswith("zh") else "en"
    return "zh" if _mostly_han(text) else "en"


def _mostly_han(text: str) -> bool:
    # A fifth, not a half: one Han character carries as much as a short English word.
    han = sum("\u4e00" <= ch <= "\u9fff" for ch in text)
    latin = sum(ch.isascii() and ch.isalpha() for ch in text)
    return han > 0 and han * 5 >= han + latin


def written_in(text: str, lang: str) -> bool:
    """Whether an explanation is in the post's language, by the share of Han characters among
    its letters: at least a fifth for Chinese, less than a fifth for English (so an English
    sentence may quote a Chinese caption, and a Chinese one may name a brand in Latin script)."""
    chinese = _mostly_han(text)
    return chinese if lang == "zh" else not chinese and any(c.isascii() and c.isalpha()
                                                              for c in text)


def messages(text: str, lang: str, image: object | None) -> list[dict]:
    """The chat: a system message and one user turn (the image first, then the instruction).
    `image` is a PIL image or None; the processor turns the image block into its tokens."""
    post = (text or "").strip()[:MAX_POST_CHARS] or ("（无文字）" if lang == "zh" else "(no text)")
    line = IMAGE_LINE[lang][0 if image is not None else 1]
    user = [{"type": "text", "text": INSTRUCTION[lang].format(text=post, image_line=line)}]
    if image is not None:
        user.insert(0, {"type": "image", "image": image})
    return [{"role": "system", "content": [{"type": "text", "text": SYSTEM[lang]}]},
            {"role": "user", "content": user}]


def without_system(chat: list[dict]) -> list[dict]:
    """The same chat for templates that refuse a system role: its text leads the user turn."""
    if not chat or chat[0]["role"] != "system":
        return chat
    system, user, *rest = chat
    content = list(user["content"])
    first_text = next(i for i, c in enumerate(content) if c["type"] == "text")
    content[first_text] = {"type": "text", "text": system["content"][0]["text"] + "\n\n"
                           + content[first_text]["text"]}
    return [{"role": "user", "content": content}, *rest]


def repair(chat: list[dict], answer: str, reason: str, lang: str) -> list[dict]:
    """The chat again, with the broken answer and a request to fix it."""
    return [*chat,
            {"role": "assistant", "content": [{"type": "text",
                                               "text": answer[:BAD_ANSWER_CHARS]}]},
            {"role": "user", "content": [{"type": "text",
                                          "text": REPAIR[lang].format(reason=reason)}]}]


@dataclass
class Answer:
    label: str
    sentiment: str
    emotion: str
    explanation: str
    image_text: str
    spans: dict[str, tuple[int, int]]  # field -> (start, end) of its value in the raw answer


class ParseError(ValueError):
    """Why an answer is unusable, in words the repair prompt can quote."""


THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


def parse(raw: str) -> Answer:
    """The answer in `raw` (a model's decoded output), or ParseError saying what is wrong."""
    start = _visible_start(raw)
    found = None
    for at in (m.start() for m in re.finditer(r"\{", raw[start:])):
        found = _object_at(raw, start + at)
        if found is not None:
            break
    if found is None:
        raise ParseError("no JSON object found" if "{" not in raw[start:]
                         else "the JSON object is incomplete or malformed")
    obj, begin, end = found
    return _validate(obj, raw, begin, end)


def _visible_start(raw: str) -> int:
    """Where the answer proper begins: after the last closed thinking block. An unclosed
    <think> means the model never got past thinking (e.g. it ran out of tokens)."""
    closed = list(THINK.finditer(raw))
    at = closed[-1].end() if closed else 0
    lowered = raw.lower()
    if "<think>" in lowered[at:]:
        raise ParseError("the answer is only thinking (no JSON after <think>)")
    if not closed and "</think>" in lowered:  # the template opened the block in the prompt
        at = lowered.rindex("</think>") + len("</think>")
    return at


def _object_at(raw: str, at: int) -> tuple[dict, int, int] | None:
    """The JSON object starting at `at` when it parses and looks like an answer (has a label),
    with its span; None otherwise. raw_decode stops at the object's end: trailing text,
    closing code fences and second objects are ignored."""
    try:
        obj, end = json.JSONDecoder().raw_decode(raw, at)
    except json.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or "label" not in obj:
        return None
    return obj, at, end


def _validate(obj: dict, raw: str, begin: int, end: int) -> Answer:
    label = _choice(obj, "label", LABELS)
    sentiment = ("negative" if label == "sarcastic" else label) if obj.get("sentiment") is None \
        else _choice(obj, "sentiment", SENTIMENTS)
    if label == "sarcastic":
        sentiment = "negative"  # by definition; a model that says otherwise contradicts itself
    emotion = _choice(obj, "emotion", EMOTIONS)
    explanation = obj.get("explanation")
    if not isinstance(explanation, str) or not explanation.strip():
        raise ParseError('"explanation" is missing or empty')
    image_text = obj.get("image_text") or ""
    if not isinstance(image_text, str):
        image_text = json.dumps(image_text, ensure_ascii=False)
    spans = {key: span for key in ("label", "emotion")
             if (span := value_span(raw, begin, end, key)) is not None}
    return Answer(label, sentiment, emotion, explanation.strip(), image_text.strip(), spans)


def _choice(obj: dict, key: str, allowed: tuple[str, ...]) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise ParseError(f'"{key}" is missing or not a string; use one of {", ".join(allowed)}')
    word = value.strip().lower()
    word = SYNONYMS.get(word, word)
    if word not in allowed:
        raise ParseError(f'"{key}" is {value!r}; use one of {", ".join(allowed)}')
    return word


def value_span(raw: str, begin: int, end: int, key: str) -> tuple[int, int] | None:
    """Where the string value of `key` sits in raw[begin:end] (the token probabilities of
    those characters are the model's confidence in that choice)."""
    match = re.compile(rf'"{key}"\s*:\s*"([^"\\]*)"').search(raw, begin, end)
    return match.span(1) if match else None
