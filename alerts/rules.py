"""Per-post rules: the route of each verdict (alert / review / archive / pass) with the rule that
chose it, and the alert a post raises. Pure functions over plain dicts, tested with plain values.

A verdict row holds the verdict (label, sentiment, sarcasm_score, confidence, explanation), its
post (post_id, text, url, author, lang, likes, reposts, replies, raw, brands) and, where the
analyzer gave it, `brand_sentiments` {brand: sentiment} (the sentiment towards each brand).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from alerts.settings import AlertSettings, RuleSet
from alerts.summary import top_terms

# Where a source gives the author's audience in its raw JSON.
FOLLOWER_KEYS = ("followers", "followers_count", "author_followers", "followersCount")
# An account's followers count one in a hundred towards reach: a typical engagement rate.
FOLLOWER_WEIGHT = 0.01


@dataclass(frozen=True)
class AlertDraft:
    key: str  # de-duplicates: one alert per post, one per spike episode
    kind: str
    brand: str | None
    severity: str
    score: float
    message: str
    post_id: str | None = None
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    route: str  # alert | review | archive | pass
    rule: str  # the rule that chose the route
    alert: AlertDraft | None = None


def followers(raw: dict | None) -> int:
    """The author's followers where the source gave them (top level, or under author/user)."""
    if not isinstance(raw, dict):
        return 0
    for holder in (raw, raw.get("author"), raw.get("user")):
        if isinstance(holder, dict):
            for key in FOLLOWER_KEYS:
                value = holder.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
                    return int(value)
    return 0


def engagement(row: dict) -> int:
    return int(row.get("likes") or 0) + int(row.get("reposts") or 0) + int(row.get("replies") or 0)


def reach(row: dict) -> float:
    """Engagement plus a share of the author's audience."""
    return engagement(row) + FOLLOWER_WEIGHT * followers(row.get("raw"))


def reach_weight(value: float) -> float:
    """1 for a post nobody saw, +1 per tenfold reach: a big account outranks many small ones."""
    return 1.0 + math.log10(1.0 + max(value, 0.0))


def severity_of(value: float, rules: RuleSet) -> str:
    if value >= 10 * rules.reach_threshold:
        return "high"
    return "medium" if value >= rules.reach_threshold else "low"


def route(row: dict, settings: AlertSettings) -> Decision:
    """The route of one verdict and the alert it raises, if any (one per post)."""
    brands = list(row.get("brands") or [])
    targets = _targets(row, brands)
    rules = settings.rules_for(targets[0] if targets else None)
    value = reach(row)
    if _disguised(row, rules):
        return Decision("alert", "disguised_criticism", _post_alert(
            row, "sarcasm", targets or brands, value, rules,
            row["sarcasm_score"] * row["confidence"] * reach_weight(value),
            "Disguised criticism"))
    if (_negative(row) and row["confidence"] >= rules.negative_confidence
            and value >= rules.reach_threshold and targets):
        return Decision("alert", "negative_reach", _post_alert(
            row, "negative", targets, value, rules, row["confidence"] * reach_weight(value),
            "Negative post with reach"))
    if row["confidence"] < rules.review_below:
        return Decision("review", "low_confidence")
    if row["label"] == "sarcastic":
        return Decision("archive", "sarcasm_below_threshold")
    if _negative(row):
        return Decision("archive", "negative_below_reach")
    return Decision("pass", "not_negative")


def _disguised(row: dict, rules: RuleSet) -> bool:
    return (row["label"] == "sarcastic" and row["sentiment"] == "negative"
            and row["sarcasm_score"] >= rules.sarcasm_threshold
            and row["confidence"] >= rules.negative_threshold)


def _negative(row: dict) -> bool:
    return row["sentiment"] == "negative"


def _targets(row: dict, brands: list[str]) -> list[str]:
    """The brands the post is negative about: all of them unless per-brand sentiment says."""
    per_brand = row.get("brand_sentiments") or {}
    if not per_brand:
        return brands if row["sentiment"] == "negative" else []
    return [b for b in brands if per_brand.get(b, row["sentiment"]) == "negative"]


def _post_alert(row: dict, kind: str, brands: list[str], value: float, rules: RuleSet,
                score: float, title: str) -> AlertDraft:
    brand = brands[0] if brands else None
    text = row.get("text") or ""
    details = {
        "brands": brands,
        "reach": round(value, 1),
        "engagement": engagement(row),
        "followers": followers(row.get("raw")),
        "confidence": row["confidence"],
        "sarcasm_score": row["sarcasm_score"],
        "explanation": row.get("explanation"),
        "terms": top_terms([text], exclude=brands),
        "links": [row["url"]] if row.get("url") else [],
    }
    return AlertDraft(key=f"post:{row['post_id']}", kind=kind, brand=brand,
                      severity=severity_of(value, rules), score=round(score, 3),
                      message=f"{title} of {', '.join(brands) or 'an unassigned post'}"
                              f" (reach {value:.0f}): “{snippet(text)}”",
                      post_id=row["post_id"], details=details)


def snippet(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
