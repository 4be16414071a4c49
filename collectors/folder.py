"""A watched drop folder: JSONL or CSV files (the import format) put there are collected.

Each run reads the files that have settled (unchanged for `settle_s`, so a file still being
copied is left alone), one page per `page_rows` rows, and moves a file to `done/` once all its
pages are stored (or to `failed/` when it cannot be read at all). A crash before the move reads
the file again next time; its posts are upserted, not doubled. Bad rows are reported with their
line numbers; the other rows are kept. Image paths are relative to the file, as for `import`.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from collectors.base import BrandQuery, Page, positive_int
from collectors.files import RowError, read_posts
from collectors.images import ImageFetcher
from collectors.post import Post

SUFFIXES = {".jsonl", ".ndjson", ".json", ".csv"}


class FolderCollector:
    local_images = True  # the folder's owner is trusted like the import command's user

    def __init__(self, name: str, path: str | Path, page_rows: int = 200,
                 settle_s: float = 5.0, allow_private_images: bool | list[str] = False):
        if not re.match(r"^[A-Za-z0-9_.-]+$", name):
            raise ValueError("a folder source's name becomes its posts' source: use letters, "
                             "digits, '_', '.' or '-'")
        self.name, self.folder = name, Path(path)
        if not self.folder.is_dir():
            raise ValueError(f"path {str(self.folder)!r} is not a folder")
        self.page_rows = positive_int("page_rows", page_rows)
        self.settle_s = float(settle_s)
        self.images = ImageFetcher(allow_private=allow_private_images)
        # Every brand's run reads the same folder: one at a time, or a file is read twice.
        self._lock = threading.Lock()

    def close(self) -> None:
        self.images.close()

    def pages(self, brand: BrandQuery, cursor: str | None) -> Iterator[Page]:
        with self._lock:
            for path in self._ready():
                try:
                    yield from self._file_pages(path)
                except OSError as exc:  # unreadable: set it aside, say why, go on
                    _move(path, self.folder / "failed")
                    yield Page(errors=[f"{path.name}: cannot read: {exc.strerror or exc}"])
                    continue
                _move(path, self.folder / "done")  # all its pages are stored by now

    def _ready(self) -> list[Path]:
        cutoff = time.time() - self.settle_s
        return sorted(p for p in self.folder.iterdir()
                      if p.is_file() and p.suffix.lower() in SUFFIXES
                      and p.stat().st_mtime <= cutoff)

    def _file_pages(self, path: Path) -> Iterator[Page]:
        page = Page()
        for _, row in read_posts(path, source=self.name):
            page.fetched += 1
            if isinstance(row, RowError):
                page.errors.append(f"{path.name} {row}")
            else:
                page.posts.append(_anchored(row, path.parent))
            if page.fetched == self.page_rows:
                yield page
                page = Page()
        if page.fetched:
            yield page


def _anchored(post: Post, base: Path) -> Post:
    """Local image paths are relative to the file they came in."""
    post.images = [ref if ref.startswith(("http://", "https://", "data:")) else str(base / ref)
                   for ref in post.images]
    return post


def _move(path: Path, folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    if target.exists():  # the same name dropped again: keep both
        target = folder / f"{path.stem}.{time.strftime('%Y%m%d-%H%M%S')}{path.suffix}"
    shutil.move(str(path), str(target))
