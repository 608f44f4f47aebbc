"""Onboarding new schools and a new mart on a copy of the session's whole build, in one
build: a ninth school on the vendor's TSV export (the format ALBI and ALES use) with one YAML
file, a school on a faculty export shape of its own (HR's export: its own category codes, FTE
as percentages, split appointments, staff mobility in the mobility export), and a mart an
analyst adds with SQL and YAML only (formerly tests/test_dbt.py's own build). No Python is
touched; the sample's schools stay as they were."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction

import duckdb
import pytest
import yaml

from tests.conftest import ROOT, Project
from tests.test_faculty import YAML, _figures, _hr_export
from tests.test_privacy import Personal, _scan_database


def _count(project: Project, sql: str):
    with duckdb.connect(str(project.warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def _add_a_ninth_school_by_yaml(project: Project) -> None:
    """TELECOM: ALBI's exports under new identifiers in its own folder, and one YAML file."""
    (project.landing / "telecom").mkdir()
    for path in sorted((project.landing / "albi").iterdir()):
        text = path.read_text(encoding="utf-8").replace("ALBI-", "TEL-").replace("\tAB", "\tTN")
        (project.landing / "telecom" / path.name).write_text(text, encoding="utf-8")
    yaml_text = (project.pipelines / "albi.yaml").read_text(encoding="utf-8")
    yaml_text = (
        yaml_text.replace("code: ALBI", "code: TELECOM")
        .replace("name: IMT Mines Albi", "name: TELECOM Nancy")
        .replace("city: Albi", "city: Nancy")
        .replace("uai: 0811200P", "uai: null")
        .replace("albi/", "telecom/")
    )
    (project.pipelines / "telecom.yaml").write_text(yaml_text, encoding="utf-8")


def _the_ninth_school_is_published(project: Project, result) -> None:
    assert "TELECOM" in result.stdout
    rows = _count(
        project,
        "SELECT count(DISTINCT academic_year), sum(new_entrants) FROM marts.foreign_intake "
        "WHERE school_code = 'TELECOM'",
    )
    assert rows[0][0] == 5 and rows[0][1] > 0
    assert _count(
        project, "SELECT school_name FROM core.dim_school WHERE school_code='TELECOM'"
    ) == [("TELECOM Nancy",)]
    # the eight schools of the sample and TELECOM (EURECOM sends no enrolment export)
    assert _count(project, "SELECT count(DISTINCT school_code) FROM core.fact_enrolment") == [(9,)]


def _add_a_mart_with_sql_and_yaml(project: Project) -> None:
    """An analyst's model file and its YAML in (a copy of) the project's dbt project."""
    (project.home / "sql").unlink()
    shutil.copytree(
        ROOT / "sql", project.home / "sql", ignore=shutil.ignore_patterns("target", "logs")
    )
    marts = project.home / "sql" / "models" / "marts"
    (marts / "apprentice_share.sql").write_text(
        "SELECT school_code, academic_year,\n"
        "    count(*) AS students,\n"
        "    count(*) FILTER (WHERE study_mode = 'apprenticeship') / count(*) AS apprentice_share\n"
        "FROM {{ ref('fact_enrolment') }}\nGROUP BY ALL\n",
        encoding="utf-8",
    )
    column = {"name": "apprentice_share", "description": "Share of them in apprenticeship (exact).",
              "data_tests": ["not_null"]}  # fmt: skip
    model = {
        "name": "apprentice_share",
        "description": "Apprentices among each school's students, per year.",
        "columns": [
            {"name": "school_code", "description": "School (core.dim_school)."},
            {"name": "academic_year", "description": "Start year."},
            {"name": "students", "description": "Students enrolled."},
            column,
        ],
    }
    (marts / "_apprentice_share.yml").write_text(
        yaml.safe_dump({"version": 2, "models": [model]}), encoding="utf-8"
    )


def _the_new_mart_is_an_asset_a_table_and_documented(project: Project) -> None:
    """After the build it is a table of the published warehouse with its comments, in the
    data dictionary, and an asset of the marts group with its test as a check."""
    with duckdb.connect(str(project.warehouse), read_only=True) as conn:
        comment = conn.execute(
            "SELECT comment FROM duckdb_tables() WHERE schema_name = 'marts' "
            "AND table_name = 'apprentice_share'"
        ).fetchone()
        assert comment == ("Apprentices among each school's students, per year.",)
        described = conn.execute(
            "SELECT count(*) FROM duckdb_columns() WHERE schema_name = 'marts' "
            "AND table_name = 'apprentice_share' AND comment IS NOT NULL"
        ).fetchone()[0]
        assert described == 4
        # a row for each school and year: the sample's eight schools and TELECOM, 5 years
        rows = conn.execute("SELECT count(*) FROM marts.apprentice_share").fetchone()[0]
        school_years = conn.execute(
            "SELECT count(*) FROM (SELECT DISTINCT school_code, academic_year "
            "FROM core.fact_enrolment)"
        ).fetchone()[0]
        assert rows == school_years == 9 * 5
    docs = project.imtetl("docs")
    assert docs.returncode == 0, docs.stderr
    dictionary = (project.warehouse.parent / "data_dictionary.md").read_text(encoding="utf-8")
    assert "### `marts.apprentice_share` (table)" in dictionary
    assert "Share of them in apprenticeship (exact)." in dictionary
    listing = subprocess.run(
        [
            sys.executable,
            "-c",
            "from imtetl.definitions import defs; g = defs.resolve_asset_graph(); "
            "a = g.get(__import__('dagster').AssetKey(['marts', 'apprentice_share'])); "
            "print(a.group_name, sorted(c.name for c in g.asset_check_keys "
            "if c.asset_key == a.key))",
        ],
        env=project.env(),
        cwd=project.home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.split()[0] == "marts"
    assert "not_null_apprentice_share_apprentice_share" in listing.stdout


@pytest.mark.builds(1)
def test_new_schools_and_a_new_mart_onboarded_without_python(built_copy: Project) -> None:
    project = built_copy
    _add_a_mart_with_sql_and_yaml(project)
    _add_a_ninth_school_by_yaml(project)
    text, expected = _hr_export(random.Random(14))
    folder = project.landing / "eurecom"
    folder.mkdir()
    (folder / "rh_personnels_2021-2025.csv").write_text(text, encoding="utf-8")
    stays = [
        "Matricule;Public;Sens;Programme;Partenaire;Pays;Année;Début;Fin",
        "EU-00001;Personnel;Sortant;Erasmus+ enseignement;Politecnico di Torino;Italie;2024;"
        "10/03/2025;14/03/2025",
        "EU-00002;Personnel;Entrant;Professeur invité;IIT Bombay;Inde;2024;01/04/2025;30/06/2025",
        "S-1;Étudiant;Sortant;Erasmus+;TU München;Allemagne;2024;01/09/2024;31/01/2025",
    ]
    (folder / "mobilite_2024.csv").write_text("\n".join(stays) + "\n", encoding="utf-8")
    config = YAML.replace('format: {kind: csv, separator: ";", decimal_mark: ","}',
                          'format: {kind: csv, separator: ";", decimal_mark: ",", '
                          'date_format: "%d/%m/%Y", header_row: 4, footer_rows: 1}')  # fmt: skip
    (project.pipelines / "eurecom.yaml").write_text(config, encoding="utf-8")

    result = project.imtetl("build")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    _the_ninth_school_is_published(project, result)
    with duckdb.connect(str(project.warehouse), read_only=True) as conn:
        mart = conn.execute(
            "SELECT academic_year, category, headcount, fte, foreign_headcount, foreign_share, "
            "new_hires, foreign_new_hires, recruited_from_abroad "
            "FROM marts.international_faculty WHERE school_code = 'EURECOM'"
        ).fetchall()
        quarantined = conn.execute(
            'SELECT row_number, "column", reason FROM audit.quarantine '
            "WHERE school_code = 'EURECOM' AND dataset = 'faculty' ORDER BY row_number"
        ).fetchall()
        staff_stays = conn.execute(
            "SELECT direction, scheme, sum(stays) FROM marts.staff_mobility "
            "WHERE school_code = 'EURECOM' GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        students = conn.execute(
            "SELECT sum(stays) FROM marts.mobility_flows WHERE school_code = 'EURECOM'"
        ).fetchone()
        other_schools = conn.execute(
            "SELECT count(DISTINCT school_code) FROM marts.international_faculty"
        ).fetchone()
    got = {
        (year, category): (h, Decimal(str(fte)), f, Fraction(share).limit_denominator(10_000), n,
                           fn, a)
        for year, category, h, fte, f, share, n, fn, a in mart
    }  # fmt: skip
    assert got == _figures(expected)
    # the seeded bad rows, each with its reason (rows counted from the file's first data row)
    reasons = [(c, r.split(" '")[0].split("(")[0].strip()) for _, c, r in quarantined]
    assert reasons == [
        ("fte", "fte: not a share from 0 to 1"),
        ("category", "category: unknown value"),
        ("fte", "expectation failed: ExpectColumnValuesToBeBetween"),
        ("fte", "expectation failed: ExpectColumnValuesToBeBetween"),
    ]
    assert staff_stays == [
        ("incoming", "invited_professorship", 1),
        ("outgoing", "erasmus_staff_teaching", 1),
    ]
    assert students == (1,)  # the student's stay stays a student's
    assert other_schools[0] == 10  # the eight schools of the sample and TELECOM are there
    # no staff number, name, e-mail or birth date of the export in the warehouse
    personal = Personal(
        ids={f"EU-{n:05d}" for n in range(1, 121)} | {"EU-90001", "EU-90002", "EU-90003"},
        emails={f"prenom{n}.nom@eurecom.example" for n in range(1, 121)} | {"x@e.example"},
        births={f"{n % 28 + 1:02d}/03/1980" for n in range(1, 121)}
        | {f"1980-03-{n % 28 + 1:02d}" for n in range(1, 121)},
    )
    personal.names = {f"Nom{n}" for n in range(1, 121)}
    personal.full_names = {(f"Nom{n}", f"Prénom{n}") for n in range(1, 121)}
    assert _scan_database(project.warehouse, personal) == []
    _the_new_mart_is_an_asset_a_table_and_documented(project)
