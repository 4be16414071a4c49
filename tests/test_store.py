import io
from datetime import datetime

import duckdb
import pytest
from PIL import Image

from analysis.verdict import Verdict
from collectors.post import Post
from data import queries
from data.images import store_image
from data.schema import MIGRATIONS, migrate
from data.store import Store, StoreLocked
from subtext.jobs import ingest
from tests.conftest import png_bytes


def post(native_id: str = "1", text: str = "Nimbus is great", brands=("Nimbus",),
         **extra) -> Post:
    return Post(source="test", native_id=native_id, text=text,
                created_at=datetime(2026, 11, 1, 12, 0), brands=list(brands), **extra)


def test_post_round_trip(store):
    original = post(author="ann", lang="en", url="https://example.org/1", likes=3, reposts=2,
                    replies=1, raw={"k": "v"})
    assert store.save_posts([(original, [])]).new == 1
    got = queries.get_post(store, "test:1")
    assert got["text"] == "Nimbus is great" and got["author"] == "ann"
    assert got["created_at"].replace(tzinfo=None) == datetime(2026, 11, 1, 12, 0)
    assert (got["likes"], got["reposts"], got["replies"]) == (3, 2, 1)
    assert got["brands"] == ["Nimbus"] and got["label"] is None  # not analyzed yet


def test_reingest_is_idempotent_and_updates(store):
    store.save_posts([(post(), [])])
    again = store.save_posts([(post(likes=10), []), (post("2"), [])])
    assert (again.new, again.updated) == (1, 1)
    assert store.reader().execute("SELECT count(*) FROM posts").fetchone()[0] == 2
    assert queries.get_post(store, "test:1")["likes"] == 10
    # a second brand adds to the first instead of replacing it
    store.save_posts([(post(brands=["Voltra"]), [])])
    assert queries.get_post(store, "test:1")["brands"] == ["Nimbus", "Voltra"]


def test_data_survives_reopen_and_migrations_run_once(tmp_path):
    with Store.open(tmp_path) as first:
        first.save_posts([(post(), [])])
    with Store.open(tmp_path) as second:
        assert second.reader().execute("SELECT count(*) FROM posts").fetchone()[0] == 1
        versions = second.reader().execute(
            "SELECT version FROM schema_version ORDER BY version").fetchall()
        assert versions == [(n,) for n in range(1, len(MIGRATIONS) + 1)]  # each once


def test_migration_applies_only_what_is_missing(tmp_path):
    con = duckdb.connect(str(tmp_path / "db.duckdb"))
    migrate(con)
    con.execute("INSERT INTO cursors VALUES ('s', 'b', 'v', now()::TIMESTAMP)")
    later = [*MIGRATIONS, "ALTER TABLE posts ADD COLUMN score DOUBLE"]
    assert migrate(con, later) == len(later)
    assert con.execute("SELECT count(*) FROM cursors").fetchone()[0] == 1  # data kept
    assert "score" in [r[0] for r in con.execute("DESCRIBE posts").fetchall()]
    with pytest.raises(RuntimeError, match="newer than this Subtext"):
        migrate(con, MIGRATIONS)


def test_failed_migration_rolls_back(tmp_path):
    con = duckdb.connect(str(tmp_path / "db.duckdb"))
    migrate(con)
    broken = [*MIGRATIONS, "CREATE TABLE extra (x INT); SELECT * FROM no_such_table"]
    with pytest.raises(duckdb.Error):
        migrate(con, broken)
    assert con.execute("SELECT max(version) FROM schema_version").fetchone()[0] == len(MIGRATIONS)
    tables = [r[0] for r in con.execute("SHOW TABLES").fetchall()]
    assert "extra" not in tables


def test_second_process_gets_a_clear_lock_error(tmp_path):
    import subprocess
    import sys

    with Store.open(tmp_path):
        code = ("from data.store import Store, StoreLocked\n"
                f"try:\n    Store.open({str(tmp_path)!r})\n"
                "except StoreLocked as e:\n    print('LOCKED', e)\n")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60)
    assert "LOCKED" in out.stdout and "engine running" in out.stdout
    assert StoreLocked.__doc__


def test_images_are_content_addressed_and_bad_ones_rejected(store, tmp_path):
    (tmp_path / "a.png").write_bytes(png_bytes("red"))
    (tmp_path / "same.png").write_bytes(png_bytes("red"))
    (tmp_path / "text.png").write_bytes(b"not an image at all")
    bomb = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(bomb, format="PNG")
    (tmp_path / "bomb.png").write_bytes(bomb.getvalue())
    posts = [post("1", images=["a.png"]), post("2", images=["same.png", "text.png"]),
             post("3", images=["bomb.png", "missing.png"])]
    saved = ingest(store, posts, [], base_dir=tmp_path)
    assert saved.new == 3
    rows = dict(store.reader().execute("SELECT url, status FROM images").fetchall())
    assert rows["a.png"] == "ok" and "same.png" not in rows  # same bytes, stored once
    assert rows["text.png"] == "rejected: not an image"
    assert rows["bomb.png"].startswith("rejected: decompression bomb")
    assert rows["missing.png"].startswith("rejected: cannot read")
    files = list((store.data_dir / "images").rglob("*.png"))
    assert len(files) == 1
    # posts with rejected images are kept and still listed, with only their good images
    listing = queries.list_posts(store, queries.PostFilter())["items"]
    listed = {p["id"]: p["images"] for p in listing}
    assert len(listed["test:2"]) == 1 and listed["test:3"] == []


def test_stored_images_are_downscaled(store):
    big = io.BytesIO()
    Image.new("RGB", (2000, 1000), "blue").save(big, format="JPEG")
    record = store_image(store.data_dir, big.getvalue())
    assert record.ok and (record.width, record.height) == (512, 256)
    with Image.open(store.data_dir / record.path) as kept:
        assert kept.size == (512, 256)


def test_pending_until_analyzed_and_again_after_an_edit(store):
    store.save_posts([(post("1"), []), (post("2", text="Voltra is slow"), [])])
    pending = store.pending("lite@0.1", 10)
    assert [p.id for p in pending] == ["test:1", "test:2"]
    store.save_verdicts([(p, verdict()) for p in pending])
    assert store.count_pending("lite@0.1") == 0
    assert store.count_pending("other@1") == 2  # a new analyzer re-analyzes everything
    store.save_posts([(post("2", text="Voltra is slow and hot"), [])])
    assert [p.id for p in store.pending("lite@0.1", 10)] == ["test:2"]


def verdict(label: str = "neutral") -> Verdict:
    return Verdict(label=label, sentiment="neutral", sarcasm=False, sarcasm_score=0.1,
                   emotion="neutral", emotions={"neutral": 1.0}, confidence=0.5,
                   explanation="test", analyzer="lite@0.1")


def test_cursor_moves_with_its_posts_or_not_at_all(store):
    store.save_posts([(post("1"), [])], cursor=("test", "Nimbus", "page-2"))
    assert store.get_cursor("test", "Nimbus") == "page-2"
    bad = post("2")
    bad.created_at = "not a time"  # fails inside the transaction
    with pytest.raises(Exception):  # noqa: B017 - any database error will do
        store.save_posts([(post("3"), []), (bad, [])], cursor=("test", "Nimbus", "page-3"))
    assert store.get_cursor("test", "Nimbus") == "page-2"
    ids = [r[0] for r in store.reader().execute("SELECT id FROM posts").fetchall()]
    assert ids == ["test:1"]  # nothing of the failed batch was kept


def test_bulk_upsert_counts_dates_images_and_duplicates(store, tmp_path):
    (tmp_path / "a.png").write_bytes(png_bytes("red"))
    (tmp_path / "b.png").write_bytes(png_bytes("blue"))
    first = ingest(store, [post("1", images=["a.png", "b.png"]), post("2")], [],
                   base_dir=tmp_path)
    assert (first.new, first.updated) == (2, 0)
    # a re-import that corrects a date, drops an image and names a post twice (last wins)
    moved = post("1", images=["b.png"])
    moved.created_at = datetime(2026, 10, 5, 8, 30)
    again = ingest(store, [post("2", text="old"), post("2", text="Nimbus newer"), moved,
                           post("3")], [], base_dir=tmp_path)
    assert (again.new, again.updated) == (1, 2)
    one = queries.get_post(store, "test:1")
    assert one["created_at"].replace(tzinfo=None) == datetime(2026, 10, 5, 8, 30)
    assert len(one["images"]) == 1
    assert queries.get_post(store, "test:2")["text"] == "Nimbus newer"
    counts = store.reader().execute(
        "SELECT (SELECT count(*) FROM posts), (SELECT count(*) FROM post_images), "
        "(SELECT count(*) FROM images), (SELECT count(*) FROM post_brands)").fetchone()
    assert counts == (3, 1, 2, 3)


def test_latest_verdict_follows_the_newest_write(store):
    store.save_posts([(post("1"), [])])
    item = store.pending("lite@0.1", 10)[0]
    store.save_verdicts([(item, verdict("negative"))])
    newer = verdict("sarcastic")
    newer.analyzer = "vlm@1"
    store.save_verdicts([(item, newer)])
    assert queries.get_post(store, "test:1")["label"] == "sarcastic"
    store.save_verdicts([(item, verdict("positive")), (item, verdict("neutral"))])
    got = queries.get_post(store, "test:1")
    assert (got["label"], got["analyzer"]) == ("neutral", "lite@0.1")  # the last one wins
    rows = store.reader().execute(
        "SELECT analyzer, latest FROM verdicts ORDER BY analyzer").fetchall()
    assert rows == [("lite@0.1", True), ("vlm@1", False)]  # history kept, one latest
    assert queries.list_posts(store, queries.PostFilter(label="neutral"))["total"] == 1


def _posts_table(con) -> tuple[list, list]:
    columns = con.execute("SELECT column_name, data_type, is_nullable, column_default "
                          "FROM information_schema.columns WHERE table_name = 'posts' "
                          "ORDER BY ordinal_position").fetchall()
    keys = con.execute("SELECT constraint_type, constraint_column_names FROM "
                       "duckdb_constraints() WHERE table_name = 'posts' "
                       "ORDER BY constraint_type, constraint_column_names").fetchall()
    return columns, keys


def test_migration_3_rebuilds_posts_as_adding_the_column_would_have(tmp_path):
    """Migration 3 rebuilds posts with brands (fast at 1M) instead of ALTER TABLE ADD COLUMN
    then UPDATE (slow): the table must come out as the ALTER made it, key included."""
    built = duckdb.connect(str(tmp_path / "built.duckdb"))
    migrate(built, MIGRATIONS[:3])
    altered = duckdb.connect(str(tmp_path / "altered.duckdb"))
    migrate(altered, MIGRATIONS[:2])
    altered.execute("DROP INDEX posts_created")
    altered.execute("ALTER TABLE posts ADD COLUMN brands VARCHAR[] DEFAULT []::VARCHAR[]")
    assert _posts_table(built) == _posts_table(altered)
    row = ("INSERT INTO posts (id, source, native_id, text, created_at, collected_at, "
           "content_hash) VALUES ('p', 's', 'p', 't', now()::TIMESTAMP, now()::TIMESTAMP, 'h')")
    built.execute(row)
    assert built.execute("SELECT brands FROM posts").fetchall() == [([],)]
    with pytest.raises(duckdb.ConstraintException):
        built.execute(row)


def test_migration_marks_the_latest_of_existing_verdicts(tmp_path):
    con = duckdb.connect(str(tmp_path / "db.duckdb"))
    migrate(con, MIGRATIONS[:2])
    con.execute("""INSERT INTO verdicts (post_id, analyzer, content_hash, label, sentiment,
                   sarcasm, sarcasm_score, emotion, confidence, created_at) VALUES
                   ('p', 'old@1', 'h', 'neutral', 'neutral', false, 0, 'neutral', 1,
                    TIMESTAMP '2026-01-01'),
                   ('p', 'new@1', 'h', 'negative', 'negative', false, 0, 'anger', 1,
                    TIMESTAMP '2026-02-01')""")
    con.execute("""INSERT INTO posts (id, source, native_id, text, created_at, collected_at,
                   content_hash) VALUES ('p', 's', 'p', 't', now()::TIMESTAMP,
                   now()::TIMESTAMP, 'h'), ('q', 's', 'q', 't', now()::TIMESTAMP,
                   now()::TIMESTAMP, 'h')""")
    con.execute("INSERT INTO post_brands VALUES ('p', 'Voltra'), ('p', 'Nimbus')")
    migrate(con)
    assert con.execute("SELECT analyzer FROM verdicts WHERE latest").fetchall() == [("new@1",)]
    assert con.execute("SELECT id, brands FROM posts ORDER BY id").fetchall() == [
        ("p", ["Nimbus", "Voltra"]), ("q", [])]
