"""Reads behind the "why" panel and the query tester: the posts of a filter ranked by reach,
their texts and sentiments for term counting, and the most recent posts. Every read goes
through queries.PostFilter.where() or, over the trend rows, its twin where_rows(), so it
selects exactly what the charts counted."""

from __future__ import annotations

from data import queries
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
    The posts and their effective sentiments come from the trend rows, whose dates and
    brands are the posts' (1 day of 1M posts: 17 ms, where looking up the day's verdicts took
    52); a text search, which the rows cannot answer, joins the posts with their verdicts."""
    if f.q:
        where, params = f.where()
        return store.reader().execute(
            f"""SELECT p.text, v.sentiment FROM {queries._from()} WHERE {where}
                 ORDER BY p.created_at DESC, p.id LIMIT ?""", [*params, limit]).fetchall()
    picked, params = queries.rows_of_posts(f, "post_id, created_at, sentiment")
    # the posts' own dates bound the join (zone maps), as the rows' bound the rows
    dates, date_params = queries.PostFilter(since=f.since, until=f.until).where()
    return store.reader().execute(
        f"""SELECT p.text, t.sentiment FROM ({picked}) t JOIN posts p ON p.id = t.post_id
             WHERE {dates} ORDER BY t.created_at DESC, t.post_id LIMIT ?""",
        [*params, *date_params, limit]).fetchall()


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
