"""Export formats beyond the API's CSV and Parquet writers: the UTF-8 byte order mark that
makes Excel read a CSV's Chinese text, ISO 8601 timestamps with their zone, and Excel .xlsx
(openpyxl, streamed from a temporary file a batch at a time, so memory stays flat).

The database keeps timestamps zone-less in UTC; every export says so: CSV and Excel cells read
'2026-11-23T19:45:00Z', Parquet columns are typed timestamp[UTC].

A post's text is someone else's input: in CSV, text starting with =, +, -, @, tab or CR gets a
leading ' (OWASP's guard against CSV injection), since Excel would run it as a formula; in
Excel files every text cell is typed as text instead.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

BOM = "\ufeff".encode()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit, less the header row
ISO = "%Y-%m-%dT%H:%M:%SZ"
# Characters XML 1.0 (and so openpyxl) refuses; a post may carry them.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
CHUNK = 1 << 16
# What makes Excel (and LibreOffice, Sheets) read a CSV cell as a formula.
_FORMULA_START = r"^([=+\-@\t\r])"


def formula_safe(data: pa.RecordBatch | pa.Table) -> pa.RecordBatch | pa.Table:
    """Text cells that a spreadsheet would run as a formula, prefixed with ' (for CSV).
    Only text columns: a negative number stays a number."""
    columns = [pc.replace_substring_regex(c, _FORMULA_START, r"'\1") if _text(c.type) else c
               for c in data.columns]
    return type(data).from_arrays(columns, names=data.schema.names)


def _text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def utc(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Zone-less timestamp columns marked UTC (what they hold)."""
    columns = [pc.assume_timezone(c, "UTC") if _naive_time(c.type) else c for c in batch.columns]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def iso_text(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Timestamp columns as ISO 8601 strings in UTC ('...Z'), for CSV and Excel."""
    columns = [pc.strftime(pc.assume_timezone(c, "UTC") if _naive_time(c.type) else c,
                           format=ISO)
               if pa.types.is_timestamp(c.type) else c for c in batch.columns]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def utc_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, pa.timestamp(f.type.unit, "UTC"))
                      if _naive_time(f.type) else f for f in schema])


def iso_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, pa.string()) if pa.types.is_timestamp(f.type) else f
                      for f in schema])


def _naive_time(kind: pa.DataType) -> bool:
    return pa.types.is_timestamp(kind) and kind.tz is None


def xlsx_stream(reader: pa.RecordBatchReader) -> Iterator[bytes]:
    """The rows as one Excel sheet. Text stays text: a post starting with '=' is never
    turned into a formula. Rows past Excel's limit are cut, with a last row saying so."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("posts")
    sheet.append(reader.schema.names)
    written = 0
    for batch in _batches(reader):
        for row in iso_text(batch).to_pylist():
            if written == XLSX_MAX_ROWS - 1:
                sheet.append([f"cut at {XLSX_MAX_ROWS - 1} rows (Excel's limit); "
                              "export CSV or Parquet for all of them"])
                written += 1
                break
            if written < XLSX_MAX_ROWS - 1:
                sheet.append([_cell(sheet, v) for v in row.values()])
                written += 1
    with tempfile.TemporaryFile() as file:
        book.save(file)
        file.seek(0)
        while chunk := file.read(CHUNK):
            yield chunk


def _cell(sheet, value):
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=_ILLEGAL.sub("", value))
        cell.data_type = "s"  # never a formula, whatever the text starts with
        return cell
    return value


def _batches(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            yield reader.read_next_batch()
        except StopIteration:
            return
