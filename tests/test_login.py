"""The dashboard's login against a real engine API on 127.0.0.1 (Streamlit's AppTest runs the
app in-process): the form, wrong and right passwords, expiry, roles, the dashboard's own token,
and the refusal to show anything beyond loopback without users."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.auth import SESSION_KEY
from dashboard.client import ApiError, Client
from subtext import access
from subtext.api import create_app
from subtext.config import load
from subtext.engine import Engine
from tests.test_dashboard import APP, serve, texts
from tests.test_dashboard import load as collect_and_analyze


@pytest.fixture
def users_api(engine, monkeypatch):
    collect_and_analyze(engine)
    access.add_user(engine.store, "ann", "analyst", "correct horse")
    access.add_user(engine.store, "vic", "viewer", "battery staple")
    with serve(create_app(engine, schedule=False)) as url:
        monkeypatch.setenv("SUBTEXT_API_URL", url)
        yield url


def sign_in(name: str, password: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert "Sign in to Subtext" in [t.value for t in at.title]
    at.text_input[0].input(name)
    at.text_input[1].input(password)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_users_must_sign_in_and_a_wrong_password_is_refused(users_api):
    at = sign_in("ann", "wrong horse")
    assert "Wrong user name or password." in [e.value for e in at.error]
    assert SESSION_KEY not in at.session_state
    assert not at.metric  # no page was shown


def test_a_right_password_shows_the_pages_until_the_session_expires(users_api):
    at = sign_in("ann", "correct horse")
    assert "Signed in as **ann** (analyst)" in texts(at)
    assert "Sign in to Subtext" not in [t.value for t in at.title]
    session = dict(at.session_state[SESSION_KEY])
    assert session["scope"] == "write" and session["expires"] > time.time() + 3600
    for expires, login_shown in ((time.time() + 60, False), (time.time() - 1, True)):
        again = AppTest.from_file(str(APP), default_timeout=30)
        again.session_state[SESSION_KEY] = {**session, "expires": expires}
        again.run()
        assert ("Sign in to Subtext" in [t.value for t in again.title]) == login_shown


def test_a_viewer_cannot_acknowledge(users_api, engine):
    open_alerts = Client().alerts()["total"]
    alert_id = Client().alerts()["items"][0]["id"]
    with pytest.raises(ApiError) as refused:
        Client(scope="read").acknowledge(alert_id)
    assert refused.value.status == 403 and "write" in refused.value.detail
    assert Client().alerts()["total"] == open_alerts
    Client(scope="write").acknowledge(alert_id)
    assert Client().alerts()["total"] == open_alerts - 1


def test_open_on_loopback_without_users(engine, monkeypatch):
    with serve(create_app(engine, schedule=False)) as url:
        monkeypatch.setenv("SUBTEXT_API_URL", url)
        at = AppTest.from_file(str(APP), default_timeout=30).run()
        assert "Sign in to Subtext" not in [t.value for t in at.title] and not at.exception
        monkeypatch.setenv("SUBTEXT_DASHBOARD_HOST", "0.0.0.0")
        at = AppTest.from_file(str(APP), default_timeout=30).run()
        assert any("no user exists" in e.value for e in at.error)
        assert not at.metric


def test_the_dashboard_calls_the_api_with_its_token(config_file, monkeypatch):
    monkeypatch.delenv("SUBTEXT_DATA_DIR", raising=False)
    token = access.new_token()[0]
    monkeypatch.setenv(access.INTERNAL_TOKEN_ENV, token)
    path = config_file.with_name("token.toml")
    path.write_text(config_file.read_text() + "\n[api]\nrequire_token = true\n")
    engine = Engine(load(path))
    try:
        with serve(create_app(engine, schedule=False)) as url:
            monkeypatch.setenv("SUBTEXT_API_URL", url)
            with pytest.raises(ApiError) as refused:
                Client().posts()
            assert refused.value.status == 401
            monkeypatch.setenv("SUBTEXT_API_TOKEN", token)
            assert Client().posts()["total"] == 0
            at = AppTest.from_file(str(APP), default_timeout=30).run()
            assert not at.exception and not at.error, [e.value for e in at.error]
    finally:
        engine.stop()
