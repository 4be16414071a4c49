"""Terms and hashtags of post texts, and which of them rose against the previous period: the
"why" behind a spike. Chinese is segmented with jieba (its bundled dictionary, nothing is
downloaded); spaced scripts are split on word characters; stop words and the brands' own
query words are dropped (every post of the brand has them, so they explain nothing).

A term is counted once per post (document frequency), so one long rant does not make a trend.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain

import jieba

jieba.setLogLevel(logging.WARNING)  # it logs its dictionary loading at DEBUG to stderr

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
HASHTAG = re.compile(rf"#([\w{_HAN}]+)#?")  # #tag and Weibo's #话题#
_HAN_RUN = re.compile(rf"[{_HAN}]+")
_WORD = re.compile(r"[^\W\d_](?:[\w'’-]*[^\W_])?")  # a word of a spaced script
_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"@\w+")

STOP_EN = frozenset("""
a about after again all also am an and any are as at be been before being but by can could
did do does doing dont don't down even ever every for from get gets got had has have having he
her here hers him his how i i'm if in into is isn't it it's its just like me more most my no
nor not now of off on once one only or other our out over own really same she should so some
still such than that that's the their them then there these they this those through to too
under until up very was wasn't we were what when where which while who why will with would
you your yours im ive u ur lol oh yes yeah ok okay thing things new day days
""".split())
STOP_ZH = frozenset("""
的 了 是 我 你 他 她 它 们 我们 你们 他们 在 和 与 及 也 就 都 而 或 着 这 那 这个 那个 这么
那么 一个 一 没有 没 有 不 很 太 还 又 吗 吧 呢 啊 呀 哈 哈哈 嗯 哦 吧 被 把 给 让 对 说 要 会
能 可以 就是 还是 但是 因为 所以 如果 什么 怎么 自己 现在 今天 已经 真的 一下 一直 觉得 这样
""".split())


@dataclass
class TermStat:
    term: str
    kind: str  # word | hashtag
    count: int  # posts containing it in the period
    previous: int  # posts containing it in the previous period
    positive: int = 0
    negative: int = 0
    neutral: int = 0

    @property
    def net(self) -> float | None:
        polar = self.positive + self.negative
        return (self.positive - self.negative) / polar if polar else None

    def to_dict(self) -> dict:
        return {"term": self.term, "kind": self.kind, "count": self.count,
                "previous": self.previous, "rise": self.count - self.previous,
                "positive": self.positive, "negative": self.negative,
                "neutral": self.neutral, "net": self.net}


_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None


def _segmenter() -> jieba.Tokenizer:
    """One jieba tokenizer, built once (it loads its dictionary in about a second)."""
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            _tokenizer = tokenizer
        return _tokenizer


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def terms(text: str, skip: Iterable[str] = ()) -> set[tuple[str, str]]:
    """The distinct (term, kind) of one post: its hashtags and its words."""
    text = _MENTION.sub(" ", _URL.sub(" ", _norm(text or "")))
    skip = {_norm(s) for s in skip}
    found = {(tag, "hashtag") for tag in HASHTAG.findall(text) if tag not in skip}
    words = HASHTAG.sub(" ", text)
    for word in _WORD.findall(_HAN_RUN.sub(" ", words)):
        word = word.strip("'’-")
        if len(word) > 1 and word not in STOP_EN and word not in skip:
            found.add((word, "word"))
    han = _HAN_RUN.findall(words)
    if han:
        segmenter = _segmenter()
        for run in han:
            for piece in segmenter.lcut(run, HMM=True):
                if len(piece) > 1 and piece not in STOP_ZH and not _in_skip(piece, skip):
                    found.add((piece, "word"))
    return found


def _in_skip(piece: str, skip: set[str]) -> bool:
    # jieba may split a brand name (伏特拉 → 伏特 / 拉): drop a piece inside a brand word.
    return any(piece in s for s in skip if _HAN_RUN.fullmatch(s))


def add_words(words: Iterable[str]) -> None:
    """Teach the segmenter words it must keep whole (brand names such as 伏特拉)."""
    segmenter = _segmenter()
    for word in words:
        if _HAN_RUN.search(word) and segmenter.FREQ.get(_norm(word)) != 100_000:
            segmenter.add_word(_norm(word), freq=100_000)
            _memo.clear()  # texts tokenised before may split differently now


Row = tuple[str, str | None]  # (text, sentiment)

# The terms of texts seen lately, per skip list: a why panel asked again after a write (a new
# post, a verdict) re-reads its posts but tokenises only the texts it has not seen. Terms of a
# text depend on nothing else, save words taught with add_words, which clear it.
MEMO_SIZE = 50_000
_memo: dict[tuple[str, tuple[str, ...]], frozenset[tuple[str, str]]] = {}


def memo_terms(text: str, skip: tuple[str, ...]) -> frozenset[tuple[str, str]]:
    key = (text, skip)
    found = _memo.get(key)
    if found is None:
        found = frozenset(terms(text, skip))
        if len(_memo) >= MEMO_SIZE:  # drop the oldest half: dicts keep insertion order
            for old in list(_memo)[:MEMO_SIZE // 2]:
                _memo.pop(old, None)
        _memo[key] = found
    return found


def rising(current: list[Row], previous: list[Row], skip: Iterable[str] = (), top: int = 15,
           min_count: int = 2) -> list[TermStat]:
    """Terms of `current` posts ranked by how much they rose against `previous`: the rise in
    posts (scaled to the current period's size so a busier week does not lift every word),
    then the count. A term needs min_count posts; each carries its posts' sentiments."""
    skip = tuple(skip)
    found: dict[str, list] = {}  # each sentiment's posts' terms, counted by one C-level call
    for text, sentiment in current:
        found.setdefault(sentiment or "neutral", []).append(memo_terms(text, skip))
    by_mood = {mood: Counter(chain.from_iterable(sets)) for mood, sets in found.items()}
    now: Counter = Counter()
    for counted in by_mood.values():
        now.update(counted)
    moods = {mood: by_mood.get(mood, Counter()) for mood in ("positive", "negative", "neutral")}
    before = Counter(chain.from_iterable(memo_terms(text, skip) for text, _ in previous))
    scale = len(current) / len(previous) if previous else 0.0
    stats = [TermStat(term, kind, count, before[(term, kind)],
                      moods["positive"][(term, kind)], moods["negative"][(term, kind)],
                      moods["neutral"][(term, kind)])
             for (term, kind), count in now.items() if count >= min_count]
    stats.sort(key=lambda s: (-(s.count - s.previous * scale), -s.count, s.term))
    return [s for s in stats if s.count > s.previous * scale][:top]
