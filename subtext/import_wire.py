"""The bodies `subtext import` sends to the engine's `POST /v1/ingest`.

The engine checks every row itself (collectors/intake.py) and names each refused one, so the
lines of a JSONL file go out as they are: the importer only parses each line to find the ones
that are not JSON objects, and to inline local image files. Checking the rows here as well
would cost as much as the engine's own check again. Rows that need PostIn's full check (read
by the standard library: NaN, a lone surrogate) and CSV rows are checked here and sent
re-encoded.
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from collectors.lines import RowError, fold_image, json_lines

if TYPE_CHECKING:
    from collectors.post import Post

CHUNK = 1000  # rows per ingest request (the API takes up to 1,000)


@dataclass
class Chunk:
    """One request: the rows as JSON, and the file line of each (the engine's errors name
    rows by their index in the request)."""

    lines: list[int] = field(default_factory=list)
    rows: list[bytes] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)  # the rows' ids, stripped as PostIn does

    def body(self) -> bytes:
        return b'{"posts":[' + b",".join(self.rows) + b"]}"


def chunks(path: Path, refuse: Callable[[RowError], None]) -> Iterator[Chunk]:
    """The file's good-looking rows in chunks of CHUNK; `refuse` gets each row that is not
    one (not JSON, not an object, refused by PostIn here)."""
    chunk = Chunk()
    for line, native_id, row in _rows(path):
        if isinstance(row, RowError):
            refuse(row)
            continue
        chunk.lines.append(line)
        chunk.rows.append(row)
        chunk.ids.add(str(native_id).strip())
        if len(chunk.rows) == CHUNK:
            yield chunk
            chunk = Chunk()
    if chunk.rows:
        yield chunk


def _rows(path: Path) -> Iterator[tuple[int, object, bytes | RowError]]:
    """(line, the row's id, the row as JSON or why it is refused)."""
    if path.suffix.lower() not in (".jsonl", ".ndjson", ".json"):
        yield from _checked_rows(path)  # CSV: cells become fields here
        return
    base_dir = path.parent
    for line, raw, row, fast in json_lines(path):
        if isinstance(row, RowError):
            yield line, None, row
        elif not fast:
            yield line, row.get("id"), _checked(line, row, base_dir)
        elif "image" in row or row.get("images"):
            yield line, row.get("id"), orjson.dumps(_with_images(row, base_dir))
        else:
            yield line, row.get("id"), raw


def _checked_rows(path: Path) -> Iterator[tuple[int, object, bytes | RowError]]:
    from collectors.files import read_posts

    for line, post in read_posts(path):
        if isinstance(post, RowError):
            yield line, None, post
        else:
            yield line, post.native_id, _encoded(line, post, path.parent)


def _checked(line: int, row: dict, base_dir: Path) -> bytes | RowError:
    from collectors.files import validate

    post = validate(line, {"source": "import", **row}, fast=False)
    return post if isinstance(post, RowError) else _encoded(line, post, base_dir)


def _encoded(line: int, post: Post, base_dir: Path) -> bytes | RowError:
    try:
        return orjson.dumps(wire(post, base_dir))
    except TypeError:  # orjson refuses lone surrogates, which PostIn lets through
        return RowError(line, "not valid Unicode (a lone surrogate)")


def _with_images(row: dict, base_dir: Path) -> dict:
    """The row with its `image` folded into `images` (as collectors/files.py does) and local
    files inlined."""
    row = fold_image(row)
    if isinstance(row.get("images"), list):
        row = {**row, "images": [inline(i, base_dir) if isinstance(i, str) else i
                                 for i in row["images"]]}
    return row


def wire(post: Post, base_dir: Path) -> dict:
    """A Post as the ingest API takes it; local image files become data: URIs."""
    return {"source": post.source, "id": post.native_id, "text": post.text,
            "created_at": post.created_at.isoformat(), "url": post.url, "author": post.author,
            "lang": post.lang, "likes": post.likes, "reposts": post.reposts,
            "replies": post.replies, "images": [inline(ref, base_dir) for ref in post.images],
            "brands": list(post.brands)}


def inline(reference: str, base_dir: Path) -> str:
    if reference.startswith(("http://", "https://", "data:")):
        return reference
    from data.images import MAX_BYTES  # here: Pillow is not needed for text-only files

    path = base_dir / reference
    try:
        if path.stat().st_size > MAX_BYTES:
            return reference  # the engine will record it as rejected
        data = path.read_bytes()
    except OSError:
        return reference  # unreadable: the engine records it as rejected, the post is kept
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"
