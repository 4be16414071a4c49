"""The alerts API: the inbox (filters, one alert with its deliveries and history), the workflow
(acknowledge, resolve, false alarm: who, when, an optional note) and each verdict's route.

Channel settings and secrets are never exposed here: deliveries name the channel only.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from alerts.settings import KINDS, SEVERITIES
from data import alerts as db
from subtext.engine import Engine

Kind = Literal[KINDS]
Severity = Literal[SEVERITIES]
# Ids and offsets beyond these would overflow DuckDB's BIGINT: a 422, never a 500.
AlertId = Annotated[int, PathParam(ge=1, le=2 ** 63 - 1)]
MAX_OFFSET = 10 ** 9


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AlertsQuery(_Strict):
    status: Literal["open", "acknowledged", "resolved", "false_alarm", "active", "all"] = "open"
    brand: str | None = Field(None, max_length=200)
    kind: Kind | None = None
    severity: Severity | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class StepIn(_Strict):
    by: str | None = Field(None, max_length=100)
    note: str | None = Field(None, max_length=2000)


def alerts_router(engine: Engine) -> APIRouter:
    router = APIRouter(tags=["alerts"])
    store = engine.store

    @router.get("/v1/alerts")
    def alerts(query: Annotated[AlertsQuery, Query()]) -> dict:
        """Alerts newest first; `active` is open or acknowledged."""
        return db.list_alerts(store, query.status, query.brand, query.kind, query.severity,
                              query.limit, query.offset)

    @router.get("/v1/alerts/{alert_id}")
    def alert(alert_id: AlertId) -> dict:
        found = db.get_alert(store, alert_id)
        if found is None:
            raise HTTPException(404, f"no alert {alert_id}")
        return found

    def step(alert_id: int, action: str, body: StepIn | None) -> dict:
        try:
            done = db.set_status(store, alert_id, action, body.by if body else None,
                                 body.note if body else None)
        except db.Conflict as exc:
            raise HTTPException(409, str(exc)) from None
        if done is None:
            raise HTTPException(404, f"no alert {alert_id}")
        return done

    @router.post("/v1/alerts/{alert_id}/ack")
    def acknowledge(alert_id: AlertId, body: StepIn | None = None) -> dict:
        """Acknowledge (open → acknowledged); twice keeps the first."""
        return {**step(alert_id, "ack", body), "acknowledged": True}

    @router.post("/v1/alerts/{alert_id}/resolve")
    def resolve(alert_id: AlertId, body: StepIn | None = None) -> dict:
        return step(alert_id, "resolve", body)

    @router.post("/v1/alerts/{alert_id}/false-alarm")
    def false_alarm(alert_id: AlertId, body: StepIn | None = None) -> dict:
        """Mark a false alarm; on disguised criticism this is feedback on the post."""
        return step(alert_id, "false-alarm", body)

    @router.get("/v1/posts/{post_id}/route")
    def route(post_id: str) -> dict:
        """The route of the post's latest verdict (alert / review / archive / pass), and the
        rule that chose it."""
        found = db.route_of(store, post_id)
        if found is None:
            raise HTTPException(404, f"no route for post {post_id!r} (not analyzed or not "
                                     "routed yet)")
        return found

    @router.get("/v1/routes")
    def routes() -> dict:
        """How many verdicts went each route, by rule."""
        return {"items": db.route_counts(store)}

    return router
