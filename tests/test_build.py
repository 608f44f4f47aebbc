"""`imtetl build` end to end on the sample: the published warehouse holds the contract."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import duckdb
import pytest

from tests.conftest import SHARED, Project

CONTRACT = [
    "core.dim_school", "core.dim_country", "core.dim_programme", "core.fact_enrolment",
    "core.fact_tuition_fee", "core.fact_mobility", "marts.international_masters_pricing",
    "marts.foreign_intake", "marts.recruitment_routes", "marts.mobility_flows",
    "core.fact_faculty", "marts.international_faculty", "marts.staff_mobility",
    "audit.loads", "audit.quarantine",
]  # fmt: skip
SCHOOLS = {"IMTA", "ALBI", "ALES", "IMTNE", "MSE", "TP", "TSP", "IMTBS"}


def _connect(project: Project) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(project.warehouse), read_only=True)


def test_contract_tables_present_and_commented(built: Project) -> None:
    with _connect(built) as conn:
        tables = dict(
            conn.execute(
                "SELECT schema_name || '.' || table_name, comment FROM duckdb_tables()"
            ).fetchall()
        )
        for name in CONTRACT:
            assert name in tables, name
            assert tables[name], f"{name} has no comment"
        uncommented = conn.execute(
            "SELECT schema_name || '.' || table_name || '.' || column_name FROM duckdb_columns() "
            "WHERE schema_name IN ('core', 'marts', 'audit') AND (comment IS NULL OR comment = '')"
        ).fetchall()
        assert uncommented == []
        schemas = {r[0] for r in conn.execute("SELECT schema_name FROM duckdb_tables()").fetchall()}
        assert "staging" not in schemas and "raw" not in schemas


def test_eight_schools_five_years_and_marts(built: Project) -> None:
    with _connect(built) as conn:
        per_school = dict(
            conn.execute(
                "SELECT school_code, count(DISTINCT academic_year) FROM core.fact_enrolment "
                "GROUP BY 1"
            ).fetchall()
        )
        assert set(per_school) == SCHOOLS
        assert all(years == 5 for years in per_school.values()), per_school
        for mart in CONTRACT[6:10]:
            assert conn.execute(f"SELECT count(*) FROM {mart}").fetchone()[0] > 0, mart
        for fact in ("fact_tuition_fee", "fact_mobility"):
            schools = conn.execute(
                f"SELECT count(DISTINCT school_code) FROM core.{fact}"
            ).fetchone()[0]
            assert schools == 8, fact


def test_accounting_identity_and_every_file_loaded(built: Project) -> None:
    with _connect(built) as conn:
        broken = conn.execute(
            "SELECT count(*) FROM audit.loads WHERE rows_read <> rows_loaded + rows_quarantined"
        ).fetchone()[0]
        assert broken == 0
        statuses = conn.execute(
            "SELECT status, count(*) FROM audit.loads WHERE is_current GROUP BY 1"
        ).fetchall()
        assert statuses and all(s == "loaded" for s, _ in statuses)
        # 8 schools x 4 datasets (enrolment, tuition, mobility, faculty) x 5 years
        assert (
            conn.execute("SELECT count(*) FROM audit.loads WHERE is_current").fetchone()[0] == 160
        )
        # the facts hold exactly the loaded rows
        loaded = dict(
            conn.execute(
                "SELECT dataset, sum(rows_loaded) FROM audit.loads WHERE is_current GROUP BY 1"
            ).fetchall()
        )
        facts = {
            "enrolment": "core.fact_enrolment",
            "tuition": "core.fact_tuition_fee",
            "mobility": "core.fact_mobility",
        }
        for dataset, table in facts.items():
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == loaded[dataset]


def test_seeded_bad_rows_are_quarantined_with_reasons(built: Project) -> None:
    with _connect(built) as conn:
        rows = conn.execute(
            'SELECT school_code, dataset, "column", reason, row_number, raw_record, source_file '
            "FROM audit.quarantine"
        ).fetchall()
    reasons: dict[tuple, list[str]] = {}
    for school, dataset, column, reason, *_ in rows:
        reasons.setdefault((school, dataset, column), []).append(reason)
    expected = {
        ("enrolment", "nationality"): "nationality: unknown country '",
        ("enrolment", "programme_code"): "programme_code: missing value",
        ("enrolment", "student_id"): "duplicate enrolment row for student_key, programme_code",
        ("tuition", "annual_fee"): "annual_fee: negative fee '-",
        ("mobility", "end_date"): "is before start date",
        ("mobility", "partner_country"): "partner_country: unknown country '",
        ("mobility", "population"): "population: unknown value '",
        ("mobility", "scheme"): "scheme: unknown value '",
        ("faculty", "category"): "category: unknown value '",
        ("faculty", "nationality"): "nationality: unknown country '",
        ("faculty", "staff_id"): "",  # a missing staff number and a duplicate row
        ("faculty", "fte"): "",  # an FTE above one, a person's appointments above one
    }
    per_year = {("faculty", "staff_id"): 2, ("faculty", "fte"): 3}
    for school in SCHOOLS:
        for (dataset, column), text in expected.items():
            found = reasons.get((school, dataset, column), [])
            # one seeded row of each kind per file and year (Évry files hold both schools')
            assert len(found) == 5 * per_year.get((dataset, column), 1), (school, column, found)
            assert all(text in reason for reason in found), found
        faculty = reasons[(school, "faculty", "staff_id")] + reasons[(school, "faculty", "fte")]
        for text, n in (
            ("staff_id: missing value", 5),
            ("duplicate faculty row for staff_key, academic_year, category, department", 5),
            ("fte: not a share from 0 to 1 (or a percentage) '", 5),
            ("expectation failed: ExpectColumnValuesToBeBetween(fte_total)", 10),
        ):
            assert sum(r.startswith(text) for r in faculty) == n, (school, text)
    # per school and year: 3 enrolment, 1 tuition, 4 mobility (2 of staff), 7 faculty rows
    assert sum(len(v) for v in reasons.values()) == len(rows) == 8 * 5 * 15
    for _school, _dataset, _column, reason, row_number, raw, source in rows:
        assert reason and row_number >= 1 and source
        json.loads(raw)


def _raw_identifiers(landing) -> tuple[set[str], set[str]]:
    """Student numbers and e-mails as written in the landing files (CSV/TSV and JSON)."""
    ids: set[str] = set()
    emails: set[str] = set()
    id_headers = {
        "numéro étudiant", "num_etudiant", "n° étudiant", "student_no", "student id",
        "matricule", "staff_no", "staff id",
    }  # fmt: skip
    for path in landing.rglob("*"):
        if path.suffix in (".csv", ".tsv"):
            encoding = "cp1252" if path.parts[-2] == "mse" else "utf-8-sig"
            text = path.read_text(encoding=encoding)
            delimiter = ";" if path.parts[-2] == "imta" else "\t" if path.suffix == ".tsv" else ","
            for row in csv.DictReader(text.splitlines(), delimiter=delimiter):
                for header, value in row.items():
                    if header and header.strip().lower() in id_headers and value:
                        ids.add(value)
                    if (header and "mail" in header.lower()) or (header or "").lower() == "mél":
                        emails.add(value)
        elif path.suffix == ".json":
            for record in json.loads(path.read_text())["results"]:
                for person in (record.get("student") or {}, record.get("staff") or {}):
                    if person.get("id"):
                        ids.add(person["id"])
                    if person.get("email"):
                        emails.add(person["email"])
    return ids, emails


def test_no_raw_student_id_or_email_anywhere(built: Project) -> None:
    ids, emails = _raw_identifiers(built.landing)
    assert len(ids) > 1000 and len(emails) > 100
    with _connect(built) as conn:
        columns = conn.execute(
            "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
            "WHERE data_type = 'VARCHAR'"
        ).fetchall()
        found = []
        for schema, table, column in columns:
            values = {
                v
                for (v,) in conn.execute(
                    f'SELECT DISTINCT "{column}" FROM {schema}."{table}" '
                    f'WHERE "{column}" IS NOT NULL'
                ).fetchall()
            }
            if values & ids or values & emails:
                found.append(f"{schema}.{table}.{column}")
            if column == "raw_record":
                text = " ".join(values)
                leaked = [i for i in ids if i in text][:3]
                if leaked:
                    found.append(f"{schema}.{table}.{column} contains {leaked}")
        assert found == []
        personal = conn.execute(
            "SELECT column_name FROM duckdb_columns() WHERE regexp_matches(lower(column_name), "
            "'mail|birth|first_name|last_name|surname|student_id|naissance|prenom')"
        ).fetchall()
        assert personal == []


@pytest.mark.skipif(not (SHARED / "tools" / "check_warehouse.py").exists(), reason="no ../shared")
def test_shared_contract_checker_passes(built: Project) -> None:
    result = subprocess.run(
        [sys.executable, str(SHARED / "tools" / "check_warehouse.py"), str(built.warehouse)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "contract holds" in result.stdout
