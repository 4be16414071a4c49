"""Reads behind the "why" panel and the query tester: the posts of a filter ranked by reach,
their texts and sentiments for term counting, and the most recent posts. Every read goes
through queries.PostFilter.where(), so it selects exactly what the charts counted."""

from __future__ import annotations

from data import queries
from data.corrections import effective_verdicts
from data.store import Store

REACH = "(coalesce(p.likes, 0) + coalesce(p.reposts, 0) + coalesce(p.replies, 0))"


def top_posts(store: Store, f: queries.PostFilter, limit: int = 5) -> list[dict]:
    """The filter's posts with the widest reach (likes + reposts + replies), newest first on
    a tie, each with its latest verdict and images. Their ids come first, from the posts
    alone when the filter reads no verdict: the columns are read for those few ids only."""
    where, params = f.where()
    ids = [r[0] for r in store.reader().execute(
        f"""SELECT p.id FROM {queries._from(f.needs_verdicts())} WHERE {where}
             ORDER BY {REACH} DESC, p.created_at DESC, p.id LIMIT ?""",
        [*params, limit]).fetchall()]
    found = queries._posts_by_id(store.reader(), ids)
    for post in found:
        post["reach"] = sum(post[k] or 0 for k in ("likes", "reposts", "replies"))
    return found


def texts(store: Store, f: queries.PostFilter, limit: int = 20_000) -> list[tuple[str, str]]:
    """(text, sentiment) of the filter's posts (sentiment None while pending), newest first.
    With no verdict in the filter the posts are picked first and only their verdicts read
    (a day's posts look up a day's verdicts, not all of them)."""
    where, params = f.where()
    if f.needs_verdicts():
        return store.reader().execute(
            f"""SELECT p.text, v.sentiment FROM {queries._from()} WHERE {where}
                 ORDER BY p.created_at DESC, p.id LIMIT ?""", [*params, limit]).fetchall()
    theirs = effective_verdicts(
        "SELECT * FROM verdicts WHERE latest AND post_id IN (SELECT id FROM picked)")
    return store.reader().execute(
        f"""WITH picked AS MATERIALIZED (
                SELECT p.id, p.text, p.created_at FROM {queries._from(False)} WHERE {where}
                 ORDER BY p.created_at DESC, p.id LIMIT ?)
            SELECT picked.text, v.sentiment FROM picked
              LEFT JOIN ({theirs}) v ON v.post_id = picked.id
             ORDER BY picked.created_at DESC, picked.id""", [*params, limit]).fetchall()


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
