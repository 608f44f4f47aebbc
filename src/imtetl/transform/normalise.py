"""Normalise one school's dataset to the staging schema; quarantine what cannot be.

Every input row ends in exactly one of the two outputs: ``rows`` (typed, contract codes) or
``quarantine`` (the first failing column, every reason, and the raw record with the student
id already pseudonymised). Parsing is done on whole columns or on distinct values.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from imtetl import contract
from imtetl.pipeline_config import CANONICAL_COLUMNS, CODED_COLUMNS, FormatOptions, SchoolPipeline
from imtetl.read.base import ROW
from imtetl.transform import values
from imtetl.transform.countries import resolve_countries
from imtetl.transform.pseudonym import pseudonymise

UNIT = "__source_file"
#: The source values of a row (a struct), JSON-encoded into raw_record when quarantined.
RAW = "__raw"

#: What each canonical column is, per dataset (imtetl.contract), in source order. Kinds:
#: text, year, int, country, code, money, fraction, date, id (a person's number, pseudonymised
#: into its staging column: ``student_key``, ``staff_key``), bool. A bool is parsed here as the
#: codes true/false (CODED_COLUMNS), so it reads "code".
KINDS: dict[str, dict[str, str]] = {
    dataset: {name: "code" if kind == "bool" else kind for name, kind in columns.items()}
    for dataset, columns in contract.kinds().items()
}

#: The grain of each dataset (staging names): a second row with the same key is quarantined
#: as a duplicate.
GRAIN = {d.name: d.grain_staging for d in contract.CONTRACT}

#: Staging columns in table order (after load_id, source_file, source_row, loaded_at).
STAGING_COLUMNS = {d.name: list(d.staging_columns) for d in contract.CONTRACT}

#: The type ranges (what a value of its kind can be at all; the suite has the business ones).
(MAX_FEE,) = {r.max for r in contract.type_ranges(kind="money").values()}
((MIN_YEAR, MAX_YEAR),) = {(r.min, r.max) for r in contract.type_ranges(kind="year").values()}
#: int and fraction column -> (min, max) it may take (study_year: 1, 15; fte: 0, 1).
INT_RANGES = {name: (r.min, r.max) for name, r in contract.type_ranges(kind="int").items()}
FRACTION_RANGES = {n: (r.min, r.max) for n, r in contract.type_ranges(kind="fraction").items()}
#: What a value of an int column is, in a reason ("not a study year '16'").
_INT_WHAT = {"study_year": "a study year"}


@dataclass
class Normalised:
    rows: pl.DataFrame  # staging columns + __source_file, __row, __raw (source values)
    quarantine: pl.DataFrame  # __source_file, row_number, column, reason, raw_record


def _check(column: str, failed: pl.Expr, reason: pl.Expr | str) -> tuple[str, pl.Expr, pl.Expr]:
    message = pl.lit(reason) if isinstance(reason, str) else reason
    return column, failed, pl.concat_str(pl.lit(f"{column}: "), message)


def _quoted(column: str) -> pl.Expr:
    return pl.concat_str(pl.lit("'"), pl.col(column).str.slice(0, 80), pl.lit("'"))


@dataclass(frozen=True)
class Column:
    """What a column parser is given: the canonical column, the frame column holding its
    raw strings (``student_key`` for the id), the frame (for distinct values), the format
    options and the school's value maps."""

    column: str
    name: str
    frame: pl.DataFrame
    fmt: FormatOptions
    pipeline: SchoolPipeline

    @property
    def raw(self) -> pl.Expr:
        return pl.col(self.name)

    def failed(self, what: str) -> pl.Expr:
        """'<what> '<raw value>'', the reason text of a check."""
        return pl.concat_str(pl.lit(f"{what} "), _quoted(self.name))

    def distinct(self) -> list[str]:
        return self.frame[self.name].drop_nulls().unique().to_list()


@dataclass
class Parsed:
    """A column parser's answer: the parsed expression and its checks, each (failed, reason
    without the column prefix), in the order their reasons are listed."""

    expr: pl.Expr
    checks: list[tuple[pl.Expr, pl.Expr | str]] = field(default_factory=list)


def _text(c: Column) -> Parsed:
    return Parsed(c.raw)


def _year(c: Column) -> Parsed:
    expr = values.academic_year(c.name, c.fmt.year_pattern)
    bad = c.raw.is_not_null() & (expr.is_null() | ~expr.is_between(MIN_YEAR, MAX_YEAR))
    return Parsed(expr, [(bad, c.failed("not an academic year"))])


def _int(c: Column) -> Parsed:
    expr = values.integer(c.name)
    low, high = INT_RANGES[c.column]
    bad = c.raw.is_not_null() & (expr.is_null() | ~expr.is_between(low, high))
    what = _INT_WHAT.get(c.column, f"a whole number from {low:.0f} to {high:.0f}")
    return Parsed(expr, [(bad, c.failed(f"not {what}"))])


def _fraction(c: Column) -> Parsed:
    expr = values.fraction(c.name)
    low, high = FRACTION_RANGES[c.column]
    return Parsed(
        expr,
        [
            (c.raw.is_not_null() & expr.is_null(), c.failed("not a number")),
            (
                expr.is_not_null() & ~expr.is_between(low, high),
                c.failed(f"not a share from {low:g} to {high:g} (or a percentage)"),
            ),
        ],
    )


def _money(c: Column) -> Parsed:
    expr = values.money(c.name, c.fmt.decimal_mark, c.fmt.thousands_separator)
    return Parsed(
        expr,
        [
            (c.raw.is_not_null() & expr.is_null(), c.failed("not an amount")),
            (expr < 0, c.failed("negative fee")),
            (expr > MAX_FEE, c.failed(f"fee above {MAX_FEE:,.2f}")),
        ],
    )


def _date(c: Column) -> Parsed:
    expr = values.date(c.name, c.fmt.all_date_formats)
    return Parsed(expr, [(c.raw.is_not_null() & expr.is_null(), c.failed("not a date"))])


def _country(c: Column) -> Parsed:
    mapping = resolve_countries(c.distinct())
    expr = c.raw.replace_strict(mapping, default=None, return_dtype=pl.String)
    return Parsed(expr, [(c.raw.is_not_null() & expr.is_null(), c.failed("unknown country"))])


def _code(c: Column) -> Parsed:
    allowed = CODED_COLUMNS[c.column]
    booleans = values.boolean_words(c.fmt.true_values, c.fmt.false_values)
    mapping = values.code_map(
        c.distinct(), c.pipeline.values.get(c.column, {}), allowed, booleans=booleans
    )
    expr = c.raw.replace_strict(mapping, default=None, return_dtype=pl.String)
    reason = pl.concat_str(
        c.failed("unknown value"), pl.lit(f" (expected one of {', '.join(allowed)})")
    )
    return Parsed(expr, [(c.raw.is_not_null() & expr.is_null(), reason)])


#: The parser of each column kind (see KINDS).
PARSERS: dict[str, Callable[[Column], Parsed]] = {
    "text": _text,
    "id": _text,
    "year": _year,
    "int": _int,
    "money": _money,
    "fraction": _fraction,
    "date": _date,
    "country": _country,
    "code": _code,
}


def normalise(
    frame: pl.DataFrame,
    dataset: str,
    pipeline: SchoolPipeline,
    key: bytes,
    expected_year: int | None = None,
) -> Normalised:
    """``frame`` holds canonical string columns, ``__row`` and ``__source_file``."""
    school = pipeline.school.code
    kinds = KINDS[dataset]
    required, _ = CANONICAL_COLUMNS[dataset]
    fmt = pipeline.format_for(dataset)
    missing = [c for c in kinds if c not in frame.columns]
    frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in missing)

    spec = contract.CONTRACT[dataset]
    person = spec.person  # its number is pseudonymised before anything else sees it
    if person is not None:
        frame = frame.with_columns(
            pseudonymise(frame[person.name], school, key).alias(person.staging)
        ).drop(person.name)
    source_columns = [spec.column(c).staging if c == getattr(person, "name", None) else c
                      for c in kinds]  # fmt: skip
    # The source values, kept as a struct (no copy); JSON only for rows that are quarantined.
    source_values = pl.struct(source_columns).alias(RAW)

    parsed: list[pl.Expr] = []
    checks: list[tuple[str, pl.Expr, pl.Expr]] = []
    for column, kind in kinds.items():
        name = person.staging if kind == "id" else column
        if column in required:
            checks.append(_check(column, pl.col(name).is_null(), "missing value"))
        result = PARSERS[kind](Column(column, name, frame, fmt, pipeline))
        default = spec.column(column).default
        expr = result.expr if default is None else pl.coalesce(result.expr, pl.lit(default))
        parsed.append(expr.alias(f"__{spec.column(column).staging}"))
        checks.extend(_check(column, failed, reason) for failed, reason in result.checks)
    if expected_year is not None:  # a row of another year would land in the wrong partition
        checks.append(_check(
            "academic_year",
            pl.col("__academic_year") != expected_year,
            pl.concat_str(pl.lit("year "), _quoted("academic_year"),
                          pl.lit(f" in a file of academic year {expected_year}")),
        ))  # fmt: skip
    if "__unclaimed" in frame.columns:
        column = pipeline.datasets[dataset].filter.column
        checks.append(_check(
            column,
            pl.col("__unclaimed").is_not_null(),
            pl.concat_str(pl.lit("row belongs to no configured school: "), _quoted("__unclaimed")),
        ))  # fmt: skip
    for rule in spec.rules:  # the order rules of the contract (the others are the suite's)
        if isinstance(rule, contract.AtLeast):
            a, b = (f"__{spec.column(c).staging}" for c in (rule.column, rule.other))
            checks.append(_check(
                rule.column,
                (pl.col(a) < pl.col(b)) if rule.or_equal else (pl.col(a) <= pl.col(b)),
                pl.concat_str(pl.lit(f"{rule.column.replace('_', ' ')} "),
                              pl.col(a).cast(pl.String),
                              pl.lit(f" is before {rule.other.replace('_', ' ')} "),
                              pl.col(b).cast(pl.String)),
            ))  # fmt: skip

    work = frame.with_columns(*parsed, source_values)
    reasons = [
        pl.when(failed.fill_null(False)).then(message) for _column, failed, message in checks
    ]
    first_column = [
        pl.when(failed.fill_null(False)).then(pl.lit(column)) for column, failed, _ in checks
    ]
    work = work.with_columns(
        pl.concat_str(reasons, separator="; ", ignore_nulls=True)
        .replace("", None)
        .alias("__reason"),
        pl.coalesce(first_column).alias("__column"),
    )

    # Duplicates among the rows that are otherwise fine: the first in file order stays.
    grain = [f"__{c}" for c in GRAIN[dataset]]
    ok = pl.col("__reason").is_null()
    work = work.sort(UNIT, ROW).with_columns(
        pl.when(ok)
        .then(pl.struct(pl.col(UNIT), pl.col(ROW)).first().over(*grain, ok))
        .alias("__first")
    )
    is_duplicate = ok & (pl.col("__first").struct.field(ROW) != pl.col(ROW)) | (
        ok & (pl.col("__first").struct.field(UNIT) != pl.col(UNIT))
    )
    duplicate_reason = pl.concat_str(
        pl.lit(f"duplicate {dataset} row for {', '.join(GRAIN[dataset])} (first at row "),
        pl.col("__first").struct.field(ROW).cast(pl.String),
        pl.lit(" of "),
        pl.col("__first").struct.field(UNIT),
        pl.lit(")"),
    )
    work = work.with_columns(
        pl.when(is_duplicate)
        .then(duplicate_reason)
        .otherwise(pl.col("__reason"))
        .alias("__reason"),
        pl.when(is_duplicate)
        .then(pl.lit(spec.grain[0]))
        .otherwise(pl.col("__column"))
        .alias("__column"),
    )

    bad = work.filter(pl.col("__reason").is_not_null())
    quarantine = bad.select(
        pl.col(UNIT),
        pl.col(ROW).cast(pl.Int32).alias("row_number"),
        pl.col("__column").alias("column"),
        pl.col("__reason").alias("reason"),
        pl.col(RAW).struct.json_encode().alias("raw_record"),
    )
    good = work.filter(pl.col("__reason").is_null())
    rows = good.select(
        pl.col(UNIT),
        pl.col(ROW),
        pl.lit(school).alias("school_code"),
        *[_typed(spec.column(c)) for c in STAGING_COLUMNS[dataset] if c != "school_code"],
        pl.col(RAW),
    )
    return Normalised(rows=rows, quarantine=quarantine)


_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


def _typed(column: contract.Column) -> pl.Expr:
    """A parsed column as its staging type (the contract's sql_type)."""
    parsed = pl.col(f"__{column.staging}")
    decimal = _DECIMAL.fullmatch(column.sql_type)
    if decimal:
        precision, scale = map(int, decimal.groups())
        parsed = parsed.round(scale).cast(pl.Decimal(precision, scale))
    elif column.kind == "bool":
        parsed = parsed == "true"
    elif column.sql_type == "INTEGER":
        parsed = parsed.cast(pl.Int32)
    return parsed.alias(column.staging)
