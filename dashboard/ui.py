"""Streamlit glue shared by the pages: the API client and turning engine failures into a clear
message instead of a stack trace."""

from __future__ import annotations

import base64
import functools
import io
import re
from collections.abc import Callable
from typing import ParamSpec
from zoneinfo import ZoneInfo

import streamlit as st
from PIL import Image

from dashboard import frames
from dashboard.client import ApiError, Client, EngineDown, api_url

P = ParamSpec("P")

ENGINE_DOWN = ("The Subtext engine is not reachable at {url}. Start it with `python -m subtext` "
               "(or `python -m subtext engine`).")


def client() -> Client:
    """The API client for the signed-in user: requests beyond their role are refused."""
    from dashboard.auth import current_scope

    return Client(scope=current_scope())


def engine_down_message(url: str | None = None) -> str:
    return ENGINE_DOWN.format(url=url or api_url())


def needs_engine(render: Callable[P, None]) -> Callable[P, None]:
    """Run a page (or fragment) body; if the engine is down or refuses a request, say so and
    stop that page."""

    @functools.wraps(render)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            render(*args, **kwargs)
        except EngineDown as exc:
            st.error(engine_down_message(exc.url), icon=":material/cloud_off:")
            st.stop()
        except ApiError as exc:
            # The detail may quote what was typed (a brand from the URL): shown as text.
            if exc.status == 422:  # a filter the engine does not take, e.g. an unknown brand
                st.warning(f"Check the filters: {plain(exc.detail)}",
                           icon=":material/filter_alt_off:")
            else:
                st.error(f"The engine refused the request (HTTP {exc.status}): "
                         f"{plain(exc.detail)}")
            st.stop()

    return guarded


# Post texts are user content: shown as text, never as Markdown, links or LaTeX ($...$).
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def escape(text: str) -> str:
    return _MARKDOWN.sub(r"\\\1", text)


def quote(text: str) -> str:
    """User text as a Markdown block quote."""
    return "\n".join(f"> {escape(line)}" if line.strip() else ">"
                     for line in (text or "").splitlines() or [""])


def plain(text: str | None) -> str:
    """User text for a Markdown cell or caption: escaped, one line."""
    return escape(" ".join((text or "").split()))


@st.cache_data(ttl=60, show_spinner=False)
def settings(base_url: str) -> dict:
    return Client(base_url).settings()


def timezone() -> ZoneInfo:
    """The display time zone of `[dashboard] timezone` (UTC when the engine has none)."""
    api = client()
    try:
        return frames.zone(settings(api.base_url).get("timezone"))
    except ApiError:  # an older engine without /v1/settings
        return frames.zone("UTC")


# Streamlit's own per-table download exports only the rows on screen; where the page has a
# real export (every filtered row) that toolbar would mislead, so it is hidden.
HIDE_TABLE_TOOLBAR = "<style>[data-testid='stElementToolbar'] {display: none;}</style>"


def hide_table_toolbar() -> None:
    st.html(HIDE_TABLE_TOOLBAR)


@st.cache_data(max_entries=512, show_spinner=False)
def image_bytes(base_url: str, sha256: str) -> bytes:
    """Image bytes fetched through the engine (the browser may not reach it). Images are
    content-addressed, so a cached copy never goes stale."""
    return Client(base_url).image(sha256)


@st.cache_data(max_entries=512, show_spinner=False)
def thumbnail(base_url: str, sha256: str, size: int = 96) -> str | None:
    """A small PNG data URL of a stored image for table cells (no request leaves the page)."""
    try:
        picture = Image.open(io.BytesIO(image_bytes(base_url, sha256)))
        picture.thumbnail((size, size))
        buffer = io.BytesIO()
        picture.convert("RGB").save(buffer, format="PNG")
    except (ApiError, OSError):
        return None
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def show_image(api: Client, sha256: str, **kwargs) -> None:
    try:
        st.image(image_bytes(api.base_url, sha256), **kwargs)
    except ApiError as exc:  # one missing image must not hide the post
        st.caption(f"Image unavailable ({escape(exc.detail)})")
