"""Migration 11 (old Bluesky ids re-keyed and merged) on a generated database.

Copies a generated database (benchmarks/queries.py's generator), adds `--old` posts under old
Bluesky ids ("bsky:<URI>", half of them also as "jet:<URI>", each with a verdict and a brand
link), winds the schema back to 9 and times migration 11, with the load average.

    nice -n 10 python -m benchmarks.migration11 [--posts 200000] [--old 20000] [--source DIR]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from benchmarks.ingest import loadavg
from benchmarks.queries import generate
from data.schema import MIGRATIONS

URI = "'at://did:plc:u' || p.native_id || '/app.bsky.feed.post/r' || p.native_id"


def add_old_ids(con, n: int) -> None:
    """`n` old search ids and n/2 old Jetstream duplicates, copied from generated posts."""
    for prefix, count in (("bsky", n), ("jet", n // 2)):
        con.execute(f"""
            CREATE TEMP TABLE picked AS
            SELECT p.id AS from_id, '{prefix}:' || {URI} AS id, {URI} AS native_id
              FROM posts p WHERE p.native_id ~ '^[0-9]+$' ORDER BY p.id LIMIT {count}""")
        con.execute("""INSERT INTO posts SELECT p.* REPLACE (k.id AS id, k.native_id AS native_id,
                       split_part(k.id, ':', 1) AS source)
                       FROM posts p JOIN picked k ON k.from_id = p.id""")
        con.execute("""INSERT INTO post_brands SELECT k.id, b.brand
                       FROM post_brands b JOIN picked k ON k.from_id = b.post_id""")
        con.execute("""INSERT INTO verdicts SELECT v.* REPLACE (k.id AS post_id)
                       FROM verdicts v JOIN picked k ON k.from_id = v.post_id""")
        con.execute("DROP TABLE picked")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=200_000)
    parser.add_argument("--old", type=int, default=20_000)
    parser.add_argument("--source", type=Path, help="a generated data dir to reuse (or create)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = args.source or Path(tmp) / "generated"
        if not (source / "subtext.duckdb").exists():
            generate(source, args.posts)
        target = Path(tmp) / "copy.duckdb"
        shutil.copy(source / "subtext.duckdb", target)
        con = duckdb.connect(str(target))
        add_old_ids(con, args.old)
        con.execute("DELETE FROM schema_version WHERE version >= 11")
        total = con.execute("SELECT count(*) FROM posts").fetchone()[0]
        before = loadavg()
        start = time.perf_counter()
        con.execute("BEGIN")
        con.execute(MIGRATIONS[10])
        con.execute("COMMIT")
        seconds = time.perf_counter() - start
        left = con.execute("SELECT count(*) FROM posts").fetchone()[0]
        stale = con.execute("SELECT count(*) FROM posts WHERE id LIKE '%:at://%'").fetchone()[0]
        latest = con.execute("SELECT count(*) FROM verdicts WHERE latest AND post_id LIKE "
                             "'at://%'").fetchone()[0]
        con.close()
        print(f"after: {stale:,} old ids left, {latest:,} canonical posts with a latest verdict")
        print(f"migration 11: {seconds:.2f} s on {total:,} posts ({args.old:,} old ids + "
              f"{args.old // 2:,} duplicates -> {total - left:,} rows merged away); "
              f"load average before {before}, after {loadavg()}")


if __name__ == "__main__":
    main()
