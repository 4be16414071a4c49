"""API routes behind the dashboard's "why" panel, Settings page and offline docs:

- GET /v1/settings: the active brands and queries, and the display time zone;
- GET /v1/insights/terms: for a filter (a chart bucket), its top posts by reach and the terms
  and hashtags that rose against the previous period of the same length, with sentiments;
- POST /v1/query/test: which recent posts a brand query matches, and why;
- GET /docs: Swagger UI from the fastapi-offline package's assets, so /docs works offline.
"""


import dataclasses
from pathlib import Path
from typing import Annotated

import fastapi_offline
from fastapi import APIRouter, HTTPException, Query
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import Field

from analysis import terms as term_stats
from collectors.query import Not, QueryError, Term, normalize, parse
from data import terms as term_reads
from subtext.engine import Engine

# Swagger UI 5 (OpenAPI 3.1, which FastAPI writes), as bundled by the fastapi-offline package.
DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
DOCS_FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
              "favicon.png": "image/png"}


def router(engine: Engine) -> APIRouter:
    """The routes over `engine` (built when the app is, so the request models can extend the
    app's Filter without an import cycle)."""
    from subtext.api import Filter, Strict

    class TermsQuery(Filter):
        top: int = Field(15, ge=1, le=50, description="terms and hashtags to return")
        posts: int = Field(5, ge=0, le=20, description="top posts by reach to return")

    class QueryTest(Strict):
        query: str = Field(max_length=2000)
        limit: int = Field(500, ge=1, le=5000, description="recent posts to test against")

    api = APIRouter()
    store = engine.store

    @api.get("/v1/settings")
    def settings() -> dict:
        return {
            "timezone": engine.config.dashboard_timezone,
            "brands": [{"name": b.name, "query": b.query, "competitors": list(b.competitors),
                        "languages": list(b.languages)} for b in engine.config.brands],
        }

    @api.get("/v1/insights/terms")
    def insights(query: Annotated[TermsQuery, Query()]) -> dict:
        if query.since is None or query.until is None or query.until <= query.since:
            raise HTTPException(422, "since and until are required, until after since: the "
                                     "terms rise against the period of the same length before")
        current = query.to_filter()
        length = query.until - query.since
        previous = dataclasses.replace(current, since=query.since - length, until=query.since)
        skip = brand_words(engine)
        term_stats.add_words(skip)
        # Kept until the next write (data/cache.py): counting the terms of two periods'
        # posts is the panel's cost, and a chart's buckets are clicked again and again.
        return store.results.get(
            ("insights", current, previous, tuple(skip), query.top, query.posts),
            store.generation, lambda: rising_terms(current, previous, skip, query))

    def rising_terms(current, previous, skip: list[str], query: TermsQuery) -> dict:
        rows, before = term_reads.texts(store, current), term_reads.texts(store, previous)
        found = term_stats.rising(rows, before, skip, top=query.top)
        return {
            "posts": len(rows), "previous_posts": len(before),
            "previous": {"since": previous.since, "until": previous.until},
            "terms": [s.to_dict() for s in found if s.kind == "word"],
            "hashtags": [s.to_dict() for s in found if s.kind == "hashtag"],
            "top_posts": term_reads.top_posts(store, current, query.posts),
        }

    @api.post("/v1/query/test")
    def test_query(body: QueryTest) -> dict:
        try:
            parsed = parse(body.query)
        except QueryError as exc:
            raise HTTPException(422, {"reason": exc.reason, "position": exc.position + 1,
                                      "message": str(exc)}) from None
        recent = term_reads.recent_posts(store, body.limit)
        matched = []
        for post in recent:
            if parsed.matches(post["text"] or "", post["author"]):
                matched.append({**post, "why": parsed.explain(post["text"] or "",
                                                              post["author"])})
        return {"query": body.query, "checked": len(recent), "matched": len(matched),
                "server_side": parsed.boolean(), "items": matched[:100]}

    @api.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="Subtext engine API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon.png",
            swagger_ui_parameters={"validatorUrl": None})

    @api.get("/docs-assets/{name}", include_in_schema=False)
    def docs_asset(name: str) -> FileResponse:
        if name not in DOCS_FILES:
            raise HTTPException(404, f"no docs asset {name!r}")
        return FileResponse(DOCS_ASSETS / name, media_type=DOCS_FILES[name])

    return api


def brand_words(engine: Engine) -> list[str]:
    """Every brand query's terms, bare and normalized: the words that explain nothing."""
    words = []
    for brand in engine.config.brands:
        words.append(normalize(brand.name))
        words += [normalize(t.bare) for t in _all_terms(parse(brand.query).root)]
    return list(dict.fromkeys(words))


def _all_terms(node) -> list[Term]:
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return []  # excluded words never appear in a brand's posts
    return [t for child in node.children for t in _all_terms(child)]

