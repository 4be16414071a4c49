"""The DuckDB schema as an ordered list of migrations, applied at start.

A migration is appended, never edited: a database at version N gets migrations N+1.. only.
Timestamps are TIMESTAMP holding UTC (no zone), so they round-trip without a tz library.
"""

from __future__ import annotations

import duckdb

from collectors.post import utcnow
from data import trend_rows

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
    # 3: writes in bulk, reads at 1M posts. The ART index on posts.created_at turned every
    # upsert that re-dates a post into a delete + re-insert of its key (5x slower), and range
    # filters use DuckDB's zone maps, not it. verdicts.latest marks each post's newest verdict
    # (kept by save_verdicts), so a listing filters one column instead of ranking all verdicts.
    # Indexes on post_id let a page's 50 posts fetch their verdict, brands and images by index
    # instead of scanning every row of those tables.
    """
    DROP INDEX posts_created;
    CREATE INDEX verdicts_post ON verdicts (post_id);
    CREATE INDEX post_brands_post ON post_brands (post_id);
    CREATE INDEX post_images_post ON post_images (post_id);
    -- posts.brands copies post_brands (kept together by the store's upsert), so the brand
    -- filter and the trends read one table instead of joining a million brand rows. The table
    -- is rebuilt with the column filled in one insert: adding it and then writing every row
    -- (ADD COLUMN ... DEFAULT, then UPDATE) took 42 s at 200k posts, this 3 s
    -- (benchmarks/migration3.py). The same table results: columns, key, defaults.
    CREATE TABLE posts_with_brands (
        id            VARCHAR PRIMARY KEY,
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
        content_hash  VARCHAR NOT NULL,
        raw           JSON,
        brands        VARCHAR[] DEFAULT []::VARCHAR[]
    );
    INSERT INTO posts_with_brands
    SELECT p.*, coalesce(b.brands, []::VARCHAR[])
      FROM posts p
      LEFT JOIN (SELECT post_id, list(brand ORDER BY brand) AS brands FROM post_brands
                  GROUP BY post_id) b ON b.post_id = p.id;
    DROP TABLE posts;
    ALTER TABLE posts_with_brands RENAME TO posts;
    ALTER TABLE verdicts ADD COLUMN latest BOOLEAN DEFAULT false;
    UPDATE verdicts SET latest = true
     WHERE (post_id, analyzer) IN (
           SELECT post_id, analyzer FROM verdicts
           QUALIFY row_number() OVER (PARTITION BY post_id
                                      ORDER BY created_at DESC, analyzer) = 1);
    """,
    # 4: access control: dashboard users (scrypt password hashes) and API tokens (sha256 of
    # the secret part; the token itself is shown once and never stored)
    """
    CREATE TABLE users (
        name           VARCHAR PRIMARY KEY,
        role           VARCHAR NOT NULL,        -- viewer | analyst | admin
        password_hash  VARCHAR NOT NULL,        -- scrypt$n$r$p$salt$hash
        created_at     TIMESTAMP NOT NULL
    );
    CREATE TABLE tokens (
        id          VARCHAR PRIMARY KEY,        -- the public part of the token
        name        VARCHAR NOT NULL,
        scope       VARCHAR NOT NULL,           -- read | write | admin
        user_name   VARCHAR,                    -- who it is for, if anyone
        secret_hash VARCHAR NOT NULL,           -- sha256 hex of the secret part
        created_at  TIMESTAMP NOT NULL,
        expires_at  TIMESTAMP,
        revoked_at  TIMESTAMP
    );
    """,
    # 5: alerting (issue 11): each verdict's route and the rule that chose it; alert severity,
    # details (figures, top posts, terms), spike episodes (updated_at, ended_at) and workflow
    # (status, who, when, note, with every step in alert_events); deliveries per alert × channel
    """
    CREATE TABLE verdict_routes (
        post_id    VARCHAR PRIMARY KEY,         -- the route of the post's latest verdict
        analyzer   VARCHAR,
        route      VARCHAR NOT NULL,            -- alert / review / archive / pass
        rule       VARCHAR NOT NULL,            -- the rule that chose it
        routed_at  TIMESTAMP NOT NULL
    );
    ALTER TABLE alerts ADD COLUMN severity VARCHAR DEFAULT 'medium';  -- low / medium / high
    ALTER TABLE alerts ADD COLUMN status VARCHAR DEFAULT 'open';
        -- open / acknowledged / resolved / false_alarm
    ALTER TABLE alerts ADD COLUMN status_at TIMESTAMP;
    ALTER TABLE alerts ADD COLUMN status_by VARCHAR;
    ALTER TABLE alerts ADD COLUMN note VARCHAR;
    ALTER TABLE alerts ADD COLUMN details JSON;
    ALTER TABLE alerts ADD COLUMN updated_at TIMESTAMP;
    ALTER TABLE alerts ADD COLUMN ended_at TIMESTAMP;                 -- a spike that is over
    UPDATE alerts SET status = 'acknowledged', status_at = acknowledged_at,
                      status_by = acknowledged_by
     WHERE acknowledged_at IS NOT NULL;
    CREATE SEQUENCE alert_event_ids;
    CREATE TABLE alert_events (
        id        BIGINT PRIMARY KEY DEFAULT nextval('alert_event_ids'),
        alert_id  BIGINT NOT NULL,
        action    VARCHAR NOT NULL,             -- acknowledged / resolved / false_alarm / reopened
        actor     VARCHAR,
        note      VARCHAR,
        event_at  TIMESTAMP NOT NULL
    );
    CREATE SEQUENCE delivery_ids;
    CREATE TABLE deliveries (
        id               BIGINT PRIMARY KEY DEFAULT nextval('delivery_ids'),
        alert_id         BIGINT NOT NULL,
        channel          VARCHAR NOT NULL,
        status           VARCHAR NOT NULL,      -- pending / sent / failed / gave_up / suppressed
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_at  TIMESTAMP NOT NULL,
        last_error       VARCHAR,               -- the reason, never a secret
        created_at       TIMESTAMP NOT NULL,
        sent_at          TIMESTAMP,
        UNIQUE (alert_id, channel)
    );
    CREATE INDEX deliveries_due ON deliveries (status);
    """,
    # 6: the review loop. One feedback row per field a reviewer set (label, sarcasm, emotion,
    # brand = the brand the post is about, irrelevant = not about any brand, false_alarm = an
    # alert dismissed): the typed value in its own column, old/new as text for the audit list.
    # label becomes optional (a row may set only the emotion).
    """
    ALTER TABLE feedback ALTER COLUMN label DROP NOT NULL;
    ALTER TABLE feedback ADD COLUMN field VARCHAR;
    ALTER TABLE feedback ADD COLUMN old_value VARCHAR;
    ALTER TABLE feedback ADD COLUMN new_value VARCHAR;
    ALTER TABLE feedback ADD COLUMN emotion VARCHAR;
    ALTER TABLE feedback ADD COLUMN brand VARCHAR;
    ALTER TABLE feedback ADD COLUMN irrelevant BOOLEAN;
    CREATE INDEX feedback_post ON feedback (post_id);
    """,
    # 7 (issue 9b): per-brand sentiment of posts that name two or more brands
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
    # 8: when each API token was last used (recorded at most once a minute per token), for the
    # token admin routes (subtext/routes_tokens.py)
    """
    ALTER TABLE tokens ADD COLUMN last_used_at TIMESTAMP;
    """,
    # 9 (issue 10, queries at 1M), two tables the store keeps as it writes, each seeded here:
    # - posts stored again after their first save. Only their verdicts can have gone stale
    #   (content changed after analysis), so /health counts pending posts from cheap counts
    #   plus a join over these posts alone, not a million posts with their verdicts;
    # - verdicts whose modalities disagree (store.DISAGREES, as it reads today), so the review
    #   queue parses no evidence JSON per call (4 s at 1M).
    """
    CREATE TABLE reingested_posts (post_id VARCHAR PRIMARY KEY);
    INSERT INTO reingested_posts
    SELECT DISTINCT v.post_id FROM verdicts v JOIN posts p ON p.id = v.post_id
     WHERE v.content_hash <> p.content_hash;
    CREATE TABLE verdict_disagreements (
        post_id   VARCHAR NOT NULL,
        analyzer  VARCHAR NOT NULL,
        PRIMARY KEY (post_id, analyzer)
    );
    INSERT INTO verdict_disagreements
    SELECT post_id, analyzer FROM verdicts
     WHERE coalesce(TRY_CAST(evidence ->> 'incongruity' AS DOUBLE), 0) >= 0.3
        OR TRY_CAST(evidence -> 'polarity' ->> 'text' AS DOUBLE)
           * coalesce(TRY_CAST(evidence -> 'polarity' ->> 'caption' AS DOUBLE),
                      TRY_CAST(evidence -> 'polarity' ->> 'faces' AS DOUBLE)) <= -0.09;
    """,
    # 10: a no-op. The number was reserved for hour buckets of the trends, which were not
    # built; databases that recorded it must keep it, so it stays empty and is never reused.
    """
    SELECT 1;
    """,
    # 11 (issue 10): Bluesky posts are keyed by their at:// URI with the author's DID
    # (collectors/bluesky.py), where earlier versions keyed them "<source name>:<URI>", so a
    # post that search and Jetstream both saw was stored twice. Old ids are re-keyed, and
    # duplicates merged into one post: the canonical row if one exists, else the one with the
    # most likes + reposts + replies (search has counts, Jetstream none). Counts are the
    # greatest of the duplicates', brands the union. Per analyzer the newest verdict is kept
    # (with its brand verdicts and disagreement), the canonical row's first; feedback and
    # alerts move; images come from the best-ranked duplicate that has any. A URI naming a
    # handle takes the DID search stored in raw; without one it cannot be keyed and stays.
    # Only rows a Bluesky collector stored (their raw has the record's cid): an imported or
    # ingested post with an at:// id is still keyed "<source>:<id>" by the code, and re-keying
    # it would make the next re-import store it twice.
    """
    CREATE TEMP TABLE bsky_old AS
    SELECT id AS old_id, canonical FROM (
        SELECT id, CASE
               WHEN split_part(native_id, '/', 3) LIKE 'did:%' THEN native_id
               WHEN coalesce(raw ->> 'did', '') LIKE 'did:%'
               THEN 'at://' || (raw ->> 'did') || '/app.bsky.feed.post/'
                    || split_part(native_id, '/', 5)
               END AS canonical
          FROM posts
         WHERE id = source || ':' || native_id AND native_id LIKE 'at://%'
           AND json_exists(raw, '$.cid')  -- stored by a Bluesky collector, not imported
           AND len(string_split(native_id, '/')) = 5
           AND split_part(native_id, '/', 4) = 'app.bsky.feed.post'
           AND split_part(native_id, '/', 5) <> '')
     WHERE canonical IS NOT NULL;
    -- every row of a canonical post, old or already canonical; rank 1 is the one kept
    CREATE TEMP TABLE bsky_members AS
    SELECT m.id, m.canonical,
           row_number() OVER (PARTITION BY m.canonical
                              ORDER BY m.id = m.canonical DESC,
                                       p.likes + p.reposts + p.replies DESC,
                                       p.collected_at DESC, m.id) AS rank
      FROM (SELECT old_id AS id, canonical FROM bsky_old
            UNION SELECT id, id FROM posts WHERE id IN (SELECT canonical FROM bsky_old)) m
      JOIN posts p ON p.id = m.id;
    CREATE TEMP TABLE bsky_gone AS SELECT id FROM bsky_members WHERE id <> canonical;

    INSERT INTO posts
    SELECT p.* REPLACE (m.canonical AS id, m.canonical AS native_id)
      FROM bsky_members m JOIN posts p ON p.id = m.id
     WHERE m.rank = 1 AND m.id <> m.canonical;
    UPDATE posts SET likes = g.likes, reposts = g.reposts, replies = g.replies
      FROM (SELECT m.canonical, max(p.likes) AS likes, max(p.reposts) AS reposts,
                   max(p.replies) AS replies
              FROM bsky_members m JOIN posts p ON p.id = m.id GROUP BY m.canonical) g
     WHERE posts.id = g.canonical;

    INSERT OR IGNORE INTO post_brands
    SELECT DISTINCT m.canonical, b.brand
      FROM post_brands b JOIN bsky_members m ON m.id = b.post_id WHERE m.id <> m.canonical;
    UPDATE posts SET brands = b.brands
      FROM (SELECT post_id, list(brand ORDER BY brand) AS brands FROM post_brands
             WHERE post_id IN (SELECT canonical FROM bsky_members) GROUP BY post_id) b
     WHERE posts.id = b.post_id;

    INSERT INTO post_images
    SELECT canonical, position, sha256 FROM (
        SELECT m.id, m.canonical, i.position, i.sha256,
               dense_rank() OVER (PARTITION BY m.canonical ORDER BY m.rank) AS pick
          FROM post_images i JOIN bsky_members m ON m.id = i.post_id)
     WHERE pick = 1 AND id <> canonical;

    -- per canonical post and analyzer, where the kept verdict comes from
    CREATE TEMP TABLE bsky_verdicts AS
    SELECT m.canonical, v.analyzer, v.post_id AS from_id
      FROM verdicts v JOIN bsky_members m ON m.id = v.post_id
    QUALIFY row_number() OVER (PARTITION BY m.canonical, v.analyzer
                               ORDER BY v.post_id = m.canonical DESC, v.created_at DESC,
                                        m.rank) = 1;
    INSERT INTO verdicts
    SELECT v.* REPLACE (w.canonical AS post_id)
      FROM verdicts v JOIN bsky_verdicts w ON v.post_id = w.from_id AND v.analyzer = w.analyzer
     WHERE w.from_id <> w.canonical;
    UPDATE verdicts SET latest = false WHERE post_id IN (SELECT canonical FROM bsky_members);
    UPDATE verdicts SET latest = true
     WHERE (post_id, analyzer) IN (
           SELECT post_id, analyzer FROM verdicts
            WHERE post_id IN (SELECT canonical FROM bsky_members)
           QUALIFY row_number() OVER (PARTITION BY post_id
                                      ORDER BY created_at DESC, analyzer) = 1);
    INSERT OR IGNORE INTO post_brand_verdicts
    SELECT b.* REPLACE (w.canonical AS post_id)
      FROM post_brand_verdicts b
      JOIN bsky_verdicts w ON b.post_id = w.from_id AND b.analyzer = w.analyzer
     WHERE w.from_id <> w.canonical;
    INSERT OR IGNORE INTO verdict_disagreements
    SELECT w.canonical, d.analyzer
      FROM verdict_disagreements d
      JOIN bsky_verdicts w ON d.post_id = w.from_id AND d.analyzer = w.analyzer
     WHERE w.from_id <> w.canonical;
    INSERT OR IGNORE INTO verdict_routes
    SELECT r.* REPLACE (m.canonical AS post_id)
      FROM verdict_routes r JOIN bsky_members m ON m.id = r.post_id
    QUALIFY row_number() OVER (PARTITION BY m.canonical
                               ORDER BY r.post_id = m.canonical DESC, r.routed_at DESC) = 1;
    -- a kept verdict of other content than the kept post's: pending again, as migration 9
    INSERT OR IGNORE INTO reingested_posts
    SELECT DISTINCT v.post_id FROM verdicts v JOIN posts p ON p.id = v.post_id
     WHERE v.post_id IN (SELECT canonical FROM bsky_members)
       AND v.content_hash <> p.content_hash;

    UPDATE feedback SET post_id = m.canonical
      FROM bsky_members m WHERE feedback.post_id = m.id AND m.id <> m.canonical;
    -- a post alert's key names its post: the first alert of each post takes the new key
    -- (a second, about the old duplicate, keeps its key: both stay, with their deliveries)
    UPDATE alerts SET key = 'post:' || f.canonical
      FROM (SELECT min(a.id) AS id, m.canonical
              FROM alerts a JOIN bsky_members m ON a.key = 'post:' || m.id
             WHERE m.id <> m.canonical GROUP BY m.canonical) f
     WHERE alerts.id = f.id
       AND NOT EXISTS (SELECT 1 FROM alerts t WHERE t.key = 'post:' || f.canonical);
    UPDATE alerts SET post_id = m.canonical
      FROM bsky_members m WHERE alerts.post_id = m.id AND m.id <> m.canonical;
    -- spike alerts list their top posts by id
    UPDATE alerts
       SET details = regexp_replace(details::VARCHAR,
                         '"post_id": ?"[^":]+:(at://did:[^"/]+/app[.]bsky[.]feed[.]post/[^"/]+)"',
                         '"post_id": "\\1"', 'g')::JSON
     WHERE details::VARCHAR LIKE '%:at://did:%';

    DELETE FROM post_brands WHERE post_id IN (SELECT id FROM bsky_gone);
    DELETE FROM post_images WHERE post_id IN (SELECT id FROM bsky_gone);
    DELETE FROM verdicts WHERE post_id IN (SELECT id FROM bsky_gone);
    DELETE FROM post_brand_verdicts WHERE post_id IN (SELECT id FROM bsky_gone);
    DELETE FROM verdict_disagreements WHERE post_id IN (SELECT id FROM bsky_gone);
    DELETE FROM verdict_routes WHERE post_id IN (SELECT id FROM bsky_gone);
    DELETE FROM reingested_posts WHERE post_id IN (SELECT id FROM bsky_gone);
    DELETE FROM posts WHERE id IN (SELECT id FROM bsky_gone);
    DROP TABLE bsky_verdicts;
    DROP TABLE bsky_gone;
    DROP TABLE bsky_members;
    DROP TABLE bsky_old;
    """,
    # 12 (issue 10, trends at 1M): each post × brand with its effective verdict's values, kept
    # by the store as it writes (data/trend_rows.py), so a trend reads one narrow table instead
    # of joining posts, verdicts, reviews and per-brand verdicts per call. Built from that
    # module's definition; a later change of the definition needs its own migration to
    # rebuild the rows.
    trend_rows.MIGRATION,
    # 13 (issue 10, the review queue at 1M): the trend rows gain each post's queue reason and
    # model confidence, so the queue is ranked from them (data/feedback.py queued); rebuilt
    # from the module's definition, as 12 was.
    "DROP TABLE trend_rows;\n" + trend_rows.MIGRATION,
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
