"""`POST /v1/ingest`: up to 1,000 posts per request, each validated on its own (a bad one is a
per-row error, the others are stored).

The route reads the raw body instead of letting FastAPI build a model of it: orjson parses it
once and collectors/intake.py checks the rows (PostIn decides whatever is unusual), which is
what lets ingest reach 20,000 posts/s on two cores. The OpenAPI schema still documents the
body as IngestIn, and a body that is not `{"posts": [objects]}` gets IngestIn's own 422.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, NoReturn

import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema
from starlette.concurrency import run_in_threadpool

from collectors.intake import validate_rows
from collectors.post import PostIn
from data import bulk
from subtext import errors, jobs
from subtext.engine import Engine

MAX_POSTS = 1000

# The schema documents the rows as PostIn; they are validated one by one (collectors/intake).
PostRow = Annotated[dict[str, Any], WithJsonSchema(PostIn.model_json_schema())]


class IngestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    posts: list[PostRow] = Field(max_length=MAX_POSTS)


BODY_SCHEMA = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": IngestIn.model_json_schema()}}}}


def ingest_router(engine: Engine) -> APIRouter:
    router = APIRouter(tags=["ingest"])
    bulk.warm()

    @router.post("/v1/ingest", openapi_extra=BODY_SCHEMA, responses={422: {
        "description": "a body that is not {\"posts\": [objects]}, or no post was good: "
                       "the reasons, each with its location (body, posts, index, field)"}})
    async def ingest(request: Request) -> dict:
        raw = await request.body()  # the access guard caps its size (a 413)
        return await run_in_threadpool(ingest_body, engine, raw,
                                       request.headers.get("content-type"))

    return router


def ingest_body(engine: Engine, raw: bytes, content_type: str | None) -> dict:
    rows, fast = parse_body(raw, content_type)
    brands = [b.name for b in engine.config.brands]
    posts, failed = [], []
    for index, result in validate_rows(rows, brands, fast=fast):
        if isinstance(result, ValidationError):
            failed.extend({**error, "loc": ["body", "posts", index, *error["loc"]]}
                          for error in errors.clean_errors(result.errors()))
        else:
            posts.append(result)
    if failed and not posts:  # nothing to store: the request as a whole is refused
        raise HTTPException(422, failed)
    saved = jobs.ingest(engine.store, posts, engine.config.brands)
    return {"received": len(rows), "new": saved.new, "updated": saved.updated,
            "failed": len({e["loc"][2] for e in failed}), "errors": failed}


def parse_body(raw: bytes, content_type: str | None) -> tuple[list, bool]:
    """The rows of an ingest body, and whether they came from orjson (their strings are
    valid Unicode). Anything but {"posts": [objects]} is a RequestValidationError."""
    if content_type is not None and not _is_json(content_type):
        _refuse(raw)  # as FastAPI does: the body is validated as bytes, which fails
    try:
        body, fast = orjson.loads(raw), True
    except orjson.JSONDecodeError:
        try:  # NaN, a lone surrogate: the standard parser reads them, PostIn names the field
            body, fast = json.loads(raw), False
        except ValueError as exc:  # not JSON at all (nor UTF-8)
            position = exc.pos if isinstance(exc, json.JSONDecodeError) else 0
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
            raise RequestValidationError([{
                "type": "json_invalid", "loc": ("body", position), "msg": "JSON decode error",
                "input": {}, "ctx": {"error": reason}}]) from None
    if (type(body) is dict and len(body) == 1 and type(rows := body.get("posts")) is list
            and len(rows) <= MAX_POSTS and all(type(row) is dict for row in rows)):
        return rows, fast
    _refuse(body)


def _refuse(body: Any) -> NoReturn:
    """IngestIn's own errors for a body that is not {"posts": [objects]}."""
    try:
        IngestIn.model_validate(body)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    raise RequestValidationError([{"type": "model_type", "loc": ("body",),
                                   "msg": "Input should be an object with posts", "input": None}])


def _is_json(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/")
                                           and kind.endswith("+json"))
