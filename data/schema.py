"""The DuckDB schema as an ordered list of migrations, applied at start.

A migration is appended, never edited: a database at version N gets migrations N+1.. only.
Timestamps are TIMESTAMP holding UTC (no zone), so they round-trip without a tz library.
"""

from __future__ import annotations

import duckdb

from collectors.post import utcnow

MIGRATIONS: list[str] = [
    # 1: the data model of DESIGN.md
    """
    CREATE TABLE posts (
        id            VARCHAR PRIMARY KEY,      -- source:native_id
        source        VARCHAR NOT NULL,
        native_id     VARCHAR NOT NULL,
        url           VARCHAR,
        author        VARCHAR,
        text          VARCHAR NOT NULL,
        lang          VARCHAR,
        created_at    TIMESTAMP NOT NULL,
        collected_at  TIMESTAMP NOT NULL,
        likes         BIGINT NOT NULL DEFAULT 0,
        reposts       BIGINT NOT NULL DEFAULT 0,
        replies       BIGINT NOT NULL DEFAULT 0,
        content_hash  VARCHAR NOT NULL,         -- of text + images: a change means re-analysis
        raw           JSON
    );
    CREATE TABLE post_brands (
        post_id VARCHAR NOT NULL,
        brand   VARCHAR NOT NULL,
        PRIMARY KEY (post_id, brand)
    );
    CREATE TABLE images (
        sha256      VARCHAR PRIMARY KEY,        -- of the original bytes (or of the reference
                                                -- when the bytes could not be fetched)
        url         VARCHAR,
        width       INTEGER,
        height      INTEGER,
        phash       VARCHAR,                    -- 64-bit difference hash, hex
        status      VARCHAR NOT NULL,           -- 'ok' or 'rejected: <reason>'
        path        VARCHAR,                    -- relative to the data directory
        bytes       BIGINT,
        created_at  TIMESTAMP NOT NULL
    );
    CREATE TABLE post_images (
        post_id   VARCHAR NOT NULL,
        position  INTEGER NOT NULL,
        sha256    VARCHAR NOT NULL,
        PRIMARY KEY (post_id, position)
    );
    CREATE TABLE verdicts (
        post_id        VARCHAR NOT NULL,
        analyzer       VARCHAR NOT NULL,        -- name@version: history kept across analyzers
        content_hash   VARCHAR NOT NULL,
        label          VARCHAR NOT NULL,
        sentiment      VARCHAR NOT NULL,
        sarcasm        BOOLEAN NOT NULL,
        sarcasm_score  DOUBLE NOT NULL,
        emotion        VARCHAR NOT NULL,
        emotions       JSON,
        confidence     DOUBLE NOT NULL,
        explanation    VARCHAR,
        evidence       JSON,
        latency_ms     DOUBLE,
        created_at     TIMESTAMP NOT NULL,
        PRIMARY KEY (post_id, analyzer)
    );
    CREATE SEQUENCE alert_ids;
    CREATE TABLE alerts (
        id               BIGINT PRIMARY KEY DEFAULT nextval('alert_ids'),
        key              VARCHAR NOT NULL UNIQUE,   -- de-duplicates: one alert per cause
        kind             VARCHAR NOT NULL,          -- 'sarcasm', 'negative', ...
        post_id          VARCHAR,
        brand            VARCHAR,
        score            DOUBLE,
        message          VARCHAR NOT NULL,
        created_at       TIMESTAMP NOT NULL,
        acknowledged_at  TIMESTAMP,
        acknowledged_by  VARCHAR
    );
    CREATE SEQUENCE feedback_ids;
    CREATE TABLE feedback (
        id          BIGINT PRIMARY KEY DEFAULT nextval('feedback_ids'),
        post_id     VARCHAR NOT NULL,
        label       VARCHAR NOT NULL,
        sarcasm     BOOLEAN,
        note        VARCHAR,
        reviewer    VARCHAR,
        created_at  TIMESTAMP NOT NULL
    );
    CREATE SEQUENCE run_ids;
    CREATE TABLE collector_runs (
        id          BIGINT PRIMARY KEY DEFAULT nextval('run_ids'),
        job         VARCHAR NOT NULL,           -- collect / analyze / alerts
        source      VARCHAR,
        brand       VARCHAR,
        started_at  TIMESTAMP NOT NULL,
        ended_at    TIMESTAMP,
        fetched     INTEGER NOT NULL DEFAULT 0,
        new         INTEGER NOT NULL DEFAULT 0,
        errors      INTEGER NOT NULL DEFAULT 0,
        status      VARCHAR NOT NULL,           -- ok / failed
        last_error  VARCHAR
    );
    CREATE TABLE cursors (
        source      VARCHAR NOT NULL,
        brand       VARCHAR NOT NULL,
        value       VARCHAR NOT NULL,
        updated_at  TIMESTAMP NOT NULL,
        PRIMARY KEY (source, brand)
    );
    CREATE INDEX posts_created ON posts (created_at);
    """,
    # 2: what collect runs need: how many fetched items matched a brand, and each source ×
    # brand's health (consecutive failures, back-off) for the scheduler and /health
    """
    ALTER TABLE collector_runs ADD COLUMN matched INTEGER DEFAULT 0;
    CREATE TABLE source_state (
        source       VARCHAR NOT NULL,
        brand        VARCHAR NOT NULL,
        failures     INTEGER NOT NULL,          -- consecutive failed runs; 0 after a good one
        skip_until   TIMESTAMP,                 -- backing off: runs before this are skipped
        last_run_at  TIMESTAMP NOT NULL,
        last_ok_at   TIMESTAMP,
        last_error   VARCHAR,                   -- of the last failed run
        PRIMARY KEY (source, brand)
    );
    """,
    # 3 (issue 9b): per-brand sentiment of posts that name two or more brands
    # (analysis/targets.py): "Nimbus wins easily" is positive for Nimbus, negative for Voltra
    """
    CREATE TABLE post_brand_verdicts (
        post_id    VARCHAR NOT NULL,
        brand      VARCHAR NOT NULL,
        analyzer   VARCHAR NOT NULL,
        sentiment  VARCHAR NOT NULL,
        label      VARCHAR NOT NULL,
        rule       VARCHAR NOT NULL,                -- which targets.py rule decided it
        PRIMARY KEY (post_id, brand, analyzer)
    );
    """,
]


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    con.execute("CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)")
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]


def migrate(con: duckdb.DuckDBPyConnection, migrations: list[str] = MIGRATIONS) -> int:
    """Apply what is missing, each migration in its own transaction; return the new version."""
    version = current_version(con)
    if version > len(migrations):
        raise RuntimeError(f"the database is at schema version {version}, newer than this "
                           f"Subtext ({len(migrations)}); upgrade Subtext")
    for number, sql in enumerate(migrations[version:], start=version + 1):
        con.execute("BEGIN")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_version VALUES (?, ?)", [number, utcnow()])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return len(migrations)
