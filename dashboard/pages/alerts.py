"""Alerts: the inbox a PR person works from. Newest first, filtered by status, severity, brand and
kind; each post alert shows the post's text beside its image, each spike its chart against the
baseline band and the posts behind it; acknowledge, resolve or mark a false alarm."""

from datetime import datetime, timedelta

import plotly.graph_objects as go
import streamlit as st

from dashboard import frames, ui
from dashboard.client import ApiError, Client

STATUSES = {"Open": "open", "Acknowledged": "acknowledged", "Resolved": "resolved",
            "False alarm": "false_alarm", "All": "all"}
KINDS = {"sarcasm": "Disguised criticism", "negative": "Negative post with reach",
         "volume_spike": "Volume spike", "negative_spike": "Negative-share rise",
         "sarcasm_spike": "Sarcasm-rate rise"}
SEVERITY_ICONS = {"high": ":red[●]", "medium": ":orange[●]", "low": ":gray[●]"}
ANY = "Any"
EMPTY = {"open": "No open alerts: nothing sarcastic or negative above the thresholds yet.",
         "acknowledged": "No acknowledged alerts yet.",
         "resolved": "No resolved alerts yet.",
         "false_alarm": "No alerts marked as false alarms.",
         "all": "No alerts yet: nothing sarcastic or negative above the thresholds."}
LIMIT = 50


@ui.needs_engine
def main() -> None:
    st.title("Alerts")
    api = ui.client()
    status = STATUSES[st.segmented_control("Show", list(STATUSES), default="Open",
                                           required=True)]
    severity, brand, kind, who, note = st.columns([1, 1, 1.4, 1.2, 1.6])
    filters = {
        "severity": _any(severity.selectbox("Severity", [ANY, "high", "medium", "low"])),
        "brand": _any(brand.selectbox("Brand", [ANY, *api.health()["brands"]])),
        "kind": _any(kind.selectbox("Kind", [ANY, *KINDS],
                                    format_func=lambda k: KINDS.get(k, k))),
    }
    by = who.text_input("Your name", placeholder="optional", key="ack_by")
    remark = note.text_input("Note", placeholder="optional, saved with the next step",
                             key="alert_note")
    page = api.alerts(status, limit=LIMIT, **filters)
    if not page["items"]:
        filtered = " (with these filters)" if any(filters.values()) else ""
        st.info(EMPTY[status].rstrip(".") + filtered + ".", icon=":material/notifications_off:")
        return
    shown = f", newest {LIMIT} shown" if page["total"] > LIMIT else ""
    st.caption(f"{page['total']} alert(s){shown}")
    for alert in page["items"]:
        card(api, alert, by.strip() or None, remark.strip() or None)


def _any(value: str) -> str | None:
    return None if value == ANY else value


def card(api: Client, alert: dict, by: str | None, note: str | None) -> None:
    with st.container(border=True):
        kind = KINDS.get(alert["kind"], alert["kind"].capitalize())
        ended = " · ended" if alert.get("ended_at") else ""
        st.markdown(f"{SEVERITY_ICONS.get(alert['severity'], '')} **{kind}** · "
                    f"{ui.escape(alert['brand'] or 'no brand')} · {alert['severity']} · "
                    f"{frames.when(alert['created_at'])}{ended}")
        if alert["post_id"] is None:
            spike(alert)
        else:
            words, pictures = st.columns([3, 1]) if alert["images"] else (st.container(), None)
            with words:
                post_summary(alert)
            if pictures is not None:
                with pictures:
                    for sha256 in alert["images"]:
                        show_image(api, sha256)
        delivered(alert)
        workflow(api, alert, by, note)


def post_summary(alert: dict) -> None:
    st.markdown(ui.quote(alert["text"] or ""))
    source = f" · [original post]({alert['url']})" if alert.get("url") else ""
    reach = (alert.get("details") or {}).get("reach")
    st.caption(f"by {ui.escape(alert['author'] or 'unknown')} · {alert['lang'] or '?'} · "
               f"posted {frames.when(alert['post_created_at'])}"
               + (f" · reach {reach:g}" if reach is not None else "") + source)
    if alert["explanation"]:
        st.markdown(f"**Why:** {ui.escape(alert['explanation'])}")
    if alert["ocr_text"]:
        st.markdown(f"**Text in the image:** {ui.escape(alert['ocr_text'])}")
    route = f" · route {alert['route']} ({alert['route_rule']})" if alert.get("route") else ""
    st.caption(f"label {alert['label'] or 'pending'} · sentiment {alert['sentiment'] or '?'} · "
               f"confidence {_pct(alert['confidence'])} · sarcasm {_pct(alert['sarcasm_score'])}"
               f" · alert score {alert['score']:.2f}{route}")


def spike(alert: dict) -> None:
    d = alert.get("details") or {}
    st.write(alert["message"])
    if "figures" not in d:
        return
    st.plotly_chart(spike_figure(alert["kind"], d), key=f"spike-{alert['id']}")
    mix = d.get("sentiment_mix") or {}
    terms = d.get("terms") or {}
    st.caption("Sentiment in the window: " + ", ".join(f"{k} {v}" for k, v in mix.items() if v)
               + (" · terms: " + ui.escape(" ".join(terms.get("hashtags", [])
                                                    + terms.get("terms", [])))
                  if terms.get("terms") or terms.get("hashtags") else ""))
    for post in d.get("top_posts", []):
        link = f" · [open]({post['url']})" if post.get("url") else ""
        st.markdown(f"- {ui.escape(post['text'])}  \n  :gray[by "
                    f"{ui.escape(post.get('author') or 'unknown')} · reach {post['reach']:g} · "
                    f"{post.get('sentiment') or 'pending'}{link}]")


def spike_figure(kind: str, d: dict) -> go.Figure:
    """The baseline windows and the current one as bars, over the band from the baseline mean
    to the alert threshold (mean + k·σ)."""
    f, minutes = d["figures"], d["window"]["minutes"]
    end = datetime.fromisoformat(d["window"]["start"].rstrip("Z"))
    values = [*f["baseline"], f["now"]]
    starts = [end - timedelta(minutes=minutes * (len(values) - 1 - i)) for i in range(len(values))]
    share = kind != "volume_spike"
    figure = go.Figure()
    figure.add_hrect(y0=f["mean"], y1=f["threshold"], fillcolor="#9ecae1", opacity=0.35,
                     line_width=0, annotation_text="baseline → threshold",
                     annotation_position="top left")
    figure.add_bar(x=starts, y=values, marker_color=["#9e9e9e"] * (len(values) - 1)
                   + ["#d62728"], name="share" if share else "posts")
    figure.add_hline(y=f["mean"], line_dash="dot", line_color="#3182bd")
    figure.update_layout(height=240, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                         showlegend=False, yaxis_tickformat=".0%" if share else None)
    return figure


def delivered(alert: dict) -> None:
    parts = []
    for d in alert.get("deliveries") or []:
        reason = f" ({ui.escape(d['error'])})" if d.get("error") else ""
        parts.append(f"{ui.escape(d['channel'])}: {d['status'].replace('_', ' ')}{reason}")
    if parts:
        st.caption("Delivered to " + " · ".join(parts))


def workflow(api: Client, alert: dict, by: str | None, note: str | None) -> None:
    status = alert["status"]
    if alert["acknowledged_at"]:
        who = f" by {ui.escape(alert['acknowledged_by'])}" if alert["acknowledged_by"] else ""
        st.caption(f":material/check: Acknowledged{who}, {frames.when(alert['acknowledged_at'])}")
    if status in ("resolved", "false_alarm"):
        who = f" by {ui.escape(alert['status_by'])}" if alert.get("status_by") else ""
        label = "Resolved" if status == "resolved" else "Marked a false alarm"
        remark = f": {ui.escape(alert['note'])}" if alert.get("note") else ""
        st.caption(f"{label}{who}, {frames.when(alert['status_at'])}{remark}")
        return
    steps = ([("ack", "Acknowledge", ":material/done:")] if status == "open" else []) + [
        ("resolve", "Resolve", ":material/task_alt:"),
        ("false-alarm", "False alarm", ":material/block:")]
    for column, (action, label, icon) in zip(st.columns(len(steps) + 2), steps, strict=False):
        key = "ack" if action == "ack" else action.split("-")[0]
        if column.button(label, key=f"{key}-{alert['id']}", icon=icon):
            try:
                api.alert_step(alert["id"], action, by=by, note=note)
            except ApiError as exc:  # e.g. someone else resolved it meanwhile
                st.warning(exc.detail)
                return
            st.toast(f"Alert {alert['id']}: {label.lower()}")
            st.rerun()


@st.cache_data(max_entries=256, show_spinner=False)
def image_bytes(base_url: str, sha256: str) -> bytes:
    """Image bytes fetched through the engine (the browser may not reach it). Images are
    content-addressed, so a cached copy never goes stale."""
    return Client(base_url).image(sha256)


def show_image(api: Client, sha256: str) -> None:
    try:
        st.image(image_bytes(api.base_url, sha256))
    except ApiError as exc:  # one missing image must not hide the alert
        st.caption(f"Image unavailable ({exc.detail})")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


main()
