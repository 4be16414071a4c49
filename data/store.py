"""The DuckDB store: the engine's only door to the database. All writes live here; the read
queries behind the API live in data/queries.py.

DuckDB allows one read-write process per file, so only the engine (or a one-off CLI command
while the engine is stopped) opens it. Inside that process, writes are serialised by a lock and
reads use their own cursors, which DuckDB runs concurrently.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from analysis.verdict import Verdict
from collectors.post import Post, utcnow
from data import bulk, trend_rows
from data.cache import ResultCache
from data.images import ImageRecord
from data.schema import migrate

DB_FILE = "subtext.duckdb"

# A verdict's modalities disagree (the review queue's reason, data/feedback.py): fusion found
# incongruity, or the picture (caption or face) pulls this strongly against the words. SQL
# over a verdicts row, evaluated once as the verdict is written (verdict_disagreements).
DISAGREE = 0.3


def _polarity(key: str) -> str:
    return f"TRY_CAST(evidence -> 'polarity' ->> '{key}' AS DOUBLE)"


DISAGREES = f"""coalesce(TRY_CAST(evidence ->> 'incongruity' AS DOUBLE), 0) >= {DISAGREE}
    OR {_polarity('text')} * coalesce({_polarity('caption')}, {_polarity('faces')})
       <= -{DISAGREE ** 2}"""


class StoreLocked(RuntimeError):
    """Another process (usually the running engine) holds the database."""


BRAND_VERDICT_SCHEMA = pa.schema([(name, pa.string()) for name in (
    "post_id", "brand", "analyzer", "sentiment", "label", "rule")])


@dataclass(frozen=True)
class Pending:
    """A post waiting for analysis by the current analyzer."""

    id: str
    text: str
    lang: str | None
    image_path: Path | None  # the first usable image, if any
    content_hash: str


@dataclass(frozen=True)
class SourceState:
    """How a source × brand has been doing: consecutive failures and any back-off."""

    failures: int
    skip_until: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class Saved:
    new: int = 0
    updated: int = 0


class Store:
    def __init__(self, data_dir: Path, con: duckdb.DuckDBPyConnection):
        self.data_dir = data_dir
        self._con = con
        self._write_lock = threading.RLock()
        self._expect_new = True  # whether the next batch of posts is likely all new
        # Committed write transactions so far: cached read results are keyed by it
        # (data/cache.py), so none outlives the data it was read from.
        self.generation = 0
        self.results = ResultCache(int(os.environ.get("SUBTEXT_RESULT_CACHE", "64")))

    @classmethod
    def open(cls, data_dir: str | Path) -> Store:
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / DB_FILE
        try:
            con = duckdb.connect(str(path))
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise StoreLocked(
                    f"{path} is in use by another process (is the engine running? Stop it, or "
                    f"go through its API)") from None
            raise
        migrate(con)
        return cls(data_dir, con)

    def close(self) -> None:
        with self._write_lock:
            self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------

    def reader(self) -> duckdb.DuckDBPyConnection:
        """A cursor for one read: DuckDB cursors of one database run side by side."""
        return self._con.cursor()

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._write_lock:
            cur = self._con.cursor()
            cur.execute("BEGIN")
            try:
                yield cur
                cur.execute("COMMIT")
                self.generation += 1  # after the commit: see data/cache.py
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()

    # -- posts ----------------------------------------------------------------------------

    def save_posts(self, batch: list[tuple[Post, list[ImageRecord]]],
                   cursor: tuple[str, str, str] | None = None) -> Saved:
        """Upsert posts with their images and brands in one transaction of set-based
        statements (data/bulk.py); the cursor (source, brand, value) moves in the same
        transaction, so it never runs ahead of what was stored."""
        tables = bulk.post_tables(batch, utcnow())  # built before the lock is taken
        total = tables["staged_posts"].num_rows
        # Most batches are all new posts: plain inserts are the fastest write, and a stored
        # post among them fails the batch, which is then rolled back and upserted. After a
        # batch that held stored posts (a re-import), the next ones go straight to the upsert.
        if self._expect_new:
            try:
                with self._transaction() as cur:
                    new = bulk.insert_new_posts(cur, tables)
                    if cursor:
                        self._set_cursor(cur, *cursor)
                return Saved(new=new, updated=0)
            except duckdb.ConstraintException:
                pass
        with self._transaction() as cur:
            new, changed = bulk.upsert_posts(cur, tables)
            if changed:
                self._mark_reingested(cur, pa.table({"id": pa.array(changed, pa.string())}))
            if cursor:
                self._set_cursor(cur, *cursor)
        self._expect_new = new == total
        return Saved(new=new, updated=total - new)

    @staticmethod
    def _mark_reingested(cur: duckdb.DuckDBPyConnection, ids) -> None:
        """Remember stored posts that a batch changed (their content may differ from what
        was analyzed): count_pending re-checks their verdicts. Posts saved again unchanged
        keep their verdicts' content hash, so a re-import of the same file notes nothing
        (it had cost 6 ms per 1,000 posts)."""
        with bulk.registered(cur, {"reingested_batch": ids}):
            cur.execute("INSERT INTO reingested_posts SELECT id FROM reingested_batch "
                        "ON CONFLICT DO NOTHING").fetchall()

    def pending(self, analyzer: str, limit: int) -> list[Pending]:
        """Posts with no verdict from `analyzer` for their current content, oldest first."""
        return self._posts_to_analyze(
            "LEFT JOIN verdicts v ON v.post_id = p.id AND v.analyzer = ?",
            "v.post_id IS NULL OR v.content_hash <> p.content_hash", analyzer, limit)

    def hurried(self, analyzer: str, limit: int) -> list[Pending]:
        """Posts whose current verdict from `analyzer` was made in a hurry (an engine catching
        up with a backlog: `evidence.hurried`), oldest first: read again once it is idle."""
        return self._posts_to_analyze(
            "JOIN verdicts v ON v.post_id = p.id AND v.analyzer = ?",
            "v.content_hash = p.content_hash"
            " AND coalesce(TRY_CAST(v.evidence ->> 'hurried' AS BOOLEAN), false)",
            analyzer, limit)

    def _posts_to_analyze(self, join: str, where: str, analyzer: str,
                          limit: int) -> list[Pending]:
        """Posts joined with their verdicts from `analyzer` as `join` and `where` say (fixed
        SQL of this class, never caller input), with their first usable image."""
        rows = self.reader().execute(
            f"""
            SELECT p.id, p.text, p.lang, p.content_hash,
                   (SELECT i.path FROM post_images pi JOIN images i USING (sha256)
                     WHERE pi.post_id = p.id AND i.status = 'ok'
                     ORDER BY pi.position LIMIT 1) AS image_path
              FROM posts p
              {join}
             WHERE {where}
             ORDER BY p.created_at
             LIMIT ?
            """, [analyzer, limit]).fetchall()
        return [Pending(id=r[0], text=r[1], lang=r[2], content_hash=r[3],
                        image_path=self.data_dir / r[4] if r[4] else None) for r in rows]

    def count_pending(self, analyzer: str) -> int:
        """How many posts pending() would return without a limit, from cheap counts: posts,
        less the posts with a verdict of `analyzer` (one per post), plus those verdicts that
        describe older content. A verdict goes stale only when its post is saved again, so
        only re-ingested posts are joined with their verdicts (not a million posts with a
        million verdicts). Holds while every verdict is of a stored post: posts are never
        deleted, and verdicts are written for posts read from the store."""
        return self.reader().execute(
            """SELECT (SELECT count(*) FROM posts)
                      - (SELECT count(*) FROM verdicts WHERE analyzer = $a)
                      + (SELECT count(*) FROM reingested_posts r
                           JOIN verdicts v ON v.post_id = r.post_id AND v.analyzer = $a
                           JOIN posts p ON p.id = r.post_id
                          WHERE v.content_hash <> p.content_hash)""",
            {"a": analyzer}).fetchone()[0]

    # -- verdicts -------------------------------------------------------------------------

    def save_verdicts(self, results: list[tuple[Pending, Verdict]]) -> None:
        """Store a batch of verdicts in one statement; a post × analyzer keeps its newest.
        The per-brand verdicts and the trend rows follow in the same transaction."""
        table = bulk.verdict_table([(p.id, p.content_hash, v) for p, v in results], utcnow())
        with self._transaction() as cur:
            bulk.replace_verdicts(cur, table)
            self._note_disagreements(cur, table)
            posts = self._posts_of(cur, table["post_id"].to_pylist())
            brand_verdicts = self._save_brand_verdicts(cur, results, posts)  # 9b
            trend_rows.replace_for_verdicts(cur, posts, table, brand_verdicts)

    @staticmethod
    def _posts_of(cur: duckdb.DuckDBPyConnection, ids: list[str]) -> pa.Table:
        """What the per-brand verdicts and the trend rows read of these posts, as stored."""
        listed, params = trend_rows.ids_in(cur, "id", ids, "verdict_post_ids")
        return cur.sql(f"SELECT id, created_at, brands, source, lang FROM posts WHERE {listed}",
                       params=params).to_arrow_table()

    @staticmethod
    def _note_disagreements(cur: duckdb.DuckDBPyConnection, table) -> None:
        """The batch's verdicts replace those before them in verdict_disagreements too."""
        cur.register("disagreement_batch", table)
        try:
            cur.execute("""DELETE FROM verdict_disagreements WHERE (post_id, analyzer) IN (
                               SELECT post_id, analyzer FROM disagreement_batch)""").fetchall()
            cur.execute(f"""INSERT INTO verdict_disagreements SELECT post_id, analyzer
                              FROM disagreement_batch WHERE {DISAGREES}""").fetchall()
        finally:
            cur.unregister("disagreement_batch")

    # -- per-brand verdicts (issue 9b) ------------------------------------------------------
    brand_terms: dict[str, list[str]] = {}  # brand -> words naming it; the engine sets this

    def _save_brand_verdicts(self, cur, results: list[tuple[Pending, Verdict]],
                             posts: pa.Table) -> pa.Table:
        """Per-brand sentiment of the posts among `results` that belong to two or more
        brands (their brands as `posts` holds them), in one set-based INSERT
        (analysis/targets.py decides it); returns the rows written."""
        from analysis.targets import brand_verdicts

        owners = dict(zip(posts["id"].to_pylist(), posts["brands"].to_pylist(), strict=True))
        rows = []
        for item, v in results:
            brands = owners.get(item.id) or []
            if len(brands) < 2:
                continue
            terms = {b: self.brand_terms.get(b, [b]) for b in brands}
            found = {bv.brand: bv for bv in brand_verdicts(item.text, terms, v.label,
                                                           v.sentiment)}
            for b in brands:
                bv = found.get(b)
                rows.append((item.id, b, v.analyzer, bv.sentiment if bv else v.sentiment,
                             bv.label if bv else v.label, bv.rule if bv else "post"))
        table = pa.table({name: [row[i] for row in rows] for i, name in enumerate(
            ("post_id", "brand", "analyzer", "sentiment", "label", "rule"))},
            schema=BRAND_VERDICT_SCHEMA)
        if rows:
            with bulk.registered(cur, {"brand_verdict_batch": table}):
                cur.execute("INSERT OR REPLACE INTO post_brand_verdicts "
                            "SELECT * FROM brand_verdict_batch").fetchall()
        return table

    def verdicts_since(self, since: datetime | None) -> list[dict]:
        """Verdicts written after `since` with their post's brands: the alert job's input."""
        cur = self.reader().execute(
            """
            SELECT v.post_id, v.label, v.sentiment, v.sarcasm, v.sarcasm_score, v.confidence,
                   v.explanation, v.created_at, p.text,
                   coalesce((SELECT list(brand ORDER BY brand) FROM post_brands b
                              WHERE b.post_id = v.post_id), []) AS brands,
                   -- 9b: {brand: sentiment} where a two-brand post splits its verdict
                   (SELECT map(list(bv.brand), list(bv.sentiment)) FROM post_brand_verdicts bv
                     WHERE bv.post_id = v.post_id AND bv.analyzer = v.analyzer)
                     AS brand_sentiments
              FROM verdicts v JOIN posts p ON p.id = v.post_id
             WHERE v.created_at > coalesce(?, TIMESTAMP '1970-01-01')
             ORDER BY v.created_at
            """, [since])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    # -- runs and cursors -----------------------------------------------------------------

    def record_run(self, job: str, source: str | None, brand: str | None,
                   started_at: datetime, *, fetched: int = 0, new: int = 0, errors: int = 0,
                   error: str | None = None, matched: int = 0, failed: bool | None = None) -> int:
        """One finished run of a job: what it fetched, matched and stored new, and the last
        error. A run fails when it raised; `error` alone (an item's) does not fail it when
        `failed` is given as False."""
        failed = bool(error) if failed is None else failed
        with self._transaction() as cur:
            return cur.execute(
                """INSERT INTO collector_runs (job, source, brand, started_at, ended_at,
                                              fetched, new, errors, status, last_error, matched)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                [job, source, brand, started_at, utcnow(), fetched, new, errors,
                 "failed" if failed else "ok", error, matched]).fetchone()[0]

    def known_posts(self, ids: list[str]) -> set[str]:
        """Which of these post ids are stored already."""
        if not ids:
            return set()
        rows = self.reader().execute("SELECT id FROM posts WHERE list_contains(?, id)",
                                     [ids]).fetchall()
        return {r[0] for r in rows}

    def source_state(self, source: str, brand: str) -> SourceState | None:
        row = self.reader().execute(
            """SELECT failures, skip_until, last_error FROM source_state
                WHERE source = ? AND brand = ?""", [source, brand]).fetchone()
        return SourceState(*row) if row else None

    def set_source_state(self, source: str, brand: str, failures: int,
                         skip_until: datetime | None = None, error: str | None = None) -> None:
        """After a collect run: its consecutive failures (0 after a good run), until when to
        skip, and the last failure's reason (kept after recovery, for the record)."""
        now = utcnow()
        with self._transaction() as cur:
            cur.execute(
                """INSERT INTO source_state VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (source, brand) DO UPDATE SET
                       failures = excluded.failures, skip_until = excluded.skip_until,
                       last_run_at = excluded.last_run_at,
                       last_ok_at = coalesce(excluded.last_ok_at, source_state.last_ok_at),
                       last_error = coalesce(excluded.last_error, source_state.last_error)""",
                [source, brand, failures, skip_until, now, None if failures else now, error])

    def get_cursor(self, source: str, brand: str) -> str | None:
        row = self.reader().execute(
            "SELECT value FROM cursors WHERE source = ? AND brand = ?", [source, brand]
        ).fetchone()
        return row[0] if row else None

    def set_cursor(self, source: str, brand: str, value: str) -> None:
        with self._transaction() as cur:
            self._set_cursor(cur, source, brand, value)

    @staticmethod
    def _set_cursor(cur: duckdb.DuckDBPyConnection, source: str, brand: str, value: str) -> None:
        cur.execute("INSERT OR REPLACE INTO cursors VALUES (?, ?, ?, ?)",
                    [source, brand, value, utcnow()])
