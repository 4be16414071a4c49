"""`python -m subtext analyze`: JSONL in, one verdict line out per input line.

Contract: each input line is {"id", "text", "image": optional path (relative to the input
file), "lang": optional}. Each output line has the id and the verdict fields, or the id and an
`error`. A bad line never stops the run; the exit code says whether any line failed.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from analysis.base import Analyzer
from analysis.verdict import Item
from data.images import check_image_file


class BatchLine(BaseModel):
    model_config = ConfigDict(extra="ignore")  # extra columns of a post dump are harmless

    id: str | int
    text: str = Field(max_length=1_000_000)
    image: str | None = None
    lang: str | None = None


class Progress:
    """Progress on stderr, at most every `every_s` seconds, so long files show life."""

    def __init__(self, total: int, stream: TextIO = sys.stderr, every_s: float = 2.0):
        self.total, self.stream, self.every_s = total, stream, every_s
        self.start = self.last = time.monotonic()

    def update(self, done: int, failed: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last < self.every_s:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        self.stream.write(f"analyzed {done}/{self.total} lines ({rate:.0f}/s), "
                          f"{failed} failed\n")
        self.stream.flush()


def run(analyzer: Analyzer, source: Path, out: Path, batch_size: int = 64) -> int:
    """Analyze `source` into `out`; return the number of failed lines."""
    with source.open(encoding="utf-8", errors="replace") as handle:  # closed, not leaked
        total = sum(1 for line in handle if line.strip())
    progress = Progress(total)
    done = failed = 0
    with out.open("w", encoding="utf-8") as sink:
        for chunk in _chunks(_parse(source), batch_size):
            for record in _analyze(analyzer, chunk):
                failed += "error" in record
                sink.write(json.dumps(record, ensure_ascii=False) + "\n")
            done += len(chunk)
            progress.update(done, failed)
    progress.update(done, failed, final=True)
    return failed


def _parse(source: Path) -> Iterator[tuple[object, Item | str, list[str]]]:
    """(id, Item or error message, notes) per non-empty line."""
    with source.open(encoding="utf-8", errors="replace") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                line = BatchLine.model_validate_json(text)
            except ValidationError as exc:
                yield _raw_id(text), f"line {number}: {_reason(exc)}", []
                continue
            image, notes = None, []
            if line.image:
                path = (source.parent / line.image)
                if reason := check_image_file(path):
                    notes.append(f"image rejected: {reason}; analyzed text only")
                else:
                    image = path
            yield line.id, Item(text=line.text, image=image, lang=line.lang), notes


def _analyze(analyzer: Analyzer, chunk: list) -> list[dict]:
    good = [(i, item) for i, (_, item, _) in enumerate(chunk) if isinstance(item, Item)]
    try:
        verdicts = dict(zip([i for i, _ in good],
                            analyzer.analyze([item for _, item in good]), strict=True))
    except Exception as exc:  # a failing batch becomes error lines, never a crash
        verdicts = {i: f"analyzer failed: {type(exc).__name__}: {exc}" for i, _ in good}
    records = []
    for i, (line_id, item, notes) in enumerate(chunk):
        result = verdicts.get(i, item)
        if isinstance(result, str):
            records.append({"id": line_id, "error": result})
            continue
        result.evidence.setdefault("notes", []).extend(notes)
        records.append({"id": line_id, **result.to_dict()})
    return records


def _chunks(items: Iterator, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _raw_id(text: str) -> object:
    """The line's id when the JSON parses far enough to have one."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value.get("id") if isinstance(value, dict) else None


def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]
