"""Whole-warehouse rules on the core facts, run after their SQL models: relationships
(every fact's programme exists in dim_programme), grains, and the cross-dataset rule that
every enrolled programme has a fee for its year and its students' fee category."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from imtetl.validate.evaluate import GX_SAMPLE_ROWS, MASK, school_years_filter, sql_masks
from imtetl.validate.gx_runner import SuiteResult, run_suite
from imtetl.validate.suites import core_suite


@dataclass(frozen=True)
class CoreCheck:
    name: str
    table: str  # the core table the check guards
    suite: str  # the suite of validate.suites.core_suite
    query: str  # the frame the suite runs on
    index: tuple[str, ...]  # columns that identify a failing row
    blocking: bool  # a failure stops the marts (readers keep the previous warehouse)
    description: str


CHECKS = (
    CoreCheck(
        "relationships_and_grain",
        "fact_enrolment",
        "fact_enrolment",
        "SELECT school_code, student_key, programme_id, academic_year FROM core.fact_enrolment",
        ("school_code", "programme_id", "academic_year"),
        True,
        "Every enrolment's programme is in core.dim_programme; one row per student, "
        "programme and year.",
    ),
    CoreCheck(
        "enrolled_programmes_have_fees",
        "fact_tuition_fee",
        "enrolled_programme_fees",
        """
        SELECT e.school_code, e.programme_id, e.academic_year, e.fee_category,
               count(*) AS students, bool_or(f.programme_id IS NOT NULL) AS has_fee
        FROM core.fact_enrolment e
        LEFT JOIN core.fact_tuition_fee f USING (programme_id, academic_year, fee_category)
        GROUP BY ALL
        """,
        ("school_code", "programme_id", "academic_year", "fee_category"),
        False,
        "Every programme with enrolled students has a fee for that year and the students' "
        "fee category (otherwise expected revenue is undercounted). Warning.",
    ),
    CoreCheck(
        "relationships_and_grain",
        "fact_tuition_fee",
        "fact_tuition_fee",
        "SELECT school_code, programme_id, academic_year, fee_category FROM core.fact_tuition_fee",
        ("school_code", "programme_id", "academic_year", "fee_category"),
        True,
        "Every fee's programme is in core.dim_programme; one fee per programme, year and category.",
    ),
    CoreCheck(
        "stays_end_after_start",
        "fact_mobility",
        "fact_mobility",
        "SELECT school_code, academic_year, student_key, start_date, end_date "
        "FROM core.fact_mobility",
        ("school_code", "student_key", "start_date"),
        True,
        "No mobility stay ends before it starts.",
    ),
)


def checks_for(table: str) -> list[CoreCheck]:
    return [c for c in CHECKS if c.table == table]


#: The facts each check reads (its scope is what changed in them since the last publish).
CHECKED_FACTS = {
    "fact_enrolment": ("core.fact_enrolment",),
    "enrolled_programme_fees": ("core.fact_enrolment", "core.fact_tuition_fee"),
    "fact_tuition_fee": ("core.fact_tuition_fee",),
    "fact_mobility": ("core.fact_mobility",),
}


def unpublished_scope(
    conn: duckdb.DuckDBPyConnection, check: CoreCheck
) -> list[tuple[str, int | None]] | None:
    """The school-years of the check's facts not yet published (build_state.publish_pending:
    this run's changes and those of runs that failed before publishing), or None for the
    whole table (a fact rebuilt whole, or nothing published yet).

    Every rule of the core suites holds within one school and year (programme ids and
    pseudonyms are per school, and each grain includes the year), so the published rows,
    which passed, cannot be broken by rows of other school-years."""
    if not conn.execute("SELECT count(*) FROM build_state.publication").fetchone()[0]:
        return None
    rows = conn.execute(
        "SELECT DISTINCT school_code, academic_year, whole FROM build_state.publish_pending "
        "WHERE list_contains(?, table_name) ORDER BY ALL",
        [list(CHECKED_FACTS[check.suite])],
    ).fetchall()
    if any(whole for _, _, whole in rows):
        return None
    return [(school, year) for school, year, _ in rows]


def run_core_check(
    conn: duckdb.DuckDBPyConnection,
    check: CoreCheck,
    scope: list[tuple[str, int | None]] | None = None,
) -> SuiteResult:
    """Run a core suite: every row judged in DuckDB (validate.evaluate's expectations as SQL),
    then GX on the flagged rows and a sample of the others, which must agree. ``scope``:
    only these school-years (see unpublished_scope); None: the whole table."""
    query = check.query
    if scope is not None:
        where, scope_params = school_years_filter(scope) if scope else ("false", {})
        query = f"SELECT * FROM ({query}) WHERE {where}"
    else:
        scope_params = {}
    programme_ids = (
        [r[0] for r in conn.execute("SELECT programme_id FROM core.dim_programme").fetchall()]
        if check.suite in ("fact_enrolment", "fact_tuition_fee")
        else []
    )
    suite = core_suite(check.suite, programme_ids)
    judged, params = sql_masks(query, suite)
    params.update(scope_params)
    any_fails = " OR ".join(MASK.format(i) for i in range(len(suite)))
    flag_columns = [MASK.format(i) for i in range(len(suite))]
    conn.execute(f"CREATE OR REPLACE TEMP TABLE _judged AS {judged}", params)
    try:
        total = conn.execute("SELECT count(*) FROM _judged").fetchone()[0]
        if total <= GX_SAMPLE_ROWS:
            picked = conn.execute("SELECT * FROM _judged").pl()
        else:
            picked = conn.execute(
                f"SELECT * FROM _judged WHERE {any_fails} UNION ALL "
                f"(SELECT * FROM _judged WHERE NOT ({any_fails}) "
                f"USING SAMPLE reservoir({GX_SAMPLE_ROWS} ROWS) REPEATABLE (7))"
            ).pl()
    finally:
        conn.execute("DROP TABLE IF EXISTS _judged")
    return run_suite(
        f"core_{check.suite}",
        suite,
        picked.drop(flag_columns),
        list(check.index),
        flags=picked.select(flag_columns),
        rows_checked=total,
    )
