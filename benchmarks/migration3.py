"""Migration 3's backfill (posts.brands from post_brands, verdicts.latest) on an existing DB.

Copies the posts, brand links and verdicts of a generated database (benchmarks/queries.py's
generator, through the store's own write path) into a fresh file at schema 2, then applies
migration 3 as `migrate` does (one transaction) and times each statement, with the rows/s of
the whole migration and the load average.

    nice -n 10 python -m benchmarks.migration3 [--posts 200000] [--source DIR] [--sql FILE]

`--sql` times another text of the migration (the one before a change, say) on the same copy.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

from benchmarks.ingest import loadavg
from benchmarks.queries import generate
from data.schema import MIGRATIONS, migrate

POST_COLUMNS = ("id, source, native_id, url, author, text, lang, created_at, collected_at, "
                "likes, reposts, replies, content_hash, raw")
VERDICT_COLUMNS = ("post_id, analyzer, content_hash, label, sentiment, sarcasm, sarcasm_score, "
                   "emotion, emotions, confidence, explanation, evidence, latency_ms, created_at")


def schema2_copy(source: Path, target: Path) -> dict[str, int]:
    """A database at schema 2 holding the source's posts, brand links and verdicts."""
    con = duckdb.connect(str(target))
    migrate(con, MIGRATIONS[:2])
    con.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
    con.execute(f"INSERT INTO posts ({POST_COLUMNS}) SELECT {POST_COLUMNS} FROM src.posts")
    con.execute("INSERT INTO post_brands SELECT post_id, brand FROM src.post_brands")
    con.execute(f"INSERT INTO verdicts ({VERDICT_COLUMNS}) "
                f"SELECT {VERDICT_COLUMNS} FROM src.verdicts")
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("posts", "post_brands", "verdicts")}
    con.execute("DETACH src")
    con.close()
    return counts


def statements(sql: str) -> list[str]:
    """The migration's statements (it has no ';' inside a literal or a comment)."""
    return [s.strip() for s in sql.split(";") if s.strip()]


def run(target: Path, sql: str) -> tuple[float, list[tuple[float, str]]]:
    con = duckdb.connect(str(target))
    timings = []
    start = time.perf_counter()
    con.execute("BEGIN")
    for statement in statements(sql):
        began = time.perf_counter()
        con.execute(statement)
        first = next(line for line in statement.splitlines()
                     if not line.strip().startswith("--"))
        timings.append((time.perf_counter() - began, first.strip()[:70]))
    con.execute("COMMIT")
    total = time.perf_counter() - start
    con.close()
    return total, timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=200_000)
    parser.add_argument("--source", type=Path, help="a generated data dir to reuse (or create)")
    parser.add_argument("--sql", type=Path, help="time this text of migration 3 instead")
    args = parser.parse_args()
    sql = args.sql.read_text() if args.sql else MIGRATIONS[2]
    with tempfile.TemporaryDirectory() as tmp:
        source = args.source or Path(tmp) / "generated"
        if not (source / "subtext.duckdb").exists():
            print(f"generating {args.posts:,} posts in {source}")
            generate(source, args.posts)
        target = Path(tmp) / "schema2.duckdb"
        counts = schema2_copy(source / "subtext.duckdb", target)
        print("at schema 2:", ", ".join(f"{n:,} {t}" for t, n in counts.items()))
        before = loadavg()
        total, timings = run(target, sql)
        for seconds, first in timings:
            print(f"  {seconds:8.3f} s  {first}")
        rows = counts["posts"] + counts["verdicts"]
        print(f"migration 3: {total:.2f} s for {counts['posts']:,} posts + "
              f"{counts['verdicts']:,} verdicts = {rows / total:,.0f} rows/s; "
              f"load average before {before}, after {loadavg()}")


if __name__ == "__main__":
    main()
