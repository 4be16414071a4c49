"""Access control through the real app over a real DuckDB file: tokens and scopes, the Host
allow-list, cross-site refusal, the body cap, the refusal to listen beyond loopback without
credentials, the CLI that manages users and tokens, and secrets scrubbed from errors."""

import io
import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from collectors.post import utcnow
from collectors.registry import build_collector
from data import access as db
from data import queries
from data.store import Store
from subtext import access, jobs
from subtext.api import create_app
from subtext.config import Brand, load
from subtext.engine import Engine
from subtext.scrub import ScrubFilter, scrub
from tests.fixtures.servers import FAST, Reply

ROOT = Path(__file__).resolve().parent.parent
POST = {"id": "p1", "text": "Nimbus is great"}


def config_with(config_file: Path, api: str) -> Path:
    path = config_file.with_name("access.toml")
    path.write_text(config_file.read_text() + f"\n[api]\n{api}\n", encoding="utf-8")
    return path


@pytest.fixture
def guarded(config_file, monkeypatch):
    """An engine listening beyond loopback (tokens required), served in-process."""
    monkeypatch.delenv("SUBTEXT_DATA_DIR", raising=False)
    monkeypatch.delenv(access.INTERNAL_TOKEN_ENV, raising=False)
    engine = Engine(load(config_with(config_file, 'host = "0.0.0.0"\nmax_body_mb = 1')))
    with TestClient(create_app(engine, schedule=False), base_url="http://127.0.0.1") as client:
        yield engine, client
    engine.stop()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_beyond_loopback_every_route_but_health_needs_a_token(guarded):
    engine, client = guarded
    assert client.get("/health").status_code == 200
    for method, path in [("GET", "/v1/posts"), ("GET", "/v1/runs"), ("GET", "/openapi.json"),
                         ("POST", "/v1/ingest"), ("GET", "/v1/auth/status")]:
        response = client.request(method, path)
        assert response.status_code == 401, (method, path)
        assert "token is required" in response.json()["detail"]
        assert response.headers["www-authenticate"] == "Bearer"


def test_scopes_read_write_admin(guarded):
    engine, client = guarded
    read = access.create_token(engine.store, "reader", "read")
    write = access.create_token(engine.store, "writer", "write")
    admin = access.create_token(engine.store, "admin", "admin")
    assert client.get("/v1/posts", headers=bearer(read)).status_code == 200
    refused = client.post("/v1/ingest", json={"posts": [POST]}, headers=bearer(read))
    assert refused.status_code == 403 and "needs 'write'" in refused.json()["detail"]
    assert client.get("/v1/posts", headers=bearer(read)).json()["total"] == 0
    assert client.post("/v1/ingest", json={"posts": [POST]},
                       headers=bearer(write)).status_code == 200
    login = {"name": "nobody", "password": "whatever1"}
    assert client.post("/v1/auth/login", json=login, headers=bearer(write)).status_code == 403
    assert client.post("/v1/auth/login", json=login, headers=bearer(admin)).status_code == 401


def test_wrong_revoked_and_expired_tokens_are_refused(guarded):
    engine, client = guarded
    token = access.create_token(engine.store, "ci", "read")
    token_id = access.split_token(token)[0]
    forged = token[:-4] + ("aaaa" if not token.endswith("aaaa") else "bbbb")
    for bad in (forged, "sbt_00000000_nope", "not-a-token", ""):
        assert client.get("/v1/posts", headers=bearer(bad)).status_code == 401, bad
    assert client.get("/v1/posts", headers={"Authorization": "Basic dXNlcjpwYXNz"}
                      ).status_code == 401
    assert client.get("/v1/posts", headers=bearer(token)).status_code == 200
    assert db.revoke_token(engine.store, token_id)
    assert client.get("/v1/posts", headers=bearer(token)).status_code == 401
    expired = access.create_token(engine.store, "old", "read", days=1)
    with engine.store._transaction() as cur:
        cur.execute("UPDATE tokens SET expires_at = ? WHERE id = ?",
                    [utcnow() - timedelta(minutes=1), access.split_token(expired)[0]])
    assert client.get("/v1/posts", headers=bearer(expired)).status_code == 401


def test_tokens_are_stored_as_hashes_only(guarded):
    engine, _ = guarded
    token = access.create_token(engine.store, "ci", "write")
    row = db.get_token(engine.store, access.split_token(token)[0])
    dump = str(engine.store.reader().execute("SELECT * FROM tokens").fetchall())
    assert access.split_token(token)[1] not in dump and row.secret_hash in dump
    assert row.secret_hash == access.hash_secret(access.split_token(token)[1])


def test_loopback_is_open_but_a_sent_token_is_checked(client):
    assert client.get("/v1/posts").status_code == 200
    assert client.get("/v1/posts", headers=bearer("sbt_1234abcd_wrong")).status_code == 401


def test_require_token_on_loopback(config_file, monkeypatch):
    monkeypatch.delenv("SUBTEXT_DATA_DIR", raising=False)
    engine = Engine(load(config_with(config_file, "require_token = true")))
    try:
        with TestClient(create_app(engine, schedule=False), base_url="http://127.0.0.1") as c:
            assert c.get("/v1/posts").status_code == 401
            token = access.create_token(engine.store, "me", "read")
            assert c.get("/v1/posts", headers=bearer(token)).status_code == 200
    finally:
        engine.stop()


def test_the_internal_dashboard_token_is_admin_and_never_stored(config_file, monkeypatch):
    monkeypatch.delenv("SUBTEXT_DATA_DIR", raising=False)
    token = access.new_token()[0]
    monkeypatch.setenv(access.INTERNAL_TOKEN_ENV, token)
    engine = Engine(load(config_with(config_file, 'host = "0.0.0.0"')))
    try:
        with TestClient(create_app(engine, schedule=False), base_url="http://127.0.0.1") as c:
            assert c.get("/v1/auth/status", headers=bearer(token)).json() == {
                "users": 0, "tokens": 0}
            assert c.get("/v1/posts", headers=bearer(token[:-1] + "x")).status_code == 401
    finally:
        engine.stop()


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "127.0.0.1.evil.example",
                                  "localhost.", ""])
def test_host_off_the_allow_list_is_400(client, host):
    response = client.get("/v1/posts", headers={"Host": host})
    assert response.status_code == 400
    assert "[api] allowed_hosts" in response.json()["detail"]


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost", "LOCALHOST:1", "[::1]:8765"])
def test_loopback_hosts_are_allowed(client, host):
    assert client.get("/health", headers={"Host": host}).status_code == 200


def test_configured_allowed_hosts_replace_the_defaults(config_file, monkeypatch):
    monkeypatch.delenv("SUBTEXT_DATA_DIR", raising=False)
    engine = Engine(load(config_with(config_file, 'allowed_hosts = ["subtext.internal"]')))
    try:
        with TestClient(create_app(engine, schedule=False),
                        base_url="http://subtext.internal") as c:
            assert c.get("/health").status_code == 200
            assert c.get("/health", headers={"Host": "127.0.0.1"}).status_code == 400
    finally:
        engine.stop()


def test_a_cross_site_page_cannot_acknowledge_alerts(loaded):
    alerts = loaded.get("/v1/alerts").json()
    assert alerts["total"] > 0
    alert_id = alerts["items"][0]["id"]
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                    {"Origin": "http://127.0.0.1:9999"}):
        response = loaded.post(f"/v1/alerts/{alert_id}/ack", headers=headers)
        assert response.status_code == 403, headers
        assert "refused" in response.json()["detail"]
    assert loaded.get("/v1/alerts").json()["total"] == alerts["total"]  # nothing acknowledged
    # reading is not state-changing; a same-origin write is fine
    assert loaded.get("/v1/alerts", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200
    same = loaded.post(f"/v1/alerts/{alert_id}/ack", headers={
        "Origin": "http://127.0.0.1", "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 200


def test_body_over_the_cap_is_413_naming_the_cap(guarded):
    engine, client = guarded
    token = access.create_token(engine.store, "w", "write")
    big = b'{"posts": [' + b" " * (1024 * 1024 + 10) + b"]}"
    response = client.post("/v1/ingest", content=big, headers={
        **bearer(token), "Content-Type": "application/json"})
    assert response.status_code == 413
    assert "cap of 1 MB" in response.json()["detail"]

    def chunks():  # no Content-Length: the cap is counted as the body arrives
        for _ in range(20):
            yield b" " * 100_000

    response = client.post("/v1/ingest", content=chunks(), headers={
        **bearer(token), "Content-Type": "application/json"})
    assert response.status_code == 413 and "max_body_mb" in response.json()["detail"]
    upload = client.post("/v1/analyze", data={"text": "hi"}, headers=bearer(token),
                         files={"image": ("big.png", b"\x89PNG" + b"0" * 2_000_000)})
    assert upload.status_code == 413
    assert client.get("/v1/posts", headers=bearer(token)).json()["total"] == 0


def test_beyond_loopback_without_credentials_refuses_to_start(config_file, tmp_path):
    path = config_with(config_file, 'host = "0.0.0.0"\nport = 1')
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUBTEXT_")}
    out = subprocess.run([sys.executable, "-m", "subtext", "--config", str(path), "engine"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 1
    assert "refusing to start" in out.stderr and "tokens create" in out.stderr


def test_exposure_check_warns_once_credentials_exist(config_file, monkeypatch, caplog):
    monkeypatch.delenv("SUBTEXT_DATA_DIR", raising=False)
    config = load(config_with(config_file, 'host = "0.0.0.0"'))
    with Store.open(config.data_dir) as store:
        assert "listens beyond loopback" in access.exposure_problem(config, store)
        access.create_token(store, "ops", "read")
        with caplog.at_level(logging.WARNING, "subtext.access"):
            assert access.exposure_problem(config, store) is None
    assert "needs a token" in caplog.text
    loopback = load(config_file)
    with Store.open(loopback.data_dir) as store:
        assert access.exposure_problem(loopback, store) is None


def run_cli(config_file: Path, *args: str, password: str | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUBTEXT_")}
    if password:
        env["SUBTEXT_NEW_PASSWORD"] = password
    return subprocess.run([sys.executable, "-m", "subtext", "--config", str(config_file), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)


def test_cli_manages_tokens_and_users(config_file, tmp_path):
    created = run_cli(config_file, "tokens", "create", "ci", "--scope", "write", "--days", "7")
    assert created.returncode == 0, created.stderr
    token = next(w for w in created.stdout.split() if w.startswith("sbt_"))
    token_id = access.split_token(token)[0]
    added = run_cli(config_file, "users", "add", "ann", "--role", "analyst",
                    password="correct horse")
    assert added.returncode == 0, added.stderr
    assert run_cli(config_file, "users", "add", "ann", password="correct horse").returncode == 1
    short = run_cli(config_file, "users", "add", "bob", password="short")
    assert short.returncode == 1 and "at least 8" in short.stderr
    listed = run_cli(config_file, "tokens", "list").stdout
    assert token_id in listed and "write" in listed and "active" in listed
    assert token not in listed
    assert "ann" in run_cli(config_file, "users", "list").stdout
    assert run_cli(config_file, "tokens", "revoke", token_id).returncode == 0
    assert "revoked" in run_cli(config_file, "tokens", "list").stdout
    with Store.open(tmp_path / "var") as store:
        user = db.get_user(store, "ann")
        assert user.role == "analyst" and "correct horse" not in user.password_hash
        assert access.verify_password("correct horse", user.password_hash)
        assert not access.verify_password("correct horsE", user.password_hash)
        assert not db.get_token(store, token_id).active(utcnow())


def test_login_checks_the_password(client, engine):
    access.add_user(engine.store, "ann", "viewer", "correct horse")
    good = client.post("/v1/auth/login", json={"name": "ann", "password": "correct horse"})
    assert good.status_code == 200
    assert good.json() == {"name": "ann", "role": "viewer", "scope": "read"}
    for name, password in (("ann", "wrong horse"), ("bob", "correct horse")):
        response = client.post("/v1/auth/login", json={"name": name, "password": password})
        assert response.status_code == 401
        assert response.json()["detail"] == "wrong user name or password"


# -- secrets out of errors -----------------------------------------------------------------

KEY = "AIzaSy-secret-key-0123456789"


def test_scrub_masks_what_upstreams_echo(monkeypatch):
    monkeypatch.setenv("SUBTEXT_REDDIT_CLIENT_SECRET", "s3cr3t-value")
    text = scrub(f"GET https://www.googleapis.com/youtube/v3/x?part=snippet&key={KEY}&q=1 "
                 "failed; sent Authorization: Basic Y2xpZW50OnNlY3JldA== and Bearer abcdefgh12; "
                 'body {"client_secret": "s3cr3t-value", "password": "hunter22"}')
    for secret in (KEY, "Y2xpZW50OnNlY3JldA==", "abcdefgh12", "s3cr3t-value", "hunter22"):
        assert secret not in text
    assert "part=snippet" in text and "&q=1" in text and "key=***" in text


def test_a_failed_collect_records_no_secret(server, store):
    server.route("/youtube/v3/commentThreads", Reply(400, {"error": {
        "message": f"Bad request GET /youtube/v3/commentThreads?part=snippet&key={KEY}",
        "headers": "Authorization: Basic dXNlcjpodW50ZXIy"}}))
    collector = build_collector("yt", "youtube", {
        "api_url": server.url + "/youtube/v3", "videos": ["v1"], **FAST},
        env={"SUBTEXT_YT_API_KEY": KEY})
    brand = Brand("Nimbus", "nimbus")
    try:
        assert jobs.collect(store, "yt", collector, brand, [brand]) is None
    finally:
        collector.close()
    run = queries.list_runs(store)[0]
    state = store.source_state("yt", "Nimbus")
    for error in (run["last_error"], state.last_error):
        assert "HTTP 400" in error and KEY not in error and "dXNlcjpodW50ZXIy" not in error


def test_log_filter_scrubs_messages_and_tracebacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ScrubFilter())
    logger = logging.getLogger("test.scrub")
    logger.addHandler(handler)
    try:
        logger.warning("fetch of https://x.example/?key=%s failed", KEY)
        try:
            raise RuntimeError(f"upstream said: Authorization: Bearer {KEY}")
        except RuntimeError:
            logger.exception("collect failed")
    finally:
        logger.removeHandler(handler)
    assert KEY not in stream.getvalue() and "key=***" in stream.getvalue()
    assert "RuntimeError: upstream said" in stream.getvalue()
