"""The dashboard's one client of the engine's HTTP API. The dashboard never opens the database:
DuckDB allows a single process per file, and that process is the engine."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote as quote_path

import httpx

from subtext.scopes import allows, needed_scope

DEFAULT_URL = "http://127.0.0.1:8765"
# Short: a page must fail fast with a clear message rather than hang on a dead engine.
TIMEOUT = httpx.Timeout(5.0, connect=2.0)
# Exports stream every matching post, so they may legitimately take longer.
EXPORT_TIMEOUT = httpx.Timeout(120.0, connect=2.0)
# Term counting reads every post of a bucket (and segments the Chinese ones; the segmenter's
# dictionary loads on the first call): give it longer than a plain listing.
INSIGHTS_TIMEOUT = httpx.Timeout(30.0, connect=2.0)


class EngineDown(Exception):
    """The engine did not answer (not started, wrong URL, or too slow)."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"engine not reachable at {url}: {reason}")
        self.url = url


class ApiError(Exception):
    """The engine answered with a non-2xx status; `detail` is its explanation."""

    def __init__(self, status: int, detail: str):
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


def api_token() -> str | None:
    """The dashboard's own API token (given by `up`, or set by the user)."""
    return os.environ.get("SUBTEXT_API_TOKEN") or None


def api_url() -> str:
    return os.environ.get("SUBTEXT_API_URL", DEFAULT_URL).rstrip("/")


def query(**params: Any) -> dict:
    """Query parameters without the unset ones (None and '' mean no filter)."""
    return {k: _param(v) for k, v in params.items() if v is not None and v != ""}


def _param(value: Any) -> Any:
    if isinstance(value, bool):  # FastAPI reads 'true'/'false', not Python's 'True'
        return str(value).lower()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


class Client:
    def __init__(self, base_url: str | None = None, token: str | None = None,
                 scope: str | None = None):
        """`scope`: the signed-in user's (their role's); requests needing more are refused
        here, before they reach the engine with the dashboard's own, stronger token."""
        self.base_url = (base_url or api_url()).rstrip("/")
        self.token = token or api_token()
        self.scope = scope

    # -- endpoints -----------------------------------------------------------------------

    def health(self) -> dict:
        return self._json("GET", "/health")

    def trends(self, **params: Any) -> list[dict]:
        return self._json("GET", "/v1/trends", params=query(**params))["items"]

    def posts(self, **params: Any) -> dict:
        return self._json("GET", "/v1/posts", params=query(**params))

    def export(self, fmt: str, **params: Any) -> bytes:
        return self._request("GET", "/v1/export", params=query(format=fmt, **params),
                             timeout=EXPORT_TIMEOUT).content

    def settings(self) -> dict:
        return self._json("GET", "/v1/settings")

    def insights(self, **params: Any) -> dict:
        return self._json("GET", "/v1/insights/terms", params=query(**params),
                          timeout=INSIGHTS_TIMEOUT)

    def post(self, post_id: str) -> dict:
        return self._json("GET", f"/v1/posts/{quote_path(post_id, safe='')}")

    def test_query(self, text: str, limit: int = 500) -> dict:
        return self._json("POST", "/v1/query/test", json={"query": text, "limit": limit})

    def alerts(self, status: str = "open", limit: int = 50, offset: int = 0,
               **filters: str | None) -> dict:
        """filters: brand, kind, severity."""
        return self._json("GET", "/v1/alerts",
                          params=query(status=status, limit=limit, offset=offset, **filters))

    def acknowledge(self, alert_id: int, by: str | None = None) -> dict:
        return self._json("POST", f"/v1/alerts/{alert_id}/ack", json=query(by=by))

    def alert_step(self, alert_id: int, action: str, by: str | None = None,
                   note: str | None = None) -> dict:
        """action: ack, resolve or false-alarm."""
        return self._json("POST", f"/v1/alerts/{alert_id}/{action}", json=query(by=by, note=note))
    def review_queue(self, limit: int = 20, **params: Any) -> dict:
        return self._json("GET", "/v1/review/queue", params=query(limit=limit, **params))

    def correct(self, post_id: str, **fields: Any) -> dict:
        """Record a reviewer's correction (label, sarcasm, emotion, brand, irrelevant...)."""
        body = {k: v for k, v in fields.items() if v is not None}
        return self._json("POST", "/v1/feedback", json={"post_id": post_id, **body})

    def feedback(self, **params: Any) -> dict:
        return self._json("GET", "/v1/feedback", params=query(**params))

    def runs(self, limit: int = 50) -> list[dict]:
        return self._json("GET", "/v1/runs", params={"limit": limit})["items"]

    def image(self, sha256: str) -> bytes:
        return self._request("GET", f"/v1/images/{sha256}").content

    def auth_status(self) -> dict:
        return self._json("GET", "/v1/auth/status")

    def login(self, name: str, password: str, client: str | None = None) -> dict:
        """client: the browser's address, counted against the failed sign-in limit."""
        return self._json("POST", "/v1/auth/login",
                          json=query(name=name, password=password, client=client))

    # -- transport -----------------------------------------------------------------------

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    def _request(self, method: str, path: str, timeout: httpx.Timeout = TIMEOUT,
                 **kwargs: Any) -> httpx.Response:
        needed = needed_scope(method, path)
        if self.scope is not None and not allows(self.scope, needed):
            raise ApiError(403, f"your role may not do this (it needs the {needed} scope)")
        if self.token:
            kwargs["headers"] = {**kwargs.get("headers", {}),
                                 "Authorization": f"Bearer {self.token}"}
        try:
            response = httpx.request(method, self.base_url + path, timeout=timeout, **kwargs)
        except httpx.TransportError as exc:  # refused, unresolvable, timed out
            raise EngineDown(self.base_url, f"{type(exc).__name__}: {exc}") from None
        if not response.is_success:
            raise ApiError(response.status_code, _detail(response))
        return response


def _detail(response: httpx.Response) -> str:
    """The API's explanation: FastAPI's `detail`, a 422 flattened to 'field: message'."""
    try:
        body = response.json()
    except ValueError:
        return response.text or response.reason_phrase
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):  # validation errors
        return "; ".join(f"{'.'.join(str(p) for p in e.get('loc', [])[1:])}: {e.get('msg')}"
                         for e in detail)
    if isinstance(detail, dict) and "message" in detail:  # e.g. a query error's position
        return str(detail["message"])
    return str(detail)
