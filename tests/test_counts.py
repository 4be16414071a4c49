"""The cheap counts behind /health and the listings equal the plain queries they replace, on a
small database taken through the states that change them (re-ingest, edits, reviews)."""

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from analysis import terms as term_stats
from analysis.verdict import Verdict
from collectors.post import Post
from data import alerts as alerts_db
from data import feedback, queries, trend_rows
from data import terms as term_reads
from data.store import Pending, Store

# The anti-join count_pending replaced: every post lacking a verdict of the analyzer for its
# current content.
PLAIN_PENDING = """SELECT count(*) FROM posts p
                     LEFT JOIN verdicts v ON v.post_id = p.id AND v.analyzer = ?
                    WHERE v.post_id IS NULL OR v.content_hash <> p.content_hash"""
ANALYZERS = ("lite@0.1", "e5@1")


def post(native_id: str, text: str = "Nimbus is great") -> Post:
    return Post(source="test", native_id=native_id, text=text,
                created_at=datetime(2026, 11, 1, 12, int(native_id) % 60), brands=["Nimbus"])


def verdict(analyzer: str) -> Verdict:
    return Verdict(label="neutral", sentiment="neutral", sarcasm=False, sarcasm_score=0.1,
                   emotion="neutral", emotions={"neutral": 1.0}, confidence=0.5,
                   explanation="test", analyzer=analyzer)


def analyze(store: Store, analyzer: str, limit: int = 100) -> list[Pending]:
    items = store.pending(analyzer, limit)
    store.save_verdicts([(item, verdict(analyzer)) for item in items])
    return items


def assert_pending_as_plain(store: Store) -> None:
    for analyzer in (*ANALYZERS, "never@1"):
        plain = store.reader().execute(PLAIN_PENDING, [analyzer]).fetchone()[0]
        assert store.count_pending(analyzer) == plain, analyzer
        assert plain == len(store.pending(analyzer, 1000))


def test_count_pending_equals_the_anti_join_through_edits(store):
    store.save_posts([(post(str(i)), []) for i in range(10)])
    assert_pending_as_plain(store)  # nothing analyzed: all 10 for every analyzer
    analyze(store, "lite@0.1", limit=6)
    assert_pending_as_plain(store)
    store.save_posts([(post("1", "Nimbus is great, mostly"), []),  # analyzed, then edited
                      (post("2"), []),  # analyzed, saved again unchanged
                      (post("8", "Nimbus? no"), []),  # not analyzed yet, edited
                      (post("10"), [])])  # new, in a batch that re-ingests others
    assert store.count_pending("lite@0.1") == 10 - 6 + 1 + 1
    assert_pending_as_plain(store)
    analyze(store, "e5@1")
    analyze(store, "lite@0.1")
    assert store.count_pending("lite@0.1") == 0
    assert_pending_as_plain(store)
    store.save_posts([(post("1"), [])])  # edited back to the text e5 analyzed before
    assert (store.count_pending("lite@0.1"), store.count_pending("e5@1")) == (1, 1)
    assert_pending_as_plain(store)


def test_a_verdict_of_content_replaced_meanwhile_stays_pending(store):
    """The analyzer read the post, the post changed, then the verdict of the old text came."""
    store.save_posts([(post("1"), [])])
    item = store.pending("lite@0.1", 1)[0]
    store.save_posts([(post("1", "Nimbus is great, said nobody"), [])])
    store.save_verdicts([(item, verdict("lite@0.1"))])
    assert store.count_pending("lite@0.1") == 1
    assert_pending_as_plain(store)
    analyze(store, "lite@0.1")
    assert store.count_pending("lite@0.1") == 0


def test_migration_seeds_the_stale_verdicts_of_an_existing_database(tmp_path):
    """A database from before migration 9 with a verdict gone stale still counts it."""
    with Store.open(tmp_path) as store:  # then back to 8, as if migration 9 never ran
        store.save_posts([(post("1"), []), (post("2"), [])])
        analyze(store, "lite@0.1")
        store.save_posts([(post("1", "Nimbus, edited"), [])])
        item = store.pending("lite@0.1", 1)[0]
        store.save_verdicts([(item, replace(verdict("lite@0.1"), confidence=0.9,
                                            evidence={"incongruity": 0.6}))])
        for table in ("reingested_posts", "verdict_disagreements", "trend_rows"):
            store.reader().execute(f"DROP TABLE {table}")
        store.reader().execute("DELETE FROM schema_version WHERE version >= 9")
        # an edit the store did not see (a database from before 9): found by the seeding
        store.reader().execute("UPDATE posts SET text = 'Nimbus, edited again', "
                               "content_hash = 'changed' WHERE id = 'test:2'")
    with Store.open(tmp_path) as store:  # migration 9 runs on the edited database
        assert store.count_pending("lite@0.1") == 1
        assert_pending_as_plain(store)
        queue = feedback.review_queue(store, queries.PostFilter())
        assert [(p["id"], p["reason"]) for p in queue["items"]] == [
            ("test:1", "modalities disagree")]  # test:2's verdict is sure enough



# -- listings: one pass equals the count and the page the API used to run apart ---------------

def plain_listing(store: Store, f: queries.PostFilter, limit: int, offset: int = 0,
                  cursor: str | None = None) -> tuple[int, list[str]]:
    """The two queries list_posts ran before: a count, then the page's ids."""
    where, params = f.where()
    source = queries._from(f.needs_verdicts())
    con = store.reader()
    total = con.execute(f"SELECT count(*) FROM {source} WHERE {where}", params).fetchone()[0]
    if cursor is not None:
        moment, last_id = queries.decode_cursor(cursor)
        where = f"{where} AND (p.created_at < ? OR (p.created_at = ? AND p.id > ?))"
        params = [*params, moment, moment, last_id]
    ids = [r[0] for r in con.execute(
        f"SELECT p.id FROM {source} WHERE {where} ORDER BY p.created_at DESC, p.id "
        "LIMIT ? OFFSET ?", [*params, limit, offset]).fetchall()]
    return total, ids


def evidence(n: int) -> dict:
    """Polarities and incongruity that make some verdicts' modalities disagree, each way."""
    polarity = {"text": (n % 5 - 2) / 2}
    if n % 11 == 5:
        polarity["caption"] = -polarity["text"]
    elif n % 13 == 6:
        polarity["faces"] = -0.8 if polarity["text"] > 0 else 0.1
    return {"lang": "en", "polarity": polarity, "incongruity": 0.4 if n % 9 == 0 else 0.0}


LABELS = ("positive", "negative", "neutral", "sarcastic")
EMOTIONS = ("joy", "anger", "neutral")


@pytest.fixture
def mixed(store: Store) -> Store:
    """120 posts over 5 days, two brands (some posts both, some lower-case), verdicts for
    most (some stale), and reviews of every kind."""
    posts = []
    for i in range(120):
        brands = [["Nimbus"], ["Voltra"], ["Nimbus", "Voltra"], ["nimbus"]][i % 4]
        text = f"post {i} about {' and '.join(brands)} {'refund' if i % 3 == 0 else 'fine'}"
        if i % 8 == 2:  # a comparison: its per-brand verdicts split (analysis/targets.py)
            text = f"post {i}: Nimbus beats Voltra {'refund' if i % 3 == 0 else 'fine'}"
        posts.append((Post(source=("rss", "reddit")[i % 2], native_id=str(i), text=text,
                           created_at=datetime(2026, 11, 1) + timedelta(hours=i),
                           lang=(None, "en", "zh")[i % 3], brands=brands), []))
    store.save_posts(posts)
    store.brand_terms = {"Nimbus": ["nimbus"], "Voltra": ["voltra"]}
    items = store.pending("lite@0.1", 100)  # 20 stay pending
    store.save_verdicts([(item, Verdict(
        label=LABELS[n % 4], sentiment=("positive", "negative", "neutral", "negative")[n % 4],
        sarcasm=n % 4 == 3, sarcasm_score=(n % 10) / 10, emotion=EMOTIONS[n % 3],
        emotions={"neutral": 1.0}, confidence=(n % 7) / 6, explanation="test",
        evidence=evidence(n), analyzer="lite@0.1")) for n, item in enumerate(items)])
    # re-analyzed: a verdict that disagreed is replaced by one that does not, and back
    again = [item for n, item in enumerate(items) if n % 9 == 0][:6]
    store.save_verdicts([(item, Verdict(
        label="neutral", sentiment="neutral", sarcasm=False, sarcasm_score=0.1,
        emotion="neutral", emotions={}, confidence=0.3 + n / 10, explanation="again",
        evidence={"incongruity": 0.5 if n % 2 else 0.1}, analyzer="lite@0.1"))
        for n, item in enumerate(again)])
    store.save_posts([(Post(source="rss", native_id="2", text="edited: refund",
                            created_at=datetime(2026, 11, 1, 2), brands=["Nimbus", "Voltra"]),
                       [])])
    for i, correction in enumerate([
            feedback.Correction(label="positive"), feedback.Correction(sarcasm=True),
            feedback.Correction(sarcasm=False), feedback.Correction(emotion="anger"),
            feedback.Correction(brand="Nimbus"), feedback.Correction(irrelevant=True),
            feedback.Correction(label="sarcastic", sarcasm=False)]):
        for n in range(i * 2 + 2, 120, 17):  # posts about both brands for the brand review
            post_id = f"{('rss', 'reddit')[n % 2]}:{n}"
            if correction.brand and n % 4 != 2:
                continue
            feedback.record(store, post_id, correction, "rev")
    feedback.record_false_alarm(store, "reddit:3", "rev")
    return store


FILTERS = [
    queries.PostFilter(),
    queries.PostFilter(brand="Nimbus"), queries.PostFilter(brand="VOLTRA"),
    queries.PostFilter(label="sarcastic"), queries.PostFilter(label="positive", brand="nimbus"),
    queries.PostFilter(sarcasm=True), queries.PostFilter(sarcasm=False),
    queries.PostFilter(min_confidence=0.5), queries.PostFilter(max_confidence=0.4),
    queries.PostFilter(emotion="anger"), queries.PostFilter(lang="en"),
    queries.PostFilter(q="REFUND"), queries.PostFilter(q="refund", label="negative"),
    queries.PostFilter(reviewed=True), queries.PostFilter(reviewed=False),
    queries.PostFilter(since=datetime(2026, 11, 3), until=datetime(2026, 11, 4, 6)),
    queries.PostFilter(source="rss", since=datetime(2026, 11, 2), min_confidence=0.2),
    queries.PostFilter(q="nothing like this"),
]


def test_listing_equals_the_count_and_page_apart(mixed):
    for f in FILTERS:
        for limit, offset in ((7, 0), (7, 14), (500, 0), (5, 1000)):
            got = queries.list_posts(mixed, f, limit, offset)
            assert (got["total"], [p["id"] for p in got["items"]]) == plain_listing(
                mixed, f, limit, offset), f
        cursor = queries.list_posts(mixed, f, 6)["next_cursor"]
        if cursor:
            got = queries.list_posts(mixed, f, 6, cursor=cursor)
            assert (got["total"], [p["id"] for p in got["items"]]) == plain_listing(
                mixed, f, 6, cursor=cursor), f


def test_a_post_naming_one_brand_in_two_spellings_is_listed_once(store):
    store.save_posts([(Post(source="rss", native_id="1", text="Nimbus or nimbus?",
                            created_at=datetime(2026, 11, 1), brands=["Nimbus", "nimbus"]), [])])
    analyze(store, "lite@0.1")
    for f in (queries.PostFilter(label="neutral"), queries.PostFilter(brand="NIMBUS"),
              queries.PostFilter(brand="nimbus", label="neutral")):
        got = queries.list_posts(store, f, 10)
        assert (got["total"], [p["id"] for p in got["items"]]) == (1, ["rss:1"]), f
        assert plain_listing(store, f, 10) == (1, ["rss:1"]), f


def test_the_mixed_database_has_what_the_filters_tell_apart(mixed):
    """Each filter selects some posts and not all, so an equality above means something."""
    every = queries.list_posts(mixed, queries.PostFilter(), 1)["total"]
    for f in FILTERS[1:-1]:
        assert 0 < queries.list_posts(mixed, f, 1)["total"] < every, f


# -- trends ------------------------------------------------------------------------------------

def plain_trends(store: Store, f: queries.PostFilter, bucket: str, by: str) -> list[dict]:
    """trends() as it was: every trend row joined with the per-brand verdicts."""
    where, params = f.where()
    inner, outer = queries.TREND_KEYS[by]
    source = queries._from(by not in ("brand", "source") or f.needs_verdicts())
    only = ""
    if f.brand is not None:
        only, params = "WHERE lower(rows.brand) = lower(?)", [*params, f.brand]
    per_brand = {"label": "CASE WHEN human THEN key ELSE coalesce(bv.label, key) END",
                 "sentiment": "CASE WHEN human THEN key ELSE coalesce(bv.sentiment, key) END"}
    extra = joined = ""
    if by in per_brand:
        outer = per_brand[by]
        extra = ", p.id AS post_id, v.analyzer AS analyzer, coalesce(v.human, false) AS human"
        joined = """LEFT JOIN post_brand_verdicts bv ON bv.post_id = rows.post_id
                      AND bv.brand = rows.brand AND bv.analyzer = rows.analyzer"""
    cur = store.reader().execute(
        f"""WITH rows AS (SELECT date_trunc('{queries.BUCKETS[bucket]}', p.created_at) AS bucket,
                                 unnest({queries.BRANDS_OF}) AS brand, {inner} AS key{extra}
                            FROM {source} WHERE {where})
            SELECT bucket, rows.brand AS brand, {outer} AS key, count(*) AS count
              FROM rows {joined} {only} GROUP BY ALL ORDER BY bucket, brand, key""", params)
    return queries._rows(cur)


def test_trends_equal_the_plain_query(mixed):
    seen = set()
    for f in FILTERS:
        for by in queries.TREND_KEYS:
            for bucket in queries.BUCKETS:
                got = queries.trends(mixed, f, bucket, by)
                assert got == plain_trends(mixed, f, bucket, by), (f, by, bucket)
                seen.update((by, row["key"]) for row in got)
    assert {("label", "positive"), ("label", "sarcastic"), ("sentiment", "pending")} <= seen
    split = mixed.reader().execute(
        """SELECT count(*) FROM post_brand_verdicts bv JOIN verdicts v USING (post_id, analyzer)
            WHERE bv.label <> v.label""").fetchone()[0]
    assert split > 0  # so the per-brand verdicts change some counts


def stored_trend_rows(store: Store) -> list[tuple]:
    return store.reader().execute("SELECT * FROM trend_rows ORDER BY ALL").fetchall()


def computed_trend_rows(store: Store) -> list[tuple]:
    return store.reader().execute(
        f"SELECT * FROM ({trend_rows.rows_of()}) ORDER BY ALL").fetchall()


@pytest.fixture(params=[trend_rows.LISTED, 1], ids=["ids-as-parameters", "ids-as-a-table"])
def id_lists(request, monkeypatch):
    """Both ways the writes pass ids to DuckDB (trend_rows.ids_in): a batch as parameters,
    more as a registered table (here from two ids on)."""
    monkeypatch.setattr(trend_rows, "LISTED", request.param)


def test_trend_rows_follow_every_write(id_lists, mixed):
    """The kept rows equal the rows computed from the data after ingest, verdicts, re-analysis,
    a re-ingest that adds a brand, changes the date and the language, every kind of review,
    and an alert dismissed as a false alarm."""
    assert stored_trend_rows(mixed) == computed_trend_rows(mixed)
    assert len(stored_trend_rows(mixed)) > 120  # two-brand posts count twice
    mixed.save_posts([(Post(source="reddit", native_id="5", text="moved, now about both",
                            created_at=datetime(2026, 11, 9), lang="zh",
                            brands=["Nimbus", "Voltra"]), [])])
    with mixed._transaction() as cur:
        alert_id = cur.execute(
            """INSERT INTO alerts (key, kind, post_id, brand, message, created_at)
               VALUES ('k', 'sarcasm', 'rss:4', 'Nimbus', 'm', now()) RETURNING id"""
        ).fetchone()[0]
    before = [r for r in stored_trend_rows(mixed) if r[0] == "rss:4"]
    alerts_db.set_status(mixed, alert_id, "false-alarm", "rev", None)
    after = [r for r in stored_trend_rows(mixed) if r[0] == "rss:4"]
    assert before != after  # the dismissal reads the post as not sarcastic
    assert stored_trend_rows(mixed) == computed_trend_rows(mixed)
    assert [r[1:3] for r in stored_trend_rows(mixed) if r[0] == "reddit:5"] == [
        (datetime(2026, 11, 9), "Nimbus"), (datetime(2026, 11, 9), "Voltra")]


def test_migration_builds_the_trend_rows_of_a_stored_database(mixed, tmp_path):
    with mixed._transaction() as cur:
        cur.execute("DELETE FROM trend_rows")
        cur.execute("DELETE FROM schema_version WHERE version >= 12")
        cur.execute("DROP TABLE trend_rows")
    mixed.close()
    with Store.open(mixed.data_dir) as store:
        assert stored_trend_rows(store) == computed_trend_rows(store)
        assert stored_trend_rows(store)


def test_migration_13_adds_the_queue_reasons_to_the_rows_of_version_12(mixed):
    """A database at version 12 holds the rows without the queue's columns, and rows that no
    write will touch again: the migration rebuilds them all."""
    with mixed._transaction() as cur:
        cur.execute("DROP INDEX trend_rows_post")  # DuckDB alters no indexed table
        cur.execute("ALTER TABLE trend_rows DROP COLUMN queue")
        cur.execute("ALTER TABLE trend_rows DROP COLUMN model_confidence")
        cur.execute("CREATE INDEX trend_rows_post ON trend_rows (post_id)")
        cur.execute("DELETE FROM schema_version WHERE version = 13")
    mixed.close()
    with Store.open(mixed.data_dir) as store:
        assert stored_trend_rows(store) == computed_trend_rows(store)
        reasons = {r[0] for r in store.reader().execute(
            "SELECT DISTINCT queue FROM trend_rows").fetchall()}
        assert reasons == {None, "false alarm", "modalities disagree", "low confidence"}


# -- the review queue ---------------------------------------------------------------------------

def _pol(key: str) -> str:
    return f"TRY_CAST(v.evidence -> 'polarity' ->> '{key}' AS DOUBLE)"


# The queue's reason as it was: each verdict's evidence parsed on every call.
PLAIN_REASON = f"""CASE
    WHEN fa.post_id IS NOT NULL THEN 'false alarm'
    WHEN v.reviewed THEN NULL
    WHEN coalesce(TRY_CAST(v.evidence ->> 'incongruity' AS DOUBLE), 0) >= 0.3
      OR {_pol('text')} * coalesce({_pol('caption')}, {_pol('faces')}) <= -0.09
      THEN 'modalities disagree'
    WHEN v.model_confidence < 0.5 THEN 'low confidence'
    END"""


def plain_queue(store: Store, f: queries.PostFilter, limit: int, offset: int) -> dict:
    """review_queue() as it was: every queued post's full columns, then the page."""
    where, params = f.where()
    source = f"""posts p JOIN ({queries.LATEST_VERDICTS}) v ON v.post_id = p.id
                 LEFT JOIN ({feedback.FALSE_ALARMS}) fa ON fa.post_id = p.id
                 {queries.REVIEWS_OF}"""
    con = store.reader()
    total = con.execute(f"SELECT count(*) FROM {source} WHERE {where} AND "
                        f"({PLAIN_REASON}) IS NOT NULL", params).fetchone()[0]
    cur = con.execute(
        f"""SELECT * FROM (SELECT {queries.POST_COLUMNS}, {PLAIN_REASON} AS reason,
                                  v.model_confidence AS model_confidence,
                                  v.model_sarcasm_score AS model_sarcasm_score,
                                  (SELECT list(brand ORDER BY brand) FROM post_brands b
                                    WHERE b.post_id = p.id) AS named_brands
                             FROM {source} WHERE {where})
             WHERE reason IS NOT NULL
             ORDER BY reason <> 'false alarm', model_confidence, id LIMIT ? OFFSET ?""",
        [*params, limit, offset])
    items = [queries._decode_json(row) for row in queries._rows(cur)]
    for item in items:
        item["named_brands"] = item["named_brands"] or []
    return {"total": total, "items": items}


def test_review_queue_equals_the_plain_query(mixed):
    reasons = set()
    for f in FILTERS:
        for limit, offset in ((5, 0), (5, 5), (200, 0), (5, 500)):
            got = feedback.review_queue(mixed, f, limit, offset)
            assert got == plain_queue(mixed, f, limit, offset), (f, limit, offset)
            reasons.update(item["reason"] for item in got["items"])
    assert reasons == {"false alarm", "modalities disagree", "low confidence"}


# -- a sarcastic verdict reviewed as not sarcastic reads at face value --------------------------

def test_face_value_of_a_verdict_reviewed_not_sarcastic(store):
    """Its label comes from its own evidence (the words' polarity), in every read, also after
    a newer verdict replaces it, while the other verdicts' evidence is never needed."""
    store.save_posts([(post(str(i)), []) for i in range(5)])
    polarity = {"test:0": 0.5, "test:1": -0.5, "test:2": 0.0, "test:3": 0.5, "test:4": 0.5}
    store.save_verdicts([(item, replace(verdict("lite@0.1"), label="sarcastic", sarcasm=True,
                                         sentiment="negative",
                                         evidence={"polarity": {"text": polarity[item.id]}}))
                         for item in store.pending("lite@0.1", 10)])
    for post_id in ("test:0", "test:1", "test:2", "test:4"):
        feedback.record(store, post_id, feedback.Correction(sarcasm=False), "rev")
    feedback.record(store, "test:3", feedback.Correction(label="negative"), "rev")
    item = next(p for p in store.pending("e5@1", 10) if p.id == "test:4")
    store.save_verdicts([(item, replace(verdict("e5@1"), label="sarcastic", sarcasm=True,
                                         evidence={"polarity": {"text": -0.9}}))])
    expected = {"test:0": "positive", "test:1": "negative", "test:2": "neutral",
                "test:3": "negative", "test:4": "negative"}
    assert {p: queries.get_post(store, p)["label"] for p in expected} == expected
    listed = queries.list_posts(store, queries.PostFilter(label="positive"), 10)
    assert [p["id"] for p in listed["items"]] == ["test:0"]
    counts = {row["key"]: row["count"] for row in queries.trends(
        store, queries.PostFilter(), "week", "label")}
    assert counts == {"positive": 1, "negative": 3, "neutral": 1}


# -- results kept until the next write (data/cache.py) -----------------------------------------

def test_cached_reads_follow_every_write(mixed):
    """Asked twice, the cached listing and trends equal a fresh read; after each kind of write
    (new posts, verdicts, a review) they change with it and still equal a fresh read."""
    checks = [(queries.PostFilter(label="negative"), "day", "label"),
              (queries.PostFilter(q="refund"), "week", "brand"),
              (queries.PostFilter(since=datetime(2026, 11, 2)), "hour", "sentiment")]

    def assert_fresh() -> None:
        for f, bucket, by in checks:
            for _ in range(2):  # the second call is served from the cache
                assert queries.list_posts(mixed, f, 7) == queries.read_posts(mixed, f, 7), f
                assert queries.trends(mixed, f, bucket, by) == queries.read_trends(
                    mixed, f, bucket, by), (f, by)

    assert_fresh()
    before = queries.list_posts(mixed, checks[0][0], 500)["total"]
    mixed.save_posts([(Post(source="rss", native_id="500", text="new refund post",
                            created_at=datetime(2026, 11, 6), brands=["Nimbus"]), [])])
    assert_fresh()
    mixed.save_verdicts([(item, replace(verdict("lite@0.1"), label="negative"))
                         for item in mixed.pending("lite@0.1", 100)])
    assert queries.list_posts(mixed, checks[0][0], 500)["total"] > before
    assert_fresh()
    served = queries.list_posts(mixed, checks[0][0], 500)["items"][0]
    feedback.record(mixed, served["id"], feedback.Correction(label="positive"), "rev")
    assert served["id"] not in {p["id"] for p in queries.list_posts(
        mixed, checks[0][0], 500)["items"]}
    assert_fresh()


def test_a_cached_result_is_a_copy(mixed):
    f = queries.PostFilter(label="negative")
    queries.list_posts(mixed, f, 3)["items"][0]["label"] = "changed by a caller"
    queries.trends(mixed, f)[0]["count"] = -1
    assert queries.list_posts(mixed, f, 3) == queries.read_posts(mixed, f, 3)
    assert queries.trends(mixed, f) == queries.read_trends(mixed, f)


# -- the why panel's reads ----------------------------------------------------------------------

def plain_texts(store: Store, f: queries.PostFilter, limit: int) -> list[tuple]:
    """texts() as it was: every post joined with every effective verdict, then the page."""
    where, params = f.where()
    return store.reader().execute(
        f"""SELECT p.text, v.sentiment FROM {queries._from()} WHERE {where}
             ORDER BY p.created_at DESC, p.id LIMIT ?""", [*params, limit]).fetchall()


def plain_top_posts(store: Store, f: queries.PostFilter, limit: int) -> list[dict]:
    """top_posts() as it was: the full columns of every matching post, then the top."""
    where, params = f.where()
    cur = store.reader().execute(
        f"""SELECT {queries.POST_COLUMNS}, {term_reads.REACH} AS reach FROM {queries._from()}
             WHERE {where} ORDER BY reach DESC, p.created_at DESC, p.id LIMIT ?""",
        [*params, limit])
    return [queries._decode_json(row) for row in queries._rows(cur)]


def test_why_panel_reads_equal_the_plain_queries(mixed):
    mixed.save_posts([(Post(source="rss", native_id=str(600 + i), text=f"liked {i}",
                            created_at=datetime(2026, 11, 2, i), likes=i * 3, reposts=i % 2,
                            brands=["Voltra"]), []) for i in range(6)])  # reach ties too
    for f in FILTERS:
        for limit in (1, 9, 500):
            assert term_reads.texts(mixed, f, limit) == plain_texts(mixed, f, limit), f
            assert term_reads.top_posts(mixed, f, limit) == plain_top_posts(mixed, f, limit), f
    assert any(s is None for _, s in term_reads.texts(mixed, FILTERS[0], 500))  # pending
    assert term_reads.top_posts(mixed, FILTERS[0], 1)[0]["reach"] == 16


def plain_rising(current, previous, skip, top=15, min_count=2):
    """analysis.terms.rising as it was: every text tokenised, a Counter per term's moods."""
    from collections import Counter
    skip = list(skip)
    now, moods, before = Counter(), {}, Counter()
    for text, sentiment in current:
        for term in term_stats.terms(text, skip):
            now[term] += 1
            moods.setdefault(term, Counter())[sentiment or "neutral"] += 1
    for text, _ in previous:
        before.update(term_stats.terms(text, skip))
    scale = len(current) / len(previous) if previous else 0.0
    stats = [term_stats.TermStat(t, k, c, before[(t, k)], moods[(t, k)]["positive"],
                                 moods[(t, k)]["negative"], moods[(t, k)]["neutral"])
             for (t, k), c in now.items() if c >= min_count]
    stats.sort(key=lambda s: (-(s.count - s.previous * scale), -s.count, s.term))
    return [s for s in stats if s.count > s.previous * scale][:top]


def test_rising_terms_equal_the_plain_count():
    import random
    rng = random.Random(3)
    words = ["refund", "battery", "#Fail", "#退款#", "续航太差", "伏特拉", "Voltra", "great",
             "shipping", "slow", "the", "客服", "screen", "lol", "@someone", "http://x.io/a"]
    moods = ["positive", "negative", "neutral", None]
    current = [(" ".join(rng.choices(words, k=rng.randint(1, 8))), rng.choice(moods))
               for _ in range(300)]
    previous = [(" ".join(rng.choices(words[3:], k=rng.randint(1, 8))), rng.choice(moods))
                for _ in range(200)]
    for skip in ([], ["voltra", "伏特拉"]):
        term_stats.add_words(skip)
        for top in (3, 50):
            for _ in range(2):  # the second time from the remembered terms
                got = term_stats.rising(current, previous, skip, top=top)
                assert got == plain_rising(current, previous, skip, top=top), (skip, top)
                assert got
        assert term_stats.rising(current, [], skip) == plain_rising(current, [], skip)


def test_a_write_committed_during_a_cached_read_is_seen_next(mixed):
    """The read started before the commit, so its result may lack the write: it is kept
    under the counter read before it, which the commit moved past."""
    f = queries.PostFilter(q="late")

    def read_then_write() -> dict:
        result = queries.read_posts(mixed, f)
        mixed.save_posts([(Post(source="rss", native_id="700", text="a late post",
                                created_at=datetime(2026, 11, 7), brands=["Nimbus"]), [])])
        return result

    stale = mixed.results.get(("posts", f, 50, 0, None), mixed.generation, read_then_write)
    assert stale["total"] == 0
    assert queries.list_posts(mixed, f)["total"] == 1
