"""Subtext dashboard: `streamlit run dashboard/app.py`. A client of the engine's HTTP API only."""

import sys
from pathlib import Path

# `streamlit run` puts this folder, not the project root, on sys.path; the pages import
# `dashboard.*` from the root.
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import streamlit as st  # noqa: E402

from dashboard import auth  # noqa: E402
from dashboard.client import ApiError, Client, EngineDown  # noqa: E402

PAGES = Path(__file__).parent / "pages"


@st.fragment(run_every="30s")
def engine_status() -> None:
    """The engine's state in the sidebar, refreshed on its own so it never goes stale."""
    api = Client()
    try:
        health = api.health()
    except (EngineDown, ApiError):
        st.error("Engine: down", icon=":material/cloud_off:")
        st.caption(f"Expected at {api.base_url}")
        return
    st.success("Engine: up", icon=":material/cloud_done:")
    st.caption(f"Analyzer `{health['analyzer']}`  \n"
               f"Pending analysis: **{health['pending']}**  \n"
               f"Open alerts: **{health['counts']['open_alerts']}**")


# An emoji favicon: a page's :material/...: icon would be fetched from a font CDN as favicon.
st.set_page_config(page_title="Subtext", page_icon="💬", layout="wide")
auth.gate()  # a login form, and nothing else, until a needed login is made
page = st.navigation([
    st.Page(PAGES / "trends.py", title="Trends", icon=":material/monitoring:", default=True),
    st.Page(PAGES / "alerts.py", title="Alerts", icon=":material/notifications:"),
    st.Page(PAGES / "review.py", title="Review", icon=":material/rate_review:"),
    st.Page(PAGES / "explore.py", title="Explore", icon=":material/search:"),
    st.Page(PAGES / "health.py", title="Health", icon=":material/ecg_heart:"),
    st.Page(PAGES / "settings.py", title="Settings", icon=":material/settings:"),
])
with st.sidebar:
    engine_status()
page.run()
