"""The SQL models: one file per contract table under ``sql/``, run in dependency order."""

from __future__ import annotations

from pathlib import Path

import duckdb

#: (schema, table) in the order they must be built.
MODEL_FILES: tuple[tuple[str, str], ...] = (
    ("core", "dim_school"),
    ("core", "dim_country"),
    ("core", "regulated_tuition"),
    ("core", "dim_programme"),
    ("core", "fact_enrolment"),
    ("core", "fact_tuition_fee"),
    ("core", "fact_mobility"),
    ("marts", "international_masters_pricing"),
    ("marts", "foreign_intake"),
    ("marts", "recruitment_routes"),
    ("marts", "mobility_flows"),
    ("marts", "national_comparison"),
)


def run_model(conn: duckdb.DuckDBPyConnection, sql_dir: Path, schema: str, table: str) -> int:
    """Build one table from its SQL file (in a transaction); return its row count."""
    sql = (sql_dir / schema / f"{table}.sql").read_text(encoding="utf-8")
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(sql)
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    return conn.execute(f"SELECT count(*) FROM {schema}.{table}").fetchone()[0]
