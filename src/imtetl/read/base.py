"""Source units and the reader dispatch.

A *source unit* is what one row of ``audit.loads`` describes: one file, or for a paged API
the pages of one academic year (kept together in one folder of the landing zone).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import polars as pl

from imtetl.pipeline_config import FormatOptions, SchoolPipeline
from imtetl.read import delimited, excel, json_pages, limits
from imtetl.read.types import ROW, RawFrame, SourceError, SourceUnit

#: re-exported: ``from imtetl.read.base import ROW, SourceError`` keeps working
__all__ = ["ROW", "RawFrame", "SourceError", "SourceUnit", "discover_units", "read_unit"]

_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")


def _year_of(relative: str) -> int | None:
    match = _YEAR.search(relative)
    return int(match.group(1)) if match else None


def discover_units(pipeline: SchoolPipeline, dataset: str, landing: Path) -> list[SourceUnit]:
    """The units of one school's dataset present in the landing zone, in path order."""
    source = pipeline.datasets[dataset]
    fmt = pipeline.format_for(dataset)
    root = landing.resolve()
    paths = sorted(p for p in root.glob(source.files) if p.is_file())
    for path in paths:  # a glob cannot leave the landing zone, but a symlink could
        if not path.resolve().is_relative_to(root):
            raise SourceError(
                pipeline.school.code,
                str(path.relative_to(root)) if path.is_relative_to(root) else str(path),
                "file lies outside the landing zone (a symbolic link): not read",
                hint="copy the export into the landing zone instead of linking to it",
            )
    units: list[SourceUnit] = []

    def year_of(relative: str) -> int | None:
        return _year_of(relative) if source.files_per_year else None

    if fmt.kind == "json_pages":
        folders: dict[Path, list[Path]] = {}
        for path in paths:
            folders.setdefault(path.parent, []).append(path)
        for folder, pages in sorted(folders.items()):
            relative = str(folder.relative_to(root) / Path(source.files).name)
            units.append(
                SourceUnit(pipeline.school.code, dataset, relative, tuple(pages), year_of(relative))
            )
    else:
        for path in paths:
            relative = str(path.relative_to(root))
            units.append(
                SourceUnit(pipeline.school.code, dataset, relative, (path,), year_of(relative))
            )
    return units


def read_unit(unit: SourceUnit, fmt: FormatOptions, sheet_default: str | None = None) -> RawFrame:
    """Read one unit with the reader of its format; raise SourceError when it cannot be.

    The size limits of read.limits are checked around the reader, and whatever else goes
    wrong inside a reader still ends as a SourceError naming the school and the file."""
    data: list[bytes] | None = None
    for path in unit.paths:
        size_mb = path.stat().st_size / 1e6
        if size_mb > fmt.max_file_mb:
            raise SourceError(
                unit.school,
                unit.source_file,
                f"file is {size_mb:.0f} MB, above the {fmt.max_file_mb:.0f} MB limit",
                hint="check the export, or raise format.max_file_mb in the school's YAML",
            )
        if fmt.kind == "xlsx":
            limits.check_workbook(unit, path, fmt)
    if fmt.kind != "xlsx":  # text formats are read once: hashed, checked and parsed
        data = [path.read_bytes() for path in unit.paths]
        digest = hashlib.sha256()
        for chunk in data:
            digest.update(chunk)
    if fmt.kind == "csv":
        limits.check_lines(unit, unit.paths[0], fmt, data=data[0])
    try:
        if fmt.kind == "csv":
            raw = delimited.read(unit, fmt, data=data[0])
        elif fmt.kind == "xlsx":
            raw = excel.read(unit, fmt)
        else:
            raw = json_pages.read(unit, fmt, data=data)
    except SourceError as exc:
        if exc.hint:
            raise
        raise SourceError(
            exc.school,
            exc.source_file,
            exc.message,
            row=exc.row,
            column=exc.column,
            rows_read=exc.rows_read,
            hint="re-export the file from the school's system (or fetch its pages again)",
        ) from exc
    except Exception as exc:  # a reader's unforeseen failure is still this file's error
        raise _unreadable(unit, exc) from exc
    if fmt.kind == "csv":  # blank lines are not rows (the XLSX reader drops empty rows too)
        raw.frame = raw.frame.filter(~pl.all_horizontal(pl.exclude(ROW).is_null()))
    if raw.frame.height == 0:
        raise SourceError(
            unit.school,
            unit.source_file,
            "file has a header but no data rows" + _bare_cr(unit, fmt),
            hint="re-export the file from the school's system (or remove it if the year is empty)",
        )
    limits.check_fields(unit, raw.frame, fmt)
    if data is not None:
        raw.sha256 = digest.hexdigest()
    return raw


def _unreadable(unit: SourceUnit, exc: Exception) -> SourceError:
    text = " ".join(str(exc).split())[:300]
    if isinstance(exc, RecursionError):
        message = "cannot read the file: it is nested too deeply (corrupt or hostile data)"
    elif f"'{ROW}'" in text:
        message = f"cannot read the file: it has a column named {ROW!r}, a name the pipeline uses"
    else:
        message = f"cannot read the file: {type(exc).__name__}: {text}"
    return SourceError(
        unit.school,
        unit.source_file,
        message,
        hint="re-export the file from the school's system; if it looks right, report this "
        "message with the file",
    )


def _bare_cr(unit: SourceUnit, fmt: FormatOptions) -> str:
    """Lines ending with a bare CR (classic Mac) read as one long header line."""
    if fmt.kind != "csv":
        return ""
    with unit.paths[0].open("rb") as handle:
        head = handle.read(1 << 16)
    if b"\r" in head.rstrip(b"\r") and b"\n" not in head:
        return " (its lines end with a bare carriage return, CR, instead of LF or CRLF)"
    return ""
