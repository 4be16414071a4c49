"""Health: is the engine working, what is scheduled, and which runs failed."""

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard import frames, ui

RUNS = 100
FAILED_STYLE = "background-color: rgba(214, 39, 40, 0.18)"


@ui.needs_engine
def main() -> None:
    st.title("Health")
    api = ui.client()
    health = api.health()
    status(health, api.base_url)
    sources(health["sources"])
    jobs(health["jobs"])
    runs(frames.runs_frame(api.runs(limit=RUNS)))


def status(health: dict, url: str) -> None:
    counts = health["counts"]
    st.caption(f"Engine {health['version']} at {ui.escape(url)}"
               + (" · demo configuration" if health.get("demo") else ""))
    cells = [("Analyzer", health["analyzer"]),
             ("Uptime", str(timedelta(seconds=int(health["uptime_s"])))),
             ("Pending analysis", health["pending"]), ("Open alerts", counts["open_alerts"]),
             ("Sources", len(health["sources"])), ("Posts", counts["posts"]),
             ("Verdicts", counts["verdicts"]), ("Images", counts["images"]),
             ("Images rejected", counts["images_rejected"]), ("Feedback", counts["feedback"])]
    for column, (label, value) in zip(st.columns(5) * 2, cells, strict=True):
        column.metric(label, value)


def sources(items: list[dict]) -> None:
    """Each source's health: a source that keeps failing is flagged and backs off, while the
    others keep running."""
    st.subheader("Sources")
    if not items:
        st.caption("No sources configured: add [[sources]] to the config, or import posts "
                   "with `python -m subtext import FILE`.")
        return
    for source in items:
        if source.get("flagged"):
            errors = [b["last_error"] for b in source.get("brands", []) if b.get("last_error")]
            st.error(f"Source {ui.escape(source['name'])} keeps failing "
                     f"({source.get('failures', 0)} failures in a row) and is backing off"
                     + (f": {ui.escape(errors[0])}" if errors else "."))
    table = pd.DataFrame([{
        "source": s["name"], "kind": s["kind"], "status": s.get("status", "ok"),
        "every": f"{s['every_seconds']} s", "failures": s.get("failures", 0),
        "backing off until": frames.when(s.get("skip_until")) if s.get("skip_until") else "–",
    } for s in items])
    bad = table["status"] != "ok"
    st.dataframe(table.style.apply(
        lambda row: [FAILED_STYLE if bad[row.name] else ""] * len(row), axis=1),
        hide_index=True)


def jobs(items: list[dict]) -> None:
    st.subheader("Scheduled jobs")
    if not items:
        st.caption("No jobs scheduled: the engine's scheduler is not running.")
        return
    table = pd.DataFrame(items, columns=["id", "next_run"])
    table["next_run"] = table["next_run"].map(frames.when)
    st.dataframe(table, hide_index=True, column_config={"id": "job", "next_run": "next run"})


def runs(table: pd.DataFrame) -> None:
    st.subheader("Recent runs")
    if table.empty:
        st.caption("No runs recorded yet.")
        return
    bad = frames.failed(table)
    if bad.any():
        st.warning(f"{int(bad.sum())} of the last {len(table)} runs failed or had errors.")
    styled = table.style.apply(lambda row: [FAILED_STYLE if bad[row.name] else ""] * len(row),
                               axis=1)
    st.dataframe(styled, hide_index=True, column_config={
        "started_at": st.column_config.DatetimeColumn("started (UTC)",
                                                      format="YYYY-MM-DD HH:mm:ss"),
        "duration_s": st.column_config.NumberColumn("duration", format="%.2f s"),
        "last_error": st.column_config.TextColumn("last error", width="large"),
    })


main()
