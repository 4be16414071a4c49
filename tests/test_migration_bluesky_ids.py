"""Migration 11 on a real DuckDB file written with the old Bluesky ids ("<source>:<URI>"):
re-keyed to the at:// URI with the DID, the post that search and Jetstream both stored merged
into one, with everything that referenced either id."""

import json
from datetime import datetime

import duckdb
import pytest

from data import queries
from data.schema import MIGRATIONS, migrate
from data.store import Store

POST = "app.bsky.feed.post"
A = f"at://did:plc:ann/{POST}/r1"  # seen by search ("bsky") and Jetstream ("jet")
B = f"at://did:plc:bob/{POST}/r2"  # Jetstream only, under the source name "jetstream"
C = f"at://did:plc:cat/{POST}/r3"  # stored canonically already, and once under "jet"
HANDLE = f"at://dan.bsky.social/{POST}/r4"  # search, a handle URI with the DID in raw
LOST = f"at://eve.bsky.social/{POST}/r5"  # a handle URI and no DID anywhere: stays
IMPORTED = f"at://did:plc:fay/{POST}/r6"  # imported, not collected: keeps "import:"


def t(minute: int) -> datetime:
    return datetime(2026, 11, 1, 12, minute)


def post(con, id_, source, native, likes=0, raw=None, url=None, text="nimbus rocks"):
    con.execute("INSERT INTO posts (id, source, native_id, url, author, text, lang, created_at,"
                " collected_at, likes, content_hash, raw) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [id_, source, native, url, "ann", text, "en", t(0), t(1), likes, "h1",
                 json.dumps(raw) if raw is not None else None])


def brand(con, post_id, *brands):
    for b in brands:
        con.execute("INSERT INTO post_brands VALUES (?, ?)", [post_id, b])
    con.execute("UPDATE posts SET brands = ? WHERE id = ?", [sorted(brands), post_id])


def verdict(con, post_id, analyzer, label, minute, content_hash="h1"):
    con.execute("INSERT INTO verdicts (post_id, analyzer, content_hash, label, sentiment, "
                "sarcasm, sarcasm_score, emotion, confidence, created_at, latest) "
                "VALUES (?,?,?,?,?,false,0.1,'joy',0.9,?,false)",
                [post_id, analyzer, content_hash, label, label, t(minute)])


@pytest.fixture
def old_db(tmp_path):
    """A database at schema 9 holding the old ids, closed: the migration opens the file."""
    path = tmp_path / "subtext.duckdb"
    con = duckdb.connect(str(path))
    migrate(con, MIGRATIONS[:9])
    post(con, f"bsky:{A}", "bsky", A, likes=7, raw={"cid": "a", "did": "did:plc:ann"},
         url="https://bsky.app/profile/ann.bsky.social/post/r1")
    post(con, f"jet:{A}", "jet", A, raw={"cid": "x"})
    brand(con, f"bsky:{A}", "Nimbus")
    brand(con, f"jet:{A}", "Nimbus", "Voltra")
    verdict(con, f"bsky:{A}", "lite@1", "positive", 5)
    verdict(con, f"jet:{A}", "lite@1", "negative", 9)  # newer: kept
    verdict(con, f"jet:{A}", "hf@2", "neutral", 7)
    con.execute("UPDATE verdicts SET latest = true WHERE post_id = ? AND analyzer = 'lite@1'",
                [f"jet:{A}"])
    con.execute("INSERT INTO verdict_disagreements VALUES (?, 'lite@1')", [f"jet:{A}"])
    con.execute("INSERT INTO post_brand_verdicts VALUES (?, 'Voltra', 'lite@1', 'negative', "
                "'negative', 'contrast')", [f"jet:{A}"])
    con.execute("INSERT INTO verdict_routes VALUES (?, 'lite@1', 'alert', 'sarcasm', ?)",
                [f"jet:{A}", t(9)])
    con.execute("INSERT INTO images (sha256, status, created_at) VALUES ('s1', 'ok', ?)", [t(0)])
    con.execute("INSERT INTO post_images VALUES (?, 0, 's1')", [f"bsky:{A}"])
    con.execute("INSERT INTO feedback (post_id, label, reviewer, created_at) "
                "VALUES (?, 'positive', 'rita', ?)", [f"bsky:{A}", t(20)])
    for key, post_id in ((f"post:bsky:{A}", f"bsky:{A}"), (f"post:jet:{A}", f"jet:{A}")):
        con.execute("INSERT INTO alerts (key, kind, post_id, brand, message, created_at) "
                    "VALUES (?, 'sarcasm', ?, 'Nimbus', 'm', ?)", [key, post_id, t(10)])
    con.execute("INSERT INTO alerts (key, kind, brand, message, created_at, details) VALUES "
                "('spike:Nimbus:1', 'spike', 'Nimbus', 'm', ?, ?)",
                [t(11), json.dumps({"top_posts": [{"post_id": f"jet:{A}"},
                                                  {"post_id": "reddit:9"}]})])
    post(con, f"jetstream:{B}", "jetstream", B, raw={"cid": "b"})
    verdict(con, f"jetstream:{B}", "lite@1", "neutral", 3)
    post(con, C, "jet", C, likes=1)  # written by the current version
    post(con, f"jet:{C}", "jet", C, likes=4, raw={"cid": "c"})
    brand(con, C, "Nimbus")
    brand(con, f"jet:{C}", "Voltra")
    verdict(con, C, "lite@1", "positive", 30)
    verdict(con, f"jet:{C}", "lite@1", "negative", 40, content_hash="h0")
    verdict(con, f"jet:{C}", "hf@2", "negative", 41, content_hash="h0")
    post(con, f"bsky:{HANDLE}", "bsky", HANDLE, raw={"cid": "d", "did": "did:plc:dan"})
    post(con, f"bsky:{LOST}", "bsky", LOST, raw={"cid": "e"})
    post(con, f"import:{IMPORTED}", "import", IMPORTED, raw={})
    post(con, "reddit:9", "reddit", "9", text="voltra")
    con.close()
    return path


def test_old_ids_are_rekeyed_and_duplicates_merged(old_db):
    con = duckdb.connect(str(old_db))
    counts = {table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
              for table in ("feedback", "alerts", "images")}
    assert migrate(con) == len(MIGRATIONS)
    ids = {r[0] for r in con.execute("SELECT id FROM posts").fetchall()}
    assert ids == {A, B, C, f"at://did:plc:dan/{POST}/r4", f"bsky:{LOST}",
                   f"import:{IMPORTED}", "reddit:9"}
    assert con.execute("SELECT native_id, likes, brands, url FROM posts WHERE id = ?",
                       [A]).fetchone() == (A, 7, ["Nimbus", "Voltra"],
                                           "https://bsky.app/profile/ann.bsky.social/post/r1")
    assert con.execute("SELECT likes, brands FROM posts WHERE id = ?",
                       [C]).fetchone() == (4, ["Nimbus", "Voltra"])
    # no row anywhere still names an old id that was mapped
    for table in ("post_brands", "post_images", "verdicts", "post_brand_verdicts",
                  "verdict_disagreements", "verdict_routes", "reingested_posts", "feedback",
                  "alerts"):
        left = con.execute(f"SELECT count(*) FROM {table} WHERE post_id LIKE '%:at://did:%'"
                           ).fetchone()[0]
        assert left == 0, table
    verdicts = con.execute("SELECT post_id, analyzer, label, latest FROM verdicts "
                           "ORDER BY post_id, analyzer").fetchall()
    assert verdicts == [(A, "hf@2", "neutral", False), (A, "lite@1", "negative", True),
                        (B, "lite@1", "neutral", True),
                        (C, "hf@2", "negative", True),  # the newest of C's verdicts
                        (C, "lite@1", "positive", False)]  # the canonical row's is kept
    assert con.execute("SELECT post_id FROM reingested_posts").fetchall() == [(C,)]  # h0
    assert con.execute("SELECT * FROM verdict_disagreements").fetchall() == [(A, "lite@1")]
    assert con.execute("SELECT post_id, brand FROM post_brand_verdicts").fetchall() == \
        [(A, "Voltra")]
    assert con.execute("SELECT post_id, route FROM verdict_routes").fetchall() == [(A, "alert")]
    assert con.execute("SELECT post_id, sha256 FROM post_images").fetchall() == [(A, "s1")]
    assert con.execute("SELECT post_id, reviewer FROM feedback").fetchall() == [(A, "rita")]
    alerts = con.execute("SELECT key, post_id FROM alerts WHERE kind = 'sarcasm' ORDER BY id"
                         ).fetchall()
    assert alerts == [(f"post:{A}", A), (f"post:jet:{A}", A)]  # both alerts stay
    details = json.loads(con.execute("SELECT details FROM alerts WHERE kind = 'spike'"
                                     ).fetchone()[0])
    assert [p["post_id"] for p in details["top_posts"]] == [A, "reddit:9"]
    for table, before in counts.items():  # nothing dropped
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == before
    con.close()


def test_the_store_reads_the_merged_post(old_db):
    with Store.open(old_db.parent) as store:
        merged = queries.get_post(store, A)
        assert merged is not None and sorted(merged["brands"]) == ["Nimbus", "Voltra"]
        assert queries.get_post(store, f"jet:{A}") is None
        assert store.known_posts([A, B]) == {A, B}
