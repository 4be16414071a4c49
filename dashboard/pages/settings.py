"""Settings: the brands the engine watches, their queries, and a box to test a query against
the posts collected recently before putting it in the config."""

import pandas as pd
import streamlit as st

from dashboard import frames, ui
from dashboard.client import ApiError

SYNTAX = """
| write | to find |
|---|---|
| `nimbus OR 云朵` | either word |
| `"nimbus 7" AND (camera OR 拍照)` | a phrase and one of two words (juxtaposed terms: AND) |
| `nimbus -refund`, `nimbus NOT refund` | without a word |
| `#nimbus`, `@nimbus` | a hashtag; an account (the author, or a mention) |
| `batter*` | a trailing wildcard: battery, batteries, battered |
| `nimbus NEAR/3 camera` | at most 3 words apart, either order (a Chinese character: a word) |
| `(nimbus OR 云朵) NEAR/5 (续航 OR battery)` | proximity between alternatives |

Operators are upper case; matching ignores case and full/half width; Latin words match whole
words.
"""


@ui.needs_engine
def main() -> None:
    st.title("Settings")
    api = ui.client()
    settings = api.settings()
    st.subheader("Brands")
    if settings["brands"]:
        table = pd.DataFrame(settings["brands"])
        for column in ("competitors", "languages"):
            table[column] = table[column].map(lambda v: ", ".join(v) or "–")
        st.dataframe(table, hide_index=True, column_config={
            "query": st.column_config.TextColumn("query", width="large")})
    else:
        st.caption("No brands configured: add [[brands]] tables to the config.")
    st.caption(f"Times are shown in **{ui.plain(settings['timezone'])}** "
               "(`[dashboard] timezone` in the config). Brands and queries are changed in the "
               "config file; the engine reads it at start.")
    tester(api, settings["brands"])


def tester(api, brands: list[dict]) -> None:
    st.subheader("Test a query")
    with st.expander("Query syntax"):
        st.markdown(SYNTAX)
    default = brands[0]["query"] if brands else ""
    with st.form("query-test"):
        text = st.text_input("Query", value=default, max_chars=2000, key="query-text")
        submitted = st.form_submit_button("Test against recent posts",
                                          icon=":material/manage_search:")
    if not submitted and "query-result" not in st.session_state:
        return
    if submitted:
        try:
            st.session_state["query-result"] = api.test_query(text)
        except ApiError as exc:
            st.session_state.pop("query-result", None)
            st.error(f"Not a valid query: {ui.plain(exc.detail)}")
            return
    result = st.session_state["query-result"]
    st.markdown(f"**{result['matched']}** of the {result['checked']} most recent posts match "
                f"`{ui.plain(result['query'])}`.")
    st.caption(f"Sources that search on their side are sent: `{ui.plain(result['server_side'])}`"
               " and each result is confirmed here.")
    if not result["items"]:
        return
    tz = ui.timezone()
    table = pd.DataFrame([{
        "posted": frames.when(p["created_at"], tz=tz), "text": p["text"],
        "why": "found " + ", ".join(p["why"]["found"]) + (
            f"; not found {', '.join(p['why']['missing'])}" if p["why"]["missing"] else ""),
        "brands now": ", ".join(p["brands"]), "label": p["label"] or frames.PENDING,
        "id": p["id"]} for p in result["items"]])
    st.dataframe(table, hide_index=True, column_config={
        "text": st.column_config.TextColumn("text", width="large"),
        "why": st.column_config.TextColumn("why it matches", width="medium")})


main()
