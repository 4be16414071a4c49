"""The brand filter's check, shared by every route that takes `?brand=`: a brand that is
neither configured nor on any stored post is a typo, so it is answered with a 422 naming the
configured brands instead of an empty result that reads as "nobody talks about it".
Matching ignores case (`brand=nimbus` is Nimbus), as the filter itself does.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from data import queries
from subtext import errors
from subtext.engine import Engine


def check(engine: Engine):
    """A FastAPI dependency over `engine`, for the app's `dependencies`."""

    def known_brand(request: Request) -> None:
        for brand in request.query_params.getlist("brand"):
            if not _known(engine, brand):
                raise RequestValidationError([_error(engine, brand)])

    return known_brand


def _known(engine: Engine, brand: str) -> bool:
    configured = {b.name.lower() for b in engine.config.brands}
    # The configured ones need no read; only a stranger costs a lookup.
    return brand.lower() in configured or queries.stored_brand(engine.store, brand)


def _error(engine: Engine, brand: str) -> dict:
    names = ", ".join(b.name for b in engine.config.brands) or "none"
    return {"type": "unknown_brand", "loc": ("query", "brand"), "input": brand,
            "msg": f"unknown brand {errors.safe_text(brand)!r}; configured brands: {names}"}
