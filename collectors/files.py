"""Reading posts from JSONL or CSV files (the import command and the drop folder).

Each row is validated like an API ingest; a bad row yields its line number and the reason, and
the rows after it are still read.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from collectors.intake import fast_post
from collectors.lines import RowError, fold_image, json_lines
from collectors.post import Post, PostIn, utcnow

LIST_FIELDS = ("images", "brands")  # ";"-separated in CSV cells
CLOCK_EVERY = 1000  # rows checked per reading of the clock (each reading costs 2 us)


def read_posts(path: Path, source: str = "import") -> Iterator[tuple[int, Post | RowError]]:
    """Yield (line number, Post or RowError) for each row of a .jsonl/.json or .csv file.
    `source` is the source of rows that do not name one."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        rows = _jsonl_rows(path)
    elif suffix == ".csv":
        rows = _csv_rows(path)
    else:
        raise ValueError(f"{path}: unsupported file type {suffix!r}; use .jsonl or .csv")
    now = utcnow()
    for count, (line, row, fast) in enumerate(rows, start=1):
        if isinstance(row, RowError):
            yield line, row
        else:
            yield line, validate(line, {"source": source, **row}, fast, now)
        if count % CLOCK_EVERY == 0:
            now = utcnow()


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict | RowError, bool]]:
    """(line, row, whether orjson read it: its strings are valid Unicode)."""
    for line, _, row, fast in json_lines(path):
        yield line, row, fast


def _csv_rows(path: Path) -> Iterator[tuple[int, dict | RowError, bool]]:
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            line = reader.line_num
            if None in row:
                yield line, RowError(line, "more cells than header columns"), False
                continue
            cleaned = {k: v for k, v in row.items() if v not in (None, "")}
            for key in LIST_FIELDS:
                if key in cleaned:
                    cleaned[key] = [part.strip() for part in cleaned[key].split(";")
                                    if part.strip()]
            yield line, fold_image(cleaned), True  # read with errors="replace": valid Unicode


def validate(line: int, row: dict, fast: bool, now: datetime | None = None) -> Post | RowError:
    """`now`: what a row without a date is dated, and the future limit (default: the clock)."""
    row = fold_image(row)
    if fast and (post := fast_post(row, None, now or utcnow())) is not None:
        return post  # PostIn would accept it as it is (collectors/intake.py)
    try:
        return PostIn.model_validate(row).to_post()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "row"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return RowError(line, f"{where}: {first['msg']}{more}")
