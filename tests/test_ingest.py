"""`POST /v1/ingest` reads its body itself (orjson, the fast row checks): bad rows among good
ones are per-row errors and the good rows are stored, whichever parser read the body; a body
that is not {"posts": [objects]} is a 422 naming what is wrong; the schema still documents it."""

import json
from datetime import UTC, datetime, timedelta

import pytest

NOW = datetime.now(UTC).replace(microsecond=0)


def good(i: int) -> dict:
    return {"id": f"ok{i}", "text": f"Nimbus post {i}", "created_at": NOW.isoformat(),
            "likes": i}


def stored_ids(client) -> set[str]:
    return {p["id"] for p in client.get("/v1/posts", params={"limit": 500}).json()["items"]}


def raw_post(client, text: str, content_type: str = "application/json"):
    return client.post("/v1/ingest", content=text.encode("utf-8", "surrogatepass"),
                       headers={"Content-Type": content_type})


def test_bad_rows_among_good_ones_are_per_row_errors(client):
    rows = [good(0), {**good(1), "brands": ["Acme"]}, good(2), {**good(3), "likes": -1},
            {**good(4), "colour": "red"}, {**good(5), "id": " padded "}, good(6),
            {**good(7), "created_at": "2099-01-01T00:00:00Z"}]
    body = client.post("/v1/ingest", json={"posts": rows}).json()
    assert (body["received"], body["new"], body["failed"]) == (8, 4, 4)
    assert {(e["loc"][2], e["loc"][3]) for e in body["errors"]} == {
        (1, "brands"), (3, "likes"), (4, "colour"), (7, "created_at")}
    assert stored_ids(client) == {"import:ok0", "import:ok2", "import:padded", "import:ok6"}
    post = client.get("/v1/posts/import:ok6").json()
    assert post["likes"] == 6 and post["brands"] == ["Nimbus"]  # matched by the brand query


@pytest.mark.parametrize("bad, field", [('"text": "hi", "likes": NaN', "likes"),
                                        ('"text": "a \\ud800 b"', "text"),
                                        ('"text": "hi", "likes": 1e400', "likes")])
def test_rows_the_fast_parser_refuses_are_per_row_errors_too(client, bad, field):
    rows = [json.dumps(good(0)), '{"id": "bad", ' + bad + "}", json.dumps(good(1))]
    body = raw_post(client, '{"posts": [' + ", ".join(rows) + "]}").json()
    assert (body["new"], body["failed"]) == (2, 1)
    assert body["errors"][0]["loc"] == ["body", "posts", 1, field]
    assert stored_ids(client) == {"import:ok0", "import:ok1"}


@pytest.mark.parametrize("text, content_type, loc", [
    ('{"posts": [', "application/json", ["body", 11]),
    ("", "application/json", ["body", 0]),
    ("\xff\xfe not utf-8", "application/json", ["body", 0]),
    ('{"posts": "all of them"}', "application/json", ["body", "posts"]),
    ('{"posts": [1, {"id": "x", "text": "hi"}]}', "application/json", ["body", "posts", 0]),
    ('{"posts": [], "extra": 1}', "application/json", ["body", "extra"]),
    ("[]", "application/json", ["body"]),
    ('{"posts": []}', "text/plain", ["body"]),
])
def test_a_body_that_is_not_posts_is_a_422_naming_what(client, text, content_type, loc):
    response = raw_post(client, text, content_type)
    assert response.status_code == 422, response.text
    assert loc in [e["loc"] for e in response.json()["detail"]]
    assert stored_ids(client) == set()


def test_more_than_1000_posts_is_a_422(client):
    response = client.post("/v1/ingest", json={"posts": [good(i) for i in range(1001)]})
    assert response.status_code == 422
    assert "at most 1000" in response.text and stored_ids(client) == set()


def test_every_row_bad_is_a_422_listing_each(client):
    rows = [{**good(i), "likes": -1} for i in range(60)]
    response = client.post("/v1/ingest", json={"posts": rows})
    assert response.status_code == 422
    assert {e["loc"][2] for e in response.json()["detail"]} == set(range(60))


def test_reingest_is_idempotent_and_takes_the_new_values(client):
    first = client.post("/v1/ingest", json={"posts": [good(0), good(1)]}).json()
    fixed = {**good(1), "created_at": (NOW - timedelta(days=2)).isoformat(), "likes": 99}
    again = client.post("/v1/ingest", json={"posts": [good(0), fixed, good(2)]}).json()
    assert (first["new"], again["new"], again["updated"]) == (2, 1, 2)
    post = client.get("/v1/posts/import:ok1").json()
    assert post["likes"] == 99
    assert datetime.fromisoformat(post["created_at"]) == NOW - timedelta(days=2)
    assert client.get("/v1/posts").json()["total"] == 3


def test_the_schema_documents_the_body_as_posts(client):
    operation = client.get("/openapi.json").json()["paths"]["/v1/ingest"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["posts"]["maxItems"] == 1000
    row = schema["properties"]["posts"]["items"]
    assert {"id", "text", "created_at", "brands"} <= set(row["properties"])
    assert operation["requestBody"]["required"] is True


def test_reingest_writes_what_changed_and_keeps_the_rest(store):
    from collectors.post import Post
    from subtext.jobs import ingest

    def post(native_id: str, **changes) -> Post:
        fields = {"source": "test", "native_id": native_id, "text": f"Nimbus {native_id}",
                  "created_at": datetime(2026, 10, 1), "brands": ["Nimbus"], **changes}
        return Post(**fields)

    def stored() -> dict:
        return {r[0]: r[1:] for r in store.reader().execute(
            "SELECT id, likes, brands, collected_at FROM posts").fetchall()}

    first = ingest(store, [post("1"), post("2"), post("3")], [])
    before = stored()
    again = ingest(store, [post("1"), post("2", likes=7), post("3", brands=["Voltra"]),
                           post("4")], [])
    after = stored()
    assert (first.new, again.new, again.updated) == (3, 1, 3)
    assert after["test:1"] == before["test:1"]  # the same post again: nothing written
    assert after["test:2"][0] == 7 and after["test:2"][2] == before["test:2"][2]
    assert after["test:3"][1] == ["Nimbus", "Voltra"]  # brands add up
    links = store.reader().execute("SELECT post_id, brand FROM post_brands ORDER BY ALL")
    assert ("test:3", "Voltra") in links.fetchall()


def test_an_import_of_several_chunks_keeps_order_counts_and_good_rows(tmp_path, capsys,
                                                                     monkeypatch):
    from subtext import importer
    from subtext.config import load
    from tests.test_cli import config_for

    monkeypatch.setattr(importer, "CHUNK", 1000)  # three transactions, the next one read
    #                                               while the one before is written
    rows = [{"id": str(i), "text": f"Nimbus {i}", "created_at": NOW.isoformat()}
            for i in range(2500)]
    rows[1500]["likes"] = -1  # the file check refuses it, by line
    rows[2400]["created_at"] = "someday"
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    config = load(config_for(tmp_path, port=1))  # no engine there: straight into the store
    first = importer.run(config, path)
    again = importer.run(config, path)
    assert (first.rows, first.new, first.updated, first.failed) == (2500, 2498, 0, 2)
    assert (again.new, again.updated, again.failed) == (0, 2498, 2)
    errors = capsys.readouterr().err
    assert errors.index("line 1501: likes") < errors.index("line 2401: created_at")


def test_a_refused_chunk_stops_the_import_there():
    from subtext.importer import _pipelined

    done = []

    def work(item: int) -> dict:
        if item == 1:
            raise RuntimeError("the engine refused the import")
        done.append(item)
        return {"item": item}

    results = _pipelined(iter(range(10)), work)
    assert next(results) == {"item": 0}
    with pytest.raises(RuntimeError):
        next(results)
    assert done == [0]  # nothing after the refused chunk
