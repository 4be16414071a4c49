"""The review loop through the real API over a real DuckDB file: a correction changes the post,
its alerts, the trends, the filters and the exports at once; corrections are listed and
exported; the review queue holds the unsure verdicts and the false alarms."""

import csv
import io

import pytest

from data import feedback
from tests.test_api import POSTS


@pytest.fixture
def api(client, engine):
    """Six analyzed posts (two of them about both brands or sarcastic), alerts routed."""
    assert client.post("/v1/ingest", json={"posts": POSTS}).status_code == 200
    engine.analyze_pending()
    engine.evaluate_alerts()
    return client


def trend_counts(api, **params) -> dict[tuple[str, str], int]:
    items = api.get("/v1/trends", params={"by": "label", **params}).json()["items"]
    out: dict[tuple[str, str], int] = {}
    for row in items:
        out[row["brand"], row["key"]] = out.get((row["brand"], row["key"]), 0) + row["count"]
    return out


def post(api, post_id: str) -> dict:
    return api.get(f"/v1/posts/{post_id}").json()


def ids(api, **params) -> list[str]:
    return [p["id"] for p in api.get("/v1/posts", params={"limit": 500, **params}
                                     ).json()["items"]]


def export_rows(api, **params) -> dict[str, dict]:
    # The CSV starts with a UTF-8 BOM (so Excel reads Chinese).
    text = api.get("/v1/export", params={"format": "csv", **params}).content.decode("utf-8-sig")
    return {r["id"]: r for r in csv.DictReader(io.StringIO(text))}


def open_alert_posts(api) -> set[str]:
    return {a["post_id"] for a in api.get("/v1/alerts").json()["items"]}


def test_a_correction_counts_everywhere_at_once(api):
    assert post(api, "import:d")["label"] == "sarcastic" and "import:d" in open_alert_posts(api)
    before = trend_counts(api)
    answer = api.post("/v1/feedback", json={"post_id": "import:d", "label": "neutral",
                                            "sarcasm": False, "reviewer": "rev"})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert len(body["ids"]) == 2 and body["closed_alerts"] == 1
    shown = post(api, "import:d")
    assert (shown["label"], shown["sarcasm"], shown["sentiment"]) == ("neutral", False, "neutral")
    assert shown["reviewed"] is True and shown["reviewed_by"] == "rev"
    assert (shown["model_label"], shown["model_sarcasm"]) == ("sarcastic", True)
    assert shown["confidence"] == 1.0 and shown["sarcasm_score"] == 0.0
    # Trends (and the KPIs drawn from them), filters, alerts and exports follow.
    after = trend_counts(api)
    assert after.get(("Nimbus", "sarcastic"), 0) == before[("Nimbus", "sarcastic")] - 1
    assert after[("Nimbus", "neutral")] == before.get(("Nimbus", "neutral"), 0) + 1
    assert "import:d" not in ids(api, label="sarcastic")
    assert ids(api, reviewed="true") == ["import:d"]
    assert "import:d" not in ids(api, reviewed="false")
    assert "import:d" not in open_alert_posts(api)
    # The correction contradicts the alert: it becomes a false alarm in the reviewer's name.
    closed = api.get("/v1/alerts", params={"status": "false_alarm"}).json()["items"]
    assert [a["status_by"] for a in closed if a["post_id"] == "import:d"] == ["review: rev"]
    row = export_rows(api)["import:d"]
    assert (row["label"], row["reviewed"], row["model_label"]) == ("neutral", "true", "sarcastic")


def test_brand_and_irrelevant_corrections_change_the_brand_figures(api):
    before = trend_counts(api)
    assert post(api, "web:e")["brands"] == ["Nimbus", "Voltra"]
    assert api.post("/v1/feedback", json={"post_id": "web:e", "brand": "Voltra"}
                    ).status_code == 201
    assert post(api, "web:e")["brands"] == ["Voltra"]
    assert "web:e" not in ids(api, brand="Nimbus") and "web:e" in ids(api, brand="Voltra")
    label = post(api, "web:e")["label"]
    assert trend_counts(api).get(("Nimbus", label), 0) == before[("Nimbus", label)] - 1
    assert export_rows(api)["web:e"]["brands"] == "Voltra"

    assert api.post("/v1/feedback", json={"post_id": "web:a", "irrelevant": True}
                    ).status_code == 201
    assert post(api, "web:a")["brands"] == [] and post(api, "web:a")["irrelevant"] is True
    assert "web:a" in ids(api) and "web:a" not in ids(api, brand="Nimbus")
    nimbus = sum(c for (brand, _), c in trend_counts(api).items() if brand == "Nimbus")
    assert nimbus == sum(c for (brand, _), c in before.items() if brand == "Nimbus") - 2


def test_a_post_reviewed_as_sarcastic_raises_its_alert(api):
    assert post(api, "import:b")["label"] == "negative" and "import:b" not in open_alert_posts(api)
    body = api.post("/v1/feedback", json={"post_id": "import:b", "sarcasm": True}).json()
    assert body["raised_alerts"] == 1 and body["post"]["label"] == "sarcastic"
    assert "import:b" in open_alert_posts(api)
    again = api.post("/v1/feedback", json={"post_id": "import:b", "label": "sarcastic"}).json()
    assert again["raised_alerts"] == 0  # one alert per post and brand


def test_bad_corrections_are_refused_and_store_nothing(api):
    for body, status in [({"post_id": "web:e"}, 422),  # sets nothing
                         ({"post_id": "web:e", "brand": "Acme"}, 422),  # not a brand it names
                         ({"post_id": "web:e", "emotion": "glee"}, 422),
                         ({"post_id": "web:e", "label": "meh"}, 422),
                         ({"post_id": "nope", "label": "positive"}, 404),
                         ({"post_id": "web:e", "label": "positive", "mood": "x"}, 422)]:
        assert api.post("/v1/feedback", json=body).status_code == status, body
    assert api.get("/v1/feedback").json()["total"] == 0
    assert api.get("/v1/feedback", params={"format": "xlsx"}).status_code == 422


def test_feedback_is_listed_and_exported_with_old_and_new_values(api):
    model = post(api, "import:f")
    api.post("/v1/feedback", json={"post_id": "import:f", "label": "negative",
                                   "emotion": "anger", "reviewer": "ann", "note": "irony"})
    api.post("/v1/feedback", json={"post_id": "import:f", "label": "neutral", "reviewer": "bo"})
    listed = api.get("/v1/feedback").json()
    assert listed["total"] == 3
    rows = [(r["post_id"], r["field"], r["old_value"], r["new_value"], r["reviewer"])
            for r in listed["items"]]
    assert rows == [("import:f", "label", "negative", "neutral", "bo"),
                    ("import:f", "emotion", model["emotion"], "anger", "ann"),
                    ("import:f", "label", model["label"], "negative", "ann")]
    assert all(r["created_at"] for r in listed["items"])
    assert post(api, "import:f")["label"] == "neutral"  # the newest correction wins
    assert post(api, "import:f")["emotion"] == "anger"  # ...per field
    only = api.get("/v1/feedback", params={"reviewer": "ann", "field": "emotion"}).json()
    assert [r["new_value"] for r in only["items"]] == ["anger"]
    exported = api.get("/v1/feedback", params={"format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["new_value"] for r in table] == ["negative", "anger", "neutral"]  # oldest first
    assert {"post_id", "field", "old_value", "new_value", "reviewer", "created_at"} <= set(
        table[0])


def expected_queue(posts: list[dict]) -> set[str]:
    """The queue's rule, restated over the API's post listing."""
    out = set()
    for p in posts:
        if p["reviewed"]:
            continue
        polarity = p["evidence"]["polarity"]
        other = polarity.get("caption") if polarity.get("caption") is not None \
            else polarity.get("faces")
        disagree = p["evidence"]["incongruity"] >= feedback.DISAGREE or (
            other is not None and polarity["text"] * other <= -feedback.DISAGREE ** 2)
        if disagree or p["confidence"] < feedback.LOW_CONFIDENCE:
            out.add(p["id"])
    return out


def test_review_queue_holds_unsure_verdicts_and_false_alarms(api, engine):
    posts = api.get("/v1/posts", params={"limit": 500}).json()["items"]
    queue = api.get("/v1/review/queue", params={"limit": 200}).json()
    assert {p["id"] for p in queue["items"]} == expected_queue(posts)
    assert queue["total"] == len(queue["items"])
    confidences = [p["model_confidence"] for p in queue["items"]]
    assert confidences == sorted(confidences)  # least sure first
    # An alert dismissed as a false alarm closes and puts its post first in the queue.
    assert "import:c" in open_alert_posts(api)
    assert feedback.record_false_alarm(engine.store, "import:c", "pr").closed_alerts == 1
    assert "import:c" not in open_alert_posts(api)
    queue = api.get("/v1/review/queue").json()["items"]
    assert (queue[0]["id"], queue[0]["reason"]) == ("import:c", "false alarm")
    assert queue[0]["sarcasm"] is False and queue[0]["model_sarcasm"] is True
    zh = api.get("/v1/review/queue", params={"lang": "zh"}).json()["items"]
    assert zh and all(p["lang"] == "zh" for p in zh)
    # Reviewed: it leaves the queue.
    api.post("/v1/feedback", json={"post_id": "import:c", "label": "sarcastic"})
    assert "import:c" not in {p["id"] for p in api.get("/v1/review/queue").json()["items"]}
    assert api.get("/v1/review/queue", params={"label": "happy"}).status_code == 422
