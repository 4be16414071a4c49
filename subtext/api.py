"""The engine's HTTP API (FastAPI). Its OpenAPI schema (/docs, /openapi.json) is the contract the
dashboard and scripts use; they never open the database.

Every request model forbids unknown fields, so a typo is a 422 naming the field, not a silently
ignored filter.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from fastapi import Depends, FastAPI, Form, HTTPException, Query, UploadFile
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from analysis.verdict import LABELS, Item
from collectors.post import check_text, utc_naive
from data import queries
from data.images import MAX_BYTES, check_image_file
from subtext import __version__, access, errors, exports, known_brands, routes_insights
from subtext.engine import Engine
from subtext.routes_alerts import alerts_router
from subtext.routes_ingest import ingest_router
from subtext.routes_tokens import router as tokens_router

Label = Literal["positive", "negative", "neutral", "sarcastic"]
Emotion = Literal["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]
assert set(Label.__args__) == set(LABELS)


MAX_OFFSET = 10 ** 9  # deeper than any listing; beyond it DuckDB's OFFSET would overflow
MAX_ID = 2 ** 63 - 1


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _unicode(cls, value: Any) -> Any:
        return check_text(value)


class Filter(Strict):
    brand: str | None = None
    since: datetime | None = Field(None, description="inclusive; ISO 8601, UTC if no zone")
    until: datetime | None = Field(None, description="exclusive; ISO 8601, UTC if no zone")
    source: str | None = None
    lang: str | None = None
    label: Label | None = None
    sarcasm: bool | None = None
    min_confidence: float | None = Field(None, ge=0, le=1)
    max_confidence: float | None = Field(None, ge=0, le=1)
    emotion: Emotion | None = None
    q: str | None = Field(None, max_length=200, description="text contains (case-insensitive)")
    reviewed: bool | None = Field(None, description="corrected by a reviewer (or not)")

    @field_validator("since", "until")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return utc_naive(value) if value else None

    def to_filter(self) -> queries.PostFilter:
        return queries.PostFilter(**self.model_dump(include=set(Filter.model_fields)))


class PostsQuery(Filter):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    cursor: str | None = Field(None, max_length=1200, description="a page's next_cursor: "
                               "the page after it (fast at any depth, unlike offset)")

    @field_validator("cursor")
    @classmethod
    def _cursor(cls, value: str | None) -> str | None:
        if value is not None:
            queries.decode_cursor(value)  # ValueError: a 422 naming the field
        return value


class TrendsQuery(Filter):
    bucket: Literal["hour", "day", "week"] = "day"
    by: Literal["label", "emotion", "sentiment", "brand", "source", "lang"] = "label"


class ExportQuery(Filter):
    format: Literal["csv", "parquet", "xlsx"] = "csv"


class AnalyzeForm(Strict):
    text: str = Field("", max_length=100_000)
    lang: str | None = None
    image: UploadFile | None = None


def create_app(engine: Engine, schedule: bool = True) -> FastAPI:
    """The API over `engine`. With `schedule`, the app's lifespan starts and stops the
    engine's jobs; tests pass False and drive the jobs themselves."""

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        if schedule:
            engine.start()
        try:
            yield
        finally:
            if schedule:
                engine.stop()

    # /docs is served from local assets (routes_insights): FastAPI's own loads them from a CDN.
    app = FastAPI(title="Subtext engine API", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  dependencies=[Depends(known_brands.check(engine))])  # ?brand= is known
    app.include_router(alerts_router(engine))  # /v1/alerts..., /v1/routes
    store = engine.store
    app.add_middleware(access.Guard, policy=access.Policy(engine.config, store))
    errors.install(app)
    app.include_router(access.router(store))
    app.include_router(tokens_router(store))  # /v1/admin/tokens: admin tokens only

    @app.get("/health")
    def health() -> dict:
        runner = engine.runner.status()  # a Ray cluster out of reach: degraded, with why
        return {
            "status": "ok" if runner["ok"] else "degraded",
            "version": __version__,
            "analyzer": engine.analyzer_id,
            "runner": runner,
            "uptime_s": round(time.monotonic() - engine.started, 1),
            "demo": engine.config.is_demo,
            "pending": store.count_pending(engine.analyzer_id),
            "counts": queries.counts(store),
            "brands": [b.name for b in engine.config.brands],
            "sources": engine.source_status(),
            "jobs": engine.job_status(),
        }

    @app.get("/v1/posts")
    def posts(query: Annotated[PostsQuery, Query()]) -> dict:
        return queries.list_posts(store, query.to_filter(), query.limit, query.offset,
                                  query.cursor)

    @app.get("/v1/posts/{post_id}")
    def post(post_id: str) -> dict:
        found = queries.get_post(store, post_id)
        if found is None:
            raise HTTPException(404, f"no post {errors.safe_text(post_id)!r}")
        return found

    @app.get("/v1/trends")
    def trends(query: Annotated[TrendsQuery, Query()]) -> dict:
        items = queries.trends(store, query.to_filter(), query.bucket, query.by)
        return {"bucket": query.bucket, "by": query.by, "items": items}

    @app.get("/v1/export")
    def export(query: Annotated[ExportQuery, Query()]) -> StreamingResponse:
        reader = queries.export_reader(store, query.to_filter())
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        if query.format == "csv":
            body, media = _csv_stream(reader), "text/csv; charset=utf-8"
        elif query.format == "xlsx":
            body, media = exports.xlsx_stream(reader), exports.XLSX
        else:
            body, media = _parquet_stream(reader), "application/vnd.apache.parquet"
        return StreamingResponse(body, media_type=media, headers={
            "Content-Disposition": f'attachment; filename="subtext-{stamp}.{query.format}"'})

    @app.post("/v1/analyze")
    def analyze(form: Annotated[AnalyzeForm, Form()]) -> dict:
        return _analyze_one(engine, form)


    @app.get("/v1/runs")
    def runs(limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict:
        return {"items": queries.list_runs(store, limit)}

    @app.get("/v1/images/{sha256}")
    def image(sha256: str) -> FileResponse:
        relative = queries.image_path(store, sha256)
        if relative is None:
            raise HTTPException(404, f"no stored image {errors.safe_text(sha256)}")
        return FileResponse(store.data_dir / relative, media_type="image/png")

    from subtext import routes_review  # it builds on this module's request models

    app.include_router(routes_review.router(engine))
    app.include_router(routes_insights.router(engine))
    app.include_router(ingest_router(engine))
    return app


def _analyze_one(engine: Engine, form: AnalyzeForm) -> dict:
    """Analyze one uploaded post without storing it. A bad image is reported in the evidence
    and the text is still analyzed; with neither text nor an image there is nothing to
    analyze (a 422)."""
    has_image = form.image is not None and bool(form.image.filename or form.image.size)
    if not form.text.strip() and not has_image:
        raise HTTPException(422, "nothing to analyze: send a non-empty `text` or an `image`")
    notes = []
    with tempfile.TemporaryDirectory() as tmp:
        path = None
        if form.image is not None:
            path = Path(tmp) / "upload"
            path.write_bytes(form.image.file.read(MAX_BYTES + 1))
            if reason := check_image_file(path):
                notes.append(f"image rejected: {reason}")
                path = None
        if not form.text.strip() and path is None:
            notes.append("no text and no usable image")
        verdict = engine.analyzer.analyze([Item(text=form.text, image=path, lang=form.lang)])[0]
    verdict.evidence.setdefault("notes", []).extend(notes)
    return verdict.to_dict()


def _csv_stream(reader: pa.RecordBatchReader) -> Iterator[bytes]:
    yield exports.BOM  # so Excel reads the UTF-8 (Chinese) text instead of garbling it
    header = True
    for batch in _batches(reader):
        sink = io.BytesIO()
        pa_csv.write_csv(exports.formula_safe(exports.iso_text(batch)), sink,
                         pa_csv.WriteOptions(include_header=header))
        header = False
        yield sink.getvalue()
    if header:  # no rows: still a valid CSV with its header
        sink = io.BytesIO()
        pa_csv.write_csv(pa.Table.from_batches([], schema=exports.iso_schema(reader.schema)),
                         sink)
        yield sink.getvalue()


def _parquet_stream(reader: pa.RecordBatchReader) -> Iterator[bytes]:
    sink = _Chunks()
    with pq.ParquetWriter(sink, exports.utc_schema(reader.schema)) as writer:
        for batch in _batches(reader):
            writer.write_batch(exports.utc(batch))
            yield sink.take()
    yield sink.take()


def _batches(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            yield reader.read_next_batch()
        except StopIteration:
            return


class _Chunks(io.RawIOBase):
    """A write-only file that hands over what was written so far, for streaming Parquet."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._written = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def take(self) -> bytes:
        out, self._parts = b"".join(self._parts), []
        return out
