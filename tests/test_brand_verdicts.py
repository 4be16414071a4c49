"""Per-brand verdicts in a real DuckDB store: written with the verdicts, read by the trends
and by the alert job's input."""

from datetime import datetime

from analysis.verdict import Verdict
from collectors.post import Post
from data import queries
from data.queries import PostFilter

TERMS = {"Nimbus": ["Nimbus", "nimbus", "云朵"], "Voltra": ["Voltra", "voltra", "伏特拉"]}


def post(native_id, text, brands):
    return Post(source="test", native_id=native_id, text=text,
                created_at=datetime(2026, 11, 1, 12, 0), brands=list(brands))


def verdict(label, sentiment):
    return Verdict(label=label, sentiment=sentiment, sarcasm=label == "sarcastic",
                   sarcasm_score=0.8 if label == "sarcastic" else 0.1, emotion="neutral",
                   emotions={"neutral": 1.0}, confidence=0.7, explanation="test",
                   analyzer="lite@test")


def analyze(store, labels):
    store.brand_terms = TERMS
    pending = store.pending("lite@test", 10)
    store.save_verdicts([(p, verdict(*labels[p.id])) for p in pending])


def seed(store):
    store.save_posts([
        (post("1", "Night shootout, Nimbus 7 vs Voltra X2: Nimbus wins easily.",
              ["Nimbus", "Voltra"]), []),
        (post("2", "Both Nimbus and Voltra made great phones", ["Nimbus", "Voltra"]), []),
        (post("3", "Voltra X2 overheats", ["Voltra"]), [])])
    analyze(store, {"test:1": ("positive", "positive"), "test:2": ("positive", "positive"),
                    "test:3": ("negative", "negative")})


def test_two_brand_posts_get_a_verdict_per_brand(store):
    seed(store)
    rows = store.reader().execute(
        "SELECT post_id, brand, sentiment, label, rule FROM post_brand_verdicts "
        "ORDER BY post_id, brand").fetchall()
    assert rows == [("test:1", "Nimbus", "positive", "positive", "wins"),
                    ("test:1", "Voltra", "negative", "negative", "wins"),
                    ("test:2", "Nimbus", "positive", "positive", "post"),
                    ("test:2", "Voltra", "positive", "positive", "post")]  # one-brand: none


def test_trends_count_a_two_brand_post_with_its_per_brand_sentiment(store):
    seed(store)
    voltra = queries.trends(store, PostFilter(brand="Voltra"), by="sentiment")
    assert {r["key"]: r["count"] for r in voltra} == {"negative": 2, "positive": 1}
    nimbus = queries.trends(store, PostFilter(brand="Nimbus"), by="label")
    assert {r["key"]: r["count"] for r in nimbus} == {"positive": 2}


def test_alert_input_carries_the_per_brand_sentiment(store):
    seed(store)
    rows = {r["post_id"]: r for r in store.verdicts_since(None)}
    assert rows["test:1"]["brand_sentiments"] == {"Nimbus": "positive", "Voltra": "negative"}
    assert rows["test:3"]["brand_sentiments"] in (None, {})


def test_reanalysis_replaces_the_per_brand_rows(store):
    seed(store)
    store.save_posts([(post("1", "Nimbus 7 vs Voltra X2: Voltra wins this one.",
                            ["Nimbus", "Voltra"]), [])])
    analyze(store, {"test:1": ("positive", "positive")})
    rows = dict(store.reader().execute(
        "SELECT brand, sentiment FROM post_brand_verdicts WHERE post_id = 'test:1'").fetchall())
    assert rows == {"Nimbus": "negative", "Voltra": "positive"}
