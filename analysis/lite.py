"""The demo-grade `lite` analyzer: small English and Chinese lexicons plus sarcasm cues.

It reads post text only (image captions need OCR, which the offline analyzer adds) and is good
enough to drive the demo: praise carrying a mocking emoji, 呵呵, "/s", scare quotes or a
complaint in the same breath is tagged sarcastic with negative intent.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

from analysis.verdict import Item, Verdict

MAX_CHARS = 2000  # beyond this a post is a document; the lexicon only needs its start

POSITIVE = {
    "en": ["love", "great", "amazing", "awesome", "excellent", "best", "fantastic", "perfect",
           "brilliant", "happy", "impressed", "smooth", "fast", "beautiful", "recommend",
           "wonderful", "nice", "good", "thanks", "incredible", "genius", "stellar"],
    "zh": ["好", "棒", "喜欢", "爱", "厉害", "赞", "优秀", "完美", "流畅", "满意", "推荐", "惊艳",
           "漂亮", "给力", "牛", "好用", "开心", "感谢", "神机", "真香"],
}
NEGATIVE = {
    "en": ["hate", "terrible", "awful", "worst", "broken", "breaks", "bug", "crash", "slow",
           "drain", "drains", "overheat", "overheating", "hot", "refund", "disappointed",
           "angry", "useless", "garbage", "trash", "dead", "died", "fail", "fails", "scam",
           "bad", "problem", "issue", "sucks", "lag", "laggy", "burn", "fire", "sleep"],
    "zh": ["差", "烂", "垃圾", "坑", "卡", "崩", "发烫", "烫", "耗电", "掉电", "退货", "失望",
           "生气", "问题", "故障", "没电", "死机", "骗", "坏", "难用", "失眠", "没睡", "吐槽",
           "翻车", "无语", "气死"],
}
# Emoji and phrases that, next to praise, usually mean the opposite.
MOCKING = ["🙄", "🤡", "😅", "🙂", "🙃", "😒", "💀", "[微笑]", "[doge]", "呵呵", "/s", "lol sure",
           "yeah right", "thanks a lot", "just what i needed", "what could go wrong", "真是谢谢",
           "谢谢你啊", "好一个", "不愧是"]
# Over-the-top praise ("真厉害", "so great") next to a complaint is the classic disguised jab.
INTENSIFIED = re.compile(r"(真|太|好一个|不愧是|\b(?:so|really|just|truly|absolutely)\s+)\S{0,2}$")
SCARE_QUOTES = re.compile(r"[\"“「『]([^\"”」』]{1,20})[\"”」』]")
EMOTION_WORDS = {
    "anger": ["angry", "furious", "rage", "hate", "气死", "生气", "愤怒", "恶心", "scam", "骗"],
    "sadness": ["sad", "disappointed", "miss", "cry", "失望", "难过", "伤心", "哭"],
    "fear": ["scared", "afraid", "worried", "dangerous", "害怕", "担心", "吓", "explode", "爆炸"],
    "joy": ["love", "happy", "great", "amazing", "开心", "喜欢", "棒", "爱", "赞"],
    "surprise": ["wow", "unexpected", "can't believe", "没想到", "居然", "竟然", "震惊"],
    "disgust": ["gross", "disgusting", "trash", "garbage", "垃圾", "恶心"],
}


class LiteAnalyzer:
    name = "lite"
    version = "0.1"

    def analyze(self, items: Sequence[Item]) -> list[Verdict]:
        return [self._one(item) for item in items]

    def _one(self, item: Item) -> Verdict:
        start = time.perf_counter()
        text = item.text or ""
        notes = []
        if len(text) > MAX_CHARS:
            text = text[:MAX_CHARS]
            notes.append(f"text truncated to {MAX_CHARS} characters")
        lang = item.lang or guess_lang(text)
        verdict = judge(text, lang, has_image=item.image is not None)
        verdict.evidence["notes"] = notes + verdict.evidence.get("notes", [])
        verdict.latency_ms = round((time.perf_counter() - start) * 1000, 3)
        return verdict


def guess_lang(text: str) -> str:
    han = sum("\u4e00" <= ch <= "\u9fff" for ch in text)
    return "zh" if han and han * 4 >= len(text.strip()) * 1 else "en"


def _hits(text: str, words: list[str], lang: str) -> list[str]:
    lowered = text.lower()
    if lang == "zh":
        return [w for w in words if w in lowered]
    return [w for w in words if re.search(rf"\b{re.escape(w)}\b", lowered)]


def judge(text: str, lang: str, has_image: bool) -> Verdict:
    """Score one text; a pure function so the rules are tested with plain strings."""
    lexicon_lang = "zh" if lang.startswith("zh") else "en"
    pos = _hits(text, POSITIVE[lexicon_lang], lexicon_lang)
    neg = _hits(text, NEGATIVE[lexicon_lang], lexicon_lang)
    cues = [c for c in MOCKING if c in text.lower()]
    cues += [f"“{m}”" for m in SCARE_QUOTES.findall(text) if _hits(m, POSITIVE[lexicon_lang],
                                                                    lexicon_lang)]
    mixed = bool(pos and neg)
    if mixed and _intensified(text, pos):
        cues.append("夸中带贬" if lexicon_lang == "zh" else "praise + complaint")
    sarcasm_score = min(1.0, 0.45 * bool(cues) + 0.2 * len(cues) + 0.35 * mixed
                        + 0.1 * (mixed and bool(cues)))
    sarcasm = bool(pos) and sarcasm_score >= 0.5
    polarity = len(pos) - len(neg)
    if sarcasm:
        label, sentiment = "sarcastic", "negative"
    elif polarity > 0:
        label = sentiment = "positive"
    elif polarity < 0 or neg:
        label = sentiment = "negative"
    else:
        label = sentiment = "neutral"
    emotions = _emotions(text, lexicon_lang, sentiment)
    if sentiment == "negative":  # sarcastic praise is not joy
        emotions = {**emotions, "joy": 0.0}
    emotion = max(emotions, key=emotions.get)
    strength = len(pos) + len(neg) + len(cues)
    confidence = round(min(0.95, 0.4 + 0.12 * strength + (0.15 * sarcasm_score if sarcasm else 0)),
                       3)
    if not text.strip():
        confidence = 0.2
    evidence = {"ocr_text": "", "cues": cues, "positive_words": pos, "negative_words": neg,
                "polarity": {"text": sentiment if not sarcasm else "positive (surface)"},
                "notes": ["image not read by lite@0.1"] if has_image else []}
    return Verdict(label=label, sentiment=sentiment, sarcasm=sarcasm,
                   sarcasm_score=round(sarcasm_score, 3), emotion=emotion, emotions=emotions,
                   confidence=confidence, explanation=explain(lexicon_lang, label, pos, neg, cues,
                                                               empty=not text.strip()),
                   analyzer="lite@0.1", evidence=evidence)


def _intensified(text: str, praise: list[str]) -> bool:
    lowered = text.lower()
    for word in praise:
        at = lowered.find(word)
        if at > 0 and INTENSIFIED.search(lowered[max(0, at - 12):at]):
            return True
    return False


def _emotions(text: str, lang: str, sentiment: str) -> dict[str, float]:
    scores = {e: float(len(_hits(text, words, lang))) for e, words in EMOTION_WORDS.items()}
    scores["neutral"] = 0.5 if sentiment == "neutral" else 0.2
    if sentiment == "negative" and not any(scores[e] for e in ("anger", "sadness", "disgust")):
        scores["anger"] += 0.6  # a complaint with no named feeling reads as annoyance
    total = sum(scores.values()) or 1.0
    return {e: round(s / total, 3) for e, s in scores.items()}


def explain(lang: str, label: str, pos: list[str], neg: list[str], cues: list[str],
            empty: bool = False) -> str:
    """One sentence in the post's language naming the words and cues behind the label."""
    quote = lambda words: ", ".join(f"'{w}'" for w in words[:3])  # noqa: E731
    if lang == "zh":
        if empty:
            return "没有文字也没有可读的图片，无法判断：中性，置信度低。"
        if label == "sarcastic":
            parts = [f"字面上在夸（{quote(pos)}）"]
            if neg:
                parts.append(f"却在抱怨（{quote(neg)}）")
            if cues:
                parts.append(f"并带有反讽信号（{quote(cues)}）")
            return "，".join(parts) + "：反讽，实为负面。"
        if label == "positive":
            return f"正面用词（{quote(pos)}）占上风：正面。"
        if label == "negative":
            return f"负面用词（{quote(neg)}）：负面。" if neg else "负面。"
        return "没有明显的褒贬用词：中性。"
    if empty:
        return "No text and no readable image to judge: neutral, with low confidence."
    if label == "sarcastic":
        parts = [f"The words praise ({quote(pos)})"]
        if neg:
            parts.append(f"but complain ({quote(neg)})")
        if cues:
            parts.append(f"with mocking cues ({quote(cues)})")
        return " ".join(parts) + ": sarcastic, negative."
    if label == "positive":
        return f"Praise ({quote(pos)}) outweighs complaint: positive."
    if label == "negative":
        return f"Complaint words ({quote(neg)}): negative." if neg else "Negative."
    return "No clear praise or complaint: neutral."
