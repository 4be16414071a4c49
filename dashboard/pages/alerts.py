"""Alerts: the PR inbox of disguised criticism and negative posts, acknowledged one by one."""

import streamlit as st

from dashboard import frames, ui
from dashboard.client import ApiError, Client

STATUSES = {"Open": "open", "Acknowledged": "acknowledged", "All": "all"}
KINDS = {"sarcasm": "Disguised criticism", "negative": "Negative post",
         "spike": "Negative spike"}
EMPTY = {"open": "No open alerts: nothing sarcastic or negative above the thresholds yet.",
         "acknowledged": "No acknowledged alerts yet.",
         "all": "No alerts yet: nothing sarcastic or negative above the thresholds."}
LIMIT = 50


@ui.needs_engine
def main() -> None:
    st.title("Alerts")
    left, right = st.columns([2, 1])
    status = STATUSES[left.segmented_control("Show", list(STATUSES), default="Open",
                                             required=True)]
    by = right.text_input("Acknowledge as", placeholder="your name (optional)", key="ack_by")
    api = ui.client()
    page = api.alerts(status, limit=LIMIT)
    if not page["items"]:
        st.info(EMPTY[status], icon=":material/notifications_off:")
        return
    shown = f", newest {LIMIT} shown" if page["total"] > LIMIT else ""
    st.caption(f"{page['total']} alert(s){shown}")
    for alert in page["items"]:
        card(api, alert, by)


def card(api: Client, alert: dict, by: str) -> None:
    with st.container(border=True):
        words, pictures = st.columns([3, 1]) if alert["images"] else (st.container(), None)
        with words:
            kind = KINDS.get(alert["kind"], alert["kind"].capitalize())
            st.markdown(f"**{kind}** · {ui.escape(alert['brand'] or 'no brand')} · "
                        f"{frames.when(alert['created_at'])}")
            post_summary(alert)
            acknowledge(api, alert, by)
        if pictures is not None:
            with pictures:
                for sha256 in alert["images"]:
                    show_image(api, sha256)


def post_summary(alert: dict) -> None:
    if alert["text"] is None:  # an alert about an aggregate, not one post
        st.write(alert["message"])
        return
    st.markdown(ui.quote(alert["text"]))
    source = f" · [original post]({alert['url']})" if alert.get("url") else ""
    st.caption(f"by {ui.escape(alert['author'] or 'unknown')} · {alert['lang'] or '?'} · "
               f"posted {frames.when(alert['post_created_at'])}{source}")
    if alert["explanation"]:
        st.markdown(f"**Why:** {ui.escape(alert['explanation'])}")
    if alert["ocr_text"]:
        st.markdown(f"**Text in the image:** {ui.escape(alert['ocr_text'])}")
    st.caption(f"label {alert['label'] or 'pending'} · sentiment {alert['sentiment'] or '?'} · "
               f"confidence {_pct(alert['confidence'])} · sarcasm {_pct(alert['sarcasm_score'])}"
               f" · alert score {_pct(alert['score'])}")


def acknowledge(api: Client, alert: dict, by: str) -> None:
    if alert["acknowledged_at"]:
        who = f" by {ui.escape(alert['acknowledged_by'])}" if alert["acknowledged_by"] else ""
        st.caption(f":material/check: Acknowledged{who}, {frames.when(alert['acknowledged_at'])}")
    elif st.button("Acknowledge", key=f"ack-{alert['id']}", icon=":material/done:"):
        api.acknowledge(alert["id"], by=by.strip() or None)
        st.toast(f"Alert {alert['id']} acknowledged")
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
