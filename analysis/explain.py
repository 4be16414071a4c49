"""Explanations: one or two sentences, in the post's language, naming the evidence behind a
verdict — the praising words, the caption, the face, the cues — so a PR person can check it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Words worth quoting as evidence. They do not score anything (the trained heads do); they
# only let an explanation point at the part of the post that carries the tone.
PRAISE = {
    "en": ["love", "loving", "great", "amazing", "awesome", "excellent", "best", "fantastic",
           "perfect", "brilliant", "incredible", "wonderful", "genius", "impressive", "thanks",
           "thank you", "nice", "beautiful", "smooth", "fast", "happy", "good", "cool",
           "stellar", "flawless", "recommend"],
    "zh": ["真厉害", "厉害", "太棒", "棒", "喜欢", "爱", "赞", "优秀", "完美", "流畅",
           "满意", "推荐", "惊艳", "给力", "牛", "好用", "开心", "感谢", "谢谢", "真香",
           "神机", "好评", "不错", "好"],
}
COMPLAINT = {
    "en": ["hate", "terrible", "awful", "worst", "broken", "breaks", "broke", "bug", "crash",
           "slow", "drain", "drains", "overheat", "overheating", "refund", "disappointed",
           "useless", "garbage", "trash", "dead", "died", "fail", "scam", "bad", "sucks",
           "lag", "burn", "fire", "can't sleep", "no sleep", "waste"],
    "zh": ["没睡着", "没睡", "失眠", "垃圾", "差", "烂", "坑", "卡", "崩", "发烫", "烫", "耗电",
           "掉电", "没电", "退货", "失望", "生气", "问题", "故障", "死机", "骗", "坏", "难用",
           "吐槽", "翻车", "无语", "气死", "闹心"],
}
LABEL_WORDS = {
    "en": {"sarcastic": "sarcastic, negative", "positive": "positive",
           "negative": "negative", "neutral": "neutral"},
    "zh": {"sarcastic": "反讽，实为负面", "positive": "正面", "negative": "负面",
           "neutral": "中性"},
}
FACE_WORDS = {
    "en": {"angry": "angry", "disgust": "disgusted", "fear": "scared", "happy": "happy",
           "sad": "miserable", "surprise": "shocked", "neutral": "blank"},
    "zh": {"angry": "愤怒", "disgust": "嫌弃", "fear": "惊恐", "happy": "开心", "sad": "痛苦",
           "surprise": "震惊", "neutral": "面无表情"},
}


@dataclass
class Evidence:
    lang: str
    label: str
    text: str
    caption: str = ""
    caption_polarity: float | None = None
    face: str | None = None  # the dominant expression of the most prominent face
    face_polarity: float | None = None
    cues: list[str] = field(default_factory=list)
    incongruity: float = 0.0
    empty: bool = False


def quote(text: str, limit: int = 40) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def found(words: list[str], text: str, lang: str) -> list[str]:
    lowered = text.lower()
    if lang == "zh":
        hits = [w for w in words if w in lowered]
        return [w for w in hits if not any(w != o and w in o for o in hits)]  # longest only
    return [w for w in words if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", lowered)]


def explain(e: Evidence) -> str:
    lang = "zh" if e.lang.startswith("zh") else "en"
    if e.empty:
        return ("没有文字，也没有可读的图片：无从判断，按中性处理，置信度低。" if lang == "zh"
                else "No text and no readable image: nothing to judge, so neutral with low "
                     "confidence.")
    return _zh(e) if lang == "zh" else _en(e)


def _en(e: Evidence) -> str:
    praise = found(PRAISE["en"], e.text, "en")
    complaint = found(COMPLAINT["en"], e.text, "en")
    verdict = LABEL_WORDS["en"][e.label]
    if e.label == "sarcastic":
        opener = (f"The post praises ({_list(praise)})" if praise
                  else "The post sounds positive")
        against = []
        if complaint:
            against.append(f"complains in the same breath ({_list(complaint)})")
        if e.caption and (e.caption_polarity or 0) < 0:
            against.append(f"the image caption says '{quote(e.caption)}'")
        if e.face and (e.face_polarity or 0) < 0:
            against.append(f"the face in the image looks {FACE_WORDS['en'][e.face]}")
        if e.cues:
            against.append(f"it carries mocking cues ({_list(e.cues)})")
        return f"{opener}, but {_join(against, 'en') or 'the tone is off'}: {verdict}."
    words = praise if e.label == "positive" else complaint if e.label == "negative" else []
    sentence = (f"The post reads {verdict}" + (f" ({_list(words)})" if words else ""))
    if e.caption:
        sentence += f"; the image caption says '{quote(e.caption)}'"
    return sentence + "."


def _zh(e: Evidence) -> str:
    praise = found(PRAISE["zh"], e.text, "zh")
    complaint = found(COMPLAINT["zh"], e.text, "zh")
    verdict = LABEL_WORDS["zh"][e.label]
    if e.label == "sarcastic":
        opener = f"帖子字面上在夸（{_list(praise)}）" if praise else "帖子语气看似正面"
        against = []
        if complaint:
            against.append(f"却同时在抱怨（{_list(complaint)}）")
        if e.caption and (e.caption_polarity or 0) < 0:
            against.append(f"图片配字写着「{quote(e.caption, 30)}」")
        if e.face and (e.face_polarity or 0) < 0:
            against.append(f"图中人脸显得{FACE_WORDS['zh'][e.face]}")
        if e.cues:
            against.append(f"并带有反讽信号（{_list(e.cues)}）")
        return f"{opener}，{_join(against, 'zh') or '但语气不对'}：{verdict}。"
    words = praise if e.label == "positive" else complaint if e.label == "negative" else []
    sentence = f"帖子整体{verdict}" + (f"（{_list(words)}）" if words else "")
    if e.caption:
        sentence += f"；图片配字为「{quote(e.caption, 30)}」"
    return sentence + "。"


def _list(words: list[str], limit: int = 3) -> str:
    return ", ".join(f"'{w}'" for w in words[:limit])


def _join(parts: list[str], lang: str) -> str:
    if lang == "zh":
        return "，".join(parts)
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]
