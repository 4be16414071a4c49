"""Error responses that can always be sent: short, valid JSON, never the client's input at length.

FastAPI's own 422 echoes each bad input in full (a 100 MB body came back as a 100 MB error) and
fails to serialise NaN or a lone surrogate (a 500 instead of the 422). Values the database
cannot hold (out of range, not UTF-8) are the client's mistake too: a 422, not a 500.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import duckdb
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

log = logging.getLogger("subtext.api")

MAX_MSG = 300
MAX_INPUT = 80
MAX_ERRORS = 50
# Raised by DuckDB or Python for a value it cannot store or compare: bad input, not a bug.
INPUT_ERRORS = (duckdb.ConversionException, duckdb.OutOfRangeException,
                duckdb.InvalidInputException, OverflowError, UnicodeError)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    for kind in INPUT_ERRORS:
        app.add_exception_handler(kind, _input_error)


def clean_errors(errors: list[dict]) -> list[dict]:
    """Pydantic errors as JSON-safe, bounded dicts: type, loc, msg and a short input."""
    out = [{"type": str(e.get("type", "")), "loc": [_loc(p) for p in e.get("loc", ())],
            "msg": safe_text(str(e.get("msg", "")), MAX_MSG),
            "input": short_input(e.get("input"))} for e in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        out.append({"type": "too_many_errors", "loc": [], "input": None,
                    "msg": f"{len(errors) - MAX_ERRORS} more errors not shown"})
    return out


def safe_text(text: str, limit: int = MAX_INPUT) -> str:
    """`text` cut to `limit` characters, with lone surrogates made encodable."""
    cut = text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"
    return cut.encode("utf-8", "replace").decode("utf-8")


def short_input(value: Any) -> Any:
    if value is None or isinstance(value, bool | int):
        return value if not isinstance(value, int) or abs(value) < 2 ** 53 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return f"an object with {len(value)} keys"
    return type(value).__name__


def _loc(part: Any) -> str | int:
    return part if isinstance(part, int) else safe_text(str(part))


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": clean_errors(list(exc.errors()))})


async def _input_error(request: Request, exc: Exception) -> JSONResponse:
    log.info("%s %s refused: %s", request.method, request.url.path, safe_text(str(exc), 200))
    return JSONResponse(status_code=422, content={
        "detail": f"a value is out of range or not valid text: {safe_text(str(exc), MAX_MSG)}"})
