"""Per-brand sentiment for posts that name two or more monitored brands: pure rules, no models.

"Nimbus 7 vs Voltra X2: Nimbus wins easily" is good news for Nimbus and bad news for Voltra,
though the post as a whole is positive. `brand_verdicts` returns one (brand, sentiment, label,
rule) per brand named. The rules are the comparison forms found in the demo's two-brand posts
and common on social media:

- a winner: "X wins", "X beats / crushes / destroys / outperforms / smokes Y", "X > Y",
  "X is better than Y", "picked / chose X over Y", "X吊打Y", "X完胜Y", "X秒杀Y";
- a switch: "switched / moved / went from Y to X", "ditched Y for X", "Y退了，换了X",
  "从Y换到X", "换了X" after Y: the brand left is criticised, the one chosen praised;
- a loser: "X is worse than Y", "X不如Y";
- "X比Y…": X carries the post's own polarity ("伏特拉比云朵严重多了" is negative for 伏特拉),
  Y the opposite.

Anything else (both praised, a question, a fair comparison) gives every brand the post's
verdict, rule "post". Sarcasm stays with the brand the rule blames: a sarcastic post that
praises the winner mocks the loser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WIN_EN = r"(?:beats?|crush(?:es)?|destroys?|outperforms?|smokes?|trounces?|demolishes|" \
         r"(?:is|are|was) (?:way |much |far )?better than|>|over)"
LOSE_EN = r"(?:(?:is|are|was) (?:way |much |far )?worse than|loses to|<)"
SWITCH_EN = r"(?:switch(?:ed|ing)?|mov(?:ed|ing)|went|came|upgraded|jumped) (?:over )?from"
WIN_ZH = r"(?:吊打|完胜|秒杀|碾压|胜过|强过|好过)"


@dataclass(frozen=True)
class BrandVerdict:
    brand: str
    sentiment: str  # positive | negative | neutral
    label: str  # the headline label for this brand
    rule: str  # which rule decided it ("post": the post's own verdict)


def brand_verdicts(text: str, brands: dict[str, list[str]], label: str, sentiment: str
                   ) -> list[BrandVerdict]:
    """`brands`: brand name -> the words that name it (its name and query terms).
    `label`/`sentiment`: the post's verdict. Brands not named in the text are left out."""
    lowered = (text or "").lower()
    spots = {b: _first(lowered, terms + [b]) for b, terms in brands.items()}
    named = {b: at for b, at in spots.items() if at is not None}
    if len(named) < 2:
        return [BrandVerdict(b, sentiment, label, "post") for b in named]
    found = _compare(lowered, brands, named, sentiment)
    if found is None:
        return [BrandVerdict(b, sentiment, label, "post") for b in named]
    winner, rule = found
    out = []
    for b in named:
        if b == winner:
            out.append(BrandVerdict(b, "positive", "positive", rule))
        else:
            blame = label if label in ("sarcastic", "negative") else "negative"
            out.append(BrandVerdict(b, "negative", blame, rule))
    return out


def _first(lowered: str, terms: list[str]) -> int | None:
    hits = [lowered.find(t.lower()) for t in terms if t and t.lower() in lowered]
    return min(hits) if hits else None


def _alt(brands: dict[str, list[str]], brand: str) -> str:
    """A regex naming `brand`, optionally followed by a model name ("Voltra X2", "云朵7")."""
    words = sorted({t.lower() for t in brands[brand] + [brand] if t}, key=len, reverse=True)
    return r"(?:" + "|".join(re.escape(w) for w in words) + r")(?:\s?[\w\-]{1,6})?"


def _compare(lowered: str, brands: dict[str, list[str]], named: dict[str, int],
             sentiment: str) -> tuple[str, str] | None:
    """(winning brand, rule) or None when no comparison rule applies."""
    for a in named:
        A = _alt(brands, a)
        for b in named:
            if a == b:
                continue
            B = _alt(brands, b)
            if re.search(rf"{A}\s*(?:is |are )?{WIN_EN}\s*(?:the )?{B}", lowered) or \
                    re.search(rf"{A}\s*{WIN_ZH}\s*{B}", lowered):
                return a, "beats"
            if re.search(rf"(?:picked|chose|choose|prefer|went with)\s+(?:the )?{A}\s+over"
                         rf"\s+(?:the )?{B}", lowered):
                return a, "picked over"
            if re.search(rf"{A}\s*{LOSE_EN}\s*(?:the )?{B}", lowered) or \
                    re.search(rf"{A}\s*不如\s*{B}", lowered):
                return b, "worse than"
            if re.search(rf"{SWITCH_EN}\s+(?:the |my )?{B}\s+to\s+(?:the |a )?{A}", lowered) or \
                    re.search(rf"ditch(?:ed)?\s+(?:the |my )?{B}\s+for\s+(?:the |a )?{A}",
                              lowered) or \
                    re.search(rf"从\s*{B}.{{0,6}}?换(?:到|成|了)\s*{A}", lowered) or \
                    re.search(rf"{B}.{{0,8}}?(?:退了|卖了|扔了).{{0,4}}?换(?:了|成|到)\s*{A}",
                              lowered):
                return a, "switched to"
    for a in named:
        for b in named:
            if a != b and re.search(rf"{_alt(brands, a)}.{{0,12}}?比\s*{_alt(brands, b)}",
                                    lowered):
                if sentiment == "positive":
                    return a, "比"
                if sentiment == "negative":
                    return b, "比"
    for a in named:
        if re.search(rf"{_alt(brands, a)}\s+wins\b|{_alt(brands, a)}\s*(?:赢了|胜出|完胜)",
                     lowered):
            return a, "wins"
    return None


def brand_terms(brands) -> dict[str, list[str]]:
    """brand name -> the words naming it: its name and the plain terms of its query
    ("nimbus OR 云朵" -> nimbus, 云朵). `brands`: subtext.config.Brand objects."""
    from collectors.query import parse

    out = {}
    for b in brands:
        try:
            terms = [t.bare for t in parse(b.query).any_terms()]
        except ValueError:  # the config loader already rejects bad queries
            terms = []
        out[b.name] = [b.name, *terms]
    return out
