"""Whole-column parsers: academic years, money, dates, integers and coded values.

Each works on distinct values or Polars expressions, never row by row in Python.
"""

from __future__ import annotations

import polars as pl

from imtetl.transform.columns import normalise_label

#: Booleans every school may use without mapping them.
BOOLEAN_WORDS = {
    "true": "true", "1": "true", "yes": "true", "y": "true", "oui": "true", "o": "true",
    "vrai": "true",
    "false": "false", "0": "false", "no": "false", "n": "false", "non": "false",
    "faux": "false",
}  # fmt: skip


def academic_year(column: str) -> pl.Expr:
    """'2024-2025', '2024/25', '2024-25', '2024' and 2024 all give 2024."""
    return (
        pl.col(column)
        .str.extract(r"^\s*((?:19|20)\d{2})(?:\s*[-/]\s*(?:\d{2}|\d{4}))?\s*(?:\.0)?\s*$", 1)
        .cast(pl.Int32, strict=False)
    )


def money(column: str, decimal_mark: str) -> pl.Expr:
    """'€9,000.00', '4 850,00 €' (no-break spaces too), '3200,00', '2650.00' to Float64."""
    text = pl.col(column).str.replace_all(r"[\s\u00a0\u202f€$£]|EUR", "")
    if decimal_mark == ",":
        text = text.str.replace_all(r"\.", "").str.replace(",", ".", literal=True)
    else:
        text = text.str.replace_all(",", "", literal=True)
    valid = text.str.contains(r"^-?\d+(\.\d+)?$")
    return pl.when(valid).then(text.cast(pl.Float64, strict=False)).otherwise(None)


def date(column: str, date_format: str | None) -> pl.Expr:
    """Dates in the configured format, else ISO; Excel datetimes ('2024-09-02 00:00:00') too."""
    iso = pl.col(column).str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    if date_format:
        return pl.coalesce(pl.col(column).str.to_date(date_format, strict=False), iso)
    return iso


def integer(column: str) -> pl.Expr:
    """'2', '2.0' (spreadsheets) to Int32; anything else to null."""
    return pl.col(column).str.replace(r"\.0+$", "").cast(pl.Int32, strict=False)


def code_map(
    raw_values: list[str], school_map: dict[str, str], allowed: tuple[str, ...]
) -> dict[str, str | None]:
    """Distinct raw values to canonical codes: the school's map (spelling-insensitive), the
    canonical codes themselves, and for booleans the usual words; None when unknown."""
    by_label = {normalise_label(k): v for k, v in school_map.items()}
    canonical = {normalise_label(code): code for code in allowed}
    result: dict[str, str | None] = {}
    for value in raw_values:
        label = normalise_label(value)
        code = by_label.get(label) or canonical.get(label)
        if code is None and allowed == ("true", "false"):
            code = BOOLEAN_WORDS.get(label)
        result[value] = code
    return result
