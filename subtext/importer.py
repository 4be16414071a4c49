"""`python -m subtext import FILE`: posts from JSONL or CSV into Subtext.

When the engine is running it owns the database, so rows go through its ingest API (local
image files are sent inline as data: URIs, subtext/import_wire.py). Otherwise the store is
opened directly.

What each path needs is imported inside it: the API path never loads DuckDB, Arrow or
pandas, and neither loads httpx (about a second of start-up in all, on an import that
takes a few).
"""

from __future__ import annotations

import http.client
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import orjson

from collectors.lines import RowError
from subtext import USER_AGENT
from subtext.config import Config

if TYPE_CHECKING:
    from collectors.post import Post
    from subtext.import_wire import Chunk

T = TypeVar("T")
# Posts per transaction straight into the store: each commit costs about 10 ms (the WAL
# written and synced), so 5,000 a transaction pay it a tenth as often as the API's 1,000;
# nothing else waits on the write lock while the engine is stopped.
CHUNK = 5000


@dataclass
class ImportReport:
    rows: int = 0
    new: int = 0
    updated: int = 0
    failed: int = 0
    via: str = "store"


def run(config: Config, path: Path, *, short_lived: bool = False) -> ImportReport:
    """`short_lived`: the process ends with the import (the CLI), so Arrow may be spared
    its import of pandas (data/bulk.py without_pandas) and the store set for one bulk load."""
    report = ImportReport()
    client = _engine_client(config)
    if client is None:
        return _into_store(config, path, report, short_lived)
    from subtext.import_wire import chunks

    report.via = f"engine API at {config.api_url}"
    try:
        bodies = chunks(path, lambda error: _refused(report, path, error))
        for saved in _pipelined(bodies, lambda chunk: _send(client, path, chunk), window=2,
                                clash=lambda a, b: not a.ids.isdisjoint(b.ids)):
            report.rows += saved["received"]
            _count(report, saved)
    except (OSError, http.client.HTTPException) as exc:  # the engine stopped or went away
        raise RuntimeError(
            f"the engine at {config.api_url} stopped answering during the import "
            f"({type(exc).__name__}) after {report.new + report.updated} rows were stored; "
            "importing the file again is safe: stored rows are updated, not doubled") from None
    finally:
        client.close()
    return report


def _into_store(config: Config, path: Path, report: ImportReport,
                short_lived: bool) -> ImportReport:
    from data import bulk
    from data.store import Store
    from subtext.ingest import ingest

    if short_lived:
        bulk.without_pandas()

    def write(chunk: list[Post]) -> dict:
        saved = ingest(store, chunk, config.brands, base_dir=path.parent)
        return {"new": saved.new, "updated": saved.updated}

    # The next chunk is read and checked while DuckDB writes this one (without the GIL).
    with Store.open(config.data_dir) as store:
        if short_lived:
            _bulk_loading(store)
        for saved in _pipelined(_chunks(_good_rows(path, report)), write):
            _count(report, saved)
    return report


def _bulk_loading(store) -> None:
    """Settings for a process that only imports (measured on 200,000 posts, ~1 s each):
    what start-up loaded is frozen, so the collector stops walking it on every full
    collection; and DuckDB checkpoints once, at the close, not every 16 MB of WAL (each
    checkpoint rewrites the posts' index and costs more as the table grows: 0.2-0.5 s at
    100k-200k posts). A crash before the close loses nothing: the WAL is replayed."""
    import gc

    gc.collect()
    gc.freeze()
    store.reader().execute("SET checkpoint_threshold = '1GB'")


def _pipelined(items: Iterator[T], work: Callable[[T], dict], window: int = 1,
               clash: Callable[[T, T], bool] = lambda a, b: False) -> Iterator[dict]:
    """work(item) for each item in worker threads, at most `window` at once, the results in
    order: the next chunk is read and encoded while the engine stores the ones before it,
    and with two in flight the engine parses one while DuckDB writes the other. An item that
    clashes with one in flight (a post in both) waits for it, so the later version of a post
    is stored last. After a refused item nothing more is handed over (up to window - 1
    items were already)."""
    with ThreadPoolExecutor(window, thread_name_prefix="import") as workers:
        pending: deque[tuple[T, Future]] = deque()
        for item in items:
            while pending and (len(pending) == window
                               or any(clash(sent, item) for sent, _ in pending)):
                yield pending.popleft()[1].result()
            pending.append((item, workers.submit(work, item)))
        while pending:
            yield pending.popleft()[1].result()


def _count(report: ImportReport, saved: dict) -> None:
    report.new += saved["new"]
    report.updated += saved["updated"]
    report.failed += saved.get("failed", 0)


def _refused(report: ImportReport, path: Path, error: RowError) -> None:
    report.rows += 1
    report.failed += 1
    print(f"{path}: {error}", file=sys.stderr)


def _good_rows(path: Path, report: ImportReport) -> Iterator[Post]:
    from collectors.files import read_posts

    for _, row in read_posts(path):
        if isinstance(row, RowError):
            _refused(report, path, row)
        else:
            report.rows += 1
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


class EngineClient:
    """Requests to the running engine, over one kept-alive connection per thread. The
    standard library's client, not httpx: httpx with httpcore takes 0.4 s to import, a tenth
    of an import of 50,000 posts, and the engine's API is plain HTTP on a known port."""

    def __init__(self, config: Config):
        self.url = config.api_url
        self._address = (config.api_host, config.api_port)
        self._local = threading.local()
        self._connections: list[http.client.HTTPConnection] = []
        token = os.environ.get("SUBTEXT_API_TOKEN")
        self._headers = {"User-Agent": USER_AGENT,
                         **({"Authorization": f"Bearer {token}"} if token else {})}

    def request(self, method: str, path: str, body: bytes | None = None,
                timeout: float = 60.0) -> tuple[int, bytes]:
        connection = self._connection()
        connection.timeout = timeout  # for a (re)connection
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        headers = self._headers if body is None else {
            **self._headers, "Content-Type": "application/json"}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = http.client.HTTPConnection(*self._address)
            self._connections.append(connection)
        return connection

    def answers(self) -> bool:
        """Whether a Subtext engine answers there. With the engine stopped the port is
        closed, which the kernel says at once."""
        try:
            status, _ = self.request("GET", "/health", timeout=2.0)
        except (OSError, http.client.HTTPException):
            return False
        return status == 200

    def close(self) -> None:
        for connection in self._connections:
            connection.close()


def _engine_client(config: Config) -> EngineClient | None:
    client = EngineClient(config)
    if client.answers():
        return client
    client.close()
    return None


def _send(client: EngineClient, path: Path, chunk: Chunk) -> dict:
    status, content = client.request("POST", "/v1/ingest", chunk.body())
    rows = _row_errors(status, content)
    if rows is None:
        raise RuntimeError(f"the engine refused the import: HTTP {status} "
                           f"{content[:500].decode(errors='replace')}")
    for index, reasons in sorted(rows.items()):
        print(f"{path}: {RowError(chunk.lines[index], '; '.join(reasons))}", file=sys.stderr)
    if status == 200:
        return orjson.loads(content)
    return {"received": len(chunk.rows), "new": 0, "updated": 0, "failed": len(rows)}


def _row_errors(status: int, content: bytes) -> dict[int, list[str]] | None:
    """The refused rows (index: reasons) of an ingest answer: listed in a 200 beside the
    stored rows, or a 422 when every row was bad; None for any other refusal."""
    if status not in (200, 422):
        return None
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    errors = body.get("errors", []) if status == 200 else body.get("detail")
    if not isinstance(errors, list) or (status == 422 and not errors):
        return None
    rows: dict[int, list[str]] = {}
    for error in errors:
        loc = error.get("loc", []) if isinstance(error, dict) else []
        if len(loc) < 3 or loc[:2] != ["body", "posts"] or not isinstance(loc[2], int):
            return None  # not a per-row error: the request itself was refused
        rows.setdefault(loc[2], []).append(f"{'.'.join(map(str, loc[3:]))}: {error['msg']}")
    return rows
