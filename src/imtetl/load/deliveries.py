"""``audit.deliveries``: per school, dataset and academic year, whether the school's export
was expected and received — so that a missing delivery is visible, never a failed build.

A year is *expected* when the dataset's ``years`` (its coverage) in the school's YAML
includes it; without ``years``, the years the data holds are the ones expected.
"""

from __future__ import annotations

import duckdb
import polars as pl

from imtetl.pipeline_config import SchoolPipeline


def write_deliveries(
    conn: duckdb.DuckDBPyConnection,
    pipelines: dict[str, SchoolPipeline],
    years: tuple[int, ...],
) -> int:
    """(Re)write ``audit.deliveries`` in the build database from the YAMLs and
    ``audit.loads``; returns the number of missing deliveries."""
    coverage = pl.DataFrame(
        [
            {
                "school_code": code,
                "dataset": dataset,
                "academic_year": year,
                "covered": source.covers(year),
            }
            for code, pipeline in pipelines.items()
            for dataset, source in pipeline.datasets.items()
            for year in years
        ],
        schema={
            "school_code": pl.String,
            "dataset": pl.String,
            "academic_year": pl.Int32,
            "covered": pl.Boolean,
        },
    )
    conn.register("_coverage", coverage.to_arrow())
    try:
        conn.execute("DELETE FROM audit.deliveries")
        conn.execute(
            """
            INSERT INTO audit.deliveries BY NAME
            WITH received AS (
                SELECT school_code, dataset, academic_year,
                       max(finished_at) AS last_received_at,
                       sum(rows_read) FILTER (is_current) AS rows,
                       count(DISTINCT source_file) AS files
                FROM audit.loads
                WHERE (is_current OR status = 'failed') AND academic_year IS NOT NULL
                  AND school_code <> 'MESR'
                GROUP BY ALL
            )
            SELECT c.school_code, c.dataset, c.academic_year,
                   coalesce(c.covered, r.school_code IS NOT NULL) AS expected,
                   r.school_code IS NOT NULL AS received,
                   r.last_received_at,
                   coalesce(r.rows, 0)::BIGINT AS rows,
                   coalesce(r.files, 0)::BIGINT AS files
            FROM _coverage c
            LEFT JOIN received r USING (school_code, dataset, academic_year)
            WHERE coalesce(c.covered, false) OR r.school_code IS NOT NULL
            """
        )
    finally:
        conn.unregister("_coverage")
    return conn.execute(
        "SELECT count(*) FROM audit.deliveries WHERE expected AND NOT received"
    ).fetchone()[0]
