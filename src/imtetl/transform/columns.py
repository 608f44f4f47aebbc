"""Map a unit's raw headers onto canonical columns, tolerant of case, accents and spacing."""

from __future__ import annotations

import polars as pl

from imtetl.pipeline_config import CANONICAL_COLUMNS, SchoolPipeline, normalise_label
from imtetl.read.types import ROW, RawFrame, SourceError, SourceUnit

__all__ = ["ORPHAN", "match_headers", "normalise_label", "select_columns"]


ORPHAN = "__unclaimed"


def match_headers(
    pipeline: SchoolPipeline, unit: SourceUnit, headers: list[str]
) -> tuple[dict[str, str], list[str]]:
    """canonical column -> the unit's header for it, and the required headers not found."""
    by_label: dict[str, str] = {}
    for header in headers:
        if header != ROW:
            by_label.setdefault(normalise_label(header), header)
    required, _optional = CANONICAL_COLUMNS[unit.dataset]
    selected: dict[str, str] = {}
    missing = []
    for canonical, wanted in pipeline.columns_for(unit.dataset, unit.year).items():
        header = by_label.get(normalise_label(wanted))
        if header is not None:
            selected[canonical] = header
        elif canonical in required:
            missing.append(wanted)
    return selected, missing


def _mojibake_hint(headers: list[str]) -> str | None:
    """Headers decoded with the wrong encoding ('AnnÃ©e', 'Ann\ufffde') say so."""
    if any(mark in header for header in headers for mark in ("Ã", "Â", "\ufffd")):
        return (
            "the headers look decoded with the wrong encoding: re-export the file in the "
            "school's usual encoding, or fix format.encoding in its YAML"
        )
    return None


def select_columns(
    pipeline: SchoolPipeline,
    raw: RawFrame,
    claims: frozenset[str] = frozenset(),
    owns_unclaimed: bool = False,
) -> pl.DataFrame:
    """The unit's rows for this school, with canonical column names (strings, nulls for
    blanks) and ``__row``; every unmapped column — names, e-mails, birth dates — is dropped
    here. A missing required column fails the unit with a SourceError naming it.

    In a file shared by several schools, rows whose filter value no school claims are kept
    by the school that ``owns_unclaimed``, marked in ``__unclaimed`` for quarantine."""
    unit = raw.unit
    source = pipeline.datasets[unit.dataset]
    selected, missing = match_headers(pipeline, raw.unit, raw.frame.columns)
    if missing:
        present = ", ".join(repr(h) for h in raw.headers[:20])
        raise SourceError(
            unit.school,
            unit.source_file,
            f"required column(s) missing: {', '.join(repr(m) for m in missing)}; "
            f"the header has {present}",
            column=missing[0],
            rows_read=raw.frame.height,
            hint=_mojibake_hint(raw.headers)
            or "restore the column in the export, or map its new header in the school's "
            "YAML (columns, or columns_by_year for one year)",
        )
    frame = raw.frame
    if source.filter is not None:
        by_label = {normalise_label(h): h for h in reversed(raw.frame.columns) if h != ROW}
        header = by_label.get(normalise_label(source.filter.column))
        if header is None:
            raise SourceError(
                unit.school,
                unit.source_file,
                f"filter column {source.filter.column!r} missing",
                column=source.filter.column,
                rows_read=raw.frame.height,
                hint="restore the column that says which school each row belongs to, or fix "
                "filter.column in the school's YAML",
            )
        value = pl.col(header).str.strip_chars()
        ours = value == source.filter.equals
        if owns_unclaimed:  # rows no school claims are ours to quarantine, never dropped
            unclaimed = value.is_null() | ~value.is_in(list(claims | {source.filter.equals}))
            frame = frame.filter(ours | unclaimed).with_columns(
                pl.when(unclaimed).then(value.fill_null("")).alias(ORPHAN)
            )
        else:
            frame = frame.filter(ours)
    cleaned = [
        pl.col(header).str.strip_chars().replace("", None).alias(canonical)
        for canonical, header in selected.items()
    ]
    extra = [pl.col(ORPHAN)] if ORPHAN in frame.columns else []
    return frame.select(pl.col(ROW), *cleaned, *extra)
