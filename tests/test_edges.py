"""Bad input at the API's edge: each is a 4xx with a message, never a 500, never a long echo,
and nothing stored is lost. Ends with a bounded schemathesis run over /openapi.json."""

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn

from analysis.verdict import Item
from subtext import importer
from subtext.api import create_app
from subtext.config import load
from tests.test_startup import free_port

NOW = datetime.now(UTC).replace(microsecond=0)
GOOD = {"id": "good", "text": "Nimbus camera is fine", "created_at": NOW.isoformat()}


@pytest.fixture
def stored(client):
    assert client.post("/v1/ingest", json={"posts": [GOOD]}).json()["new"] == 1
    return client


def total(client) -> int:
    return client.get("/v1/posts").json()["total"]


def refused(response, status: int = 422) -> str:
    assert response.status_code == status, response.text[:500]
    assert len(response.content) < 4000  # never the input echoed back at length
    return json.dumps(response.json())  # and the error itself is valid JSON


@pytest.mark.parametrize("post, field, says", [
    ({"likes": 2 ** 63}, "likes", "less than or equal"),
    ({"replies": -1}, "replies", "greater than or equal"),
    ({"created_at": "9999-12-31T23:59:59-14:00"}, "created_at", "out of range"),
    ({"created_at": "0001-01-01T00:00:00Z"}, "created_at", "before 2000"),
    ({"created_at": "1999-12-31T23:59:59Z"}, "created_at", "before 2000"),
    ({"created_at": 1700000000}, "created_at", "not a number"),
    ({"created_at": "1700000000"}, "created_at", "not a number"),
    ({"created_at": "2099-01-01T00:00:00Z"}, "created_at", "in the future"),
    ({"created_at": (NOW + timedelta(hours=3)).isoformat()}, "created_at", "in the future"),
    ({"brands": ["Nimbus", "Acme"]}, "brands", "not configured brand(s): 'Acme'"),
    ({"brands": [f"b{i}" for i in range(5000)]}, "brands", "at most 32"),
    ({"text": "x" * 200_000}, "text", "at most 100000"),
    ({"author": "a" * 10_000}, "author", "at most 512"),
])
def test_bad_post_is_422_naming_the_field(stored, post, field, says):
    started = time.monotonic()
    body = refused(stored.post("/v1/ingest", json={"posts": [{**GOOD, "id": "bad", **post}]}))
    assert field in body and says in body
    assert time.monotonic() - started < 5  # refused at the edge, not after holding the lock
    assert total(stored) == 1


@pytest.mark.parametrize("raw, field", [
    ('{"posts": [{"id": "x", "text": NaN}]}', "text"),
    ('{"posts": [{"id": "x", "text": "hi", "likes": NaN}]}', "likes"),
    ('{"posts": [{"id": "x", "text": "hi", "likes": Infinity}]}', "likes"),
    ('{"posts": [{"id": "\\ud800", "text": "hi"}]}', "id"),
    ('{"posts": [{"id": "x", "text": "a \\udfff b"}]}', "text"),
    ('{"posts": [{"id": "x", "text": "hi", "brands": ["\\ud800"]}]}', "brands"),
])
def test_nan_and_lone_surrogates_are_422(stored, raw, field):
    response = stored.post("/v1/ingest", content=raw,
                           headers={"Content-Type": "application/json"})
    assert field in refused(response)
    assert total(stored) == 1


def test_feedback_and_ack_with_a_lone_surrogate_are_422(stored):
    refused(stored.post("/v1/feedback", content='{"post_id": "\\ud800", "label": "positive"}',
                        headers={"Content-Type": "application/json"}))
    refused(stored.post("/v1/alerts/1/ack", content='{"by": "\\udc00"}',
                        headers={"Content-Type": "application/json"}))


@pytest.mark.parametrize("path, params", [
    ("/v1/posts", {"offset": 2 ** 63}),
    ("/v1/posts", {"offset": 10 ** 30}),
    ("/v1/posts", {"limit": 2 ** 63}),
    ("/v1/alerts", {"offset": 2 ** 63}),
    ("/v1/runs", {"limit": 2 ** 64}),
    ("/v1/posts", {"since": "9999-12-31T23:59:59-14:00"}),
    ("/v1/trends", {"until": "9999-12-31T23:59:59-14:00"}),
    ("/v1/posts", {"min_confidence": "NaN"}),
    ("/v1/posts", {"q": "x" * 10_000}),
])
def test_bad_query_values_are_422(stored, path, params):
    body = refused(stored.get(path, params=params))
    assert next(iter(params)) in body


def test_long_ids_in_a_404_are_not_echoed(stored):
    for response in (stored.get("/v1/posts/" + "x" * 20_000),
                     stored.get("/v1/images/" + "f" * 20_000),
                     stored.post("/v1/feedback", json={"post_id": "y" * 500,
                                                       "label": "positive"})):
        assert response.status_code == 404 and len(response.content) < 1000


def test_huge_alert_id_is_422(stored):
    refused(stored.post(f"/v1/alerts/{2 ** 63}/ack"))
    assert stored.post(f"/v1/alerts/{2 ** 63 - 1}/ack").status_code == 404


def test_far_dates_in_filters_are_fine(stored):
    body = stored.get("/v1/posts", params={"since": "0001-01-01T00:00:00",
                                           "until": "9999-12-31T23:59:59"}).json()
    assert body["total"] == 1


def test_a_bad_row_is_a_per_row_error_and_the_good_rows_are_stored(client):
    rows = [{"id": f"ok{i}", "text": f"Nimbus post {i}"} for i in range(4)]
    rows.insert(2, {"id": "late", "text": "Nimbus", "created_at": "2099-01-01T00:00:00Z"})
    body = client.post("/v1/ingest", json={"posts": rows}).json()
    assert body["received"] == 5 and body["new"] == 4 and body["failed"] == 1
    (error,) = body["errors"]
    assert error["loc"] == ["body", "posts", 2, "created_at"] and "future" in error["msg"]
    assert total(client) == 4


def test_a_corrected_date_is_updated(client):
    first = (NOW - timedelta(days=3)).isoformat()
    fixed = (NOW - timedelta(days=1)).isoformat()
    client.post("/v1/ingest", json={"posts": [{**GOOD, "created_at": first}]})
    again = client.post("/v1/ingest", json={"posts": [{**GOOD, "created_at": fixed}]}).json()
    assert again["updated"] == 1
    post = client.get("/v1/posts/import:good").json()
    assert datetime.fromisoformat(post["created_at"]) == NOW - timedelta(days=1)


def test_analyze_refuses_empty_and_broken_bodies(stored):
    assert "nothing to analyze" in refused(stored.post("/v1/analyze"))
    empty = stored.post("/v1/analyze", content=b"",
                        headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert "nothing to analyze" in refused(empty)
    broken = stored.post("/v1/analyze", content=b"--x\r\nContent-Disposition: garbage\r\n\r\n",
                         headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert 400 <= broken.status_code < 500
    no_boundary = stored.post("/v1/analyze", content=b"text=hi",
                              headers={"Content-Type": "multipart/form-data"})
    assert 400 <= no_boundary.status_code < 500


def test_import_through_the_engine_keeps_the_good_rows(config_file, tmp_path, monkeypatch):
    """One row the engine refuses (a brand not configured passes the file check) must not
    cost the other rows of its batch."""
    monkeypatch.delenv("SUBTEXT_DATA_DIR", raising=False)
    unused_port = free_port()
    path = config_file.with_name("edges.toml")
    path.write_text(config_file.read_text() + f"\n[api]\nport = {unused_port}\n")
    config = load(path)
    from subtext.engine import Engine

    engine = Engine(config)
    server = uvicorn.Server(uvicorn.Config(create_app(engine, schedule=False), host="127.0.0.1",
                                           port=unused_port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    rows = [{"id": str(i), "text": f"Nimbus {i}"} for i in range(60)]
    rows[17]["brands"] = ["Acme"]
    posts = tmp_path / "rows.jsonl"
    posts.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    try:
        while not server.started:
            time.sleep(0.05)
        report = importer.run(config, posts)
        stored = engine.store.reader().execute("SELECT count(*) FROM posts").fetchone()[0]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.stop()
    assert report.via.startswith("engine API")
    assert (report.rows, report.new, report.failed, stored) == (60, 59, 1, 59)


def fuzz(app, max_examples: int = 8) -> tuple[list, list]:
    """A bounded schemathesis run over every operation of `app`: (5xx failures, calls)."""
    import schemathesis

    failures, calls = [], []
    for result in schemathesis.openapi.from_asgi("/openapi.json", app).get_all_operations():
        _fuzz_one(result.ok(), max_examples, failures, calls)
    return failures, calls


def _fuzz_one(operation, max_examples: int, failures: list, calls: list) -> None:
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def check(case):
        calls.append(operation.label)
        try:  # a slow answer on a loaded machine is no server error: a long timeout
            response = case.call(timeout=120)
        except Exception as exc:  # the test transport raises what the app did not handle
            failures.append((operation.label, 500, repr(exc)[:200]))
            return
        if response.status_code >= 500:
            failures.append((operation.label, response.status_code, response.text[:200]))

    check()


def test_fuzz_the_openapi_schema_finds_no_server_error(config_file, monkeypatch):
    from subtext.engine import Engine

    monkeypatch.delenv("SUBTEXT_DATA_DIR", raising=False)
    path = config_file.with_name("fuzz.toml")  # schemathesis calls the app as "testserver"
    path.write_text(config_file.read_text() + '\n[api]\nallowed_hosts = ["testserver"]\n')
    engine = Engine(load(path))
    try:
        engine.collect_all()  # some posts to find (analysis is not needed for the edges)
        engine.analyzer.analyze([Item(text="warm up")])  # the first call loads the models
        failures, calls = fuzz(create_app(engine, schedule=False))
    finally:
        engine.stop()
    assert failures == []
    assert len(set(calls)) >= 12 and len(calls) >= 60  # every operation was exercised


def test_the_fuzz_run_reports_a_server_error():
    """The harness itself: a route that fails on some inputs is caught."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/v1/parity")
    def parity(n: int) -> dict:
        if n % 2:
            raise RuntimeError("odd")  # unhandled: a 500 for every odd n
        return {"even": True}

    failures, _ = fuzz(app, max_examples=20)
    assert failures and failures[0][:2] == ("GET /v1/parity", 500)
