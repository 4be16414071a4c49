"""The routes behind the dashboard's "why" panel, Settings page, exports and offline docs,
through the real app over a real engine and DuckDB file; and the term counting behind them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import load_workbook

from analysis import terms
from subtext import exports

NOW = datetime.now(UTC).replace(microsecond=0)


def ingest(client, rows: list[dict]) -> None:
    response = client.post("/v1/ingest", json={"posts": rows})
    assert response.status_code == 200, response.text


def at(hours_ago: float) -> str:
    return (NOW - timedelta(hours=hours_ago)).isoformat()


SPIKE = [  # Voltra over the last day: overheating, three times, in two languages
    {"id": "s1", "text": "Voltra X2 overheating again, my hand is burning", "lang": "en",
     "created_at": at(2), "likes": 50},
    {"id": "s2", "text": "Overheating Voltra, thanks a lot #VoltraGate", "lang": "en",
     "created_at": at(3), "likes": 3},
    {"id": "s3", "text": "Is overheating normal for the voltra x2? #VoltraGate", "lang": "en",
     "created_at": at(4), "likes": 1, "reposts": 30},
    {"id": "s4", "text": "伏特拉发烫太严重了，发烫到不敢用", "lang": "zh", "created_at": at(5)},
    {"id": "s5", "text": "伏特拉又发烫了", "created_at": at(6)},  # no language given
    # the day before: the camera, which is old news
    {"id": "p1", "text": "Voltra camera is great", "lang": "en", "created_at": at(30)},
    {"id": "p2", "text": "voltra camera sharp", "lang": "en", "created_at": at(31)},
]


def test_settings_lists_brands_queries_and_the_time_zone(loaded):
    body = loaded.get("/v1/settings").json()
    assert body["timezone"] == "UTC"
    assert [(b["name"], b["query"]) for b in body["brands"]] == [
        ("Nimbus", "nimbus OR 云朵"), ("Voltra", "voltra OR 伏特拉")]


def test_terms_that_rose_with_their_sentiment_and_top_posts(loaded, engine):
    ingest(loaded, SPIKE)
    engine.analyze_pending()
    response = loaded.get("/v1/insights/terms", params={
        "brand": "voltra", "since": at(24), "until": NOW.isoformat()})  # any case of the brand
    assert response.status_code == 200, response.text
    body = response.json()
    words = {t["term"]: t for t in body["terms"]}
    assert words["overheating"]["count"] == 3 and words["overheating"]["previous"] == 0
    assert words["发烫"]["count"] == 2  # jieba segments 发烫 out of the Chinese posts
    assert "camera" not in words  # it was there the day before: it did not rise
    assert not {"voltra", "伏特拉", "伏特", "the", "is", "了"} & set(words)  # brand, stop words
    polar = words["overheating"]
    assert polar["positive"] + polar["negative"] + polar["neutral"] == 3
    assert [h["term"] for h in body["hashtags"]] == ["voltragate"]
    reach = [p["id"] for p in body["top_posts"]]
    assert reach[:2] == ["import:s1", "import:s3"]  # 50 likes, then 31 reposts+likes
    assert body["previous"]["until"].startswith(at(24)[:16])


def test_terms_need_a_period(loaded):
    response = loaded.get("/v1/insights/terms", params={"brand": "Voltra"})
    assert response.status_code == 422 and "since and until" in response.json()["detail"]


def test_a_post_without_language_gets_the_detected_one(loaded, engine):
    ingest(loaded, SPIKE)
    engine.analyze_pending()
    post = loaded.get("/v1/posts/import:s5").json()
    assert post["lang"] == "zh" == post["evidence"]["lang"]
    ids = [p["id"] for p in loaded.get("/v1/posts", params={"lang": "zh", "limit": 500})
           .json()["items"]]
    assert "import:s5" in ids and "import:s1" not in ids


def test_emotion_and_confidence_range_filters(loaded):
    posts = loaded.get("/v1/posts", params={"limit": 500}).json()["items"]
    low, high = 0.3, 0.8
    within = loaded.get("/v1/posts", params={"min_confidence": low,
                                             "max_confidence": high}).json()["items"]
    assert {p["id"] for p in within} == {
        p["id"] for p in posts if p["confidence"] is not None and low <= p["confidence"] <= high}
    emotion = posts[0]["emotion"]
    same = loaded.get("/v1/posts", params={"emotion": emotion}).json()["items"]
    assert same and all(p["emotion"] == emotion for p in same)
    assert loaded.get("/v1/posts", params={"emotion": "bored"}).status_code == 422


def test_query_tester_says_which_posts_match_and_why(loaded):
    body = loaded.post("/v1/query/test", json={"query": "batter* NEAR/2 drain*"}).json()
    assert [p["id"] for p in body["items"]] == ["replay:r2"] and body["checked"] == 4
    assert body["items"][0]["why"] == {"found": ["batter*", "drain*"], "missing": []}
    bad = loaded.post("/v1/query/test", json={"query": "nimbus NEAR camera"})
    assert bad.status_code == 422 and bad.json()["detail"]["position"] == 8


def test_csv_export_has_a_bom_and_iso_times(loaded):
    raw = loaded.get("/v1/export", params={"format": "csv", "lang": "zh"}).content
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [r["id"] for r in rows] == ["replay:r3"]
    assert rows[0]["text"] == "伏特拉真厉害，让我三天没睡着 🙂"
    assert datetime.fromisoformat(rows[0]["created_at"]).tzinfo is not None
    assert rows[0]["created_at"].endswith("Z")


FORMULAS = [{"id": "f1", "text": "=HYPERLINK(\"http://x\",\"win\") nimbus", "lang": "en"},
            {"id": "f2", "text": "@SUM(1) nimbus", "lang": "en", "author": "-2+3"},
            {"id": "f3", "text": "+1-1 nimbus", "lang": "en", "likes": 0}]


def test_csv_export_never_hands_excel_a_formula(loaded):
    ingest(loaded, FORMULAS)
    raw = loaded.get("/v1/export", params={"format": "csv", "q": "nimbus"}).content
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))}
    assert rows["import:f1"]["text"] == "'=HYPERLINK(\"http://x\",\"win\") nimbus"
    assert rows["import:f2"]["text"] == "'@SUM(1) nimbus"
    assert rows["import:f2"]["author"] == "'-2+3"
    assert rows["import:f3"]["text"] == "'+1-1 nimbus"
    assert rows["import:f3"]["likes"] == "0"  # numbers stay numbers
    plain = next(r for r in rows.values() if r["id"].startswith("replay:"))
    assert not plain["text"].startswith("'") and not plain["id"].startswith("'")
    assert rows["import:f1"]["created_at"].endswith("Z")  # times untouched


def test_csv_guard_covers_tab_and_cr_and_keeps_negative_numbers_numbers():
    # Ingest strips a text's leading tab or CR; a column from elsewhere may still hold one.
    batch = pa.RecordBatch.from_pydict({"text": ["-5 stars", "\t=1", "\r=1", "a=b", None],
                                        "score": [-0.5, 1, 2, 3, 4]})
    safe = exports.formula_safe(batch)
    assert safe.column("text").to_pylist() == ["'-5 stars", "'\t=1", "'\r=1", "a=b", None]
    assert safe.column("score").to_pylist() == [-0.5, 1, 2, 3, 4]


def test_feedback_csv_never_hands_excel_a_formula(loaded):
    post_id = loaded.get("/v1/posts").json()["items"][0]["id"]
    response = loaded.post("/v1/feedback", json={"post_id": post_id, "label": "negative",
                                                  "reviewer": "ann", "note": "=cmd|'/c calc'!A1"})
    assert response.status_code == 201, response.text
    table = list(csv.DictReader(io.StringIO(
        loaded.get("/v1/feedback", params={"format": "csv"}).text)))
    assert table[0]["note"] == "'=cmd|'/c calc'!A1"


def test_xlsx_export_keeps_formula_text_as_text(loaded):
    ingest(loaded, FORMULAS)
    response = loaded.get("/v1/export", params={"format": "xlsx", "q": "nimbus"})
    sheet = load_workbook(io.BytesIO(response.content)).active  # not read-only: cell types
    header = [c.value for c in sheet[1]]
    cells = {row[0].value: row[header.index("text")] for row in sheet.iter_rows(min_row=2)}
    for post_id, text in [("import:f1", FORMULAS[0]["text"]), ("import:f2", "@SUM(1) nimbus")]:
        assert cells[post_id].value == text and cells[post_id].data_type == "s"


def test_xlsx_export_opens_with_the_filtered_rows(loaded):
    ingest(loaded, [{"id": "f1", "text": "=HYPERLINK(\"http://x\") nimbus\x01", "lang": "en"}])
    response = loaded.get("/v1/export", params={"format": "xlsx", "brand": "Nimbus"})
    assert response.status_code == 200
    assert response.headers["content-disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    rows = list(sheet.values)
    # read-only openpyxl leaves out trailing empty cells
    header, body = rows[0], [dict(zip(rows[0], r, strict=False)) for r in rows[1:]]
    expected = loaded.get("/v1/posts", params={"brand": "Nimbus"}).json()["items"]
    assert [r["id"] for r in body] == [p["id"] for p in expected]
    assert "created_at" in header and body[0]["created_at"].endswith("Z")
    formula = next(r for r in body if r["id"] == "import:f1")
    assert formula["text"] == "=HYPERLINK(\"http://x\") nimbus"  # text, not a formula


def test_parquet_export_times_are_utc(loaded):
    table = pq.read_table(io.BytesIO(loaded.get("/v1/export", params={
        "format": "parquet"}).content))
    assert str(table.schema.field("created_at").type.tz) == "UTC" and table.num_rows == 4


def test_docs_are_served_without_a_cdn(loaded):
    page = loaded.get("/docs").text
    assert "cdn." not in page and "https://" not in page
    assert "/docs-assets/swagger-ui-bundle.js" in page
    assert loaded.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert loaded.get("/docs-assets/../config.py").status_code == 404
    assert loaded.get("/redoc").status_code == 404


def test_terms_skip_brand_words_and_count_once_per_post():
    found = terms.terms("Voltra voltra battery battery #Voltra #Fail 伏特拉续航太差", ["voltra",
                                                                                  "伏特拉"])
    assert found == {("battery", "word"), ("fail", "hashtag"), ("续航", "word"),
                     ("太差", "word")}
    rows = [("battery battery", "negative"), ("battery", "negative"), ("camera", "positive")]
    ranked = terms.rising(rows, [("camera", "positive")], top=5, min_count=1)
    assert [s.term for s in ranked] == ["battery"]
    assert ranked[0].count == 2 and ranked[0].net == -1.0


def test_the_display_time_zone_is_checked_at_start(tmp_path):
    import pytest

    from subtext.config import ConfigError, load

    good = tmp_path / "good.toml"
    good.write_text('[dashboard]\ntimezone = "Asia/Shanghai"\n', encoding="utf-8")
    assert load(good).dashboard_timezone == "Asia/Shanghai"
    bad = tmp_path / "bad.toml"
    bad.write_text('[dashboard]\ntimezone = "Mars/Olympus"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="dashboard.timezone.*unknown time zone 'Mars/Olympus'"):
        load(bad)
