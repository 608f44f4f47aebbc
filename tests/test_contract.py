"""The contract (imtetl.contract) and what derives from it: staging DDL, the normaliser's
constants, the staging suite, config validation, the data dictionary. Milliseconds: small
Polars frames and in-memory DuckDB."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from imtetl import contract
from imtetl.contract import CONTRACT, Column, Range
from imtetl.load.build_db import staging_ddl
from imtetl.pipeline_config import (
    CANONICAL_COLUMNS,
    CODED_COLUMNS,
    DATASETS,
    SchoolPipeline,
    load_pipeline,
)
from imtetl.read.base import ROW
from imtetl.sample import population
from imtetl.transform.normalise import normalise
from imtetl.validate import evaluate
from imtetl.validate.suites import staging_suite

ROOT = Path(__file__).resolve().parents[1]
#: the module (imtetl.transform re-exports its function under the same name)
norm = sys.modules["imtetl.transform.normalise"]
SCHOOLS = ["ALBI", "IMTA"]
COUNTRIES = ["DE", "FR", "MA"]

#: A column a new export might bring: flows everywhere from one record.
CREDITS = Column(
    "ects_credits",
    "int",
    "INTEGER",
    False,
    "ECTS credits of the year.",
    type_range=Range(0, 200),
    business_range=Range(0, 90),
)


def _columns(conn: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str, bool]]:
    return conn.execute(
        "SELECT column_name, data_type, is_nullable FROM duckdb_columns() "
        "WHERE schema_name = 'staging' AND table_name = ? ORDER BY column_index",
        [table],
    ).fetchall()


def test_derived_constants_equal_the_contract() -> None:
    assert CONTRACT.names == DATASETS
    for dataset in CONTRACT:
        assert CANONICAL_COLUMNS[dataset.name] == (dataset.required, dataset.optional)
        assert list(norm.KINDS[dataset.name]) == [c.name for c in dataset.columns]
        assert norm.STAGING_COLUMNS[dataset.name] == list(dataset.staging_columns)
        assert norm.GRAIN[dataset.name] == dataset.grain_staging
    assert CODED_COLUMNS["programme_level"] == contract.LEVELS
    assert norm.KINDS["enrolment"]["is_new_entrant"] == "code"  # parsed as true/false
    assert CONTRACT["enrolment"].column("is_new_entrant").kind == "bool"
    assert (norm.MIN_YEAR, norm.MAX_YEAR, norm.MAX_FEE) == (1990, 2100, 99_999_999.99)
    assert norm.INT_RANGES == {"study_year": (1, 15)}
    assert norm.STAGING_COLUMNS["tuition"][-1] == "annual_fee_eur"
    assert norm.GRAIN["enrolment"] == ("student_key", "programme_code", "academic_year")


def test_ddl_creates_the_staging_tables() -> None:
    conn = duckdb.connect()
    conn.execute(staging_ddl(ROOT / "sql"))
    conn.execute(staging_ddl(ROOT / "sql"))  # idempotent
    for dataset in CONTRACT:
        columns = _columns(conn, dataset.name)
        lineage = ["load_id", "source_file", "source_row", "loaded_at"]
        assert [c[0] for c in columns] == lineage + norm.STAGING_COLUMNS[dataset.name]
        nullable = {name: is_nullable for name, _, is_nullable in columns}
        for column in dataset.columns:
            assert nullable[column.staging] is (not column.not_null), column.name
        assert not any(nullable[c] for c in [*lineage, "school_code"])
    types = {name: t for name, t, _ in _columns(conn, "tuition")}
    assert types["annual_fee_eur"] == "DECIMAL(10,2)" and types["academic_year"] == "INTEGER"
    assert dict((n, t) for n, t, _ in _columns(conn, "enrolment"))["is_new_entrant"] == "BOOLEAN"
    (comment,) = conn.execute(
        "SELECT comment FROM duckdb_columns() WHERE schema_name = 'staging' "
        "AND table_name = 'enrolment' AND column_name = 'study_year'"
    ).fetchone()
    assert "Type range 1..15" in comment and "Business range 1..10" in comment
    # the other tables of 00_staging.sql are still there
    tables = {t for (t,) in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert {"school", "country", "loads", "quarantine", "regulated_tuition"} <= tables
    assert "CREATE TABLE IF NOT EXISTS staging.enrolment" not in (
        ROOT / "sql" / "staging" / "00_staging.sql"
    ).read_text(encoding="utf-8")


def test_an_added_column_flows_everywhere() -> None:
    enrolment = CONTRACT["enrolment"].with_column(CREDITS, after="study_year")
    copy = CONTRACT.replace_dataset(enrolment)
    assert CONTRACT["enrolment"].columns != enrolment.columns  # the real one is untouched

    assert "ects_credits" in contract.canonical_columns(copy)["enrolment"][1]
    assert contract.kinds(copy)["enrolment"]["ects_credits"] == "int"
    assert contract.type_ranges(copy, kind="int")["ects_credits"] == Range(0, 200)

    conn = duckdb.connect()
    conn.execute(contract.staging_ddl(copy))
    names = [c[0] for c in _columns(conn, "enrolment")]
    assert names[names.index("study_year") + 1] == "ects_credits"
    assert ("ects_credits", "INTEGER", True) in _columns(conn, "enrolment")

    suite = staging_suite("enrolment", SCHOOLS, COUNTRIES, contract=copy)
    (between,) = [e for e in suite if e.kwargs.get("column") == "ects_credits"]
    assert between.kwargs == {"column": "ects_credits", "min_value": 0, "max_value": 90}

    text = "\n".join(contract.markdown(copy))
    assert "| `ects_credits` | `ects_credits` | int | INTEGER | no |" in text
    assert "0..200 | 0..90" in text


def test_a_contract_that_contradicts_itself_is_refused() -> None:
    with pytest.raises(ValueError, match="codes go with kinds code and bool"):
        Column("x", "text", "VARCHAR", True, "x", codes=("a",))
    with pytest.raises(ValueError, match="is empty"):
        Range(10, 1)
    with pytest.raises(ValueError, match="grain column"):
        dataclasses.replace(CONTRACT["tuition"], grain=("nope",))
    with pytest.raises(ValueError, match="listed twice"):
        CONTRACT["tuition"].with_column(CONTRACT["tuition"].column("programme_code"))
    levels = dataclasses.replace(CONTRACT["tuition"].column("programme_level"), codes=("msc",))
    tuition = dataclasses.replace(
        CONTRACT["tuition"],
        columns=tuple(
            levels if c.name == "programme_level" else c for c in CONTRACT["tuition"].columns
        ),
    )
    with pytest.raises(ValueError, match="codes differ"):
        CONTRACT.replace_dataset(tuition).coded_columns()


def test_suite_is_derived_and_evaluated_on_frames() -> None:
    for dataset in CONTRACT:
        suite = staging_suite(dataset.name, SCHOOLS, COUNTRIES)
        assert evaluate.supported(suite), dataset.name
        labels = [e.label for e in suite]
        for column in dataset.columns:
            if column.required:
                assert f"ExpectColumnValuesToNotBeNull({column.staging})" in labels
        unique = f"ExpectCompoundColumnsToBeUnique(school_code, {', '.join(dataset.grain_staging)})"
        assert unique in labels
    frame = pl.DataFrame(
        {
            "school_code": ["ALBI", "ALBI", "XXX", "ALBI"],
            "academic_year": [2024, 1995, 2024, 2024],
            "programme_code": ["P1", "P1", "P2", "P1"],
            "programme_name": [None] * 4,
            "programme_level": ["msc", "msc", "msc", "msc"],
            "teaching_language": ["en", None, "de", "en"],
            "fee_category": ["eu", "eu", "non_eu", "eu"],
            "annual_fee_eur": [9000.0, 60_000.0, 3000.0, 9000.0],
        }
    )
    suite = staging_suite("tuition", SCHOOLS, COUNTRIES)
    flags = evaluate.masks(suite, frame)
    failing = {
        suite[int(name.removeprefix("__fails_"))].label: flags[name].to_list()
        for name in flags.columns
        if any(flags[name])
    }
    assert failing == {
        "ExpectColumnValuesToBeInSet(school_code)": [False, False, True, False],
        "ExpectColumnValuesToBeBetween(academic_year)": [False, True, False, False],
        "ExpectColumnValuesToBeInSet(teaching_language)": [False, False, True, False],
        "ExpectColumnValuesToBeBetween(annual_fee_eur)": [False, True, False, False],
        "ExpectCompoundColumnsToBeUnique(school_code, programme_code, academic_year, "
        "fee_category)": [True, False, False, True],
    }
    fee = next(e for e in suite if e.label == "ExpectColumnValuesToBeBetween(annual_fee_eur)")
    assert fee.column == "annual_fee"  # reported as the column the school's YAML maps


def test_mobility_rules() -> None:
    suite = staging_suite("mobility", SCHOOLS, COUNTRIES)
    start = dt.date(2024, 9, 1)
    ends = [start, start - dt.timedelta(days=1), start + dt.timedelta(days=4 * 366)]
    frame = pl.DataFrame({"start_date": [start] * 3, "end_date": ends}).with_columns(
        (pl.col("end_date") - pl.col("start_date")).dt.total_days().alias("duration_days")
    )
    rules = [
        e for e in suite if e.column == "end_date" and e.type != "ExpectColumnValuesToNotBeNull"
    ]
    flags = evaluate.masks(rules, frame)
    assert [r.label for r in rules] == [
        "ExpectColumnPairValuesAToBeGreaterThanB(end_date, start_date)",
        "ExpectColumnValuesToBeBetween(duration_days)",
    ]
    assert flags.rows() == [(False, False), (True, True), (False, True)]
    assert all(r.column == "end_date" for r in rules)


def test_type_range_in_the_normaliser_business_range_in_the_suite() -> None:
    """study_year 12 is a study year (loaded by the normaliser) but not a plausible one (the
    suite flags it); 16 is not a study year at all (quarantined while parsing)."""
    pipeline = load_pipeline(ROOT / "pipelines" / "albi.yaml")
    row = {
        "student_id": "AB2400001",
        "academic_year": "2024",
        "programme_code": "ALBI-ING",
        "programme_level": "engineering",
        "is_new_entrant": "true",
        "nationality": "FR",
        "admission_route": "cpge_exam",
        "study_mode": "initial",
        "fee_category": "eu",
    }
    frame = pl.DataFrame(
        [
            {**row, "study_year": "12", "student_id": "A1"},
            {**row, "study_year": "16", "student_id": "A2"},
            {**row, "study_year": "2", "student_id": "A3"},
        ]
    ).with_columns(pl.int_range(1, 4).cast(pl.Int64).alias(ROW), pl.lit("f.tsv").alias(norm.UNIT))
    result = normalise(frame, "enrolment", pipeline, b"k" * 32)
    assert result.quarantine["reason"].to_list() == ["study_year: not a study year '16'"]
    assert sorted(result.rows["study_year"].to_list()) == [2, 12]
    suite = staging_suite("enrolment", SCHOOLS, COUNTRIES)
    flags = evaluate.masks(suite, result.rows.drop(norm.RAW))
    assert evaluate.any_failing(flags).to_list() == [
        y == 12 for y in result.rows["study_year"].to_list()
    ]


def _pipeline(values: dict) -> dict:
    data = load_pipeline(ROOT / "pipelines" / "albi.yaml").model_dump(mode="json")
    return {**data, "values": values}


def test_config_validation_uses_the_contracts_codes() -> None:
    SchoolPipeline.model_validate(_pipeline({"scheme": {"ERASMUS+": "erasmus"}}))
    with pytest.raises(ValueError, match=r"\['erasmus_plus'\] not in \['erasmus'"):
        SchoolPipeline.model_validate(_pipeline({"scheme": {"E": "erasmus_plus"}}))
    with pytest.raises(ValueError, match="not a coded column"):
        SchoolPipeline.model_validate(_pipeline({"nationality": {"Maroc": "MA"}}))


def test_sample_reads_the_code_lists_from_the_contract() -> None:
    assert population.SCHEME_CODES == contract.SCHEMES == CODED_COLUMNS["scheme"]
    assert CODED_COLUMNS["admission_route"] == population.ROUTE_CODES
    assert CODED_COLUMNS["programme_level"] == population.LEVEL_CODES
    assert CODED_COLUMNS["teaching_language"] == population.LANGUAGE_CODES
    from imtetl.sample import formats

    with pytest.raises(ValueError, match="not codes of the contract"):
        dataclasses.replace(formats.IMTA, level={**formats.IMTA.level, "licence": "Licence"})


def test_dictionary_section() -> None:
    text = "\n".join(contract.markdown())
    for dataset in CONTRACT:
        assert f"### `{dataset.name}`" in text
        for column in dataset.columns:
            assert f"| `{column.name}` | `{column.staging}` | {column.kind} |" in text
    assert "| `annual_fee` | `annual_fee_eur` | money | DECIMAL(10, 2) | yes |" in text
    assert "Rule: `end_date` >= `start_date`" in text
