"""CSV and TSV exports: any one-character separator, quoting, and encoding; a title block
above the header (``header_row``), notes below the data (``footer_rows``) and trailing empty
columns."""

from __future__ import annotations

import codecs
import csv
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


#: Byte-order marks and the codecs they belong to (a BOM of another family is a wrong
#: ``format.encoding``: decoding would give a file of mojibake or NULs).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _check_bom(unit: SourceUnit, data: bytes, encoding: str) -> None:
    family = codecs.lookup(encoding).name.replace("_", "-")
    for bom, name in _BOMS:
        if data.startswith(bom):
            if not family.startswith(name):
                raise SourceError(
                    unit.school,
                    unit.source_file,
                    f"file starts with a {name.upper()} byte-order mark but format.encoding "
                    f"is {encoding}",
                    row=1,
                    hint=f"set format.encoding: {name}"
                    + ("-sig" if name == "utf-8" else "")
                    + " in the school's YAML, or re-export the file as "
                    + encoding,
                )
            return


def _skip_lines(text: str, count: int) -> str:
    """The text after its first ``count`` physical lines (a title block above the header)."""
    position = 0
    for _ in range(count):
        end = text.find("\n", position)
        if end < 0:
            return ""
        position = end + 1
    return text[position:]


def _drop_footer(text: str, count: int) -> str:
    """The text without its last ``count`` non-empty lines (notes below the data)."""
    end = len(text)
    while count > 0 and end > 0:
        stripped = text[:end].rstrip()
        if not stripped:
            return ""
        start = stripped.rfind("\n") + 1
        end = start
        count -= 1
    return text[:end]


def _trailing_empty_headers(text: str, fmt: FormatOptions) -> int:
    """How many fields at the end of the header line are empty ('a;b;;')."""
    dialect = {"delimiter": fmt.separator, "strict": False}
    if fmt.quote_char is None:
        dialect["quoting"] = csv.QUOTE_NONE
    else:
        dialect["quotechar"] = fmt.quote_char
    try:
        header = next(csv.reader(io.StringIO(text[: 1 << 20]), **dialect), [])
    except csv.Error:
        return 0
    count = 0
    for name in reversed(header):
        if name.strip():
            break
        count += 1
    return count


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
    _check_bom(unit, data, fmt.encoding)
    text = _decode(unit, data, fmt.encoding)
    if text.startswith("\ufeff"):  # utf-8 (without -sig), utf-16-le/-be: a BOM, not data
        text = text[1:]
    if not text.strip():  # a UTF-16 file holding only its byte-order mark, say
        raise SourceError(
            unit.school,
            unit.source_file,
            "file is empty",
            hint="re-export the file from the school's system",
        )
    if fmt.header_row > 1:
        text = _skip_lines(text, fmt.header_row - 1)
        if not text.strip():
            raise SourceError(
                unit.school,
                unit.source_file,
                f"file has fewer than {fmt.header_row} lines: no header at format.header_row",
                hint="check format.header_row in the school's YAML, or re-export the file",
            )
    if fmt.footer_rows:
        text = _drop_footer(text, fmt.footer_rows)
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
    empty = _trailing_empty_headers(text, fmt)
    if 0 < empty < frame.width:  # 'a;b;;': columns with no header and no value, dropped
        trailing = frame.columns[-empty:]
        if frame.select(pl.all_horizontal(pl.col(trailing).is_null().all())).item():
            frame = frame.drop(trailing)
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
