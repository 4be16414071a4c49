"""The dashboard's login. Users and their hashed passwords live in the engine; the dashboard
asks it to check a login (with its own token) and keeps the signed-in user in the Streamlit
session until it expires.

With no users configured, a dashboard that listens on loopback only stays open (a single-user
machine); one that listens beyond loopback refuses to show anything until a user exists.
"""

from __future__ import annotations

import os
import time

import streamlit as st

from dashboard.client import ApiError, Client, EngineDown
from subtext.scopes import is_loopback

SESSION_KEY = "subtext_user"


def session_minutes() -> int:
    return int(os.environ.get("SUBTEXT_SESSION_MINUTES", "480"))


def current_user() -> dict | None:
    user = st.session_state.get(SESSION_KEY)
    if user and user["expires"] > time.time():
        return user
    st.session_state.pop(SESSION_KEY, None)
    return None


def current_scope() -> str | None:
    """The signed-in user's scope; None when the dashboard is open (no users)."""
    user = current_user()
    return user["scope"] if user else None


def gate() -> None:
    """Before any page: stop with a login form while a login is needed and missing."""
    if user := current_user():
        with st.sidebar:
            st.caption(f"Signed in as **{user['name']}** ({user['role']})")
            if st.button("Sign out", icon=":material/logout:"):
                st.session_state.pop(SESSION_KEY, None)
                st.rerun()
        return
    exposed = not is_loopback(os.environ.get("SUBTEXT_DASHBOARD_HOST", "127.0.0.1"))
    try:
        users = Client().auth_status()["users"]
    except (EngineDown, ApiError):
        if not exposed:
            return  # the pages say what is wrong with the engine
        st.error("The engine cannot confirm who may sign in, so nothing is shown.")
        st.stop()
    if users == 0:
        if exposed:
            st.error("This dashboard listens beyond loopback but no user exists, so it shows "
                     "nothing. Create one: `python -m subtext users add NAME --role admin`.")
            st.stop()
        return
    _login_form()
    st.stop()


def _login_form() -> None:
    st.title("Sign in to Subtext")
    with st.form("login"):
        name = st.text_input("User name")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in")
    if not submitted:
        return
    try:
        user = Client().login(name.strip(), password, client=_browser_address())
    except ApiError as exc:
        if exc.status in (401, 422):
            st.error("Wrong user name or password.")
        elif exc.status == 429:  # the failed sign-in limit: it says when to try again
            st.error(f"{exc.detail.capitalize()}.", icon=":material/timer:")
        else:
            st.error(f"The engine refused the login (HTTP {exc.status}): {exc.detail}")
        return
    except EngineDown:
        st.error("The engine is not reachable, so nobody can sign in right now.")
        return
    st.session_state[SESSION_KEY] = {**user, "expires": time.time() + 60 * session_minutes()}
    st.rerun()


def _browser_address() -> str | None:
    """The browser's address, for the failed sign-in limit; None on localhost (the engine
    then counts the dashboard's own)."""
    address = st.context.ip_address
    return address if isinstance(address, str) else None  # AppTest has a stand-in object
