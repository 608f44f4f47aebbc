"""Excel workbooks (XLSX), read with calamine: a sheet, a header row under title rows, notes
below the data (``footer_rows``), trailing empty columns."""

from __future__ import annotations

import re
import zipfile

import fastexcel
import polars as pl

from imtetl.pipeline_config import FormatOptions
from imtetl.read.types import ROW, RawFrame, SourceError, SourceUnit

#: A workbook whose parts inflate beyond this is refused (zip bombs).
MAX_UNCOMPRESSED_BYTES = 2_000_000_000
#: calamine's name for a column whose header cell is empty.
_UNNAMED = re.compile(r"__UNNAMED__\d+")


def read(unit: SourceUnit, fmt: FormatOptions) -> RawFrame:
    (path,) = unit.paths
    if not zipfile.is_zipfile(path):
        raise SourceError(
            unit.school,
            unit.source_file,
            "not an XLSX workbook (not a zip file: truncated or another format)",
            hint="re-export the workbook as .xlsx from the school's system",
        )
    with zipfile.ZipFile(path) as archive:
        inflated = sum(info.file_size for info in archive.infolist())
        if inflated > MAX_UNCOMPRESSED_BYTES:
            raise SourceError(
                unit.school, unit.source_file, f"workbook inflates to {inflated} bytes: refused"
            )
    try:
        reader = fastexcel.read_excel(path)
    except Exception as exc:  # calamine raises its own error types
        raise SourceError(
            unit.school,
            unit.source_file,
            f"cannot open workbook: {exc}",
            hint="open and re-save it as .xlsx, or re-export it",
        ) from exc
    if fmt.sheet is None:
        raise SourceError(unit.school, unit.source_file, "no sheet configured for this dataset")
    if fmt.sheet not in reader.sheet_names:
        raise SourceError(
            unit.school,
            unit.source_file,
            f"sheet {fmt.sheet!r} not found (sheets: {', '.join(reader.sheet_names)})",
            hint="fix the sheet name in the export, or format.sheet in the school's YAML",
        )
    try:
        sheet = reader.load_sheet_by_name(fmt.sheet, header_row=fmt.header_row - 1, dtypes="string")
        frame = pl.DataFrame(sheet.to_arrow())
    except Exception as exc:
        raise SourceError(
            unit.school,
            unit.source_file,
            f"cannot read sheet {fmt.sheet!r}: {exc}",
            hint="check the header row (format.header_row) or re-export the workbook",
        ) from exc
    frame = frame.with_columns(pl.all().cast(pl.String))
    # Excel rows: data starts under the header row; __row is the data row number.
    frame = frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    empty = pl.all_horizontal(pl.exclude(ROW).is_null())
    frame = frame.filter(~empty)
    if fmt.footer_rows:  # notes below the data: the last non-empty rows
        frame = frame.head(max(frame.height - fmt.footer_rows, 0))
    # Trailing columns with no header and no value (a formatted but empty column): dropped.
    while frame.width > 2 and _UNNAMED.fullmatch(frame.columns[-1]):
        if frame[frame.columns[-1]].null_count() != frame.height:
            break
        frame = frame.drop(frame.columns[-1])
    return RawFrame(unit, frame, [c for c in frame.columns if c != ROW])
