"""Review: one post at a time from the queue of verdicts the model is least sure of (and alerts
dismissed as false alarms); a click or a key records the reviewer's reading, which every view
then shows instead of the model's."""

import streamlit as st

from dashboard import frames, ui
from dashboard.client import ApiError, Client

ANY = "Any"
LABELS = ["positive", "negative", "neutral", "sarcastic"]
EMOTIONS = ["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]
LANGUAGES = ["en", "zh", "ja", "ko", "es", "fr", "de"]
# label -> (button, keyboard shortcut); C and R are reserved by Streamlit.
LABEL_KEYS = {"positive": "1", "negative": "2", "neutral": "3", "sarcastic": "4"}
BOTH = "Both / either"
SKIPPED = "review_skipped"
REASONS = {"false alarm": "An alert on it was dismissed as a false alarm",
           "modalities disagree": "The words and the picture disagree",
           "low confidence": "The model is unsure"}


@ui.needs_engine
def main() -> None:
    st.title("Review")
    api = ui.client()
    health = api.health()
    params, reviewer = filters(health["brands"])
    skipped = st.session_state.setdefault(SKIPPED, [])
    queue = api.review_queue(limit=min(200, len(skipped) + 1), **params)  # the API's cap
    waiting = [p for p in queue["items"] if p["id"] not in skipped]
    if not waiting:
        empty(queue["total"], skipped)
        return
    st.caption(f"{queue['total']} post(s) to review"
               + (f", {len(skipped)} skipped" if skipped else ""))
    post = waiting[0]
    show(api, post)
    decide(api, post, reviewer)


def filters(brands: list[str]) -> tuple[dict, str | None]:
    cols = st.columns(4)
    brand = cols[0].selectbox("Brand", [ANY, *brands], key="review_brand")
    lang = cols[1].selectbox("Language", [ANY, *LANGUAGES], accept_new_options=True,
                             key="review_lang")
    label = cols[2].selectbox("Model's label", [ANY, *LABELS], key="review_label")
    reviewer = cols[3].text_input("Reviewer", placeholder="your name", key="reviewer")
    params = {"brand": brand, "lang": lang, "label": label}
    return {k: None if v == ANY else v for k, v in params.items()}, reviewer.strip() or None


def empty(total: int, skipped: list[str]) -> None:
    if total and skipped:
        st.info(f"Only skipped posts are left ({len(skipped)}).", icon=":material/skip_next:")
        if st.button("Show the skipped posts again", key="review-unskip"):
            skipped.clear()
            st.rerun()
    else:
        st.info("Nothing to review: no unsure verdicts and no false alarms for these filters.",
                icon=":material/task_alt:")


def show(api: Client, post: dict) -> None:
    with st.container(border=True):
        words, pictures = st.columns([3, 2]) if post["images"] else (st.container(), None)
        with words:
            st.markdown(f"**{REASONS.get(post['reason'], post['reason'])}** · "
                        f"{ui.escape(', '.join(post['named_brands']) or 'no brand')}")
            st.markdown(ui.quote(post["text"]))
            link = f" · [original post]({post['url']})" if post.get("url") else ""
            st.caption(f"by {ui.escape(post['author'] or 'unknown')} · {post['lang'] or '?'} · "
                       f"posted {frames.when(post['created_at'])}{link}")
            evidence = post["evidence"] or {}
            if evidence.get("ocr_text"):
                st.markdown(f"**Text in the image:** {ui.escape(evidence['ocr_text'])}")
            if post["explanation"]:
                st.markdown(f"**Model's reading:** {ui.escape(post['explanation'])}")
            st.caption(model_line(post, evidence))
        if pictures is not None:
            with pictures:
                for sha256 in post["images"]:
                    try:
                        st.image(image_bytes(api.base_url, sha256))
                    except ApiError as exc:
                        st.caption(f"Image unavailable ({exc.detail})")


def model_line(post: dict, evidence: dict) -> str:
    polarity = evidence.get("polarity") or {}
    parts = [f"model: {post['model_label']} ({post['model_confidence']:.0%} sure)",
             f"sarcasm {post['model_sarcasm_score']:.0%}",
             f"emotion {post['model_emotion']}"]
    parts += [f"{name} polarity {value:+.2f}" for name, value in polarity.items()
              if value is not None]
    if evidence.get("incongruity"):
        parts.append(f"incongruity {evidence['incongruity']:.2f}")
    if evidence.get("cues"):
        parts.append("cues: " + ", ".join(evidence["cues"]))
    if evidence.get("template"):
        parts.append(evidence["template"]["note"])
    return ui.escape(" · ".join(parts))


def decide(api: Client, post: dict, reviewer: str | None) -> None:
    """The reviewer's reading: emotion and brand first (they travel with the next click), then
    one click (or key) for the label, sarcasm, irrelevant or skip."""
    left, right = st.columns(2)
    emotion = left.selectbox("Emotion", EMOTIONS, index=EMOTIONS.index(post["model_emotion"]),
                             key=f"emotion-{post['id']}")
    brand = None
    if len(post["named_brands"]) > 1:
        picked = right.radio("About which brand?", [BOTH, *post["named_brands"]],
                             horizontal=True, key=f"brand-{post['id']}")
        brand = None if picked == BOTH else picked
    extra = {"emotion": emotion if emotion != post["model_emotion"] else None, "brand": brand,
             "reviewer": reviewer}
    st.caption("Keys: 1 positive · 2 negative · 3 neutral · 4 sarcastic · Y / N sarcasm yes/no · "
               "I not about our brand · K skip")
    row = st.columns(8)
    for place, (label, key) in zip(row[:4], LABEL_KEYS.items(), strict=True):
        if place.button(label.capitalize(), key=f"review-{label}", shortcut=key,
                        type="primary" if label == post["model_label"] else "secondary"):
            save(api, post, f"labelled {label}", label=label, **extra)
    if row[4].button("Sarcasm: yes", key="review-sarcasm-yes", shortcut="Y"):
        save(api, post, "marked sarcastic", sarcasm=True, **extra)
    if row[5].button("Sarcasm: no", key="review-sarcasm-no", shortcut="N"):
        save(api, post, "marked not sarcastic", sarcasm=False, **extra)
    if row[6].button("Not about our brand", key="review-irrelevant", shortcut="I"):
        save(api, post, "removed from the brand figures", irrelevant=True,
             reviewer=reviewer)
    if row[7].button("Skip", key="review-skip", shortcut="K"):
        st.session_state[SKIPPED].append(post["id"])
        st.rerun()


def save(api: Client, post: dict, what: str, **fields) -> None:
    api.correct(post["id"], **fields)
    st.toast(f"Post {what}")
    st.rerun()


@st.cache_data(max_entries=256, show_spinner=False)
def image_bytes(base_url: str, sha256: str) -> bytes:
    """Images are content-addressed: a cached copy never goes stale."""
    return Client(base_url).image(sha256)


main()
