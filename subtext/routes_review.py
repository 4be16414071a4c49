"""The review loop's API: record corrections, list/export them, and the review queue.

A correction counts at once everywhere (data/corrections.py); one that makes a post sarcastic
raises its disguised-criticism alert as a human verdict would, one that contradicts an alert
closes it.
"""

from __future__ import annotations

import io
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Literal

import pyarrow.csv as pa_csv
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from pydantic import Field, field_validator, model_validator

from alerts import delivery, rules
from analysis.verdict import EMOTIONS
from collectors.post import utc_naive
from data import alerts as alerts_db
from data import feedback, queries
from subtext import errors, exports
from subtext.api import Filter, Label, Strict
from subtext.engine import Engine

Emotion = Literal[EMOTIONS]  # type: ignore[valid-type]


class FeedbackIn(Strict):
    post_id: str = Field(max_length=600)
    label: Label | None = None
    sarcasm: bool | None = None
    emotion: Emotion | None = None
    brand: str | None = Field(None, max_length=200, description="the brand the post is about")
    irrelevant: bool | None = Field(None, description="not about our brand: spam, off-topic")
    note: str | None = Field(None, max_length=2000)
    reviewer: str | None = Field(None, max_length=100)

    @model_validator(mode="after")
    def _something(self) -> FeedbackIn:
        if all(getattr(self, name) is None for name in feedback.FIELDS):
            raise ValueError("set at least one of " + ", ".join(feedback.FIELDS))
        return self

    def correction(self) -> feedback.Correction:
        return feedback.Correction(**self.model_dump(include=set(feedback.FIELDS)))


class FeedbackQuery(Strict):
    post_id: str | None = None
    reviewer: str | None = None
    field: Literal["label", "sarcasm", "emotion", "brand", "irrelevant",
                   "false_alarm"] | None = None
    since: datetime | None = None
    until: datetime | None = None
    format: Literal["json", "csv"] = "json"
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)

    @field_validator("since", "until")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return utc_naive(value) if value else None

    def to_filter(self) -> feedback.FeedbackFilter:
        return feedback.FeedbackFilter(post_id=self.post_id, reviewer=self.reviewer,
                                       field=self.field, since=self.since, until=self.until)


class QueueQuery(Filter):
    limit: int = Field(20, ge=1, le=200)
    offset: int = Field(0, ge=0)


def router(engine: Engine) -> APIRouter:
    api = APIRouter(tags=["review"])
    store = engine.store

    @api.post("/v1/feedback", status_code=201)
    def add_feedback(body: FeedbackIn) -> dict:
        """Record a correction: one feedback row per field set. Answers the post as every view
        now shows it."""
        try:
            recorded = feedback.record(store, body.post_id, body.correction(), body.reviewer,
                                       body.note)
        except feedback.BadCorrection as exc:
            raise HTTPException(422, str(exc)) from None
        if recorded is None:
            raise HTTPException(404, f"no post {errors.safe_text(body.post_id)!r}")
        post = queries.get_post(store, body.post_id)
        raised = _alert_if_sarcastic(engine, post) if post else 0
        return {"id": recorded.ids[0], "ids": recorded.ids,
                "closed_alerts": recorded.closed_alerts, "raised_alerts": raised, "post": post}

    @api.get("/v1/feedback", response_model=None)
    def list_feedback(query: Annotated[FeedbackQuery, Query()]) -> dict | Response:
        """Corrections, newest first (post, field, old value, new value, who, when); as CSV,
        all that match, oldest first."""
        if query.format == "csv":
            sink = io.BytesIO()
            pa_csv.write_csv(exports.formula_safe(
                feedback.feedback_table(store, query.to_filter())), sink)
            stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
            return Response(sink.getvalue(), media_type="text/csv; charset=utf-8", headers={
                "Content-Disposition": f'attachment; filename="subtext-feedback-{stamp}.csv"'})
        return feedback.list_feedback(store, query.to_filter(), query.limit, query.offset)

    @api.get("/v1/review/queue")
    def review_queue(query: Annotated[QueueQuery, Query()]) -> dict:
        """Posts to review: alerts marked false alarm, then verdicts whose modalities
        disagree or whose confidence is low, least sure first."""
        return feedback.review_queue(store, query.to_filter(), query.limit, query.offset)

    return api


def _alert_if_sarcastic(engine: Engine, post: dict) -> int:
    """A post reviewed as sarcastic gets its disguised-criticism alert (once per post and
    brand, as for the model's verdicts)."""
    if not post["reviewed"] or not post["sarcasm"] or post["model_sarcasm"] or post["irrelevant"]:
        return 0
    decision = rules.route({**post, "post_id": post["id"]}, engine.config.alerts.settings)
    if decision.alert is None:
        return 0
    evaluation = alerts_db.Evaluation(routes=[], new_alerts=[asdict(decision.alert)],
                                      updates=[], ended=[])
    return len(alerts_db.save_evaluation(engine.store, evaluation,
                                         delivery.router(engine.channels)))
