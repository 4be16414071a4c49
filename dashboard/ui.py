"""Streamlit glue shared by the pages: the API client and turning engine failures into a clear
message instead of a stack trace."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import ParamSpec

import streamlit as st

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
            st.error(f"The engine refused the request (HTTP {exc.status}): {exc.detail}")
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
