"""Explore: filter posts, page through them, export exactly what the filter selects."""

import hashlib
import json
import math
from datetime import UTC, date, datetime, time, timedelta

import streamlit as st

from dashboard import frames, ui

ANY = "Any"
LABELS = ["positive", "negative", "neutral", "sarcastic"]
LANGUAGES = ["en", "zh", "ja", "ko", "es", "fr", "de"]  # a hint: any code can be typed
SARCASM = {"Any": None, "Yes": True, "No": False}
REVIEWED = {"Any": None, "By a person": True, "Model only": False}
PAGE_SIZE = 50
MIME = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
COLUMNS = {
    "created_at": st.column_config.DatetimeColumn("posted (UTC)", format="YYYY-MM-DD HH:mm"),
    "confidence": st.column_config.ProgressColumn("confidence", min_value=0, max_value=1),
    "sarcasm_score": st.column_config.NumberColumn("sarcasm", format="%.2f"),
    "text": st.column_config.TextColumn("text", width="large"),
    "url": st.column_config.LinkColumn("link", display_text="open"),
}


@ui.needs_engine
def main() -> None:
    st.title("Explore")
    api = ui.client()
    health = api.health()
    params = filters(health["brands"], [s["name"] for s in health["sources"]])
    # A new filter starts again at page 1: the pager's key changes with the filter.
    pager = "page-" + hashlib.sha1(json.dumps(params, default=str).encode()).hexdigest()[:12]
    page = st.session_state.get(pager, 1)
    result = api.posts(**params, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    total = result["total"]
    if not total:
        st.info("No posts match these filters. Widen the dates or clear a filter.",
                icon=":material/filter_alt_off:")
        return
    count, csv, parquet = st.columns([4, 1, 1], vertical_alignment="bottom")
    count.markdown(f"**{total}** posts match" if total != 1 else "**1** post matches")
    for place, fmt in ((csv, "csv"), (parquet, "parquet")):
        download(place, api, fmt, params)
    st.dataframe(frames.posts_frame(result["items"]), hide_index=True, column_config=COLUMNS)
    st.pagination(max(1, math.ceil(total / PAGE_SIZE)), key=pager)


def filters(brands: list[str], sources: list[str]) -> dict:
    """The filter widgets, as /v1/posts query parameters (None = not filtered)."""
    row1 = st.columns(4)
    brand = row1[0].selectbox("Brand", [ANY, *brands])
    today = datetime.now(UTC).date()
    dates = row1[1].date_input("Dates (UTC)", (today - timedelta(days=30), today))
    source = row1[2].selectbox("Source", [ANY, *sources])
    lang = row1[3].selectbox("Language", [ANY, *LANGUAGES], accept_new_options=True)
    row2 = st.columns([1, 1, 1, 2])
    label = row2[0].selectbox("Label", [ANY, *LABELS])
    sarcasm = row2[1].segmented_control("Sarcasm", list(SARCASM), default=ANY, required=True)
    confidence = row2[2].slider("Min confidence", 0.0, 1.0, 0.0, 0.05)
    text = row2[3].text_input("Text contains", max_chars=200)
    reviewed = st.segmented_control("Reviewed", list(REVIEWED), default=ANY, required=True,
                                    key="explore_reviewed")
    since, until = _day_range(dates)
    return {
        "brand": _unless_any(brand), "since": since, "until": until,
        "source": _unless_any(source), "lang": _unless_any(lang), "label": _unless_any(label),
        "sarcasm": SARCASM[sarcasm],
        # 0 means "no minimum"; sent, it would also hide posts not yet analyzed.
        "min_confidence": confidence or None,
        "q": text.strip() or None,
        "reviewed": REVIEWED[reviewed],
    }


def download(place, api, fmt: str, params: dict) -> None:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    place.download_button(
        fmt.upper() if fmt == "csv" else fmt.capitalize(),
        # A callable: the export is fetched when clicked, not on every rerun of the page.
        data=lambda: api.export(fmt, **params),
        file_name=f"subtext-posts-{stamp}.{fmt}", mime=MIME[fmt], on_click="ignore",
        icon=":material/download:", key=f"export-{fmt}")


def _day_range(dates) -> tuple[datetime | None, datetime | None]:
    """Whole UTC days: from the first day's midnight up to (excluding) the day after the last.
    While a range is half picked, only its start applies."""
    days = list(dates) if isinstance(dates, tuple | list) else [dates]
    days = [d for d in days if isinstance(d, date)]
    if not days:
        return None, None
    since = datetime.combine(days[0], time(), UTC)
    until = datetime.combine(days[-1] + timedelta(days=1), time(), UTC) if len(days) > 1 else None
    return since, until


def _unless_any(value: str | None) -> str | None:
    return None if value in (None, ANY) else value


main()
