"""Our message formatting, the same for every channel: a title, plain text, Slack blocks, and
the JSON payload of the signed webhook."""

from __future__ import annotations

from datetime import datetime

KIND_TITLES = {"sarcasm": "Disguised criticism", "negative": "Negative post with reach",
               "volume_spike": "Volume spike", "negative_spike": "Negative-share rise",
               "sarcasm_spike": "Sarcasm-rate rise", "test": "Test alert"}


def title(alert: dict) -> str:
    kind = KIND_TITLES.get(alert["kind"], alert["kind"])
    return f"[{alert.get('severity', 'medium')}] {kind} · {alert.get('brand') or 'no brand'}"


def lines(alert: dict) -> list[str]:
    """What a PR person reads: the message, the figures, the posts behind it, links."""
    d = alert.get("details") or {}
    out = [alert["message"]]
    if "window" in d:
        f = d["figures"]
        out.append(f"Window {d['window']['start']} → {d['window']['end']}: now {f['now']:g}, "
                   f"baseline {f['mean']:g} ± {f['sigma']:g} (threshold {f['threshold']:g})")
    if d.get("sentiment_mix"):
        out.append("Sentiment: " + ", ".join(f"{k} {v}" for k, v in d["sentiment_mix"].items()
                                             if v))
    terms = (d.get("terms") or {})
    if terms.get("hashtags") or terms.get("terms"):
        out.append("Terms: " + " ".join(terms.get("hashtags", []) + terms.get("terms", [])))
    for post in d.get("top_posts", []):
        link = f" {post['url']}" if post.get("url") else ""
        out.append(f"• ({post['reach']:g}) {post['text']}{link}")
    if alert.get("url"):
        out.append(f"Post: {alert['url']}")
    return out


def text(alerts: list[dict]) -> str:
    if len(alerts) == 1:
        return "\n".join([title(alerts[0]), *lines(alerts[0])])
    parts = [f"{len(alerts)} alerts"]
    for alert in alerts:
        parts += ["", title(alert), *lines(alert)]
    return "\n".join(parts)


def subject(alerts: list[dict]) -> str:
    return title(alerts[0]) if len(alerts) == 1 else f"Subtext digest: {len(alerts)} alerts"


def slack(alerts: list[dict]) -> dict:
    """A Slack incoming-webhook body: `text` for notifications, one section per alert."""
    blocks = []
    for alert in alerts:
        body = "\n".join(_slack_escape(line) for line in lines(alert))
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn",
                                "text": f"*{_slack_escape(title(alert))}*\n{body}"[:3000]}})
    return {"text": subject(alerts), "blocks": blocks[:50]}


def payload(alerts: list[dict], kind: str = "alert") -> dict:
    """The signed webhook's JSON: every alert with its figures and post."""
    keep = ("id", "kind", "brand", "severity", "score", "message", "status", "created_at",
            "updated_at", "ended_at", "post_id", "text", "url", "author", "lang", "details")
    return {"type": kind if len(alerts) == 1 or kind == "test" else "digest",
            "alerts": [{k: _json(alert.get(k)) for k in keep} for alert in alerts]}


def _json(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _slack_escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
