"""JSON Lines files read row by row, with nothing heavier than orjson: the import through the
engine's API sends the lines as they are and only needs to know which ones are JSON objects.

Lines are read as bytes: orjson reads valid UTF-8 directly; a line it refuses (NaN, a lone
surrogate, bytes that are not UTF-8) is read again by the standard library, after decoding
with replacement characters, and flagged so that PostIn checks it in full.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


def json_lines(path: Path) -> Iterator[tuple[int, bytes, dict | RowError, bool]]:
    """(line number, the line, its row or why it is not one, whether orjson read it: then
    its strings are valid Unicode) for each line that is not blank."""
    with path.open("rb") as handle:
        for line, raw in enumerate(handle, start=1):
            raw = raw.strip()
            if not raw:
                continue
            try:
                row, fast = orjson.loads(raw), True
            except orjson.JSONDecodeError:
                text = raw.decode("utf-8", errors="replace")
                if not text.strip():
                    continue  # blank but for Unicode spaces
                try:  # NaN, a lone surrogate: PostIn names the field
                    row, fast = json.loads(text), False
                except json.JSONDecodeError as exc:
                    yield line, raw, RowError(line, f"not valid JSON: {exc.msg} at column "
                                                    f"{exc.colno}"), False
                    continue
            yield line, raw, row if type(row) is dict else RowError(
                line, "not a JSON object"), fast


def fold_image(row: dict) -> dict:
    """The row with its single `image` (a spreadsheet column, a common key) appended to its
    `images`. A row whose `image` is not a string or whose `images` is not a list is left as
    it is, for the check to refuse by name (a string `images` had been split into letters,
    a number had crashed the import)."""
    image, images = row.get("image"), row.get("images", [])
    if not isinstance(image, str) or not isinstance(images, list):
        return row
    folded = {key: value for key, value in row.items() if key != "image"}
    folded["images"] = [*images, image]
    return folded
