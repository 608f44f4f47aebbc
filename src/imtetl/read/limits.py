"""Size limits on source files, checked around the readers so that no export can exhaust
memory or time: lines of a CSV/TSV (before parsing), the inflated size of an XLSX workbook
(zip bombs, before calamine opens it) and the length of every value (after reading; an
unbalanced quote swallowing the rest of a file shows as one enormous value).

Each limit is a format option of the school's YAML (``max_line_kb``, ``max_uncompressed_mb``,
``max_field_kb``; ``max_file_mb`` is checked first) and each refusal is a SourceError naming
the school, the file, and the line, row or column.
"""

from __future__ import annotations

import codecs
import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import polars as pl

from imtetl.pipeline_config import FormatOptions
from imtetl.read.types import ROW, SourceError, SourceUnit

#: Workbooks have a few dozen parts; thousands are a zip bomb of overlapping entries.
MAX_ZIP_MEMBERS = 10_000
_BLOCK = 8 << 20


def _line_units(encoding: str, head: bytes) -> tuple[np.dtype, int] | None:
    """How to find line ends in the raw bytes of ``encoding``: the code unit (a byte, or the
    16/32-bit units of UTF-16/32, in the byte order of their BOM) and the unit value of
    LF. None when LF is no single unit (then the decoded text is scanned)."""
    name = codecs.lookup(encoding).name
    if name.startswith(("utf-16", "utf-32")):
        width = 2 if name.startswith("utf-16") else 4
        if name.endswith("-be"):
            order = ">"
        elif name.endswith("-le"):
            order = "<"
        elif head.startswith(codecs.BOM_UTF32_BE if width == 4 else codecs.BOM_UTF16_BE):
            order = ">"
        else:  # a BOM for little-endian, or none (Python then reads little-endian too)
            order = "<"
        return np.dtype(f"{order}u{width}"), 0x0A
    newline = "\n".encode(name)
    if len(newline) != 1:
        return None
    return np.dtype(np.uint8), newline[0]


def check_lines(
    unit: SourceUnit, path: Path, fmt: FormatOptions, data: bytes | None = None
) -> None:
    """Refuse a delimited file with a physical line longer than ``max_line_kb``
    (``data``: its bytes, when the caller has read them already). Lines are found in the
    file's own encoding: UTF-16 and UTF-32 are scanned by code unit, not by byte."""
    limit = int(fmt.max_line_kb * 1024)
    handle = io.BytesIO(data) if data is not None else path.open("rb")
    with handle:
        head = handle.read(4)
        handle.seek(0)
        units = _line_units(fmt.encoding, head)
        if units is None:  # a character counts as one byte
            blocks = _decoded_blocks(handle, fmt.encoding)
            dtype, newline, width = np.dtype("<u4"), 0x0A, 1
        else:
            dtype, newline = units
            blocks = iter(lambda: handle.read(_BLOCK), b"")
            width = dtype.itemsize
        line, length = _longest_line(blocks, dtype, newline, limit // width)
    if length > limit // width:
        raise SourceError(
            unit.school,
            unit.source_file,
            f"line {line} is longer than {fmt.max_line_kb:g} KB: a binary file, "
            "wrong line endings or a broken export",
            row=line,
            hint="re-export the file; if such lines are genuine, raise format.max_line_kb in "
            "the school's YAML",
        )


def _decoded_blocks(handle, encoding: str):
    """The file as UTF-32-LE blocks of its decoded text (an undecodable file is left to the
    reader, which names the byte and line)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    while block := handle.read(_BLOCK):
        yield decoder.decode(block).encode("utf-32-le")
    yield decoder.decode(b"", final=True).encode("utf-32-le")


def _longest_line(blocks, dtype: np.dtype, newline: int, units_limit: int) -> tuple[int, int]:
    """The 1-based number and the length (in code units) of the first line longer than
    ``units_limit`` units, or of the last line scanned when none is."""
    lines_before = 0  # complete lines in the blocks already scanned
    current = 0  # length of the line running into the next block
    carry = b""
    for raw in blocks:
        raw = carry + raw
        usable = len(raw) - len(raw) % dtype.itemsize
        raw, carry = raw[:usable], raw[usable:]
        block = np.frombuffer(raw, dtype=dtype)
        ends = np.flatnonzero(block == newline)
        if ends.size == 0:
            current += block.size
            if current > units_limit:
                break
            continue
        lengths = np.diff(ends, prepend=-1) - 1
        lengths[0] += current
        longest = int(lengths.argmax())
        if lengths[longest] > units_limit:
            lines_before += longest
            current = int(lengths[longest])
            break
        lines_before += ends.size
        current = block.size - int(ends[-1]) - 1
    return lines_before + 1, current


def _refuse(unit: SourceUnit, message: str) -> SourceError:
    return SourceError(
        unit.school,
        unit.source_file,
        message,
        hint="re-export the workbook from the school's system; if it is genuinely that "
        "large, raise format.max_uncompressed_mb in the school's YAML",
    )


def check_workbook(unit: SourceUnit, path: Path, fmt: FormatOptions) -> None:
    """Refuse an XLSX workbook whose parts would inflate beyond ``max_uncompressed_mb``.

    The sizes a zip declares can lie, so every deflated part is inflated here, in bounded
    steps, and must stop at its declared size. Not a zip at all: left to the reader, which
    says so."""
    limit = int(fmt.max_uncompressed_mb * 1_000_000)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return
    if len(members) > MAX_ZIP_MEMBERS:
        raise _refuse(unit, f"workbook has {len(members)} parts (zip bomb?)")
    declared = sum(m.file_size for m in members)
    if declared > limit:
        raise _refuse(
            unit,
            f"workbook inflates to {declared / 1e6:,.0f} MB, above the "
            f"{fmt.max_uncompressed_mb:g} MB limit (a zip bomb, or a huge sheet)",
        )
    with path.open("rb") as handle:
        for member in members:
            if member.compress_type == zipfile.ZIP_STORED:
                if member.compress_size != member.file_size:
                    raise _refuse(unit, f"part {member.filename!r} has inconsistent sizes")
                continue
            if member.compress_type != zipfile.ZIP_DEFLATED:
                raise _refuse(unit, f"part {member.filename!r} uses an unknown compression")
            try:
                _inflate_bounded(unit, handle, member)
            except (OSError, ValueError, struct.error) as exc:  # offsets pointing nowhere
                raise _refuse(
                    unit, f"part {member.filename!r}: damaged zip ({type(exc).__name__})"
                ) from exc


def _inflate_bounded(unit: SourceUnit, handle, member: zipfile.ZipInfo) -> None:
    handle.seek(member.header_offset)
    header = handle.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise _refuse(unit, f"part {member.filename!r}: damaged zip (truncated or overwritten)")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    handle.seek(member.header_offset + 30 + name_length + extra_length)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    remaining, produced = member.compress_size, 0
    step = 1 << 22
    try:
        while remaining > 0 and not inflater.eof:
            chunk = handle.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)
            produced += len(inflater.decompress(chunk, step))
            while inflater.unconsumed_tail and produced <= member.file_size:
                produced += len(inflater.decompress(inflater.unconsumed_tail, step))
            if produced > member.file_size:
                raise _refuse(
                    unit,
                    f"part {member.filename!r} inflates beyond the {member.file_size} bytes it "
                    "declares (a zip bomb)",
                )
    except zlib.error as exc:
        raise _refuse(unit, f"part {member.filename!r} is damaged: {exc}") from exc
    if produced != member.file_size:
        raise _refuse(
            unit,
            f"part {member.filename!r} holds {produced} bytes, not the {member.file_size} "
            "it declares (truncated or damaged)",
        )


def check_fields(unit: SourceUnit, frame: pl.DataFrame, fmt: FormatOptions) -> None:
    """Refuse a unit with a value (or header) longer than ``max_field_kb``."""
    limit = int(fmt.max_field_kb * 1024)
    for header in frame.columns:
        if len(header.encode("utf-8", "surrogatepass")) > limit:
            raise SourceError(
                unit.school,
                unit.source_file,
                f"a header is longer than {fmt.max_field_kb:g} KB",
                row=0,
                hint="re-export the file; check its separator in the school's YAML",
            )
    columns = [c for c, t in frame.schema.items() if c != ROW and t == pl.String]
    if not columns or frame.height == 0:
        return
    longest = frame.select(pl.col(columns).str.len_bytes().max()).row(0)
    for column, length in zip(columns, longest, strict=True):
        if length is not None and length > limit:
            row = frame.filter(pl.col(column).str.len_bytes() > limit)[ROW][0]
            raise SourceError(
                unit.school,
                unit.source_file,
                f"a value of {length:,} bytes, above the {fmt.max_field_kb:g} KB limit: an "
                "unbalanced quote that swallowed the lines after it, or a broken export",
                row=row,
                column=column,
                hint="fix the quoting of that row (or re-export the file); if such values "
                "are genuine, raise format.max_field_kb in the school's YAML",
            )
