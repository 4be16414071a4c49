"""Explore: filter posts, page through them, open one, export exactly what the filter selects.

The filters live in the URL's query string (?brand=Voltra&label=sarcastic...), so a view can
be bookmarked or shared; the Trends page's "open them in Explore" link lands here the same way.
"""

import hashlib
import json
import math
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
import streamlit as st

from dashboard import frames, ui

ANY = "Any"
LABELS = ["positive", "negative", "neutral", "sarcastic"]
EMOTIONS = ["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]
LANGUAGES = ["en", "zh", "ja", "ko", "es", "fr", "de"]  # a hint: any code can be typed
SARCASM = {"Any": None, "Yes": True, "No": False}
REVIEWED = {"Any": None, "By a person": True, "Model only": False}
PAGE_SIZE = 50
FORMATS = {"csv": ("CSV", "text/csv"), "parquet": ("Parquet", "application/vnd.apache.parquet"),
           "xlsx": ("Excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}
# Filter -> its widget's key; the URL uses the filter's name.
CHOICES = ("brand", "source", "lang", "label", "emotion")
URL_KEYS = (*CHOICES, "sarcasm", "min_confidence", "max_confidence", "q", "since", "until")


@ui.needs_engine
def main() -> None:
    st.title("Explore")
    api = ui.client()
    health = api.health()
    tz = ui.timezone()
    brands, sources = health["brands"], [s["name"] for s in health["sources"]]
    from_url(brands, sources)
    params = filters(brands, sources, tz)
    to_url(params)
    # A new filter starts again at page 1: the pager's key changes with the filter.
    pager = "page-" + hashlib.sha1(json.dumps(params, default=str).encode()).hexdigest()[:12]
    page = st.session_state.get(pager, 1)
    result = api.posts(**params, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    total = result["total"]
    if not total:
        st.info("No posts match these filters. Widen the dates or clear a filter.",
                icon=":material/filter_alt_off:")
        return
    count, *buttons = st.columns([5, 1, 1, 1], vertical_alignment="bottom")
    count.markdown(f"**{total}** posts match" if total != 1 else "**1** post matches")
    for place, fmt in zip(buttons, FORMATS, strict=True):
        download(place, api, fmt, params)
    ui.hide_table_toolbar()  # its download holds only the rows on screen; ours holds all
    table = frames.posts_frame(result["items"], tz)
    table.insert(0, "image", [ui.thumbnail(api.base_url, p["images"][0]) if p["images"]
                              else None for p in result["items"]])
    picked = st.dataframe(table, hide_index=True, column_config=columns(tz), row_height=72,
                          on_select="rerun", selection_mode="single-row", key=f"rows-{pager}")
    st.pagination(max(1, math.ceil(total / PAGE_SIZE)), key=pager)
    rows = picked.selection.rows if picked else []
    post_id = table.iloc[rows[0]]["id"] if rows else st.query_params.get("post")
    if post_id:
        st.query_params["post"] = post_id
        detail(api, post_id, tz)
    else:
        st.caption("Select a row to see the post in full: image, text, OCR, explanation.")


def columns(tz) -> dict:
    zone = frames.zone_label(tz)
    return {
        "image": st.column_config.ImageColumn("image", width="small"),
        "created_at": st.column_config.DatetimeColumn(f"posted ({zone})",
                                                      format="YYYY-MM-DD HH:mm"),
        "confidence": st.column_config.ProgressColumn("confidence", min_value=0, max_value=1),
        "sarcasm_score": st.column_config.NumberColumn("sarcasm", format="%.2f"),
        "text": st.column_config.TextColumn("text", width="large"),
        "explanation": st.column_config.TextColumn("why", width="medium"),
        "url": st.column_config.LinkColumn("link", display_text="open"),
    }


def from_url(brands: list[str], sources: list[str]) -> None:
    """Fill the filter widgets from the query string when they are not on screen yet (first
    visit, a shared link, a link from Trends). A brand matches in any case; a value a box
    does not offer is dropped (brand and source: kept, and flagged as unknown)."""
    url = st.query_params
    offered = {"brand": brands, "source": sources, "lang": None, "label": LABELS,
               "emotion": EMOTIONS}
    for key in CHOICES:
        if key not in url or f"f-{key}" in st.session_state:
            continue
        value, options = url[key], offered[key]
        if options is not None:
            value = next((o for o in options if o.lower() == value.lower()), value)
            if value not in options and key not in ("brand", "source"):
                continue
        st.session_state[f"f-{key}"] = value
    if "sarcasm" in url and "f-sarcasm" not in st.session_state:
        st.session_state["f-sarcasm"] = {"true": "Yes", "false": "No"}.get(url["sarcasm"], ANY)
    if "f-confidence" not in st.session_state:
        st.session_state["f-confidence"] = (_number(url.get("min_confidence"), 0.0),
                                            _number(url.get("max_confidence"), 1.0))
    if "q" in url and "f-q" not in st.session_state:
        st.session_state["f-q"] = url["q"][:200]
    if "f-dates" not in st.session_state:
        since, until = _moment(url.get("since")), _moment(url.get("until"))
        today = datetime.now(UTC).date()
        first = since.date() if since else today - timedelta(days=30)
        last = (until - timedelta(microseconds=1)).date() if until else today
        st.session_state["f-dates"] = (first, max(first, last))
        st.session_state["f-exact"] = (since, until)  # an exact period (a Trends bucket)


def to_url(params: dict) -> None:
    """The filters as the query string (unset ones left out), keeping the open post."""
    post = st.query_params.get("post")
    wanted = {k: _url_value(params[k]) for k in URL_KEYS if params.get(k) is not None}
    if post and st.session_state.get("f-last") in (None, wanted):
        wanted["post"] = post
    st.session_state["f-last"] = {k: v for k, v in wanted.items() if k != "post"}
    if dict(st.query_params) != wanted:
        st.query_params.from_dict(wanted)


def filters(brands: list[str], sources: list[str], tz) -> dict:
    """The filter widgets, as /v1/posts query parameters (None = not filtered)."""
    row1 = st.columns(5)
    brand = row1[0].selectbox("Brand", [ANY, *brands], key="f-brand", accept_new_options=True)
    dates = row1[1].date_input("Dates (UTC)", key="f-dates")
    source = row1[2].selectbox("Source", [ANY, *sources], key="f-source",
                               accept_new_options=True)
    lang = row1[3].selectbox("Language", [ANY, *LANGUAGES], accept_new_options=True,
                             key="f-lang")
    label = row1[4].selectbox("Label", [ANY, *LABELS], key="f-label")
    row2 = st.columns([1, 1, 1.4, 2])
    emotion = row2[0].selectbox("Emotion", [ANY, *EMOTIONS], key="f-emotion")
    # A default beside a value from the URL would draw Streamlit's "set twice" warning.
    default = None if "f-sarcasm" in st.session_state else ANY
    sarcasm = row2[1].segmented_control("Sarcasm", list(SARCASM), default=default,
                                        required=True, key="f-sarcasm") or ANY
    low, high = row2[2].slider("Confidence", 0.0, 1.0, step=0.05, key="f-confidence")
    text = row2[3].text_input("Text contains", max_chars=200, key="f-q")
    reviewed = st.segmented_control("Reviewed", list(REVIEWED), default=ANY, required=True,
                                    key="explore_reviewed")
    since, until = _period(dates)
    # An unknown brand is the engine's to say (it also knows brands no longer configured).
    if source not in (None, ANY, *sources):
        st.warning(f"Unknown source “{ui.plain(source)}”: the engine is configured with "
                   f"{', '.join(sources) or 'none'}.")
    return {
        "brand": _unless_any(brand), "since": since, "until": until,
        "source": _unless_any(source), "lang": _unless_any(lang), "label": _unless_any(label),
        "emotion": _unless_any(emotion), "sarcasm": SARCASM[sarcasm],
        # The full range means "no limit"; sent, it would also hide posts not yet analyzed.
        "min_confidence": low or None, "max_confidence": high if high < 1 else None,
        "q": (text or "").strip() or None,
        "reviewed": REVIEWED[reviewed or ANY],
    }


def detail(api, post_id: str, tz) -> None:
    """One post in full: images, text, OCR caption, explanation, evidence, link, raw JSON."""
    try:
        post = api.post(post_id)
    except ui.ApiError:
        st.caption(f"Post {ui.escape(post_id)} is not stored (any more).")
        return
    with st.container(border=True, key="post-detail"):
        head, close = st.columns([6, 1])
        head.subheader(f"Post {ui.plain(post['id'])}")
        if close.button("Close", icon=":material/close:"):
            del st.query_params["post"]
            st.rerun()
        words, pictures = st.columns([3, 2]) if post["images"] else (st.container(), None)
        with words:
            st.text(post["text"] or "")  # plain text: no Markdown, links or LaTeX
            link = f" · [original post]({post['url']})" if _safe_url(post.get("url")) else ""
            st.caption(f"by {ui.plain(post['author'] or 'unknown')} · {post['lang'] or '?'} · "
                       f"{ui.plain(post['source'])} · {frames.when(post['created_at'], tz=tz)}"
                       f" · {post['likes']} likes, {post['reposts']} reposts, "
                       f"{post['replies']} replies{link}")
            verdict(post)
        if pictures is not None:
            with pictures:
                for sha256 in post["images"]:
                    ui.show_image(api, sha256)
        with st.expander("Evidence"):
            st.json(post.get("evidence") or {})
        with st.expander("Raw JSON"):
            st.json(post)


def verdict(post: dict) -> None:
    if post["label"] is None:
        st.info("Pending: the analyzer has not got to this post yet.")
        return
    st.markdown(f"**{post['label']}** · sentiment {post['sentiment']} · emotion "
                f"{post['emotion']} · confidence {post['confidence']:.0%} · sarcasm "
                f"{post['sarcasm_score']:.0%} · `{ui.plain(post['analyzer'])}`")
    for title, value in (("Why", post.get("explanation")),
                         ("Text in the image", (post.get("evidence") or {}).get("ocr_text"))):
        if value:  # they may quote the post: plain text, like it
            st.markdown(f"**{title}:**")
            st.text(value)


def download(place, api, fmt: str, params: dict) -> None:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    label, mime = FORMATS[fmt]
    place.download_button(
        label,
        # A callable: the export is fetched when clicked, not on every rerun of the page.
        data=lambda: api.export(fmt, **params),
        file_name=f"subtext-posts-{stamp}.{fmt}", mime=mime, on_click="ignore",
        icon=":material/download:", key=f"export-{fmt}")


def _period(dates) -> tuple[datetime | None, datetime | None]:
    """Whole UTC days: from the first day's midnight up to (excluding) the day after the last.
    While a range is half picked, only its start applies. An exact period from the URL (a
    Trends bucket) stands while the days shown are still its days."""
    days = list(dates) if isinstance(dates, tuple | list) else [dates]
    days = [d for d in days if isinstance(d, date)]
    if not days:
        return None, None
    since = datetime.combine(days[0], time(), UTC)
    until = datetime.combine(days[-1] + timedelta(days=1), time(), UTC) if len(days) > 1 else None
    exact_since, exact_until = st.session_state.get("f-exact") or (None, None)
    if exact_since and exact_until and (exact_since.date(), (
            exact_until - timedelta(microseconds=1)).date()) == (days[0], days[-1]):
        return exact_since, exact_until
    return since, until


def _moment(value: str | None) -> datetime | None:
    try:
        moment = pd.Timestamp(value) if value else None
    except ValueError:
        return None
    if moment is None or pd.isna(moment):
        return None
    return (moment.tz_localize(UTC) if moment.tzinfo is None else moment.tz_convert(UTC)
            ).to_pydatetime()


def _number(value: str | None, default: float) -> float:
    try:
        return min(max(float(value), 0.0), 1.0) if value is not None else default
    except ValueError:
        return default


def _url_value(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _safe_url(url: str | None) -> bool:
    return bool(url) and url.startswith(("https://", "http://")) and ")" not in url


def _unless_any(value: str | None) -> str | None:
    return None if value in (None, ANY, "") else value


main()
