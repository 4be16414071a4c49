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
