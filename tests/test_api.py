"""The engine API through its real app over a real DuckDB file."""

import base64
import csv
import io
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest

from tests.conftest import png_bytes

NOW = datetime.now(UTC).replace(microsecond=0)
POSTS = [
    {"id": "a", "text": "Love my Nimbus 7, amazing camera", "lang": "en", "source": "web",
     "created_at": (NOW - timedelta(days=10)).isoformat()},
    {"id": "b", "text": "Voltra X2 battery drains fast, terrible", "lang": "en",
     "created_at": (NOW - timedelta(days=5)).isoformat(), "likes": 7},
    {"id": "c", "text": "伏特拉真厉害，让我三天没睡着 🙂", "lang": "zh",
     "created_at": (NOW - timedelta(days=2)).isoformat()},
    {"id": "d", "text": "Great, another Nimbus update that breaks Bluetooth 🙄", "lang": "en",
     "created_at": (NOW - timedelta(hours=20)).isoformat()},
    {"id": "e", "text": "Nimbus vs Voltra: which one ships first?", "lang": "en",
     "source": "web", "created_at": (NOW - timedelta(hours=2)).isoformat()},
    {"id": "f", "text": "云朵手机拍照很棒，推荐", "lang": "zh",
     "created_at": (NOW - timedelta(hours=1)).isoformat()},
]


@pytest.fixture
def api(client, engine):
    response = client.post("/v1/ingest", json={"posts": POSTS})
    assert response.status_code == 200, response.text
    engine.analyze_pending()
    engine.evaluate_alerts()
    return client


def all_posts(api) -> list[dict]:
    body = api.get("/v1/posts", params={"limit": 500}).json()
    assert body["total"] == len(body["items"])
    return body["items"]


def test_ingest_reports_new_and_updated(client):
    first = client.post("/v1/ingest", json={"posts": POSTS[:2]}).json()
    assert first == {"received": 2, "new": 2, "updated": 0, "failed": 0, "errors": []}
    again = client.post("/v1/ingest", json={"posts": POSTS[:3]}).json()
    assert again == {"received": 3, "new": 1, "updated": 2, "failed": 0, "errors": []}
    assert client.get("/v1/posts").json()["total"] == 3


def test_ingest_matches_brands_by_query(api):
    brands = {p["id"]: p["brands"] for p in all_posts(api)}
    assert brands["web:a"] == ["Nimbus"] and brands["import:c"] == ["Voltra"]
    assert brands["web:e"] == ["Nimbus", "Voltra"] and brands["import:f"] == ["Nimbus"]


FILTERS = [
    ({"brand": "Voltra"}, lambda p: "Voltra" in p["brands"]),
    ({"lang": "zh"}, lambda p: p["lang"] == "zh"),
    ({"source": "web"}, lambda p: p["source"] == "web"),
    ({"label": "sarcastic"}, lambda p: p["label"] == "sarcastic"),
    ({"sarcasm": "true"}, lambda p: p["sarcasm"] is True),
    ({"sarcasm": "false"}, lambda p: p["sarcasm"] is False),
    ({"min_confidence": 0.6}, lambda p: p["confidence"] >= 0.6),
    ({"q": "NIMBUS"}, lambda p: "nimbus" in p["text"].lower()),
    ({"since": (NOW - timedelta(days=3)).isoformat()},
     lambda p: datetime.fromisoformat(p["created_at"]) >= NOW - timedelta(days=3)),
    ({"until": (NOW - timedelta(days=3)).isoformat()},
     lambda p: datetime.fromisoformat(p["created_at"]) < NOW - timedelta(days=3)),
    ({"brand": "Nimbus", "lang": "en", "label": "sarcastic"},
     lambda p: "Nimbus" in p["brands"] and p["lang"] == "en" and p["label"] == "sarcastic"),
]


@pytest.mark.parametrize("params, keep", FILTERS, ids=[str(f[0]) for f in FILTERS])
def test_posts_filters_select_exactly(api, params, keep):
    expected = [p["id"] for p in all_posts(api) if keep(p)]
    body = api.get("/v1/posts", params={**params, "limit": 500}).json()
    assert [p["id"] for p in body["items"]] == expected
    assert body["total"] == len(expected)


def test_sarcastic_posts_are_found(api):
    sarcastic = {p["id"] for p in all_posts(api) if p["label"] == "sarcastic"}
    assert {"import:c", "import:d"} <= sarcastic


def test_paging(api):
    everything = [p["id"] for p in all_posts(api)]
    pages = [api.get("/v1/posts", params={"limit": 4, "offset": o}).json() for o in (0, 4)]
    assert [p["id"] for page in pages for p in page["items"]] == everything
    assert all(page["total"] == len(everything) for page in pages)


def test_export_csv_and_parquet_match_the_filter(api):
    expected = [p["id"] for p in all_posts(api) if "Voltra" in p["brands"]]
    csv_response = api.get("/v1/export", params={"brand": "Voltra", "format": "csv"})
    assert csv_response.status_code == 200
    assert csv_response.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv_response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(csv_response.content.decode("utf-8-sig"))))
    assert [r["id"] for r in rows] == expected
    assert {r["brands"] for r in rows} <= {"Voltra", "Nimbus;Voltra"}
    parquet = api.get("/v1/export", params={"brand": "Voltra", "format": "parquet"})
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.column("id").to_pylist() == expected
    assert "label" in table.column_names and "explanation" in table.column_names


def test_empty_export_still_has_a_header(api):
    response = api.get("/v1/export", params={"q": "no post says this"})
    text = response.content.decode("utf-8-sig")  # the CSV starts with a BOM, for Excel
    assert text.splitlines()[0].startswith('"id","source"')
    assert len(text.splitlines()) == 1
    parquet = api.get("/v1/export", params={"q": "no post says this", "format": "parquet"})
    assert pq.read_table(io.BytesIO(parquet.content)).num_rows == 0


def test_trends_count_every_post_per_brand(api):
    body = api.get("/v1/trends", params={"by": "label", "bucket": "day"}).json()
    assert body["bucket"] == "day"
    per_brand = {}
    for row in body["items"]:
        per_brand[row["brand"]] = per_brand.get(row["brand"], 0) + row["count"]
    posts = all_posts(api)
    for brand in ("Nimbus", "Voltra"):
        assert per_brand[brand] == sum(brand in p["brands"] for p in posts)
    keys = {row["key"] for row in body["items"]}
    assert keys <= {"positive", "negative", "neutral", "sarcastic"}
    sarcastic = sum(r["count"] for r in body["items"] if r["key"] == "sarcastic")
    assert sarcastic == sum(len(p["brands"]) for p in posts if p["label"] == "sarcastic")


def test_trends_of_one_brand_count_only_that_brand(api):
    body = api.get("/v1/trends", params={"brand": "Voltra", "by": "label"}).json()
    assert {row["brand"] for row in body["items"]} == {"Voltra"}
    assert sum(r["count"] for r in body["items"]) == sum(
        "Voltra" in p["brands"] for p in all_posts(api))


def test_trends_by_hour_respect_since(api):
    since = (NOW - timedelta(days=1)).isoformat()
    body = api.get("/v1/trends", params={"bucket": "hour", "since": since}).json()
    assert body["items"] and all(datetime.fromisoformat(r["bucket"]) >= NOW - timedelta(days=1,
                                 hours=1) for r in body["items"])


@pytest.mark.parametrize("path, params", [
    ("/v1/posts", {"bogus": "1"}),
    ("/v1/posts", {"limit": "many"}),
    ("/v1/posts", {"limit": 0}),
    ("/v1/posts", {"label": "happy"}),
    ("/v1/posts", {"min_confidence": 2}),
    ("/v1/posts", {"since": "yesterday-ish"}),
    ("/v1/trends", {"bucket": "minute"}),
    ("/v1/export", {"format": "xls"}),
    ("/v1/alerts", {"status": "maybe"}),
])
def test_bad_query_is_422_with_the_reason(api, path, params):
    response = api.get(path, params=params)
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"][-1] == next(iter(params))


@pytest.mark.parametrize("body, field", [
    ({"posts": [{"id": "x", "text": "hi", "colour": "red"}]}, "colour"),
    ({"posts": [{"id": "x"}]}, "text"),
    ({"posts": [{"id": "x", "text": "hi", "likes": "lots"}]}, "likes"),
    ({"posts": [{"id": "x", "text": "hi", "created_at": "someday"}]}, "created_at"),
    ({"posts": "all of them"}, "posts"),
    ({"post": []}, "post"),
])
def test_bad_ingest_is_422_and_stores_nothing(api, body, field):
    before = api.get("/v1/posts").json()["total"]
    response = api.post("/v1/ingest", json=body)
    assert response.status_code == 422
    named = {str(part) for error in response.json()["detail"] for part in error["loc"]}
    assert field in named
    assert api.get("/v1/posts").json()["total"] == before


def test_ingest_with_bad_images_keeps_the_post(client, engine):
    good = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    bad = "data:image/png;base64," + base64.b64encode(b"GIF89a but not really").decode()
    posts = [{"id": "img", "text": "Nimbus photo", "images": [good, bad, "/etc/passwd",
                                                              "ftp://example.org/x.png"]}]
    assert client.post("/v1/ingest", json={"posts": posts}).status_code == 200
    post = client.get("/v1/posts/import:img").json()
    assert len(post["images"]) == 1
    statuses = dict(engine.store.reader().execute("SELECT url, status FROM images").fetchall())
    assert statuses["/etc/passwd"].startswith("rejected: local paths are not accepted")
    assert statuses["ftp://example.org/x.png"] == "rejected: unsupported scheme 'ftp'"
    image = client.get(f"/v1/images/{post['images'][0]}")
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    assert client.get("/v1/images/" + "0" * 64).status_code == 404


def test_analyze_text_and_image(api):
    response = api.post("/v1/analyze", data={"text": "Great, it broke again 🙄"},
                        files={"image": ("meme.png", png_bytes(), "image/png")})
    assert response.status_code == 200
    verdict = response.json()
    assert verdict["label"] == "sarcastic" and verdict["sentiment"] == "negative"
    for key in ("sarcasm", "sarcasm_score", "emotion", "emotions", "confidence",
                "explanation", "ocr_text", "analyzer", "latency_ms"):
        assert key in verdict


def test_analyze_bad_image_falls_back_to_text(api):
    response = api.post("/v1/analyze", data={"text": "Voltra is terrible"},
                        files={"image": ("x.png", b"\x89PNG broken", "image/png")})
    verdict = response.json()
    assert response.status_code == 200 and verdict["label"] == "negative"
    assert any(n.startswith("image rejected") for n in verdict["evidence"]["notes"])


def test_analyze_nothing_is_refused(api):
    for form in ({"text": ""}, {"text": "   "}, {}):
        response = api.post("/v1/analyze", data=form)
        assert response.status_code == 422
        assert "nothing to analyze" in response.json()["detail"]


def test_analyze_only_a_broken_image_is_neutral_with_low_confidence(api):
    verdict = api.post("/v1/analyze", data={"text": ""},
                       files={"image": ("x.png", b"not a png", "image/png")}).json()
    assert verdict["label"] == "neutral" and verdict["confidence"] < 0.5
    assert "no text and no usable image" in verdict["evidence"]["notes"]


def test_analyze_rejects_unknown_form_fields(api):
    response = api.post("/v1/analyze", data={"text": "hi", "mood": "grumpy"})
    assert response.status_code == 422


def test_alerts_list_and_acknowledge(api):
    open_alerts = api.get("/v1/alerts").json()
    posts = {a["post_id"] for a in open_alerts["items"]}
    assert {"import:c", "import:d"} <= posts
    first = open_alerts["items"][0]
    assert first["text"] and first["explanation"] and first["kind"] == "sarcasm"
    ack = api.post(f"/v1/alerts/{first['id']}/ack", json={"by": "pr"})
    assert ack.status_code == 200
    assert api.get("/v1/alerts").json()["total"] == open_alerts["total"] - 1
    acked = api.get("/v1/alerts", params={"status": "acknowledged"}).json()["items"]
    assert [a["id"] for a in acked] == [first["id"]] and acked[0]["acknowledged_by"] == "pr"
    assert api.post("/v1/alerts/99999/ack").status_code == 404
    assert api.post(f"/v1/alerts/{first['id']}/ack", json={"who": "x"}).status_code == 422


def test_feedback(api):
    created = api.post("/v1/feedback", json={"post_id": "web:a", "label": "sarcastic",
                                             "sarcasm": True, "reviewer": "rev"})
    assert created.status_code == 201 and created.json()["id"] >= 1
    assert api.post("/v1/feedback", json={"post_id": "nope", "label": "positive"}
                    ).status_code == 404
    assert api.post("/v1/feedback", json={"post_id": "web:a", "label": "meh"}
                    ).status_code == 422
    assert api.get("/health").json()["counts"]["feedback"] == 2  # a row per field set


def test_health_and_runs(api):
    health = api.get("/health").json()
    assert health["status"] == "ok" and health["analyzer"] == "lite@1.1"
    assert health["pending"] == 0 and health["counts"]["posts"] == len(POSTS)
    assert health["brands"] == ["Nimbus", "Voltra"]
    runs = api.get("/v1/runs").json()["items"]
    assert {r["job"] for r in runs} == {"analyze", "alerts"}
    assert all(r["status"] == "ok" for r in runs)


def test_openapi_schema_lists_every_route(client):
    paths = set(client.get("/openapi.json").json()["paths"])
    assert {"/health", "/v1/posts", "/v1/trends", "/v1/export", "/v1/ingest", "/v1/analyze",
            "/v1/alerts", "/v1/alerts/{alert_id}/ack", "/v1/feedback"} <= paths
