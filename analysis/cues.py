"""Sarcasm and irony cues in English and Chinese text: pure functions, no state, no models.

`find_cues(text, lang)` returns the cues found, each with a readable name (for explanations, e.g.
"🙄", "呵呵", "scare quotes “民主”", "praise + complaint") and the numeric feature it feeds;
`cue_vector` turns them into a fixed-length vector (FEATURES) for the trained heads.

Which cues mean what was taken from how they are used on Weibo and Twitter, not learned:
- 🙂 and [微笑] read as a cold, contemptuous smile in Chinese posts; in English they are
  friendly unless the post also complains. 😅 😂 next to a complaint are the same bitter laugh.
- Explicit markers ("/s", #sarcasm, #irony, #not) settle the question. TweetEval removed those
  hashtags from its tweets, so no head can learn them: the explicit feature is applied by rule
  in `heads.py` rather than weighted by training.
- Praise and complaint in one post ("真厉害，让我三天没睡着", "love waiting 40 min for a cab") is
  the disguised-criticism pattern the product is about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

# One entry per feature, in vector order. Keep appending: heads store the order they trained on.
FEATURES = (
    "explicit_marker",  # /s, #sarcasm, #irony, #not, #sarcastic
    "mocking_emoji",  # 🙄 🤡 😒 🙃 😏 💀 🤦 and Weibo [白眼] [doge] ...
    "contextual_smile",  # 🙂 [微笑] 😅 😂 read as contempt (zh, or next to a complaint)
    "sarcastic_phrase",  # "yeah right", "thanks a lot", 呵呵, 真是谢谢, 好一个 ...
    "scare_quotes",  # a short quoted word: the "genius" design, 所谓的“民主”
    "hyperbole",  # best ever, 宇宙第一, 史上最, sooo, absolutely ...
    "praise_complaint",  # praise and complaint in one post
    "clap_emphasis",  # great 👏 job 👏
    "rhetorical",  # 难道 / 不是吗 / ?! / ？？
    "ellipsis",  # ... …… 。。。
    "shouting",  # a word in CAPITALS, !!! or ！！！
    "laughter",  # lol, lmao, haha, 哈哈哈, 笑死
    "praise_words",  # count of praise words (capped)
    "complaint_words",  # count of complaint words (capped)
)
INDEX = {name: i for i, name in enumerate(FEATURES)}


@dataclass(frozen=True)
class Cue:
    feature: str  # one of FEATURES
    name: str  # what to show a person, in the post's language where it matters


# --- word lists ------------------------------------------------------------------------------

EXPLICIT = re.compile(r"(?:^|\s)/s\b|#\s?(?:sarcasm|sarcastic|irony|ironic|not)\b|#反讽|#讽刺",
                      re.IGNORECASE)
MOCKING_EMOJI = ["🙄", "🤡", "😒", "🙃", "😏", "💀", "🤦", "😑", "🥴", "🐶", "[白眼]", "[doge]",
                 "[二哈]", "[摊手]", "[吃瓜]", "[费解]", "[黑线]", "[拜拜]", "[鄙视]", "[哼]",
                 "[允悲]", "[挖鼻]", "[挖鼻屎]", "[阴险]", "[思考]"]
SMILES = ["🙂", "[微笑]", "😅", "😂", "🤣", "[笑cry]", "[笑哭]", "[汗]"]
CLAP = re.compile(r"👏\s*\S+\s*👏|\w+\s*👏\s*\w+\s*👏")

PHRASES_EN = ["yeah right", "yea right", "thanks a lot", "thanks for nothing", "just what i needed",
              "just what i wanted", "what could possibly go wrong", "what could go wrong",
              "oh great", "oh joy", "oh goody", "oh wonderful", "how lovely", "how nice",
              "what a surprise", "said no one ever", "said nobody ever", "nothing like",
              "gotta love", "got to love", "you gotta love", "love it when", "love how",
              "love being", "love waiting", "love getting", "can't wait to", "cant wait to",
              "so glad", "so happy that", "because that makes sense", "oh wait", "sure, ",
              "sure thing", "as if", "big surprise", "shocker", "great job",
              "well done", "good job", "genius", "bravo", "nice going", "real smooth",
              "way to go", "my favorite thing", "favourite thing", "best day ever", "fun times",
              "what fun", "perfect timing", "exactly what"]
PHRASES_ZH = ["呵呵", "嗬嗬", "真是谢谢", "谢谢你啊", "谢谢了您", "可真是谢谢", "好一个", "不愧是",
              "真有你的", "厉害了", "服了", "佩服佩服", "可真是", "还真是", "真会", "可真行",
              "真行", "高，实在是高", "实在是高", "真香", "笑死", "您可", "您真", "真棒啊",
              "赢麻了", "遥遥领先", "神操作", "人才啊", "鉴定为", "绝了", "果然", "666", "牛逼",
              "牛b", "牛批", "了不起", "真不错", "好棒棒", "优秀啊", "好厉害",
              "大聪明", "真聪明", "良心", "厉害啊", "行吧"]
HYPERBOLE_EN = re.compile(
    r"\b(best \w+ ever|worst \w+ ever|ever!|of all time|absolutely|totally|literally|"
    r"completely|so+ much|soo+|the best|the most|in the world|every single|never ever|"
    r"all day|forever|million|billion|100%|always)\b", re.IGNORECASE)
HYPERBOLE_ZH = re.compile(r"宇宙第一|史上最|全世界|世界第一|天下第一|最强|无敌|秒杀|吊打|万岁|"
                          r"一万|永远|全宇宙|第一名|神机|神器|简直|太太太|超级无敌|有史以来|绝对")
RHETORICAL = re.compile(r"难道|不是吗|岂不|何必|凭什么|\?!|!\?|？！|！？|？？|\?\?")
ELLIPSIS = re.compile(r"\.{3,}|…|。。。")
SHOUT = re.compile(r"\b[A-Z]{3,}\b|!!!|！！！")
LAUGHTER = re.compile(r"\b(lol|lmao|lmfao|rofl|haha\w*|hehe\w*)\b|哈哈哈|笑死|233+",
                      re.IGNORECASE)
ELONGATED = re.compile(r"\b[a-z]*([a-z])\1{3,}[a-z]*\b", re.IGNORECASE)  # sooooo, yaaaay

PRAISE_EN = {"love", "loved", "loving", "great", "amazing", "awesome", "excellent", "best",
             "fantastic", "perfect", "brilliant", "happy", "glad", "wonderful", "nice", "good",
             "thanks", "thank", "incredible", "genius", "fun", "lovely", "favorite", "favourite",
             "beautiful", "enjoy", "enjoying", "congrats", "yay", "cool", "superb", "impressive",
             "impressed", "excited", "exciting", "blessed", "lucky", "smart", "delightful"}
COMPLAINT_EN = {"hate", "terrible", "awful", "worst", "broken", "breaks", "broke", "bug", "bugs",
                "crash", "crashes", "slow", "drain", "drains", "overheat", "overheating", "refund",
                "disappointed", "useless", "garbage", "trash", "dead", "died", "dies", "fail",
                "fails", "failed", "scam", "bad", "problem", "problems", "issue", "issues",
                "sucks", "lag", "laggy", "burn", "waiting", "wait", "late", "delayed", "delay",
                "lost", "stuck", "sick", "tired", "rain", "traffic", "cancelled", "canceled",
                "error", "ugh", "again", "monday", "exam", "exams", "homework", "work", "pain",
                "cold", "hot", "sleep", "awake", "hours", "heat", "overheats", "unusable",
                "expensive", "ads", "spam", "fired", "flu", "headache", "mess"}
PRAISE_ZH = ["好", "棒", "喜欢", "爱", "厉害", "赞", "优秀", "完美", "流畅", "满意", "推荐", "惊艳",
             "漂亮", "给力", "牛", "好用", "开心", "感谢", "谢谢", "神机", "真香", "聪明", "伟大",
             "良心", "不错", "强", "高明", "精彩", "幸福", "佩服", "了不起", "恭喜", "贴心"]
COMPLAINT_ZH = ["差", "烂", "垃圾", "坑", "卡", "崩", "发烫", "烫", "耗电", "掉电", "退货", "失望",
                "生气", "问题", "故障", "没电", "死机", "骗", "坏", "难用", "失眠", "没睡",
                "睡不着", "吐槽", "翻车", "无语", "气死", "贵", "慢", "等了", "排队", "投诉",
                "不理", "闪退", "黑屏", "掉线", "收割", "割韭菜", "智商税", "丢人", "恶心", "累",
                "穷", "破产",
                "加班", "熬夜", "崩溃", "难受", "疼", "惨", "死", "倒闭", "涨价", "缩水"]
ZH_NEGATORS = ("不", "没", "别", "无")
ZH_NEGATORS_2 = ("没有", "不会", "不再", "从不", "毫不", "一点不", "并不")
# A negator up to two words before a word turns it around: "no lag, no heat" and "never
# crashes" are not complaints, "not great" is one. (Standalone "no"/"not" used to count as
# complaints, which made sincere "no lag" praise look like praise + complaint.)
EN_NEGATORS = {"no", "not", "never", "without", "zero", "barely", "hardly", "nothing", "isn't",
               "wasn't", "doesn't", "don't", "didn't", "won't", "can't", "cannot", "haven't",
               "hasn't", "aren't", "nor", "less"}


# --- detectors -------------------------------------------------------------------------------

def _is_zh(lang: str) -> bool:
    return lang.startswith("zh")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def praise_words(text: str, lang: str) -> list[str]:
    if _is_zh(lang):
        return [w for w in PRAISE_ZH if w in text and not _negated_zh(text, w)]
    return [w for w, negated in _polar_en(text, PRAISE_EN) if not negated]


def complaint_words(text: str, lang: str) -> list[str]:
    """Complaints, negation-aware: 不卡 / "no lag" are not complaints, "not great" is one."""
    if _is_zh(lang):
        return ([w for w in COMPLAINT_ZH if w in text and not _negated_zh(text, w)]
                + [f"不{w}" for w in PRAISE_ZH if w in text and _negated_zh(text, w)])
    return ([w for w, negated in _polar_en(text, COMPLAINT_EN) if not negated]
            + [f"not {w}" for w, negated in _polar_en(text, PRAISE_EN) if negated])


def _polar_en(text: str, lexicon: set[str]) -> list[tuple[str, bool]]:
    """(word, negated) for each word of `lexicon` in the text; a negator one or two words
    before it negates it. Sentence punctuation stops the look-back."""
    out = []
    for clause in re.split(r"[.!?;,:]", text.lower()):
        words = _words(clause)
        for i, w in enumerate(words):
            if w in lexicon:
                back = words[max(0, i - 2):i]
                out.append((w, any(b in EN_NEGATORS or b.endswith("n't") for b in back)))
    return out


def _negated_zh(text: str, word: str) -> bool:
    """True when every occurrence of `word` is negated: 不好 / 没好 is not praise, 不卡 /
    没有问题 / 一点不卡 is not a complaint."""
    at, seen = text.find(word), False
    while at >= 0:
        before = text[max(0, at - 3):at]
        if not (before.endswith(ZH_NEGATORS) or before.endswith(ZH_NEGATORS_2)):
            return False
        seen = True
        at = text.find(word, at + 1)
    return seen


# An apostrophe inside a word ("Voltra's", "it's") opens or closes no quote.
_SCARE = re.compile(r"(?:[\"“「『]|(?<!\w)')([^\"”」』'\n]{1,24})(?:[\"”」』]|'(?!\w))")


def scare_quotes(text: str, lang: str) -> list[str]:
    """Short quoted spans (1–3 words, or 1–6 Chinese characters): "quality", 所谓“民主”.
    Longer quotes are reported speech, not irony."""
    spans = []
    for span in _SCARE.findall(text):
        span = span.strip()
        if not span:
            continue
        han = sum("\u4e00" <= ch <= "\u9fff" for ch in span)
        short = han <= 6 if han else len(span.split()) <= 3 and len(span) <= 24
        if short and not span.startswith("@"):
            spans.append(span)
    return spans


def _found(items: list[str], text: str) -> list[str]:
    return [x for x in items if x in text]


def _smile_is_contempt(lang: str, complaints: list[str]) -> bool:
    return _is_zh(lang) or bool(complaints)


def find_cues(text: str, lang: str = "en") -> list[Cue]:
    """All cues in `text`; `lang` is "en" or "zh" (anything starting with zh counts as Chinese).
    Chinese posts are also searched for the English markers: Weibo users write /s and lol."""
    text = text or ""
    lower = text.lower()
    zh = _is_zh(lang)
    praise, complaints = praise_words(text, lang), complaint_words(text, lang)
    cues: list[Cue] = []
    add = lambda feature, name: cues.append(Cue(feature, name))  # noqa: E731

    for m in EXPLICIT.finditer(text):
        add("explicit_marker", m.group(0).strip())
    for e in _found(MOCKING_EMOJI, lower):
        add("mocking_emoji", e)
    if _smile_is_contempt(lang, complaints):
        for e in _found(SMILES, lower):
            add("contextual_smile", e)
    for p in _longest_only(_found(PHRASES_ZH, lower) if zh else _phrases_en(lower)):
        add("sarcastic_phrase", p)
    for span in scare_quotes(text, lang):
        add("scare_quotes", f"“{span}”" if zh else f'scare quotes "{span}"')
    hyperbole = [m.group(0) for m in (HYPERBOLE_ZH if zh else HYPERBOLE_EN).finditer(text)]
    hyperbole += [m.group(0) for m in ELONGATED.finditer(text)]
    for h in _longest_only(hyperbole):
        add("hyperbole", h)
    if praise and complaints:
        add("praise_complaint", "夸中带贬" if zh else "praise + complaint")
    if CLAP.search(text):
        add("clap_emphasis", "👏")
    for name, pattern in (("rhetorical", RHETORICAL), ("ellipsis", ELLIPSIS),
                          ("shouting", SHOUT), ("laughter", LAUGHTER)):
        m = pattern.search(text)
        if m:
            add(name, m.group(0))
    return cues


def _longest_only(found: list[str]) -> list[str]:
    """Drop a match that is part of a longer one found too ("呵" inside "呵呵")."""
    unique = list(dict.fromkeys(found))
    return [x for x in unique if not any(x != y and x.lower() in y.lower() for y in unique)]


def _phrases_en(lower: str) -> list[str]:
    # the substring test first: a regex per phrase per post was most of find_cues' time
    return [p.strip(" ,") for p in PHRASES_EN
            if p in lower and re.search(rf"(?<![a-z]){re.escape(p)}", lower)]


# Features that are evidence worth naming to a person; the rest only feed the heads.
NAMED = {"explicit_marker", "mocking_emoji", "contextual_smile", "sarcastic_phrase",
         "scare_quotes", "hyperbole", "praise_complaint", "clap_emphasis"}


def cue_names(cues: list[Cue]) -> list[str]:
    """Distinct readable names of the cues worth showing, in order found."""
    return list(dict.fromkeys(c.name for c in cues if c.feature in NAMED))


def cue_vector(text: str, lang: str = "en", cues: list[Cue] | None = None) -> np.ndarray:
    """Fixed-length float32 vector in FEATURES order: counts of each cue kind, capped at 3 so
    one emoji repeated ten times does not dominate, plus capped praise / complaint counts."""
    cues = find_cues(text, lang) if cues is None else cues
    vec = np.zeros(len(FEATURES), dtype=np.float32)
    for cue in cues:
        vec[INDEX[cue.feature]] += 1.0
    vec[INDEX["praise_words"]] = len(praise_words(text or "", lang))
    vec[INDEX["complaint_words"]] = len(complaint_words(text or "", lang))
    return np.minimum(vec, 3.0) / 3.0


def has_explicit_marker(cues: list[Cue]) -> bool:
    return any(c.feature == "explicit_marker" for c in cues)
