"""What an alert says about the posts behind it: top terms and hashtags, the sentiment mix."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

HASHTAG = re.compile(r"#([^\s#]{1,40})#|#(\w{1,40})")  # Weibo's #话题# and the usual #tag
WORD = re.compile(r"[A-Za-z][A-Za-z'’-]{2,}")
CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")
STOPWORDS = set("""
the and for are but not you all any can had her was one our out has have been were they this
that with from your what when will just than then them its it's it’s into more some very also
about would there their which who how why only over after before again because being such does
did doing get got really still even much many most other same too yet here ever let lol omg
""".split())


def top_terms(texts: Iterable[str], exclude: Iterable[str] = (), limit: int = 8) -> dict:
    """{"hashtags": [...], "terms": [...]}, most frequent first. Chinese has no spaces: its runs
    are counted as character pairs, which catches words like 续航 or 发热."""
    skip = {e.lower() for e in exclude}
    tags: Counter[str] = Counter()
    terms: Counter[str] = Counter()
    for text in texts:
        for weibo, plain in HASHTAG.findall(text):
            tags["#" + (weibo or plain)] += 1
        body = HASHTAG.sub(" ", text)
        for word in WORD.findall(body):
            word = word.lower().strip("'’-")
            if word not in STOPWORDS and word not in skip:
                terms[word] += 1
        for run in CJK_RUN.findall(body):
            for pair in {run[i:i + 2] for i in range(len(run) - 1)}:
                if not any(pair in e for e in skip):
                    terms[pair] += 1
    return {"hashtags": [t for t, _ in tags.most_common(limit)],
            "terms": [t for t, n in terms.most_common(limit) if n > 1 or len(terms) <= limit]}


def sentiment_mix(sentiments: Iterable[str | None]) -> dict[str, int]:
    mix = Counter(s or "pending" for s in sentiments)
    return {k: mix.get(k, 0) for k in ("negative", "neutral", "positive", "pending")}
