"""The types every reader shares: the raw-row column, a source unit, its raw frame, and the
error that says a unit cannot be loaded. A leaf of ``imtetl.read``: the readers and
``read.base`` import it, it imports none of them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

ROW = "__row"


class SourceError(Exception):
    """A source file that cannot be loaded as a whole. Names school, file, and where known
    the row and column, so that the message alone says what to fix."""

    def __init__(
        self,
        school: str,
        source_file: str,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
        rows_read: int = 0,
        hint: str | None = None,
    ) -> None:
        self.school = school
        self.source_file = source_file
        self.message = message
        self.row = row
        self.column = column
        self.rows_read = rows_read
        self.hint = hint
        where = ", ".join(
            part
            for part in (
                f"row {row}" if row is not None else "",
                f"column {column!r}" if column else "",
            )
            if part
        )
        text = f"{school}: {source_file}: {message}" + (f" ({where})" if where else "")
        super().__init__(text + (f". What to do: {hint}" if hint else ""))


@dataclass(frozen=True)
class SourceUnit:
    school: str
    dataset: str
    source_file: str  # relative to the landing zone; a glob for a folder of pages
    paths: tuple[Path, ...]
    #: the academic year the path names, for a dataset whose files hold one year each
    #: (``files_per_year``); None: the file may hold any years, read from its rows
    year: int | None

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for path in self.paths:
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        return digest.hexdigest()


@dataclass
class RawFrame:
    """The raw rows of one unit: every source column as a string, plus ``__row``."""

    unit: SourceUnit
    frame: pl.DataFrame
    headers: list[str] = field(default_factory=list)
    #: the unit's sha256, when the read computed it from the bytes it read (one pass)
    sha256: str | None = None


__all__ = ["ROW", "RawFrame", "SourceError", "SourceUnit"]
