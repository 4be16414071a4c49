"""Reads behind the "why" panel and the query tester: the posts of a filter ranked by reach,
their texts and sentiments for term counting, and the most recent posts. Every read goes
through queries.PostFilter.where(), so it selects exactly what the charts counted."""

from __future__ import annotations

from data import queries
from data.store import Store

REACH = "(coalesce(p.likes, 0) + coalesce(p.reposts, 0) + coalesce(p.replies, 0))"


def top_posts(store: Store, f: queries.PostFilter, limit: int = 5) -> list[dict]:
    """The filter's posts with the widest reach (likes + reposts + replies), newest first on
    a tie, each with its latest verdict and images."""
    where, params = f.where()
    cur = store.reader().execute(
        f"""SELECT {queries.POST_COLUMNS}, {REACH} AS reach FROM {queries._from()}
             WHERE {where} ORDER BY reach DESC, p.created_at DESC, p.id LIMIT ?""",
        [*params, limit])
    return [queries._decode_json(row) for row in queries._rows(cur)]


def texts(store: Store, f: queries.PostFilter, limit: int = 20_000) -> list[tuple[str, str]]:
    """(text, sentiment) of the filter's posts (sentiment None while pending), newest first."""
    where, params = f.where()
    return store.reader().execute(
        f"""SELECT p.text, v.sentiment FROM {queries._from()} WHERE {where}
             ORDER BY p.created_at DESC LIMIT ?""", [*params, limit]).fetchall()


def recent_posts(store: Store, limit: int = 500) -> list[dict]:
    """The newest posts (any brand) with their brands and label: what a query is tested on."""
    where, params = queries.PostFilter().where()
    cur = store.reader().execute(
        f"""SELECT p.id, p.text, p.author, p.lang, p.created_at, p.url, v.label,
                   coalesce((SELECT list(brand ORDER BY brand) FROM post_brands b
                              WHERE b.post_id = p.id), []) AS brands
              FROM {queries._from()} WHERE {where}
             ORDER BY p.created_at DESC, p.id LIMIT ?""", [*params, limit])
    return queries._rows(cur)
