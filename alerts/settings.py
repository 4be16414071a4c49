"""The [alerts] settings: rule thresholds (defaults, overridden per brand) and delivery channels.

Read by subtext/config.py through its typed reader, so a bad key fails at start with the file,
the key and the reason. Secrets are never here: channels name environment variables
(SUBTEXT_*) that hold them, resolved when the channels are built (alerts/channels.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

# k of "mean + k·σ" per sensitivity: how far above its baseline a window must be to alert.
SENSITIVITY_K = {"fewer": 3.0, "balanced": 2.0, "more": 1.5}

POST_KINDS = ("sarcasm", "negative")  # disguised criticism, negative post with reach
SPIKE_KINDS = ("volume_spike", "negative_spike", "sarcasm_spike")
KINDS = POST_KINDS + SPIKE_KINDS
CHANNEL_KINDS = ("slack", "webhook", "email", "apprise")
SEVERITIES = ("low", "medium", "high")


@dataclass(frozen=True)
class RuleSet:
    """The thresholds of every rule, for one brand (or the defaults)."""

    sarcasm_threshold: float = 0.6  # disguised criticism: sarcasm_score at least
    negative_threshold: float = 0.55  # disguised criticism: confidence at least
    negative_confidence: float = 0.7  # negative post with reach: confidence at least
    reach_threshold: float = 100.0  # negative post with reach: reach at least
    review_below: float = 0.5  # a verdict less confident than this goes to review
    sensitivity: str = "balanced"  # fewer | balanced | more: k of mean + k·σ
    window_minutes: int = 60  # the current window, and each baseline window
    baseline_windows: int = 24  # how many windows before it form the baseline
    min_posts: int = 10  # volume spike: posts in the window at least
    min_negative: int = 5  # negative-share rise: negative posts in the window at least
    min_sarcastic: int = 5  # sarcasm-rate rise: sarcastic posts in the window at least
    min_rise: float = 0.15  # a share must also rise this much above its baseline mean
    spike_cooldown_minutes: int = 120  # a spike that ends and restarts within this reopens

    @property
    def k(self) -> float:
        return SENSITIVITY_K[self.sensitivity]


@dataclass(frozen=True)
class ChannelSettings:
    name: str
    kind: str  # slack | webhook | email | apprise
    brands: tuple[str, ...] = ()  # empty: every brand
    kinds: tuple[str, ...] = ()  # empty: every alert kind
    min_severity: str = "low"
    cooldown_minutes: int = 0  # after a message about brand × kind, hold others that long
    digest_minutes: int = 0  # > 0: one message per N minutes with what came in meanwhile
    timeout_seconds: float = 10.0
    max_attempts: int = 5
    retry_seconds: float = 30.0  # the first retry's wait; doubled each attempt
    url: str = ""  # webhook
    url_env: str = ""  # slack, apprise (their URLs carry the token); webhook optionally
    secret_env: str = ""  # webhook: the HMAC-SHA256 key
    host: str = ""  # email
    port: int = 587
    starttls: bool = True
    username_env: str = ""
    password_env: str = ""
    sender: str = ""
    to: tuple[str, ...] = ()
    ca_file: str = ""  # email: a private CA for the relay's certificate


@dataclass(frozen=True)
class AlertSettings:
    defaults: RuleSet = RuleSet()
    brands: dict[str, RuleSet] = field(default_factory=dict)
    channels: tuple[ChannelSettings, ...] = ()
    deliver_every_seconds: int = 5

    def rules_for(self, brand: str | None) -> RuleSet:
        return self.brands.get(brand or "", self.defaults)


RULE_KEYS = {f.name for f in fields(RuleSet)}
CHANNEL_KEYS = {f.name for f in fields(ChannelSettings)}
# Keys of [alerts] that are not rule thresholds.
OTHER_KEYS = {"every_seconds", "deliver_every_seconds", "brands", "channels"}


def parse(r: Any, a: dict, brand_names: set[str]) -> AlertSettings:
    """[alerts] through the config reader `r` (subtext.config._Reader)."""
    r.only(a, "alerts", RULE_KEYS | OTHER_KEYS)
    defaults = _rules(r, a, "alerts", RuleSet())
    brands = {}
    for name, table in r.table(a, "brands").items():
        key = f"alerts.brands.{name}"
        if name not in brand_names:
            _fail(r, key, f"no brand named {name!r} in [[brands]]")
        table = r.expect(table, key, dict)
        r.only(table, key, RULE_KEYS)
        brands[name] = _rules(r, table, key, defaults)
    channels = tuple(_channel(r, c, i, brand_names) for i, c in enumerate(r.array(a, "channels")))
    names = [c.name for c in channels]
    if len(set(names)) != len(names):
        _fail(r, "alerts.channels", "two channels have the same name")
    return AlertSettings(defaults=defaults, brands=brands, channels=channels,
                         deliver_every_seconds=r.positive(a, "alerts.deliver_every_seconds", 5))


def _rules(r: Any, t: dict, where: str, base: RuleSet) -> RuleSet:
    values: dict[str, Any] = {}
    for name in ("sarcasm_threshold", "negative_threshold", "negative_confidence",
                 "review_below", "min_rise"):
        values[name] = r.fraction(t, f"{where}.{name}", getattr(base, name))
    for name in ("window_minutes", "baseline_windows", "min_posts", "min_negative",
                 "min_sarcastic"):
        values[name] = r.positive(t, f"{where}.{name}", getattr(base, name))
    reach = r.get(t, f"{where}.reach_threshold", (int, float), base.reach_threshold)
    cooldown = r.get(t, f"{where}.spike_cooldown_minutes", int, base.spike_cooldown_minutes)
    if reach < 0 or cooldown < 0:
        _fail(r, where, "reach_threshold and spike_cooldown_minutes must not be negative")
    sensitivity = r.get(t, f"{where}.sensitivity", str, base.sensitivity)
    if sensitivity not in SENSITIVITY_K:
        _fail(r, f"{where}.sensitivity",
              f"expected one of {', '.join(SENSITIVITY_K)}, got {sensitivity!r}")
    if values["baseline_windows"] < 3:
        _fail(r, f"{where}.baseline_windows", "needs at least 3 windows for a deviation")
    return replace(base, **values, reach_threshold=float(reach),
                   spike_cooldown_minutes=cooldown, sensitivity=sensitivity)


def _channel(r: Any, c: Any, i: int, brand_names: set[str]) -> ChannelSettings:
    key = f"alerts.channels[{i}]"
    c = r.expect(c, key, dict)
    r.only(c, key, CHANNEL_KEYS)
    kind = r.required(c, f"{key}.kind", str)
    if kind not in CHANNEL_KINDS:
        _fail(r, f"{key}.kind", f"expected one of {', '.join(CHANNEL_KINDS)}, got {kind!r}")
    strings = {n: r.get(c, f"{key}.{n}", str, "") for n in
               ("url", "url_env", "secret_env", "host", "username_env", "password_env",
                "sender", "ca_file")}
    for n in ("url_env", "secret_env", "username_env", "password_env"):
        if strings[n] and not strings[n].startswith("SUBTEXT_"):
            _fail(r, f"{key}.{n}", f"secrets come from SUBTEXT_* variables, got {strings[n]!r}")
    brands = tuple(r.get(c, f"{key}.brands", list, []))
    for brand in brands:
        if brand not in brand_names:
            _fail(r, f"{key}.brands", f"no brand named {brand!r} in [[brands]]")
    kinds = tuple(r.get(c, f"{key}.kinds", list, []))
    for alert_kind in kinds:
        if alert_kind not in KINDS:
            _fail(r, f"{key}.kinds", f"unknown alert kind {alert_kind!r}; known: "
                  + ", ".join(KINDS))
    severity = r.get(c, f"{key}.min_severity", str, "low")
    if severity not in SEVERITIES:
        _fail(r, f"{key}.min_severity", f"expected one of {', '.join(SEVERITIES)}")
    channel = ChannelSettings(
        name=r.get(c, f"{key}.name", str, kind), kind=kind, brands=brands, kinds=kinds,
        min_severity=severity,
        cooldown_minutes=_not_negative(r, c, f"{key}.cooldown_minutes"),
        digest_minutes=_not_negative(r, c, f"{key}.digest_minutes"),
        timeout_seconds=float(r.get(c, f"{key}.timeout_seconds", (int, float), 10.0)),
        max_attempts=r.positive(c, f"{key}.max_attempts", 5),
        retry_seconds=float(r.get(c, f"{key}.retry_seconds", (int, float), 30.0)),
        port=r.port(c, f"{key}.port", 587), starttls=r.get(c, f"{key}.starttls", bool, True),
        to=tuple(r.get(c, f"{key}.to", list, [])), **strings)
    if channel.timeout_seconds <= 0 or channel.retry_seconds < 0:
        _fail(r, key, "timeout_seconds must be positive and retry_seconds not negative")
    _needs(r, key, channel)
    return channel


def _needs(r: Any, key: str, c: ChannelSettings) -> None:
    """Each kind's required settings."""
    required = {"slack": ["url_env"], "apprise": ["url_env"], "webhook": ["secret_env"],
                "email": ["host", "sender", "to"]}[c.kind]
    for name in required:
        if not getattr(c, name):
            _fail(r, f"{key}.{name}", f"is required for a {c.kind} channel")
    if c.kind == "webhook" and not (c.url or c.url_env):
        _fail(r, f"{key}.url", "is required for a webhook channel (or url_env)")


def _not_negative(r: Any, c: dict, key: str) -> int:
    value = r.get(c, key, int, 0)
    if value < 0:
        _fail(r, key, f"must not be negative, got {value}")
    return value


def _fail(r: Any, key: str, reason: str) -> None:
    from subtext.config import ConfigError  # here: config imports this module

    raise ConfigError(r.file, key, reason)
