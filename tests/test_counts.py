"""The cheap counts behind /health and the listings equal the plain queries they replace, on a
small database taken through the states that change them (re-ingest, edits, reviews)."""

from datetime import datetime

from analysis.verdict import Verdict
from collectors.post import Post
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
    """A database from before migration 8 with a verdict gone stale still counts it."""
    with Store.open(tmp_path) as store:  # then back to 7, as if migration 8 never ran
        store.save_posts([(post("1"), []), (post("2"), [])])
        analyze(store, "lite@0.1")
        store.save_posts([(post("1", "Nimbus, edited"), [])])
        store.reader().execute("DROP TABLE reingested_posts")
        store.reader().execute("DELETE FROM schema_version WHERE version = 8")
    with Store.open(tmp_path) as store:  # migration 8 runs on the edited database
        assert store.count_pending("lite@0.1") == 1
        assert_pending_as_plain(store)

