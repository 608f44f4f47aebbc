"""Onboarding new schools on a copy of the session's whole build, in one build: a ninth
school on the vendor's TSV export (the format ALBI and ALES use) with one YAML file, and a
school on a faculty export shape of its own (HR's export: its own category codes, FTE as
percentages, split appointments, staff mobility in the mobility export). No Python is
touched; the sample's schools stay as they were."""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction

import duckdb
import pytest

from tests.conftest import Project
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


@pytest.mark.builds(1)
def test_new_schools_onboarded_with_one_yaml_file_each(built_copy: Project) -> None:
    project = built_copy
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
