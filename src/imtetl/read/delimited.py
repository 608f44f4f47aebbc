"""CSV and TSV exports: any one-character separator, quoting, and encoding."""

from __future__ import annotations

import io

import polars as pl

from imtetl.pipeline_config import FormatOptions
from imtetl.read.types import ROW, RawFrame, SourceError, SourceUnit


def _decode(unit: SourceUnit, data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError(
            unit.school,
            unit.source_file,
            f"not valid {encoding}: byte 0x{data[exc.start]:02x} at offset {exc.start} "
            f"(line {line})",
            hint=f"re-export the file as {encoding}, or set format.encoding in the school's YAML",
        ) from exc


def read(unit: SourceUnit, fmt: FormatOptions, data: bytes | None = None) -> RawFrame:
    """``data``: the file's bytes, when the caller has read them already."""
    (path,) = unit.paths
    if data is None:
        data = path.read_bytes()
    if not data.strip():
        raise SourceError(
            unit.school,
            unit.source_file,
            "file is empty",
            hint="re-export the file from the school's system",
        )
    text = _decode(unit, data, fmt.encoding)
    if fmt.encoding == "utf-8" and text.startswith("\ufeff"):
        text = text[1:]
    try:
        frame = pl.read_csv(
            io.StringIO(text),
            separator=fmt.separator,
            quote_char=fmt.quote_char,
            infer_schema=False,
            has_header=True,
            empty_string_is_null=True,
            truncate_ragged_lines=False,
            raise_if_empty=True,
        )
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceError(
            unit.school,
            unit.source_file,
            f"cannot parse as {fmt.kind}: {first}",
            hint="check the separator and quoting in the school's YAML, or re-export the file",
        ) from exc
    headers = list(frame.columns)
    if len(headers) == 1 and fmt.separator not in text.split("\n", 1)[0]:
        raise SourceError(
            unit.school,
            unit.source_file,
            f"header has no {fmt.separator!r} separator: wrong separator or not a {fmt.kind} file",
            hint="re-export the file with its usual separator, or fix format.separator",
        )
    if not text.endswith(("\n", "\r")) and frame.height and frame[-1, -1] is None:
        # Exports end with a line break; a last row stopping short of the last column
        # without one was cut off in transfer.
        raise SourceError(
            unit.school,
            unit.source_file,
            f"file is truncated: its last row ({frame.height}) stops before the last column "
            "and the file does not end with a line break",
            row=frame.height,
            rows_read=frame.height,
            hint="the transfer was cut off: fetch or re-export the whole file",
        )
    frame = frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    return RawFrame(unit, frame, headers)
