"""Reference tables of the build database: schools (from pipelines/*.yaml, with their
official identifiers from reference/imt_school_identifiers.csv) and countries (from
maintained libraries, see transform.countries)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import polars as pl

from imtetl.pipeline_config import ConfigError, SchoolPipeline
from imtetl.transform.countries import countries

IDENTIFIER_COLUMNS = (
    "school_code", "uai", "uai_source", "uai_status", "erasmus_code", "erasmus_code_source",
)  # fmt: skip
_UAI = re.compile(r"^[0-9]{7}[A-Z]$")
_ERASMUS = re.compile(r"^[A-Z]{1,3} +[A-Z-]{1,8}[0-9]{2,3}$")


def school_identifiers(path: Path) -> pl.DataFrame:
    """The curated UAI and Erasmus codes of the IMT schools, each with its source. A code
    that was not found is an empty cell (never a placeholder): it stays NULL."""
    if not path.is_file():
        return pl.DataFrame(schema=dict.fromkeys(IDENTIFIER_COLUMNS, pl.String))
    frame = pl.read_csv(path, infer_schema=False).with_columns(
        pl.col(pl.String).str.strip_chars().replace("", None)
    )
    missing = [c for c in IDENTIFIER_COLUMNS if c not in frame.columns]
    if missing:
        raise ConfigError(f"{path.name}: missing column(s) {missing}")
    for number, row in enumerate(frame.iter_rows(named=True), start=2):
        for column, pattern in (("uai", _UAI), ("erasmus_code", _ERASMUS)):
            value = row[column]
            if value is not None and not pattern.match(value):
                raise ConfigError(
                    f"{path.name}: line {number}: {column} {value!r} is not a valid code "
                    "(leave the cell empty when the code is not known)"
                )
        if row["uai"] and not row["uai_source"]:
            raise ConfigError(f"{path.name}: line {number}: uai without its uai_source")
        if row["erasmus_code"] and not row["erasmus_code_source"]:
            raise ConfigError(f"{path.name}: line {number}: erasmus_code without its source")
    duplicated = frame.filter(pl.col("school_code").is_duplicated())["school_code"].unique()
    if duplicated.len():
        raise ConfigError(f"{path.name}: school_code listed twice: {duplicated.to_list()}")
    return frame.select(IDENTIFIER_COLUMNS)


def write_schools(
    conn: duckdb.DuckDBPyConnection,
    pipelines: dict[str, SchoolPipeline],
    identifiers: pl.DataFrame | None = None,
) -> int:
    """The schools of the YAML files, their UAI and Erasmus codes from ``identifiers``
    (school_identifiers) where known. A school's YAML may set a code too; one that
    contradicts the curated file is a configuration error."""
    known = (
        {row["school_code"]: row for row in identifiers.iter_rows(named=True)}
        if identifiers is not None
        else {}
    )
    rows = []
    for p in pipelines.values():
        ref = known.get(p.school.code, {})
        row = {
            "school_code": p.school.code,
            "school_name": p.school.name,
            "city": p.school.city,
            "time_member_since": p.school.time_member_since,
            "uai_status": ref.get("uai_status"),
        }
        yaml_name = f"pipelines/{p.school.code.lower()}.yaml"
        for column, source in (("uai", "uai_source"), ("erasmus_code", "erasmus_code_source")):
            curated, declared = ref.get(column), getattr(p.school, column)
            if curated and declared and curated != declared:
                raise ConfigError(
                    f"{yaml_name}: school.{column} {declared!r} contradicts "
                    f"reference/imt_school_identifiers.csv ({curated!r}, from "
                    f"{ref.get(source)}); fix one of them"
                )
            row[column] = curated or declared
            row[source] = ref.get(source) if curated else (yaml_name if declared else None)
        rows.append(row)
    frame = pl.DataFrame(
        rows,
        schema_overrides={
            "city": pl.String, "uai": pl.String, "erasmus_code": pl.String,
            "time_member_since": pl.Int32, "uai_source": pl.String, "uai_status": pl.String,
            "erasmus_code_source": pl.String,
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
