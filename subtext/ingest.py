"""Storing posts from anywhere (the ingest API, `subtext import`, the collectors): brands
matched, images resolved, one set-based write (Store.save_posts).

A module of its own, apart from subtext/jobs.py, so that `subtext import` into the store does
not load the alerting, analysis and collector code (and httpx) to store text posts: the image
code is loaded for the first post that has images.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from collectors.query import brand_matcher

if TYPE_CHECKING:
    from collectors.base import BrandQuery
    from collectors.images import ImageFetcher
    from collectors.post import Post
    from data.store import Saved, Store


def ingest(store: Store, posts: Iterable[Post], brands: Iterable[BrandQuery], *,
           base_dir: Path | None = None, allow_private: bool = False,
           fetcher: ImageFetcher | None = None,
           cursor: tuple[str, str, str] | None = None) -> Saved:
    """Store posts with their images; posts without brands get the ones their text matches.
    Local image paths are read only when `base_dir` is given (trusted callers)."""
    match = brand_matcher(tuple((b.name, b.query) for b in brands))
    batch = []
    for post in posts:
        if not post.brands:
            post.brands = match(post.text, post.author)
        images = []
        if post.images:
            from collectors.images import resolve_image

            images = [resolve_image(ref, store.data_dir, base_dir=base_dir, fetcher=fetcher,
                                    allow_private=allow_private) for ref in post.images]
        batch.append((post, images))
    return store.save_posts(batch, cursor=cursor)
