"""`python -m subtext import FILE`: posts from JSONL or CSV into Subtext.

When the engine is running it owns the database, so rows go through its ingest API (local
image files are sent inline as data: URIs). Otherwise the store is opened directly.
"""

from __future__ import annotations

import base64
import mimetypes
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import orjson

from collectors.files import RowError, read_posts
from collectors.images import USER_AGENT
from collectors.post import Post
from data.images import MAX_BYTES
from data.store import Store
from subtext import jobs
from subtext.config import Config

T = TypeVar("T")
CHUNK = 1000  # posts per ingest request or transaction (the API takes up to 1,000)


@dataclass
class ImportReport:
    rows: int = 0
    new: int = 0
    updated: int = 0
    failed: int = 0
    via: str = "store"


def run(config: Config, path: Path) -> ImportReport:
    report = ImportReport()
    rows = _chunks(_good_rows(path, report))
    client = _engine_client(config)
    if client is not None:
        report.via = f"engine API at {config.api_url}"
        try:
            bodies = ((chunk, _payload(chunk, path.parent)) for chunk in rows)
            for saved in _pipelined(bodies, lambda job: _send(client, *job)):
                _count(report, saved)
        finally:
            client.close()
        return report
    # Straight into the store, one chunk after the other: a second thread gained nothing
    # here (the reading and the writing both hold the GIL most of the time).
    with Store.open(config.data_dir) as store:
        for chunk in rows:
            saved = jobs.ingest(store, chunk, config.brands, base_dir=path.parent)
            _count(report, {"new": saved.new, "updated": saved.updated})
    return report


def _pipelined(items: Iterator[T], work: Callable[[T], dict]) -> Iterator[dict]:
    """work(item) for each item, in order, in a second thread: the next chunk is read,
    checked and encoded while the engine stores this one. A chunk is handed over only once
    the one before it is done, so a refused chunk is the last one sent."""
    with ThreadPoolExecutor(1, thread_name_prefix="import") as worker:
        pending = None
        for item in items:
            if pending is not None:
                yield pending.result()
            pending = worker.submit(work, item)
        if pending is not None:
            yield pending.result()


def _count(report: ImportReport, saved: dict) -> None:
    report.new += saved["new"]
    report.updated += saved["updated"]
    report.failed += saved.get("failed", 0)


def _good_rows(path: Path, report: ImportReport) -> Iterator[Post]:
    for _, row in read_posts(path):
        report.rows += 1
        if isinstance(row, RowError):
            report.failed += 1
            print(f"{path}: {row}", file=sys.stderr)
        else:
            yield row


def _chunks(posts: Iterator[Post]) -> Iterator[list[Post]]:
    chunk: list[Post] = []
    for post in posts:
        chunk.append(post)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _engine_client(config: Config) -> httpx.Client | None:
    token = os.environ.get("SUBTEXT_API_TOKEN")
    client = httpx.Client(base_url=config.api_url, timeout=60.0,
                          headers={"User-Agent": USER_AGENT,
                                   **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        client.get("/health", timeout=2.0).raise_for_status()
    except httpx.HTTPError:
        client.close()
        return None
    return client


def _payload(posts: list[Post], base_dir: Path) -> bytes:
    return orjson.dumps({"posts": [_wire(post, base_dir) for post in posts]})


def _send(client: httpx.Client, posts: list[Post], payload: bytes) -> dict:
    response = client.post("/v1/ingest", content=payload,
                           headers={"Content-Type": "application/json"})
    rows = _row_errors(response)
    if rows is None:
        raise RuntimeError(f"the engine refused the import: HTTP {response.status_code} "
                           f"{response.text[:500]}")
    for index, reasons in sorted(rows.items()):
        print(f"post {posts[index].native_id!r}: refused by the engine: {'; '.join(reasons)}",
              file=sys.stderr)
    return response.json() if response.status_code == 200 else {
        "new": 0, "updated": 0, "failed": len(rows)}


def _row_errors(response: httpx.Response) -> dict[int, list[str]] | None:
    """The refused rows (index: reasons) of an ingest answer: listed in a 200 beside the
    stored rows, or a 422 when every row was bad; None for any other refusal."""
    if response.status_code not in (200, 422):
        return None
    body = response.json()
    errors = body.get("errors", []) if response.status_code == 200 else body.get("detail")
    if not isinstance(errors, list) or (response.status_code == 422 and not errors):
        return None
    rows: dict[int, list[str]] = {}
    for error in errors:
        loc = error.get("loc", []) if isinstance(error, dict) else []
        if len(loc) < 3 or loc[:2] != ["body", "posts"] or not isinstance(loc[2], int):
            return None  # not a per-row error: the request itself was refused
        rows.setdefault(loc[2], []).append(f"{'.'.join(map(str, loc[3:]))}: {error['msg']}")
    return rows


def _wire(post: Post, base_dir: Path) -> dict:
    """A Post as the ingest API takes it; local image files become data: URIs."""
    return {"source": post.source, "id": post.native_id, "text": post.text,
            "created_at": post.created_at.isoformat(), "url": post.url, "author": post.author,
            "lang": post.lang, "likes": post.likes, "reposts": post.reposts,
            "replies": post.replies, "images": [_inline(ref, base_dir) for ref in post.images],
            "brands": list(post.brands)}


def _inline(reference: str, base_dir: Path) -> str:
    if reference.startswith(("http://", "https://", "data:")):
        return reference
    path = base_dir / reference
    try:
        if path.stat().st_size > MAX_BYTES:
            return reference  # the engine will record it as rejected
        data = path.read_bytes()
    except OSError:
        return reference  # unreadable: the engine records it as rejected, the post is kept
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"
