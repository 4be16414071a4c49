"""Explanations: one or two sentences, in the post's language, naming the evidence behind a
verdict — the praising words, the caption, the face, the cues — so a PR person can check it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from analysis import cues as cuelib

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
           "slow", "drain", "drains", "overheat", "overheats", "overheating", "refund",
           "disappointed", "disappointing", "unusable",
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
    text_polarity: float | None = None  # -1..1 from the text model; None: unknown
    text_sarcasm: float | None = None  # the text model's P(sarcastic)


def quote(text: str, limit: int = 40) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def found(words: list[str], text: str, lang: str) -> list[str]:
    """The words of the list in the text, leaving out negated ones ("no lag", 不卡)."""
    lowered = text.lower()
    if lang == "zh":
        hits = [w for w in words if w in lowered and not cuelib._negated_zh(lowered, w)]
        return [w for w in hits if not any(w != o and w in o for o in hits)]  # longest only
    return [w for w in words if _bare(w, lowered)]


def _bare(word: str, lowered: str) -> bool:
    """`word` occurs at least once with no negator in the two words before it."""
    if word not in lowered:  # most words are absent: skip compiling their pattern
        return False
    for m in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", lowered):
        clause = re.split(r"[.!?;,:]", lowered[:m.start()])[-1]
        back = re.findall(r"[a-z']+", clause)[-2:]
        if not any(b in cuelib.EN_NEGATORS or b.endswith("n't") for b in back):
            return True
    return False


def negated_praise(text: str, lang: str) -> list[str]:
    """Praise turned into complaint by a negator: "not great", 不好用."""
    if lang == "zh":
        return [w for w in cuelib.complaint_words(text, "zh") if w.startswith("不")]
    return [w for w in cuelib.complaint_words(text, "en") if w.startswith("not ")]


def explain(e: Evidence) -> str:
    lang = "zh" if e.lang.startswith("zh") else "en"
    if e.empty:
        return ("没有文字，也没有可读的图片：无从判断，按中性处理，置信度低。" if lang == "zh"
                else "No text and no readable image: nothing to judge, so neutral with low "
                     "confidence.")
    return _zh(e) if lang == "zh" else _en(e)


def _sounds_positive(e: Evidence, complaint: list[str]) -> bool:
    """Only a post whose own words lean positive may be said to "sound positive"."""
    return not complaint and (e.text_polarity is None or e.text_polarity > 0)


def _en(e: Evidence) -> str:
    praise = found(PRAISE["en"], e.text, "en")
    complaint = found(COMPLAINT["en"], e.text, "en") + negated_praise(e.text, "en")
    verdict = LABEL_WORDS["en"][e.label]
    if e.label == "sarcastic":
        if not praise and not _sounds_positive(e, complaint):
            return _en_negative_sarcasm(e, complaint, verdict)
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
        return f"{opener}, but {_join(against, 'en') or _model_en(e)}: {verdict}."
    words = praise if e.label == "positive" else complaint if e.label == "negative" else []
    sentence = (f"The post reads {verdict}" + (f" ({_list(words)})" if words else ""))
    if e.caption:
        sentence += f"; the image caption says '{quote(e.caption)}'"
    return sentence + "."


def _en_negative_sarcasm(e: Evidence, complaint: list[str], verdict: str) -> str:
    """A sarcastic verdict on words that do not praise: name what carried it instead."""
    reasons = []
    if e.cues:
        reasons.append(f"it carries mocking cues ({_list(e.cues)})")
    if e.caption and (e.caption_polarity or 0) < 0:
        reasons.append(f"the image caption says '{quote(e.caption)}'")
    if e.face and (e.face_polarity or 0) < 0:
        reasons.append(f"the face in the image looks {FACE_WORDS['en'][e.face]}")
    opener = (f"The post complains ({_list(complaint)})" if complaint
              else "The post does not praise")
    return f"{opener} and {_join(reasons, 'en') or _model_en(e)}: {verdict}."


def _model_en(e: Evidence) -> str:
    if e.text_sarcasm is None:
        return "the tone is off"
    return f"the text model reads its tone as ironic (score {e.text_sarcasm:.2f})"


def _zh(e: Evidence) -> str:
    praise = found(PRAISE["zh"], e.text, "zh")
    complaint = found(COMPLAINT["zh"], e.text, "zh") + negated_praise(e.text, "zh")
    verdict = LABEL_WORDS["zh"][e.label]
    if e.label == "sarcastic" and not praise and not _sounds_positive(e, complaint):
        reasons = [f"带有反讽信号（{_list(e.cues)}）"] if e.cues else []
        if e.caption and (e.caption_polarity or 0) < 0:
            reasons.append(f"图片配字写着「{quote(e.caption, 30)}」")
        if e.face and (e.face_polarity or 0) < 0:
            reasons.append(f"图中人脸显得{FACE_WORDS['zh'][e.face]}")
        opener = f"帖子在抱怨（{_list(complaint)}）" if complaint else "帖子没有夸赞的话"
        model = (f"文本模型判其语气为反讽（{e.text_sarcasm:.2f}）" if e.text_sarcasm is not None
                 else "语气不对")
        return f"{opener}，{_join(reasons, 'zh') or model}：{verdict}。"
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
