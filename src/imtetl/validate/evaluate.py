"""The suites' row-level expectations evaluated on whole frames, vectorised with Polars
(staging) or DuckDB (the core checks, on tables too large to hand to Python).

Great Expectations runs on pandas, one frame at a time: on millions of rows it costs
minutes and gigabytes. So each row-level expectation of :mod:`imtetl.validate.suites` is
also written here as a Polars expression that is true where a row fails it, with GX's own
semantics (missing values are ignored by the column-map expectations, as in GX). These
masks decide, on every row, what is quarantined and whether a partition is held back.

Great Expectations then validates a bounded frame: every row a mask flagged, plus a seeded
sample of the rows that passed (:func:`gx_frame`). Its verdict on that frame must equal the
masks' row for row, or the validation stops with :class:`ValidationMismatch`. So every
defect is still judged by GX, the Data Docs stay GX's, and the cost stays proportional.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from imtetl.validate.suites import Expect

#: Passing rows that go to Great Expectations with the flagged ones, per validation run.
GX_SAMPLE_ROWS = 20_000
MASK = "__fails_{}"


class ValidationMismatch(RuntimeError):
    """Great Expectations and the vectorised evaluation disagree: a bug, never bad data."""


def supported(expectations: list[Expect]) -> bool:
    return all(e.row_level and e.type in _TRANSLATIONS for e in expectations)


def _not_null(kw: dict) -> pl.Expr:
    return pl.col(kw["column"]).is_null()


def _in_set(kw: dict) -> pl.Expr:
    column = pl.col(kw["column"])
    return column.is_not_null() & ~column.is_in(list(kw["value_set"]))


def _between(kw: dict) -> pl.Expr:
    column = pl.col(kw["column"])
    low, high = kw.get("min_value"), kw.get("max_value")
    outside = pl.lit(False)
    if low is not None:
        outside = outside | (column < low)
    if high is not None:
        outside = outside | (column > high)
    return column.is_not_null() & outside


def _unique(kw: dict) -> pl.Expr:
    columns = kw["column_list"]
    all_missing = pl.all_horizontal(pl.col(c).is_null() for c in columns)
    return ~all_missing & pl.struct(columns).is_duplicated()


def _a_greater(kw: dict) -> pl.Expr:
    a, b = pl.col(kw["column_A"]), pl.col(kw["column_B"])
    both_missing = a.is_null() & b.is_null()
    ok = (a >= b) if kw.get("or_equal") else (a > b)
    return ~both_missing & ~ok.fill_null(False)


def _equal(kw: dict) -> pl.Expr:
    a, b = pl.col(kw["column_A"]), pl.col(kw["column_B"])
    both_missing = a.is_null() & b.is_null()
    return ~both_missing & ~(a == b).fill_null(False)


_TRANSLATIONS = {
    "ExpectColumnValuesToNotBeNull": _not_null,
    "ExpectColumnValuesToBeInSet": _in_set,
    "ExpectColumnValuesToBeBetween": _between,
    "ExpectCompoundColumnsToBeUnique": _unique,
    "ExpectColumnPairValuesAToBeGreaterThanB": _a_greater,
    "ExpectColumnPairValuesToBeEqual": _equal,
}


def masks(expectations: list[Expect], frame: pl.DataFrame) -> pl.DataFrame:
    """One boolean column per expectation (``__fails_<i>``): true where the row fails it."""
    return frame.select(
        _TRANSLATIONS[e.type](e.kwargs).fill_null(False).alias(MASK.format(i))
        for i, e in enumerate(expectations)
    )


def any_failing(flags: pl.DataFrame) -> pl.Series:
    if not flags.width:
        return pl.Series(dtype=pl.Boolean)
    return flags.select(pl.any_horizontal(pl.all())).to_series()


@dataclass
class Sampled:
    """What goes to Great Expectations: the flagged rows, then a sample of the others."""

    frame: pl.DataFrame
    flags: pl.DataFrame  # the masks of ``frame``'s rows
    rows_checked: int  # rows of the whole frame the masks were evaluated on


def gx_frame(
    frame: pl.DataFrame, flags: pl.DataFrame, sample_rows: int = GX_SAMPLE_ROWS, seed: int = 0
) -> Sampled:
    """Every flagged row and up to ``sample_rows`` passing ones (all of them if fewer)."""
    if frame.height <= sample_rows:
        return Sampled(frame, flags, frame.height)
    failing = any_failing(flags)
    both = pl.concat([frame, flags], how="horizontal")
    passing = both.filter(~failing)
    if passing.height > sample_rows:
        passing = passing.sample(n=sample_rows, seed=seed)
    picked = pl.concat([both.filter(failing), passing])
    return Sampled(picked.select(frame.columns), picked.select(flags.columns), frame.height)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _column(name: str) -> str:
    return f"q.{_quoted(name)}"


def sql_masks(query: str, expectations: list[Expect]) -> tuple[str, dict]:
    """``query``'s rows with one boolean column per expectation (``__fails_<i>``), judged
    by DuckDB as :func:`masks` judges a Polars frame; value sets are bound parameters."""
    params: dict[str, list] = {}
    groups: list[tuple[str, str]] = []  # (CTE of duplicated keys, its join)
    predicates: list[str] = []
    for i, expect in enumerate(expectations):
        kw = expect.kwargs
        if expect.type == "ExpectColumnValuesToNotBeNull":
            predicate = f"{_column(kw['column'])} IS NULL"
        elif expect.type == "ExpectColumnValuesToBeInSet":
            params[f"set{i}"] = list(kw["value_set"])
            column = _column(kw["column"])
            predicate = f"{column} IS NOT NULL AND {column} NOT IN (SELECT unnest($set{i}))"
        elif expect.type == "ExpectColumnValuesToBeBetween":
            column = _column(kw["column"])
            outside = []
            if kw.get("min_value") is not None:
                outside.append(f"{column} < {kw['min_value']!r}")
            if kw.get("max_value") is not None:
                outside.append(f"{column} > {kw['max_value']!r}")
            predicate = f"{column} IS NOT NULL AND ({' OR '.join(outside) or 'false'})"
        elif expect.type == "ExpectCompoundColumnsToBeUnique":
            columns = [_quoted(c) for c in kw["column_list"]]
            group = f"__group_{i}"
            keys = ", ".join(columns)
            # duplicated keys by aggregation (a hash table), not a window (a sort)
            groups.append(
                (
                    f"{group} AS (SELECT {keys}, true AS {group} FROM q GROUP BY ALL "
                    "HAVING count(*) > 1)",
                    f"LEFT JOIN {group} ON "
                    + " AND ".join(f"q.{c} IS NOT DISTINCT FROM {group}.{c}" for c in columns),
                )
            )
            all_missing = " AND ".join(f"q.{c} IS NULL" for c in columns)
            predicate = f"NOT ({all_missing}) AND {group}.{group}"
        elif expect.type in (
            "ExpectColumnPairValuesAToBeGreaterThanB",
            "ExpectColumnPairValuesToBeEqual",
        ):
            a, b = _column(kw["column_A"]), _column(kw["column_B"])
            if expect.type == "ExpectColumnPairValuesToBeEqual":
                ok = f"{a} = {b}"
            else:
                ok = f"{a} >= {b}" if kw.get("or_equal") else f"{a} > {b}"
            predicate = f"NOT ({a} IS NULL AND {b} IS NULL) AND NOT coalesce({ok}, false)"
        else:
            raise ValueError(f"no SQL for {expect.type}")
        predicates.append(f"coalesce({predicate}, false) AS {MASK.format(i)}")
    ctes = ", ".join([f"q AS ({query})", *(cte for cte, _ in groups)])
    joins = " ".join(join for _, join in groups)
    return f"WITH {ctes} SELECT q.*, {', '.join(predicates)} FROM q {joins}", params


def school_years_filter(changed: list[tuple[str, int | None]]) -> tuple[str, dict]:
    """A WHERE clause (and its parameters) selecting these (school, year) pairs; a None
    year selects every year of the school. Used by the core checks, the incremental SQL
    models and the release, so it lives in the lowest of those stages."""
    terms, params = [], {}
    for i, (school, year) in enumerate(changed):
        params[f"s{i}"] = school
        if year is None:
            terms.append(f"school_code = $s{i}")
        else:
            params[f"y{i}"] = year
            terms.append(f"(school_code = $s{i} AND academic_year = $y{i})")
    return " OR ".join(terms), params
