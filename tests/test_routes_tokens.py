"""Token admin over the API while the engine runs (subtext/routes_tokens.py), through the real
app over a real DuckDB file: admin tokens only, the secret shown once, revocation at once."""

import json
import logging
import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from collectors.post import utcnow
from data import access as db
from subtext import access
from subtext.api import create_app
from subtext.config import load
from subtext.engine import Engine

TOKENS = "/v1/admin/tokens"
HIDDEN = ("secret_hash", "hash", "secret")


@pytest.fixture
def guarded(config_file, monkeypatch):
    """An engine listening beyond loopback (tokens required), served in-process."""
    monkeypatch.delenv("SUBTEXT_DATA_DIR", raising=False)
    monkeypatch.delenv(access.INTERNAL_TOKEN_ENV, raising=False)
    path = config_file.with_name("tokens.toml")
    path.write_text(config_file.read_text() + '\n[api]\nhost = "0.0.0.0"\n', encoding="utf-8")
    engine = Engine(load(path))
    with TestClient(create_app(engine, schedule=False), base_url="http://127.0.0.1") as client:
        yield engine, client
    engine.stop()


@pytest.fixture
def admin(guarded):
    engine, _ = guarded
    return bearer(access.create_token(engine.store, "ops", "admin"))


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_read_and_write_tokens_get_403_on_every_token_route(guarded):
    engine, client = guarded
    victim = db.list_tokens(engine.store)
    for scope in ("read", "write"):
        headers = bearer(access.create_token(engine.store, scope, scope))
        for method, path, body in [("GET", TOKENS, None),
                                   ("POST", TOKENS, {"name": "x", "scope": "admin"}),
                                   ("DELETE", f"{TOKENS}/00000000", None)]:
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == 403, (scope, method)
            assert "needs 'admin'" in response.json()["detail"]
    assert len(db.list_tokens(engine.store)) == len(victim) + 2  # nothing was created
    assert client.get(TOKENS).status_code == 401  # and no token at all


def test_no_token_on_loopback_is_refused_though_the_rest_is_open(client):
    assert client.get("/v1/posts").status_code == 200  # loopback: tokens optional
    response = client.post(TOKENS, json={"name": "sneaky", "scope": "admin"})
    assert response.status_code == 401 and "even on loopback" in response.json()["detail"]
    assert client.get(TOKENS).status_code == 401


def test_create_shows_the_secret_once_and_it_works(guarded, admin, caplog):
    engine, client = guarded
    caplog.set_level(logging.INFO)
    response = client.post(TOKENS, json={"name": "importer", "scope": "write", "days": 30},
                           headers=admin)
    assert response.status_code == 201 and response.headers["cache-control"] == "no-store"
    created = response.json()
    token = created["token"]
    assert token.startswith(f"sbt_{created['id']}_")
    assert (created["name"], created["scope"], created["state"]) == ("importer", "write",
                                                                    "active")
    assert created["expires_at"] is not None and created["last_used_at"] is None
    # the new token works at once, with its scope
    assert client.post("/v1/ingest", json={"posts": [{"id": "p1", "text": "Nimbus"}]},
                       headers=bearer(token)).status_code == 200
    assert client.get(TOKENS, headers=bearer(token)).status_code == 403
    # listings never show it again, nor its hash; the secret is in no log line
    listed = client.get(TOKENS, headers=admin).json()["tokens"]
    secret = token.split("_", 2)[2]
    assert secret not in str(listed) and secret not in caplog.text
    row = db.get_token(engine.store, created["id"])
    assert row.secret_hash not in str(listed) + str(created)
    assert all(key not in entry for entry in listed for key in HIDDEN)
    assert secret not in str(db.list_tokens(engine.store))  # stored as a hash only


def test_list_shows_name_scope_user_created_last_used_and_expiry(guarded, admin):
    engine, client = guarded
    access.add_user(engine.store, "ann", "analyst", "correct horse")
    mine = access.create_token(engine.store, "ann's laptop", "read", user="ann", days=7)
    before = utcnow()
    assert client.get("/v1/posts", headers=bearer(mine)).status_code == 200
    listed = {t["name"]: t for t in client.get(TOKENS, headers=admin).json()["tokens"]}
    entry = listed["ann's laptop"]
    assert (entry["scope"], entry["user"], entry["state"]) == ("read", "ann", "active")
    assert entry["created_at"] and entry["expires_at"] and entry["revoked_at"] is None
    used = entry["last_used_at"]
    assert used is not None and used >= before.isoformat(timespec="seconds")[:16]
    assert listed["ops"]["last_used_at"] is not None  # the admin's own request counts
    assert set(entry) == {"id", "name", "scope", "user", "state", "created_at",
                          "last_used_at", "expires_at", "revoked_at"}


def test_last_use_is_written_at_most_once_a_minute(guarded):
    engine, client = guarded
    token = access.create_token(engine.store, "busy", "read")
    token_id = token.split("_")[1]
    client.get("/v1/posts", headers=bearer(token))
    first = db.get_token(engine.store, token_id).last_used_at
    client.get("/v1/posts", headers=bearer(token))
    assert db.get_token(engine.store, token_id).last_used_at == first  # no write per request
    with engine.store._transaction() as cur:  # as if that use were two minutes ago
        cur.execute("UPDATE tokens SET last_used_at = ? WHERE id = ?",
                    [first - timedelta(minutes=2), token_id])
    client.get("/v1/posts", headers=bearer(token))
    assert db.get_token(engine.store, token_id).last_used_at > first - timedelta(minutes=1)


def test_revoking_takes_effect_on_the_next_request(guarded, admin):
    engine, client = guarded
    created = client.post(TOKENS, json={"name": "temp", "scope": "read"}, headers=admin).json()
    temp = bearer(created["token"])
    assert client.get("/v1/posts", headers=temp).status_code == 200
    revoked = client.delete(f"{TOKENS}/{created['id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    refused = client.get("/v1/posts", headers=temp)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    again = client.delete(f"{TOKENS}/{created['id']}", headers=admin)
    assert again.status_code == 404 and "no active token" in again.json()["detail"]
    listed = {t["id"]: t for t in client.get(TOKENS, headers=admin).json()["tokens"]}
    assert listed[created["id"]]["state"] == "revoked"


def test_an_admin_token_revoking_itself_is_refused_from_then_on(guarded, admin):
    engine, client = guarded
    own = admin["Authorization"].split("_")[1]
    assert client.delete(f"{TOKENS}/{own}", headers=admin).status_code == 200
    assert client.get(TOKENS, headers=admin).status_code == 401


@pytest.mark.parametrize("body", [
    {"name": "", "scope": "read"}, {"name": "x", "scope": "root"}, {"name": "x"},
    {"name": "x" * 101, "scope": "read"}, {"name": "a\nb", "scope": "read"},
    {"name": "x", "scope": "read", "days": 0}, {"name": "x", "scope": "read", "days": 10 ** 20},
    {"name": "x", "scope": "read", "secret_hash": "00"},
    {"name": "x", "scope": "read", "user": "nobody"}, {"name": "\ud800", "scope": "read"},
    {"name": "x", "scope": "read", "user": "\ud800"}, {"name": "x", "scope": "read",
                                                        "days": "NaN"}])
def test_bad_create_requests_are_422_and_create_nothing(guarded, admin, body):
    engine, client = guarded
    before = len(db.list_tokens(engine.store))
    raw = json.dumps(body)  # escapes a lone surrogate as \ud800, as a client would send it
    response = client.post(TOKENS, content=raw, headers={**admin,
                                                         "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert len(db.list_tokens(engine.store)) == before


@pytest.mark.parametrize("token_id", ["nope", "0" * 9, "../../x", "ABCDEF12"])
def test_a_bad_token_id_to_revoke_is_a_4xx(guarded, admin, token_id):
    engine, client = guarded
    response = client.delete(f"{TOKENS}/{token_id}", headers=admin)
    assert response.status_code in (404, 422), response.text


def test_last_use_never_waits_behind_a_writer(guarded):
    engine, client = guarded
    token = access.create_token(engine.store, "reader", "read")
    token_id = token.split("_")[1]
    held, release = threading.Event(), threading.Event()

    def writer():
        with engine.store._transaction():
            held.set()
            release.wait(10)
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        held.wait(5)
        assert not db.note_use(engine.store, token_id, utcnow())  # skipped, not waited for
        assert client.get("/v1/posts", headers=bearer(token)).status_code == 200
        assert db.get_token(engine.store, token_id).last_used_at is None
    finally:
        release.set()
        thread.join()
    client.get("/v1/posts", headers=bearer(token))
    assert db.get_token(engine.store, token_id).last_used_at is not None  # caught up
