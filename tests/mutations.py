"""A mutation corpus built from the sample exports: every way a school's file can arrive
broken — flipped bytes, truncations, shuffled or renamed headers, wrong separators and
encodings, huge values, very long lines, empty files, zip bombs, JSON of the wrong types.

Each operator rewrites one file of a landing zone in place and says what the pipeline must
make of it: ``same`` (it loads exactly as the pristine file did), ``fail`` (the file is
refused with a clear error) or ``any`` (either, as long as no row is lost).

``IMTETL_EXHAUSTIVE=1`` switches the fuzz suites from their small seeded CI subset to the
full counts; ``IMTETL_FUZZ_SEED`` changes the seed.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import struct
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import openpyxl

from imtetl.pipeline_config import FormatOptions

EXHAUSTIVE = os.environ.get("IMTETL_EXHAUSTIVE", "") not in ("", "0")
SEED = int(os.environ.get("IMTETL_FUZZ_SEED", "20260907"))

#: What the fuzz suites ran, printed at the end of the session (tests/conftest.py).
TALLY: Counter[str] = Counter()


@dataclass(frozen=True)
class Operator:
    name: str
    kinds: tuple[str, ...]  # csv, xlsx, json_pages
    expect: str  # same | fail | some (one of the datasets a file holds fails) | any
    apply: Callable[[Path, FormatOptions, random.Random], None]
    message: str = ""  # a fragment the error must contain (fail only)


# --- delimited files ---------------------------------------------------------------------


def _dialect(fmt: FormatOptions) -> dict:
    if fmt.quote_char:
        return {"delimiter": fmt.separator, "quotechar": fmt.quote_char}
    return {"delimiter": fmt.separator, "quoting": csv.QUOTE_NONE, "escapechar": None}


def _rows(path: Path, fmt: FormatOptions) -> list[list[str]]:
    text = path.read_bytes().decode(fmt.encoding)
    text = text.removeprefix("\ufeff")
    return [row for row in csv.reader(io.StringIO(text, newline=""), **_dialect(fmt)) if row]


def _write_rows(
    path: Path, fmt: FormatOptions, rows: list[list[str]], blank_after: set[int] = frozenset()
) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n", **_dialect(fmt))
    for index, row in enumerate(rows):
        writer.writerow(row)
        if index in blank_after:
            buffer.write("\n")
    path.write_bytes(buffer.getvalue().encode(fmt.encoding))


def _text(path: Path, fmt: FormatOptions) -> str:
    return path.read_bytes().decode(fmt.encoding)


def _flip_bytes(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    data = bytearray(path.read_bytes())
    for _ in range(rng.randint(1, 8)):
        position = rng.randrange(len(data))
        data[position] ^= rng.randint(1, 255)
    path.write_bytes(bytes(data))


def _truncate(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: rng.randrange(1, len(data))])


def _truncate_at_separator(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    """Cut inside the last line, right before one of its separators: a transfer cut off."""
    data = path.read_bytes()
    last = data.rstrip(b"\r\n").rfind(b"\n")
    separators = [
        i for i in range(last + 1, len(data)) if data[i : i + 1] == fmt.separator.encode()
    ]
    path.write_bytes(data[: rng.choice(separators[: max(1, len(separators) // 2)])])


def _shuffle_columns(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    rows = _rows(path, fmt)
    order = list(range(len(rows[0])))
    rng.shuffle(order)
    _write_rows(path, fmt, [[row[i] for i in order] for row in rows])


def _shuffle_header_names(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    rows = _rows(path, fmt)
    rng.shuffle(rows[0])
    _write_rows(path, fmt, rows)


def _respell_headers(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    """The same headers in another case, with doubled inner and padded outer spaces."""
    rows = _rows(path, fmt)
    respelled = []
    for header in rows[0]:
        header = header.upper() if rng.random() < 0.5 else header.lower()
        respelled.append(f" {header.replace(' ', '  ')} ")
    rows[0] = respelled
    _write_rows(path, fmt, rows)


def _rename_required_header(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    """Every header renamed into nonsense: whatever the dataset, a required one goes."""
    rows = _rows(path, fmt)
    rows[0] = [f"renamed_{i}_{rng.randrange(10**6)}" for i in range(len(rows[0]))]
    # a shared file keeps its filter column, so the failure is about the required ones
    _write_rows(path, fmt, rows)


def _wrong_separator(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    other = rng.choice([s for s in (",", ";", "\t", "|") if s != fmt.separator])
    path.write_bytes(path.read_bytes().replace(fmt.separator.encode(), other.encode()))


def _wrong_encoding(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    text = _text(path, fmt)
    target = rng.choice(
        ["utf-16", "utf-32", *(e for e in ("utf-8", "cp1252", "latin-1") if e != fmt.encoding)]
    )
    path.write_bytes(text.encode(target, errors="replace"))


def _set_cell(path: Path, fmt: FormatOptions, rng: random.Random, value: Callable) -> None:
    rows = _rows(path, fmt)
    row = rng.randrange(1, len(rows))
    column = rng.randrange(len(rows[row]))
    rows[row][column] = value(rows[row][column])
    _write_rows(path, fmt, rows)


def _huge_field(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    _set_cell(path, fmt, rng, lambda v: v + "x" * (100 * 1024))


def _long_line(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    """A line of 2 MB made of many ordinary values (more columns than the header)."""
    data = path.read_bytes().rstrip(b"\n")
    path.write_bytes(data + b"\n" + (b"abcdefg" + fmt.separator.encode()) * (300_000) + b"\n")


def _empty(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    path.write_bytes(b"")


def _whitespace(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    path.write_bytes(b" \n\n\t \r\n")


def _header_only(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    _write_rows(path, fmt, _rows(path, fmt)[:1])


def _toggle_bom(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    data = path.read_bytes()
    bom = b"\xef\xbb\xbf"
    path.write_bytes(data[3:] if data.startswith(bom) else bom + data)


def _crlf(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


def _bare_cr(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r"))


def _blank_lines(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    rows = _rows(path, fmt)
    blanks = set(rng.sample(range(len(rows)), k=min(len(rows), rng.randint(1, 5))))
    _write_rows(path, fmt, rows, blank_after=blanks)


def _duplicate_rows(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    rows = _rows(path, fmt)
    for _ in range(rng.randint(1, 3)):
        rows.insert(rng.randrange(1, len(rows) + 1), list(rng.choice(rows[1:])))
    _write_rows(path, fmt, rows)


def _shuffle_rows(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    rows = _rows(path, fmt)
    body = rows[1:]
    rng.shuffle(body)
    _write_rows(path, fmt, [rows[0], *body])


def _nul_bytes(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    data = bytearray(path.read_bytes())
    for _ in range(rng.randint(1, 4)):
        data.insert(rng.randrange(len(data)), 0)
    path.write_bytes(bytes(data))


def _stray_quote(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    """An opening quote at the start of a value, never closed where it should be."""
    lines = path.read_bytes().split(b"\n")
    line = rng.randrange(1, max(2, len(lines) - 1))
    cells = lines[line].split(fmt.separator.encode())
    cell = rng.randrange(len(cells))
    cells[cell] = b'"' + cells[cell]
    lines[line] = fmt.separator.encode().join(cells)
    path.write_bytes(b"\n".join(lines))


def _extra_field(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    rows = _rows(path, fmt)
    rows[rng.randrange(1, len(rows))].append("surplus")
    _write_rows(path, fmt, rows)


def _missing_field(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    rows = _rows(path, fmt)
    rows[rng.randrange(1, len(rows))].pop()
    _write_rows(path, fmt, rows)


def _binary_garbage(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    path.write_bytes(rng.randbytes(max(64, path.stat().st_size)))


def _reserved_header(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    rows = _rows(path, fmt)
    rows[0][rng.randrange(len(rows[0]))] = "__row"
    _write_rows(path, fmt, rows)


def _many_columns(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    rows = _rows(path, fmt)
    extra = rng.randint(200, 800)
    rows[0] += [f"extra_{i}" for i in range(extra)]
    for row in rows[1:]:
        row += [""] * extra
    _write_rows(path, fmt, rows)


_JUNK = [
    "\u200b", "\u202e", "🎓", "NULL", "null", "N/A", "-", "#REF!", "=1+1", "1e308", "NaN",
    "-0", "99999999999999999999", "’", "'; DROP TABLE staging.enrolment; --", "\\N", "  ",
    "2024-13-45", "0000-00-00", "ÿ", "Ａ", "x" * 300,
]  # fmt: skip


def _junk_values(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    rows = _rows(path, fmt)
    for _ in range(rng.randint(1, 10)):
        row = rng.randrange(1, len(rows))
        column = rng.randrange(len(rows[row]))
        value = rng.choice(_JUNK)
        if fmt.encoding == "cp1252":
            value = value.encode("cp1252", errors="replace").decode("cp1252")
        if not fmt.quote_char:
            value = value.replace(fmt.separator, " ")
        rows[row][column] = value
    _write_rows(path, fmt, rows)


def _replace_with_workbook(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    buffer = io.BytesIO()
    workbook = openpyxl.Workbook()
    workbook.active.append(["a", "b"])
    workbook.save(buffer)
    path.write_bytes(buffer.getvalue())


CSV_OPERATORS = [
    Operator("flip_bytes", ("csv",), "any", _flip_bytes),
    Operator("truncate", ("csv",), "any", _truncate),
    Operator("truncate_at_separator", ("csv",), "fail", _truncate_at_separator, "truncated"),
    Operator("shuffle_columns", ("csv",), "same", _shuffle_columns),
    Operator("shuffle_header_names", ("csv",), "any", _shuffle_header_names),
    Operator("respell_headers", ("csv",), "same", _respell_headers),
    Operator("rename_headers", ("csv",), "fail", _rename_required_header, "column"),
    Operator("wrong_separator", ("csv",), "fail", _wrong_separator),
    Operator("wrong_encoding", ("csv",), "any", _wrong_encoding),
    Operator("huge_field", ("csv",), "fail", _huge_field, "KB limit"),
    Operator("long_line", ("csv",), "fail", _long_line, "is longer than"),
    Operator("empty", ("csv",), "fail", _empty, "empty"),
    Operator("whitespace_only", ("csv",), "fail", _whitespace),
    Operator("header_only", ("csv",), "fail", _header_only, "no data rows"),
    Operator("toggle_bom", ("csv",), "any", _toggle_bom),
    Operator("crlf", ("csv",), "same", _crlf),
    Operator("bare_cr", ("csv",), "fail", _bare_cr),
    Operator("blank_lines", ("csv",), "same", _blank_lines),
    Operator("duplicate_rows", ("csv",), "any", _duplicate_rows),
    Operator("shuffle_rows", ("csv",), "same", _shuffle_rows),
    Operator("nul_bytes", ("csv",), "any", _nul_bytes),
    Operator("stray_quote", ("csv",), "any", _stray_quote),
    Operator("extra_field", ("csv",), "fail", _extra_field),
    Operator("missing_field", ("csv",), "any", _missing_field),
    Operator("binary_garbage", ("csv",), "fail", _binary_garbage),
    Operator("reserved_header", ("csv",), "fail", _reserved_header, "__row"),
    Operator("many_columns", ("csv",), "same", _many_columns),
    Operator("junk_values", ("csv",), "any", _junk_values),
    Operator("replaced_by_workbook", ("csv",), "fail", _replace_with_workbook),
]


# --- XLSX workbooks ----------------------------------------------------------------------


def _edit_workbook(path: Path, edit: Callable) -> None:
    workbook = openpyxl.load_workbook(path)
    for sheet in workbook.worksheets:
        edit(sheet)
    workbook.save(path)


def _sheet_rows(sheet) -> list[list]:
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def _rewrite_sheet(sheet, rows: list[list]) -> None:
    sheet.delete_rows(1, sheet.max_row)
    for row in rows:
        sheet.append(row)


def _xlsx_shuffle_columns(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    def edit(sheet) -> None:
        rows = _sheet_rows(sheet)
        order = list(range(len(rows[1])))
        rng.shuffle(order)
        _rewrite_sheet(sheet, [rows[0]] + [[r[i] for i in order] for r in rows[1:]])

    _edit_workbook(path, edit)


def _xlsx_respell_headers(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    def edit(sheet) -> None:
        for cell in sheet[2]:
            if isinstance(cell.value, str):
                cell.value = f"  {cell.value.upper()} "

    _edit_workbook(path, edit)


def _xlsx_rename_headers(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    def edit(sheet) -> None:
        for cell in sheet[2]:
            cell.value = f"renamed_{cell.column}_{rng.randrange(10**6)}"

    _edit_workbook(path, edit)


def _xlsx_rename_sheets(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    def edit(sheet) -> None:
        sheet.title = f"Sheet{rng.randrange(10**6)}"

    _edit_workbook(path, edit)


def _xlsx_huge_cell(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    """A 100 KB text cell. Excel (and openpyxl) stop at 32,767 characters, so the text is
    rewritten in the sheet's XML, as a hostile or broken generator could write it."""
    with zipfile.ZipFile(path) as source:
        names = source.namelist()
        name = (
            "xl/sharedStrings.xml"
            if "xl/sharedStrings.xml" in names
            else rng.choice([n for n in names if n.startswith("xl/worksheets/sheet")])
        )
        xml = source.read(name).decode("utf-8")
    texts = list(re.finditer(r"<t(?: [^>]*)?>([^<]*)</t>", xml))
    chosen = rng.choice(texts[len(texts) // 3 :])
    xml = xml[: chosen.start(1)] + "y" * (100 * 1024) + xml[chosen.end(1) :]
    _rezip(path, {name: xml.encode("utf-8")})


def _xlsx_wrong_types(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    import datetime as dt

    values = [2024, 2024.5, True, False, dt.datetime(2024, 9, 2), dt.date(1999, 1, 1), -1,
              1e300, "=1+1", 0, None]  # fmt: skip

    def edit(sheet) -> None:
        for _ in range(rng.randint(1, 12)):
            row = rng.randrange(3, sheet.max_row + 1)
            sheet.cell(row, rng.randrange(1, sheet.max_column + 1)).value = rng.choice(values)

    _edit_workbook(path, edit)


def _xlsx_blank_rows(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    def edit(sheet) -> None:
        for _ in range(rng.randint(1, 4)):
            sheet.insert_rows(rng.randrange(3, sheet.max_row + 1))

    _edit_workbook(path, edit)


def _xlsx_header_moved(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    def edit(sheet) -> None:
        sheet.insert_rows(1)
        sheet.cell(1, 1).value = "Exported by the new system"

    _edit_workbook(path, edit)


def _xlsx_duplicate_rows(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    def edit(sheet) -> None:
        rows = _sheet_rows(sheet)
        for _ in range(rng.randint(1, 3)):
            rows.insert(rng.randrange(2, len(rows) + 1), list(rng.choice(rows[2:])))
        _rewrite_sheet(sheet, rows)

    _edit_workbook(path, edit)


def _xlsx_shuffle_rows(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    def edit(sheet) -> None:
        rows = _sheet_rows(sheet)
        body = rows[2:]
        rng.shuffle(body)
        _rewrite_sheet(sheet, rows[:2] + body)

    _edit_workbook(path, edit)


def _rezip(path: Path, replace: dict[str, bytes], extra: dict[str, bytes] | None = None) -> None:
    with zipfile.ZipFile(path) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    parts.update(replace)
    parts.update(extra or {})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)


def _xlsx_corrupt_xml(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    with zipfile.ZipFile(path) as source:
        sheets = [n for n in source.namelist() if n.startswith("xl/worksheets/sheet")]
        name = rng.choice(sheets)
        xml = source.read(name)
    cut = rng.randrange(len(xml) // 4, len(xml))
    _rezip(path, {name: xml[:cut] + b"<<garbage & unclosed"})


@cache
def _bomb_stream(inflated_mb: int) -> bytes:
    """Raw deflate data of ``inflated_mb`` MB of zeros (1 KB per MB): one fully flushed
    block repeated, as a real zip bomb is built."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = bytes(1 << 20)
    first = deflater.compress(block) + deflater.flush(zlib.Z_FULL_FLUSH)
    repeat = deflater.compress(block) + deflater.flush(zlib.Z_FULL_FLUSH)
    return first + repeat * (inflated_mb - 1) + deflater.flush(zlib.Z_FINISH)


@cache
def _zeros_crc(megabytes: int) -> int:
    crc, block = 0, bytes(1 << 20)
    for _ in range(megabytes):
        crc = zlib.crc32(block, crc)
    return crc


def _local_header(filename: bytes, packed: bytes, length: int, checksum: int) -> bytes:
    return (
        struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, checksum, len(packed), length,
            len(filename), 0,
        )
        + filename
    )  # fmt: skip


def _with_raw_member(path: Path, name: str, stream: bytes, size: int, crc: int) -> None:
    """Rewrite the workbook with one more deflated part whose headers declare ``size``
    (honestly or not) — written by hand, as no zip library writes a lying header."""
    with zipfile.ZipFile(path) as archive:
        members = [(i.filename, archive.read(i)) for i in archive.infolist() if i.filename != name]
    out = io.BytesIO()
    entries = []
    for filename, content in members:
        deflater = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        packed = deflater.compress(content) + deflater.flush()
        entries.append((out.tell(), filename.encode(), packed, len(content), zlib.crc32(content)))
        out.write(_local_header(*entries[-1][1:]) + packed)
    entries.append((out.tell(), name.encode(), stream, size, crc))
    out.write(_local_header(*entries[-1][1:]) + stream)
    directory = out.tell()
    for offset, filename, packed, length, checksum in entries:
        out.write(
            struct.pack(
                "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, checksum, len(packed),
                length, len(filename), 0, 0, 0, 0, 0, offset,
            )
            + filename
        )  # fmt: skip
    out.write(
        struct.pack(
            "<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), out.tell() - directory,
            directory, 0,
        )
    )  # fmt: skip
    path.write_bytes(out.getvalue())


def _zip_bomb(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    """A sheet that honestly inflates to 1.1 GB (the default limit is 1 GB)."""
    sheet = f"xl/worksheets/sheet{rng.randint(1, 3)}.xml"
    _with_raw_member(path, sheet, _bomb_stream(1100), 1100 << 20, _zeros_crc(1100))


def _lying_zip_bomb(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    """A sheet that declares 1 KB (with the checksum of 1 KB) and inflates to 200 MB."""
    sheet = f"xl/worksheets/sheet{rng.randint(1, 3)}.xml"
    _with_raw_member(path, sheet, _bomb_stream(200), 1024, zlib.crc32(bytes(1024)))


def _not_a_zip(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    path.write_bytes(b"Academic year,Programme code\n2024,X\n")


XLSX_OPERATORS = [
    Operator("zip_bomb", ("xlsx",), "fail", _zip_bomb, "zip bomb"),
    Operator("lying_zip_bomb", ("xlsx",), "fail", _lying_zip_bomb, "zip bomb"),
    Operator("shuffle_columns", ("xlsx",), "same", _xlsx_shuffle_columns),
    Operator("corrupt_sheet_xml", ("xlsx",), "some", _xlsx_corrupt_xml),
    Operator("huge_cell", ("xlsx",), "some", _xlsx_huge_cell),
    Operator("wrong_types", ("xlsx",), "any", _xlsx_wrong_types),
    Operator("truncate", ("xlsx",), "fail", _truncate),
    Operator("rename_sheets", ("xlsx",), "fail", _xlsx_rename_sheets, "not found"),
    Operator("flip_bytes", ("xlsx",), "any", _flip_bytes),
    Operator("respell_headers", ("xlsx",), "same", _xlsx_respell_headers),
    Operator("rename_headers", ("xlsx",), "fail", _xlsx_rename_headers, "column"),
    Operator("blank_rows", ("xlsx",), "same", _xlsx_blank_rows),
    Operator("header_moved", ("xlsx",), "fail", _xlsx_header_moved),
    Operator("duplicate_rows", ("xlsx",), "any", _xlsx_duplicate_rows),
    Operator("shuffle_rows", ("xlsx",), "same", _xlsx_shuffle_rows),
    Operator("not_a_zip", ("xlsx",), "fail", _not_a_zip, "not an XLSX"),
    Operator("empty", ("xlsx",), "fail", _empty),
    Operator("binary_garbage", ("xlsx",), "fail", _binary_garbage),
]


# --- JSON pages --------------------------------------------------------------------------


def _edit_page(path: Path, edit: Callable[[dict], object]) -> None:
    page = json.loads(path.read_bytes())
    result = edit(page)
    path.write_text(json.dumps(page if result is None else result, ensure_ascii=False))


def _records(page: dict) -> list:
    return page["results"]


def _json_results_not_list(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    _edit_page(path, lambda p: p.update(results=rng.choice([{"a": 1}, "results", 3, None])))


def _json_record_not_object(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    def edit(page: dict) -> None:
        records = _records(page)
        records[rng.randrange(len(records))] = rng.choice([[1, 2], "record", 42, None, True])

    _edit_page(path, edit)


def _json_wrong_types(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    choices = [12, 3.5, True, None, [1, "a"], {"nested": {"deeper": 1}}, "", -7, 1e308]

    def edit(page: dict) -> None:
        records = _records(page)
        for _ in range(rng.randint(1, 10)):
            record = records[rng.randrange(len(records))]
            key = rng.choice(sorted(record))
            record[key] = rng.choice(choices)

    _edit_page(path, edit)


def _json_deep(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    depth = rng.randint(5_000, 100_000)
    path.write_bytes(b'{"results": [{"a": ' + b"[" * depth + b"]" * depth + b"}]}")


def _json_huge_int(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    data = path.read_bytes()
    at = data.index(b'"academic_year": ') + len(b'"academic_year": ')
    end = data.index(b",", at)
    path.write_bytes(data[:at] + b"9" * rng.randint(5_000, 50_000) + data[end:])


def _json_huge_string(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    def edit(page: dict) -> None:
        record = rng.choice(_records(page))
        record[rng.choice(sorted(record))] = "z" * (100 * 1024)

    _edit_page(path, edit)


def _json_rename_keys(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    def edit(page: dict) -> None:
        page["results"] = [{f"{k}_renamed": v for k, v in r.items()} for r in _records(page)]

    _edit_page(path, edit)


def _json_shuffle_keys(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    def shuffled(value):
        if isinstance(value, dict):
            items = list(value.items())
            rng.shuffle(items)
            return {k: shuffled(v) for k, v in items}
        return value

    _edit_page(path, lambda page: shuffled(page))


def _json_shuffle_records(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    _edit_page(path, lambda page: rng.shuffle(_records(page)))


def _json_empty_results(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    _edit_page(path, lambda page: page.update(results=[]))


def _json_not_json(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    path.write_bytes(b"<html><body>502 Bad Gateway</body></html>")


def _json_reserved_key(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    _edit_page(path, lambda page: rng.choice(_records(page)).update(__row="1"))


def _json_bom(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())


def _json_duplicate_records(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    def edit(page: dict) -> None:
        records = _records(page)
        for _ in range(rng.randint(1, 3)):
            records.append(dict(rng.choice(records)))

    _edit_page(path, edit)


def _json_nan(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    def edit(page: dict) -> None:
        record = rng.choice(_records(page))
        record[rng.choice(sorted(record))] = rng.choice([float("nan"), float("inf")])

    _edit_page(path, edit)


def _json_garbage_page(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    """An extra page of garbage beside the real ones."""
    (path.parent / "page-0099.json").write_bytes(rng.randbytes(200))


def _json_wide(path: Path, fmt: FormatOptions, rng: random.Random) -> None:
    def edit(page: dict) -> None:
        for index, record in enumerate(_records(page)):
            record[f"extra_{index}"] = "x"

    _edit_page(path, edit)


JSON_OPERATORS = [
    Operator("deep_nesting", ("json_pages",), "fail", _json_deep, "nested too deeply"),
    Operator("shuffle_keys", ("json_pages",), "same", _json_shuffle_keys),
    Operator("record_not_object", ("json_pages",), "fail", _json_record_not_object),
    Operator("huge_int", ("json_pages",), "fail", _json_huge_int),
    Operator("wrong_types", ("json_pages",), "any", _json_wrong_types),
    Operator("huge_string", ("json_pages",), "fail", _json_huge_string, "KB limit"),
    Operator("rename_keys", ("json_pages",), "fail", _json_rename_keys),
    Operator("garbage_page", ("json_pages",), "fail", _json_garbage_page),
    Operator("bom", ("json_pages",), "same", _json_bom),
    Operator("flip_bytes", ("json_pages",), "any", _flip_bytes),
    Operator("truncate", ("json_pages",), "fail", _truncate),
    Operator("results_not_list", ("json_pages",), "fail", _json_results_not_list),
    Operator("shuffle_records", ("json_pages",), "same", _json_shuffle_records),
    Operator("empty_results", ("json_pages",), "any", _json_empty_results),
    Operator("not_json", ("json_pages",), "fail", _json_not_json, "not valid JSON"),
    Operator("empty", ("json_pages",), "fail", _empty),
    Operator("reserved_key", ("json_pages",), "fail", _json_reserved_key, "__row"),
    Operator("duplicate_records", ("json_pages",), "any", _json_duplicate_records),
    Operator("nan_values", ("json_pages",), "any", _json_nan),
    Operator("wide_records", ("json_pages",), "same", _json_wide),
]

OPERATORS = {"csv": CSV_OPERATORS, "xlsx": XLSX_OPERATORS, "json_pages": JSON_OPERATORS}
