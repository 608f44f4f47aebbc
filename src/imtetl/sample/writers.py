"""The physical layouts of the exports: delimited text, the Excel workbook, JSON API pages.

Writers take frames already rendered in the school's vocabulary (`formats.render_*`) and only
deal with bytes: separators, quoting, encodings, byte-order marks, sheets, pagination. They
write nothing that depends on the clock, so the same frames give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import math
from json.encoder import encode_basestring  # the C encoder, as json.dumps uses
from pathlib import Path

import polars as pl
import xlsxwriter

#: Excel's limit on rows per worksheet.
EXCEL_MAX_ROWS = 1_048_576
#: Fixed document date of the workbooks (never the clock: the sample is reproducible).
WORKBOOK_CREATED = dt.datetime(2026, 1, 1)
#: Records per page of the IMT Nord Europe API.
PAGE_SIZE = 500


def write_delimited(
    path: Path,
    frame: pl.DataFrame,
    headers: list[str],
    *,
    separator: str,
    encoding: str,
    bom: bool = False,
    quoting: bool = True,
) -> None:
    """A header line and one line per row; fields quoted only where needed (or never, for
    the vendor's TSV, which then must not contain a separator or a line break)."""
    frame = frame.rename(dict(zip(frame.columns, headers, strict=True)))
    if not quoting:
        strings = [c for c, t in frame.schema.items() if t == pl.String]
        bad = frame.select(
            pl.any_horizontal(pl.col(strings).str.contains(r"[\t\r\n]")).any()
        ).item()
        if bad:
            raise ValueError(f"{path.name}: a value contains a tab or a line break")
    text = frame.write_csv(
        separator=separator,
        quote_style="necessary" if quoting else "never",
        line_terminator="\n",
    )
    data = text.encode(encoding)  # strict: an unencodable character is a bug, not a `?`
    if bom:
        data = "\ufeff".encode(encoding) + data
    path.write_bytes(data)


def write_workbook(path: Path, sheets: list[tuple[str, str, list[str], pl.DataFrame]]) -> None:
    """One worksheet per (name, title, headers, frame): the title in row 1, the headers in
    row 2, the data from row 3; dates as real Excel dates, integers as numbers."""
    for name, _title, _headers, frame in sheets:
        if frame.height + 2 > EXCEL_MAX_ROWS:
            raise ValueError(
                f"{path.name}: sheet {name!r} would need {frame.height + 2:,} rows, more than "
                f"Excel's {EXCEL_MAX_ROWS:,}; use a smaller scale"
            )
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    workbook.set_properties({"created": WORKBOOK_CREATED, "author": "Scolarité"})
    date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
    title_format = workbook.add_format({"bold": True})
    header_format = workbook.add_format({"bold": True, "bottom": 1})
    for name, title, headers, frame in sheets:
        sheet = workbook.add_worksheet(name)
        sheet.set_column(0, len(headers) - 1, 16)
        sheet.write_string(0, 0, title, title_format)
        for col, header in enumerate(headers):
            sheet.write_string(1, col, header, header_format)
        kinds = [_cell_kind(dtype) for dtype in frame.dtypes]
        for row_number, row in enumerate(frame.iter_rows(), start=2):
            for col, (value, kind) in enumerate(zip(row, kinds, strict=True)):
                if value is None:
                    continue
                if kind == "date":
                    sheet.write_datetime(row_number, col, value, date_format)
                elif kind == "number":
                    sheet.write_number(row_number, col, value)
                else:
                    sheet.write_string(row_number, col, value)
    workbook.close()


def _cell_kind(dtype: pl.DataType) -> str:
    if dtype == pl.Date:
        return "date"
    if dtype.is_numeric():
        return "number"
    return "string"


Shape = dict[str, "str | Shape"]


def _compile(shape: Shape, level: int) -> tuple[str, list[str]]:
    """A `str.format` template printing an object of `shape` (JSON key -> column, or nested
    shape) the way `json.dumps(sort_keys=True, indent=1)` does at indentation `level`, and
    the columns its placeholders take, in order."""
    pad = " " * (level + 1)
    parts, columns = [], []
    for key in sorted(shape):
        value = shape[key]
        if isinstance(value, str):
            parts.append(f"{pad}{encode_basestring(key)}: {{}}")
            columns.append(value)
        else:
            inner, inner_columns = _compile(value, level + 1)
            parts.append(f"{pad}{encode_basestring(key)}: {inner}")
            columns += inner_columns
    return "{{\n" + ",\n".join(parts) + "\n" + " " * level + "}}", columns


def _json_values(series: pl.Series) -> list[str]:
    """Each value of a column as JSON text (what `json.dumps` writes for it)."""
    values = series.to_list()
    if series.dtype == pl.Boolean:
        return ["null" if v is None else ("true" if v else "false") for v in values]
    if series.dtype == pl.String:
        return ["null" if v is None else encode_basestring(v) for v in values]
    if series.dtype.is_float():
        return ["null" if v is None else float.__repr__(v) for v in values]
    return ["null" if v is None else str(v) for v in values]


def write_pages(
    folder: Path, resource: str, year: int, frame: pl.DataFrame, shape: Shape
) -> list[Path]:
    """The API's answers for one resource and year, every page as served: UTF-8 JSON with
    sorted keys and an indent of 1, each row of `frame` a record of `shape`.

    The text is exactly `json.dumps(page, ensure_ascii=False, sort_keys=True, indent=1)`,
    produced from a template (the pure-Python indenting encoder is slow at large scales)."""
    folder.mkdir(parents=True, exist_ok=True)
    template, columns = _compile(shape, 2)
    values = [_json_values(frame[column]) for column in columns]
    records = [template.format(*row) for row in zip(*values, strict=True)] if values else []
    count = len(records)
    pages = max(1, math.ceil(count / PAGE_SIZE))
    written = []
    for page in range(1, pages + 1):
        next_link = (
            encode_basestring(f"/api/v1/{resource}?academic_year={year}&page={page + 1}")
            if page < pages
            else "null"
        )
        chunk = records[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        results = "[\n  " + ",\n  ".join(chunk) + "\n ]" if chunk else "[]"
        text = (
            f'{{\n "count": {count},\n "next": {next_link},\n "page": {page},\n'
            f' "results": {results}\n}}'
        )
        path = folder / f"page-{page:04d}.json"
        path.write_bytes(text.encode("utf-8"))
        written.append(path)
    return written
