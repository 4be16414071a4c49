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
    recent = frames.runs_frame(api.runs(limit=RUNS))
    status(health, api.base_url)
    analysis(health, recent)
    sources(health["sources"])
    jobs(health["jobs"])
    runs(recent)


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


def analysis(health: dict, recent: pd.DataFrame) -> None:
    """The analysis backlog and how fast the analyzer works through it."""
    st.subheader("Analysis")
    pace = frames.throughput(recent)
    backlog, hour, speed = st.columns(3)
    backlog.metric("Backlog (posts pending)", f"{int(health['pending'])}")
    hour.metric("Analyzed in the last hour", f"{pace['posts']}",
                help=f"{pace['runs']} analyze runs among the last {RUNS} runs recorded")
    speed.metric("Posts per second while busy",
                 "–" if pace["per_s"] is None else f"{pace['per_s']}")
    if pace["per_s"] and health["pending"]:
        st.caption(f"At this pace the backlog clears in about "
                   f"{timedelta(seconds=round(health['pending'] / pace['per_s']))}.")


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
