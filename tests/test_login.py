"""The dashboard's login against a real engine API on 127.0.0.1 (Streamlit's AppTest runs the
app in-process): the form, wrong and right passwords, expiry, roles, the dashboard's own token,
and the refusal to show anything beyond loopback without users."""

from __future__ import annotations

import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

from dashboard.auth import SESSION_KEY
from dashboard.client import ApiError, Client
from subtext import access
from subtext.api import create_app
from subtext.config import load
from subtext.engine import Engine
from subtext.login_limit import LoginLimiter
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


# -- the failed sign-in limit ------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_five_failures_lock_a_name_for_the_cooling_period():
    clock = Clock()
    limiter = LoginLimiter(clock=clock)
    for _ in range(4):
        assert not limiter.failed("ann", "10.0.0.1")
        clock.now += 10
    assert limiter.retry_after("ann", "10.0.0.1") == 0
    assert limiter.failed("ann", "10.0.0.1")  # the fifth within 5 minutes
    assert limiter.retry_after("ann", "10.0.0.2") == 300  # from any client
    assert limiter.retry_after("bo", "10.0.0.1") == 0  # the client may try other names
    clock.now += 299.5
    assert limiter.retry_after("ANN", "10.0.0.9") == 1  # any case of the name
    clock.now += 0.5
    assert limiter.retry_after("ann", "10.0.0.1") == 0


def test_failures_spread_beyond_the_window_do_not_lock():
    clock = Clock()
    limiter = LoginLimiter(clock=clock)
    for _ in range(20):
        assert not limiter.failed("ann", "10.0.0.1")
        clock.now += 76  # five failures never fall within 300 s (4 × 76 = 304)
    assert limiter.retry_after("ann", "10.0.0.1") == 0


def test_one_client_trying_many_names_is_locked():
    clock = Clock()
    limiter = LoginLimiter(clock=clock)
    locked = [limiter.failed(f"user{i}", "10.0.0.1") for i in range(20)]
    assert locked == [False] * 19 + [True]
    assert limiter.retry_after("someone-else", "10.0.0.1") == 300
    assert limiter.retry_after("someone-else", "10.0.0.2") == 0


def test_a_right_password_clears_the_names_count():
    limiter = LoginLimiter(clock=Clock())
    for _ in range(4):
        limiter.failed("ann", "10.0.0.1")
    limiter.succeeded("ann")
    assert not limiter.failed("ann", "10.0.0.1")  # counting starts again


def test_memory_stays_bounded_under_a_flood_of_names():
    clock = Clock()
    limiter = LoginLimiter(clock=clock, max_keys=100)
    for i in range(10_000):
        limiter.failed(f"n{i}", f"c{i}")
        clock.now += 0.001
    assert len(limiter) <= 100
    assert limiter.retry_after(f"n{9_999}", "c9999") == 0  # one failure: not locked


def login(api, name: str, password: str, **extra):
    return api.post("/v1/auth/login", json={"name": name, "password": password, **extra})


def test_the_api_locks_out_after_five_wrong_passwords_even_for_the_right_one(client, engine):
    access.add_user(engine.store, "ann", "analyst", "correct horse")
    assert [login(client, "ann", "wrong").status_code for _ in range(5)] == [401] * 5
    locked = login(client, "ann", "correct horse")
    assert locked.status_code == 429
    assert locked.json()["detail"] == "too many failed sign-ins; try again in 300 s"
    assert locked.headers["retry-after"] == "300"
    assert "correct horse" not in locked.text


def test_a_made_up_name_is_answered_exactly_as_a_real_one(client, engine):
    access.add_user(engine.store, "ann", "analyst", "correct horse")

    def answers(name: str, client_address: str) -> list[tuple[int, str]]:
        replies = [login(client, name, "wrong", client=client_address) for _ in range(6)]
        return [(r.status_code, r.json()["detail"]) for r in replies]

    assert answers("ann", "10.0.0.1") == answers("nobody", "10.0.0.2")


def test_the_lock_ends_after_the_cooling_period(store):
    clock = Clock()
    access.add_user(store, "ann", "analyst", "correct horse")
    app = FastAPI()
    app.include_router(access.router(store, LoginLimiter(clock=clock)))
    with TestClient(app) as api:
        for _ in range(5):
            login(api, "ann", "wrong", client="10.0.0.1")
        assert login(api, "ann", "correct horse").status_code == 429
        clock.now += 120
        assert "try again in 180 s" in login(api, "ann", "correct horse").text
        clock.now += 180
        assert login(api, "ann", "correct horse").json()["role"] == "analyst"


def test_the_dashboard_says_when_to_try_again(users_api):
    for _ in range(5):  # each a new browser session: a reload does not reset the count
        at = sign_in("ann", "wrong horse")
        assert "Wrong user name or password." in [e.value for e in at.error]
    at = sign_in("ann", "correct horse")
    assert [e.value for e in at.error] == ["Too many failed sign-ins; try again in 300 s."]
    assert SESSION_KEY not in at.session_state and not at.metric
