"""Reference tables of the build database: schools (from pipelines/*.yaml) and countries
(from maintained libraries, see transform.countries)."""

from __future__ import annotations

import duckdb
import polars as pl

from imtetl.pipeline_config import SchoolPipeline
from imtetl.transform.countries import countries


def write_schools(conn: duckdb.DuckDBPyConnection, pipelines: dict[str, SchoolPipeline]) -> int:
    frame = pl.DataFrame(
        [
            {
                "school_code": p.school.code,
                "school_name": p.school.name,
                "city": p.school.city,
                "uai": p.school.uai,
                "erasmus_code": p.school.erasmus_code,
                "time_member_since": p.school.time_member_since,
            }
            for p in pipelines.values()
        ],
        schema_overrides={
            "city": pl.String, "uai": pl.String, "erasmus_code": pl.String,
            "time_member_since": pl.Int32,
        },
    )  # fmt: skip
    _replace(conn, "staging.school", frame)
    return frame.height


def write_countries(conn: duckdb.DuckDBPyConnection) -> int:
    frame = pl.DataFrame([vars(c) for c in countries().values()]).rename({"code": "country_code"})
    _replace(conn, "staging.country", frame.sort("country_code"))
    return frame.height


def _replace(conn: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(f"DELETE FROM {table}")
        conn.register("_reference", frame.to_arrow())
        conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _reference")
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.unregister("_reference")


def write_regulated_tuition(conn: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> int:
    """The regulated fees (validate.gate.regulated_tuition) as a staging table."""
    money = pl.Decimal(10, 2)
    _replace(
        conn,
        "staging.regulated_tuition",
        frame.with_columns(pl.col("annual_fee_eur", "also_allowed_eur").cast(money)),
    )
    return frame.height
