"""The alert rules as pure functions: constructed verdicts and synthetic series at and around
every threshold; then the spike episodes over a real DuckDB file."""

from datetime import timedelta

import pytest

from alerts import evaluate, rules, spikes, summary
from alerts.settings import AlertSettings, RuleSet
from alerts.spikes import Episode, Window
from analysis.verdict import Verdict
from collectors.post import Post, utcnow
from data import alerts as db
from data import feedback
from data.store import Pending

DEFAULT = AlertSettings()


def verdict(**kw) -> dict:
    row = {"post_id": "x:1", "label": "sarcastic", "sentiment": "negative", "sarcasm": True,
           "sarcasm_score": 0.8, "confidence": 0.8, "explanation": "praise + 🙄",
           "text": "Love how the Voltra X2 keeps my hands warm", "brands": ["Voltra"],
           "likes": 0, "reposts": 0, "replies": 0, "raw": {}, "url": "https://x.test/1"}
    row.update(kw)
    return row


# -- per-post rules ---------------------------------------------------------------------------

@pytest.mark.parametrize(("score", "confidence", "route"), [
    (0.6, 0.55, "alert"),  # exactly at both thresholds
    (0.599, 0.9, "archive"),  # sarcasm just under
    (0.9, 0.549, "archive"),  # confidence just under (still above review_below)
    (0.9, 0.49, "review"),  # under review_below: a person should look
])
def test_disguised_criticism_thresholds(score, confidence, route):
    decision = rules.route(verdict(sarcasm_score=score, confidence=confidence), DEFAULT)
    assert decision.route == route
    assert (decision.alert is not None) == (route == "alert")
    if route == "alert":
        assert decision.rule == "disguised_criticism" and decision.alert.kind == "sarcasm"
        assert decision.alert.key == "post:x:1"  # one alert per post


def test_one_big_account_outranks_ten_from_nobody():
    big = rules.route(verdict(raw={"author": {"followers_count": 2_000_000}}), DEFAULT).alert
    nobody = rules.route(verdict(likes=1), DEFAULT).alert
    # reach weight 1 + log10(1 + reach): 5.3 for 20k reach, 1.3 for one like
    assert big.score > 4 * nobody.score
    assert big.severity == "high" and nobody.severity == "low"
    assert big.details["followers"] == 2_000_000 and big.details["reach"] == 20_000
    assert rules.reach(verdict(likes=3, reposts=2, replies=1, raw={"followers": 500})) == 11


@pytest.mark.parametrize(("reach", "confidence", "route"), [
    (100, 0.7, "alert"), (99, 0.9, "archive"), (500, 0.69, "archive"), (500, 0.3, "review")])
def test_negative_post_with_reach(reach, confidence, route):
    row = verdict(label="negative", sarcasm=False, sarcasm_score=0.1, likes=reach,
                  confidence=confidence)
    decision = rules.route(row, DEFAULT)
    assert decision.route == route
    if route == "alert":
        assert decision.alert.kind == "negative" and decision.rule == "negative_reach"
        assert decision.alert.details["links"] == ["https://x.test/1"]


def test_positive_and_neutral_pass():
    for label in ("positive", "neutral"):
        decision = rules.route(verdict(label=label, sentiment=label, sarcasm_score=0.0,
                                       likes=10_000), DEFAULT)
        assert (decision.route, decision.rule, decision.alert) == ("pass", "not_negative", None)


def test_thresholds_per_brand():
    strict = AlertSettings(brands={"Voltra": RuleSet(sarcasm_threshold=0.9)})
    assert rules.route(verdict(sarcasm_score=0.8), strict).route == "archive"
    assert rules.route(verdict(sarcasm_score=0.8, brands=["Nimbus"]), strict).route == "alert"


def test_per_brand_sentiment_picks_the_brand_criticised():
    row = verdict(label="negative", sarcasm=False, sarcasm_score=0.0, likes=300,
                  brands=["Nimbus", "Voltra"],
                  brand_sentiments={"Nimbus": "positive", "Voltra": "negative"})
    alert = rules.route(row, DEFAULT).alert
    assert alert.brand == "Voltra" and alert.details["brands"] == ["Voltra"]
    row["brand_sentiments"] = {"Nimbus": "positive", "Voltra": "positive"}
    assert rules.route(row, DEFAULT).alert is None


# -- spike rules over synthetic series --------------------------------------------------------

NOISE = [18, 22, 20, 19, 21, 23, 17, 20, 22, 18, 19, 21]  # mean 20, σ ≈ 1.7 → √20 ≈ 4.47


def windows(counts, negative_share=0.2, sarcastic_share=0.1):
    return [Window(c, c, round(c * negative_share), round(c * sarcastic_share)) for c in counts]


def test_volume_no_alert_on_noise_one_on_a_step():
    base = windows(NOISE)
    rule = RuleSet()  # balanced: k = 2, threshold 20 + 2·√20 ≈ 28.9
    assert not spikes.volume(windows([23])[0], base, rule).fired
    assert not spikes.volume(windows([28])[0], base, rule).fired
    check = spikes.volume(windows([29])[0], base, rule)
    assert check.fired and check.mean == 20 and round(check.threshold, 2) == 28.94
    assert spikes.volume(windows([60])[0], base, rule).fired


def test_sensitivity_sets_k():
    base, now = windows(NOISE), windows([30])[0]
    assert spikes.volume(now, base, RuleSet(sensitivity="more")).fired  # 20 + 1.5·4.47
    assert spikes.volume(now, base, RuleSet(sensitivity="balanced")).fired
    assert not spikes.volume(now, base, RuleSet(sensitivity="fewer")).fired  # needs 33.4


def test_minimum_counts_so_two_posts_are_never_a_spike():
    quiet = windows([0] * 24)
    assert not spikes.volume(Window(2, 2, 2, 2), quiet, RuleSet()).fired
    assert not spikes.volume(Window(9, 9, 0, 0), quiet, RuleSet()).fired
    assert spikes.volume(Window(10, 10, 0, 0), quiet, RuleSet()).fired  # min_posts = 10
    checks = spikes.check_all(Window(2, 2, 2, 2), windows([20] * 24), RuleSet())
    assert not any(c.fired for c in checks)  # 100% negative of 2 posts is not a rise


def test_negative_share_rise_thresholds():
    base = windows([50] * 24, negative_share=0.2)  # pooled 20%
    rule = RuleSet()
    # 20 analyzed: σ = √(.2·.8/20) ≈ 0.089, threshold max(.2 + .179, .2 + .15) ≈ 0.379
    assert not spikes.share_rise("negative_spike", Window(20, 20, 7, 0), base, rule).fired
    check = spikes.share_rise("negative_spike", Window(20, 20, 8, 0), base, rule)
    assert check.fired and round(check.mean, 2) == 0.2
    # a high share of few posts: under min_negative (5)
    assert not spikes.share_rise("negative_spike", Window(4, 4, 4, 0), base, rule).fired
    # a flat 0% baseline: 5 of 100 is not a rise of min_rise (15 points)
    zero = windows([50] * 24, negative_share=0.0)
    assert not spikes.share_rise("negative_spike", Window(100, 100, 5, 0), zero, rule).fired


def test_sarcasm_rate_rise():
    base = windows([40] * 24, sarcastic_share=0.1)
    rule = RuleSet()
    assert spikes.share_rise("sarcasm_spike", Window(30, 30, 0, 12), base, rule).fired
    assert not spikes.share_rise("sarcasm_spike", Window(30, 30, 0, 6), base, rule).fired


def _check(fired: bool, kind="volume_spike"):
    return spikes.Check(kind, fired, 1.0, 1, 0.0, 1.0, 1.0, [])


def test_spike_episodes_update_end_and_are_not_repeated_during_the_cooldown():
    now, rule = utcnow(), RuleSet(spike_cooldown_minutes=120)
    assert [s.action for s in spikes.plan("V", [_check(True)], {}, now, rule)] == ["create"]
    running = {"volume_spike": Episode(7, None)}
    assert [(s.action, s.alert_id) for s in spikes.plan("V", [_check(True)], running, now,
                                                        rule)] == [("update", 7)]
    assert [s.action for s in spikes.plan("V", [_check(False)], running, now, rule)] == ["end"]
    ended = {"volume_spike": Episode(7, now - timedelta(minutes=119))}
    assert [(s.action, s.alert_id) for s in spikes.plan("V", [_check(True)], ended, now,
                                                        rule)] == [("reopen", 7)]
    long_ago = {"volume_spike": Episode(7, now - timedelta(minutes=121))}
    assert [s.action for s in spikes.plan("V", [_check(True)], long_ago, now, rule)] == [
        "create"]
    assert spikes.plan("V", [_check(False)], long_ago, now, rule) == []


# -- spikes end to end over a real DuckDB file -----------------------------------------------

def add_posts(store, brand, count, at, negative=0, prefix="p"):
    batch, verdicts = [], []
    for i in range(count):
        post = Post("t", f"{prefix}{i}", f"{brand} battery gets hot #overheat {i}",
                    created_at=at - timedelta(seconds=i), brands=[brand], likes=i,
                    url=f"https://x.test/{prefix}{i}")
        batch.append((post, []))
        bad = i < negative
        verdicts.append((Pending(post.id, post.text, None, None, "h"), Verdict(
            label="negative" if bad else "neutral", sentiment="negative" if bad else "neutral",
            sarcasm=False, sarcasm_score=0.0, emotion="neutral", emotions={}, confidence=0.6,
            explanation="", analyzer="test@1")))
    store.save_posts(batch)
    store.save_verdicts(verdicts)


def test_a_spike_is_one_alert_that_updates_while_it_lasts_and_ends(store):
    settings = AlertSettings(defaults=RuleSet(window_minutes=60, baseline_windows=6))
    now = utcnow().replace(microsecond=0)
    for hours in range(1, 7):  # a quiet baseline: 3 posts an hour, 1 negative
        add_posts(store, "Voltra", 3, now - timedelta(hours=hours, minutes=5), 1, f"b{hours}-")
    add_posts(store, "Voltra", 30, now - timedelta(minutes=5), 24, "now-")
    evaluate.run(store, settings, ["Voltra"], lambda a: [], now=now)
    evaluate.run(store, settings, ["Voltra"], lambda a: [], now=now + timedelta(minutes=1))
    alerts = db.list_alerts(store, "all")["items"]
    assert sorted(a["kind"] for a in alerts) == ["negative_spike", "volume_spike"]
    volume = next(a for a in alerts if a["kind"] == "volume_spike")
    assert volume["updated_at"] > volume["created_at"] and volume["ended_at"] is None
    d = volume["details"]
    assert d["figures"]["count"] == 30 and d["figures"]["mean"] == 3
    assert len(d["figures"]["baseline"]) == 6 and d["window"]["minutes"] == 60
    assert [p["reach"] for p in d["top_posts"]] == [29, 28, 27, 26, 25]
    assert "#overheat" in d["terms"]["hashtags"]
    assert d["sentiment_mix"]["negative"] == 24 and d["links"][0] == "https://x.test/now-29"
    # Two hours later the burst is in the baseline's past: the spikes end, nothing new.
    evaluate.run(store, settings, ["Voltra"], lambda a: [], now=now + timedelta(hours=2))
    after = db.list_alerts(store, "all")["items"]
    assert len(after) == 2 and all(a["ended_at"] is not None for a in after)


def test_top_terms_hashtags_and_brand_words_left_out():
    texts = ["伏特拉X2 发热 #overheat", "Voltra battery 发热严重 #overheat #伏特拉翻车#",
             "voltra battery again"]
    got = summary.top_terms(texts, exclude=["Voltra", "伏特拉"])
    assert got["hashtags"][:2] == ["#overheat", "#伏特拉翻车"]
    assert set(got["terms"][:2]) == {"发热", "battery"}
    assert not any("伏特" in t or "voltra" in t for t in got["terms"])
    assert summary.sentiment_mix(["negative", None, "negative"]) == {
        "negative": 2, "neutral": 0, "positive": 0, "pending": 1}


# -- an alert whose reading no longer stands ---------------------------------------------------

def read_as(store, post: Post, label: str, score: float) -> None:
    store.save_verdicts([(Pending(post.id, post.text, None, None, "h"), Verdict(
        label=label, sentiment="negative" if label == "sarcastic" else label,
        sarcasm=label == "sarcastic", sarcasm_score=score, emotion="neutral", emotions={},
        confidence=0.8, explanation="", analyzer="test@1"))])


def test_an_open_alert_is_withdrawn_when_the_post_is_read_again_without_one(store):
    """A hurried reading during a backlog raised disguised criticism; the full reading says
    sincere praise: the open alert is resolved with the reason, its unsent deliveries are
    suppressed. An acknowledged alert stays (a person is on it), so does a reviewed post's
    and one the new reading still raises."""
    posts = [Post("t", f"w{i}", f"Voltra X2, what a battery {i}", created_at=utcnow(),
                  brands=["Voltra"], likes=50, url=f"https://x.test/w{i}") for i in range(4)]
    store.save_posts([(p, []) for p in posts])
    for p in posts:
        read_as(store, p, "sarcastic", 0.9)
    evaluate.run(store, DEFAULT, ["Voltra"], lambda a: ["hook"])
    opened = {a["post_id"]: a for a in db.list_alerts(store, "open")["items"]}
    assert sorted(opened) == ["t:w0", "t:w1", "t:w2", "t:w3"]
    db.set_status(store, opened["t:w1"]["id"], "ack", "pr@x", None)
    feedback.record(store, "t:w3", feedback.Correction(label="sarcastic"), "rev")
    for p, label in zip(posts, ["positive", "positive", "sarcastic", "positive"], strict=True):
        read_as(store, p, label, 0.95 if label == "sarcastic" else 0.1)
    evaluate.run(store, DEFAULT, ["Voltra"], lambda a: ["hook"])
    alerts = {a["post_id"]: db.get_alert(store, a["id"])
              for a in db.list_alerts(store, "all")["items"]}
    assert len(alerts) == 4 and alerts["t:w3"]["status"] == "open"
    gone = alerts["t:w0"]
    assert gone["status"] == "resolved" and gone["status_by"] == db.WITHDRAWN_BY
    assert "read again and is now positive" in gone["note"]
    assert [d["status"] for d in gone["deliveries"]] == ["suppressed"]
    assert alerts["t:w1"]["status"] == "acknowledged"
    assert alerts["t:w2"]["status"] == "open"
    assert [d["status"] for d in alerts["t:w2"]["deliveries"]] == ["pending"]
    events = store.reader().execute(
        "SELECT action, actor FROM alert_events WHERE alert_id = ?", [gone["id"]]).fetchall()
    assert events == [("resolved", db.WITHDRAWN_BY)]


def test_a_withdrawn_alert_reopens_when_a_later_reading_raises_it_again(store):
    """Withdrawn, then read a third time as disguised criticism: the same alert opens again
    with the new score, a 'reopened' event and its suppressed delivery pending once more. An
    alert a person resolved stays resolved whatever the model reads next."""
    posts = [Post("t", f"r{i}", f"Voltra X2, what a battery {i}", created_at=utcnow(),
                  brands=["Voltra"], likes=50, url=f"https://x.test/r{i}") for i in range(2)]
    store.save_posts([(p, []) for p in posts])
    for label, score in [("sarcastic", 0.9), ("positive", 0.1)]:
        for p in posts:
            read_as(store, p, label, score)
        evaluate.run(store, DEFAULT, ["Voltra"], lambda a: ["hook"])
        if label == "sarcastic":
            by_post = {a["post_id"]: a["id"] for a in db.list_alerts(store, "open")["items"]}
            db.set_status(store, by_post["t:r1"], "resolve", "pr@x", "handled")
    for p in posts:
        read_as(store, p, "sarcastic", 0.97)
    evaluate.run(store, DEFAULT, ["Voltra"], lambda a: ["hook"])
    back, closed = (db.get_alert(store, by_post[f"t:r{i}"]) for i in range(2))
    assert back["status"] == "open" and back["note"] is None
    assert back["score"] != 0.9 and [d["status"] for d in back["deliveries"]] == ["pending"]
    assert [e["action"] for e in back["events"]] == ["resolved", "reopened"]
    assert closed["status"] == "resolved" and closed["status_by"] == "pr@x"
    assert len(db.list_alerts(store, "all")["items"]) == 2
