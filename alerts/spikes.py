"""Per-brand spike rules over windows: the current window against a baseline of the windows
before it (mean + k·σ, k by sensitivity), with minimum counts so that a handful of posts is
never a spike; and the episode logic that keeps one alert per spike while it lasts.

Pure functions over counts, tested with synthetic series.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.settings import RuleSet


@dataclass(frozen=True)
class Window:
    """One window's posts about a brand: all of them, those analyzed, and of those the
    negative and the sarcastic ones."""

    total: int = 0
    analyzed: int = 0
    negative: int = 0
    sarcastic: int = 0


@dataclass(frozen=True)
class Check:
    kind: str
    fired: bool
    now: float  # the window's value: a count (volume) or a share
    count: int  # the posts it counts (all, negative or sarcastic)
    mean: float  # of the baseline
    sigma: float  # the deviation used (never below the noise of counting)
    threshold: float
    baseline: list[float]  # each baseline window's value, oldest first, for the chart

    def figures(self) -> dict:
        return {"now": round(self.now, 4), "count": self.count, "mean": round(self.mean, 4),
                "sigma": round(self.sigma, 4), "threshold": round(self.threshold, 4),
                "baseline": [round(v, 4) for v in self.baseline]}


def _mean_std(values: list[float]) -> tuple[float, float]:
    if not values:
        return 0.0, 0.0
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def volume(current: Window, baseline: list[Window], rules: RuleSet) -> Check:
    """More posts than usual. σ is at least √mean (the Poisson noise of counting posts), so a
    flat baseline does not turn one extra post into a spike."""
    counts = [float(w.total) for w in baseline]
    mean, std = _mean_std(counts)
    sigma = max(std, math.sqrt(max(mean, 1.0)))
    threshold = mean + rules.k * sigma
    fired = current.total >= rules.min_posts and current.total > threshold
    return Check("volume_spike", fired, float(current.total), current.total, mean, sigma,
                 threshold, counts)


def share_rise(kind: str, current: Window, baseline: list[Window], rules: RuleSet) -> Check:
    """A larger share of negative (or sarcastic) posts than usual, among analyzed posts: the
    baseline share is pooled over its windows, and σ is the binomial noise of a share of this
    window's size (a test of proportions). The share must also rise by min_rise, and count
    min_negative / min_sarcastic posts."""
    field, minimum = (("negative", rules.min_negative) if kind == "negative_spike"
                      else ("sarcastic", rules.min_sarcastic))
    hits = getattr(current, field)
    now = hits / current.analyzed if current.analyzed else 0.0
    seen = sum(w.analyzed for w in baseline)
    pooled = sum(getattr(w, field) for w in baseline) / seen if seen else 0.0
    sigma = math.sqrt(pooled * (1 - pooled) / current.analyzed) if current.analyzed else 0.0
    threshold = max(pooled + rules.k * sigma, pooled + rules.min_rise)
    fired = hits >= minimum and now >= threshold
    series = [getattr(w, field) / w.analyzed if w.analyzed else 0.0 for w in baseline]
    return Check(kind, fired, now, hits, pooled, sigma, threshold, series)


def check_all(current: Window, baseline: list[Window], rules: RuleSet) -> list[Check]:
    return [volume(current, baseline, rules),
            share_rise("negative_spike", current, baseline, rules),
            share_rise("sarcasm_spike", current, baseline, rules)]


@dataclass(frozen=True)
class Episode:
    """A spike alert as stored: its id, and when it ended (None while it lasts)."""

    alert_id: int
    ended_at: datetime | None


@dataclass(frozen=True)
class Step:
    action: str  # create | update | end | reopen
    kind: str
    brand: str
    check: Check | None = None
    alert_id: int | None = None


def plan(brand: str, checks: list[Check], episodes: dict[str, Episode], now: datetime,
         rules: RuleSet) -> list[Step]:
    """What to do with each kind's spike alert for `brand`, given its latest episode (if any):
    a firing check creates an alert, updates the running one, or reopens one that ended less
    than spike_cooldown_minutes ago (so a spike that flickers is one alert, not many); a
    check that stops firing ends the running one."""
    steps = []
    cooldown = timedelta(minutes=rules.spike_cooldown_minutes)
    for check in checks:
        episode = episodes.get(check.kind)
        running = episode is not None and episode.ended_at is None
        if check.fired and running:
            steps.append(Step("update", check.kind, brand, check, episode.alert_id))
        elif check.fired and episode is not None and now - episode.ended_at < cooldown:
            steps.append(Step("reopen", check.kind, brand, check, episode.alert_id))
        elif check.fired:
            steps.append(Step("create", check.kind, brand, check))
        elif running:
            steps.append(Step("end", check.kind, brand, check, episode.alert_id))
    return steps


def severity(check: Check) -> str:
    """high when the window is twice its threshold's distance above the mean."""
    if check.now >= check.mean + 2 * (check.threshold - check.mean):
        return "high"
    return "medium"


TITLES = {"volume_spike": "Volume spike", "negative_spike": "Negative-share rise",
          "sarcasm_spike": "Sarcasm-rate rise"}


def message(brand: str, check: Check, window_minutes: int) -> str:
    span = _span(window_minutes)
    if check.kind == "volume_spike":
        figure = f"{check.count} posts in the last {span} vs {check.mean:.1f} usually"
    else:
        what = "negative" if check.kind == "negative_spike" else "sarcastic"
        figure = (f"{check.now:.0%} {what} ({check.count} posts) in the last {span} vs "
                  f"{check.mean:.0%} usually")
    return f"{TITLES[check.kind]} for {brand}: {figure}"


def _span(minutes: int) -> str:
    if minutes % 1440 == 0:
        return "day" if minutes == 1440 else f"{minutes // 1440} days"
    if minutes % 60 == 0:
        return "hour" if minutes == 60 else f"{minutes // 60} hours"
    return f"{minutes} minutes"
