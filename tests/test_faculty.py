"""The faculty dataset and staff mobility, added through the contract: fractions, one
person's full-time equivalent over a school-year, the population default, pseudonymised
staff numbers, and a school that sends no faculty export. Unit tests, in milliseconds. (A
school onboarded on its own faculty export shape, built: tests/test_onboarding_school.py.)"""

from __future__ import annotations

import dataclasses
import random
from decimal import Decimal
from fractions import Fraction

import duckdb
import polars as pl
import pytest
import yaml

from imtetl import contract
from imtetl.load.build_db import staging_ddl
from imtetl.load.staging import stage_partitions
from imtetl.pipeline_config import SchoolPipeline
from imtetl.read.base import ROW
from imtetl.transform import values
from imtetl.transform.normalise import RAW, UNIT, normalise
from imtetl.validate.gate import GateInput, gate_partition
from tests.conftest import ROOT

KEY = b"k" * 32

#: A school of the tests' own, on a shape the sample does not use: HR's export with its own
#: category codes, FTE as percentages, split appointments, staff mobility in the mobility
#: export marked by a column of its own.
YAML = """
school: {code: EURECOM, name: EURECOM, city: Biot}
format: {kind: csv, separator: ";", decimal_mark: ","}
datasets:
  faculty:
    files: eurecom/rh_*.csv
    columns:
      staff_id: Matricule
      academic_year: Année
      category: Corps
      department: Département
      nationality: Nationalité
      country_of_previous_position: Pays du poste précédent
      is_new_hire: Arrivée dans l'année
      fte: Quotité
      teaches_in_english: Enseigne en anglais
    personal_columns: [Nom, Prénom, Mél, Date de naissance]
  mobility:
    files: eurecom/mobilite_*.csv
    format: {header_row: 1, footer_rows: 0}
    columns:
      student_id: Matricule
      population: Public
      direction: Sens
      scheme: Programme
      partner_institution: Partenaire
      partner_country: Pays
      academic_year: Année
      start_date: Début
      end_date: Fin
values:
  category: {PR: professor, MCF: associate_professor, ATER: lecturer, CR: researcher,
             PostDoc: postdoc, INV: visiting, Autre: other}
  population: {Étudiant: student, Personnel: staff}
  direction: {Entrant: incoming, Sortant: outgoing}
  scheme:
    Erasmus+ enseignement: erasmus_staff_teaching
    Erasmus+ formation: erasmus_staff_training
    Professeur invité: invited_professorship
    Erasmus+: erasmus
"""


def _pipeline() -> SchoolPipeline:
    return SchoolPipeline.model_validate(yaml.safe_load(YAML))


def _frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={c: pl.String for c in rows[0]}).with_columns(
        pl.int_range(1, len(rows) + 1).cast(pl.Int64).alias(ROW),
        pl.lit("eurecom/rh_2024.csv").alias(UNIT),
    )


PERSON = {
    "staff_id": "E-0001",
    "academic_year": "2024-2025",
    "category": "PR",
    "department": "Data Science",
    "nationality": "Italie",
    "country_of_previous_position": "Royaume-Uni",
    "is_new_hire": "oui",
    "fte": "100 %",
    "teaches_in_english": "oui",
}


def test_fractions_are_shares_of_one_or_percentages() -> None:
    raw = ["0.8", "0,8", "80 %", "80%", "1", ".5", "12,5 %", " 0,25 ", "abc", "1,5", "150 %", ""]
    parsed = pl.DataFrame({"v": raw}).select(values.fraction("v"))["v"].to_list()
    assert parsed == [0.8, 0.8, 0.8, 0.8, 1.0, 0.5, 0.125, 0.25, None, 1.5, 1.5, None]


def test_faculty_rows_are_typed_pseudonymised_and_bad_values_quarantined() -> None:
    frame = _frame(
        [
            PERSON,
            {**PERSON, "staff_id": "E-0002", "category": "MCF", "fte": "0,5",
             "nationality": "France", "country_of_previous_position": None,
             "is_new_hire": "non", "teaches_in_english": None},
            {**PERSON, "staff_id": "E-0003", "fte": "150 %"},
            {**PERSON, "staff_id": "E-0004", "category": "Doyen"},
            {**PERSON, "staff_id": None},
        ]
    )  # fmt: skip
    result = normalise(frame, "faculty", _pipeline(), KEY, expected_year=2024)
    rows = result.rows.drop(RAW, UNIT, ROW)
    assert rows.columns == ["school_code", *contract.FACULTY.staging_columns[1:]]
    assert rows.schema["fte"] == pl.Decimal(4, 3)
    first, second = rows.sort("fte", descending=True).iter_rows(named=True)
    assert (first["category"], float(first["fte"]), first["nationality"]) == ("professor", 1, "IT")
    assert first["country_of_previous_position"] == "GB" and first["is_new_hire"] is True
    assert (second["category"], float(second["fte"]), second["is_new_hire"]) == (
        "associate_professor", 0.5, False,
    )  # fmt: skip
    assert second["teaches_in_english"] is None
    # the staff number is an HMAC pseudonym, never the number
    assert all(len(k) == 64 and not k.startswith("E-") for k in rows["staff_key"])
    assert "staff_id" not in " ".join(result.quarantine["raw_record"].to_list())
    reasons = dict(zip(result.quarantine["row_number"], result.quarantine["reason"], strict=True))
    assert reasons == {
        3: "fte: not a share from 0 to 1 (or a percentage) '150 %'",
        4: "category: unknown value 'Doyen' (expected one of professor, associate_professor, "
        "lecturer, researcher, postdoc, visiting, other)",
        5: "staff_id: missing value",
    }
    assert result.quarantine["column"].to_list() == ["fte", "category", "staff_id"]


def test_one_persons_appointments_add_up_to_at_most_one_fte() -> None:
    """Split appointments are rows of their own; a person whose rows of a school-year add up
    to more than one full-time equivalent is quarantined whole, with the reason."""
    frame = _frame(
        [
            {**PERSON, "staff_id": "A", "fte": "60 %", "department": "Data Science"},
            {**PERSON, "staff_id": "A", "fte": "40 %", "department": "Security"},
            {**PERSON, "staff_id": "B", "fte": "0,6", "department": "Data Science"},
            {**PERSON, "staff_id": "B", "fte": "0,6", "department": "Security"},
            {**PERSON, "staff_id": "C", "fte": "1", "category": "CR"},
            {**PERSON, "staff_id": "C", "fte": "1", "category": "CR"},  # a duplicate row
        ]
    )
    normalised = normalise(frame, "faculty", _pipeline(), KEY, expected_year=2024)
    assert normalised.quarantine["row_number"].to_list() == [6]
    assert normalised.quarantine["reason"][0].startswith(
        "duplicate faculty row for staff_key, academic_year, category, department (first at row 5"
    )
    gate = gate_partition(
        "faculty",
        GateInput(normalised.rows, rows_read=6, already_quarantined=1, max_quarantine_share=0.9),
        0,
        schools=["EURECOM"],
    )
    assert sorted(gate.quarantine["row_number"].to_list()) == [3, 4]
    assert set(gate.quarantine["column"]) == {"fte"}
    assert set(gate.quarantine["reason"]) == {
        "expectation failed: ExpectColumnValuesToBeBetween(fte_total)"
    }
    assert gate.rows[ROW].to_list() == [1, 2, 5] and not gate.held_back


def test_population_defaults_to_student_and_staff_stays_are_mapped() -> None:
    stay = {
        "student_id": "E-0001",
        "direction": "Sortant",
        "scheme": "Erasmus+ enseignement",
        "partner_institution": "Politecnico di Torino",
        "partner_country": "Italie",
        "academic_year": "2024",
        "start_date": "2025-03-10",
        "end_date": "2025-03-14",
    }
    pipeline = _pipeline()
    frame = _frame(
        [
            {**stay, "population": "Personnel"},
            {**stay, "population": "Étudiant", "scheme": "Erasmus+", "student_id": "S1"},
            {**stay, "population": None, "scheme": "Erasmus+", "student_id": "S2"},
        ]
    )
    rows = normalise(frame, "mobility", pipeline, KEY).rows
    assert rows["population"].to_list() == ["staff", "student", "student"]
    assert rows["scheme"].to_list()[0] == "erasmus_staff_teaching"
    # the same number gives the faculty dataset's staff_key
    faculty = normalise(_frame([PERSON]), "faculty", pipeline, KEY).rows
    assert rows["student_key"][0] == faculty["staff_key"][0]
    # a school whose YAML does not map the column (every YAML before it existed): students
    old = pipeline.model_dump(mode="json")
    del old["datasets"]["mobility"]["columns"]["population"]
    rows = normalise(
        frame.drop("population"), "mobility", SchoolPipeline.model_validate(old), KEY
    ).rows
    assert rows["population"].to_list() == ["student"] * 3
    assert rows.schema["population"] == pl.String


def test_an_existing_build_database_gains_the_new_column_with_its_default() -> None:
    conn = duckdb.connect()
    old = contract.CONTRACT.replace_dataset(
        dataclasses.replace(
            contract.MOBILITY,
            columns=tuple(c for c in contract.MOBILITY.columns if c.name != "population"),
        )
    )
    conn.execute(contract.staging_ddl(old))
    conn.execute(
        "INSERT INTO staging.mobility VALUES ('l', 'f', 1, now(), 'IMTA', 2024, 'k', 'outgoing', "
        "'erasmus', NULL, 'DE', DATE '2024-09-01', DATE '2025-01-31')"
    )
    conn.execute(staging_ddl(ROOT / "sql"))
    assert conn.execute("SELECT population FROM staging.mobility").fetchall() == [("student",)]
    assert conn.execute("SELECT count(*) FROM staging.faculty").fetchone() == (0,)


def test_a_school_without_a_faculty_export_stages_nothing_and_fails_nothing(tmp_path) -> None:
    conn = duckdb.connect()
    conn.execute(staging_ddl(ROOT / "sql"))
    data = yaml.safe_load(YAML)
    del data["datasets"]["faculty"]
    pipeline = SchoolPipeline.model_validate(data)
    (report,) = stage_partitions(conn, "faculty", [(pipeline, 2024)], tmp_path, KEY)
    assert (report.units, report.failures, report.rows_loaded) == ([], [], 0)
    assert conn.execute("SELECT count(*) FROM audit.loads").fetchone() == (0,)


@pytest.mark.parametrize(
    "bad",
    [
        {"fte": "1,5"},  # type range: one appointment is at most full time
        {"fte": "-0,2"},
        {"fte": "moitié"},
    ],
)
def test_fte_outside_its_type_is_quarantined_while_parsing(bad: dict) -> None:
    result = normalise(_frame([{**PERSON, **bad}]), "faculty", _pipeline(), KEY)
    assert result.rows.height == 0 and result.quarantine["column"].to_list() == ["fte"]
    assert result.quarantine["reason"][0].startswith("fte: not a")


# --- one whole build: a school on its own faculty shape, the mart against the test's figures


def _hr_export(rng: random.Random) -> tuple[str, list[dict]]:
    """EURECOM's HR export, every year in one file (not a file per year): two lines of notes
    above the header, a total below the data, FTE as percentages, split appointments, names,
    e-mails and birth dates. Returns the text and the rows the warehouse must hold."""
    categories = ["PR", "MCF", "ATER", "CR", "PostDoc", "INV", "Autre"]
    countries = {"France": "FR", "Italie": "IT", "Inde": "IN", "Brésil": "BR", "Allemagne": "DE"}
    header = ["Matricule", "Nom", "Prénom", "Mél", "Date de naissance", "Année", "Corps",
              "Département", "Nationalité", "Pays du poste précédent", "Arrivée dans l'année",
              "Quotité", "Enseigne en anglais"]  # fmt: skip
    lines = [
        "Extraction RH - personnels enseignants et chercheurs",
        "Confidentiel",
        "",
        ";".join(header),
    ]
    expected = []
    for number in range(1, 121):
        nationality = rng.choice(list(countries)) if rng.random() < 0.45 else "France"
        previous = rng.choice([None, "France", "Italie", "Inde", "Royaume-Uni"])
        category = rng.choice(categories)
        first_year = rng.choice(range(2021, 2026))
        for year in range(first_year, min(2025, first_year + rng.choice([1, 3, 5])) + 1):
            split = rng.random() < 0.15
            shares = [60, 40] if split else [rng.choice([100, 100, 80, 50])]
            for share, department in zip(shares, ["Data Science", "Sécurité"], strict=False):
                row = {
                    "staff_id": f"EU-{number:05d}",
                    "year": year,
                    "category": category,
                    "department": department,
                    "nationality": countries.get(nationality),
                    "previous": {"Royaume-Uni": "GB", None: None, **countries}[previous],
                    "new_hire": year == first_year,
                    "fte": Decimal(share) / 100,
                }
                expected.append(row)
                lines.append(";".join([
                    row["staff_id"], f"Nom{number}", f"Prénom{number}",
                    f"prenom{number}.nom@eurecom.example", f"{number % 28 + 1:02d}/03/1980",
                    f"{year}-{year + 1}", category, department, nationality, previous or "",
                    "oui" if row["new_hire"] else "non", f"{share} %",
                    rng.choice(["oui", "non", ""]),
                ]))  # fmt: skip
    # bad rows: an FTE of 150 %, an unknown category, a person over one FTE in 2024
    lines.append("EU-90001;X;Y;x@e.example;01/01/1970;2024-2025;PR;Data Science;France;;oui;150 %;")
    lines.append("EU-90002;X;Y;x@e.example;01/01/1970;2024-2025;Doyen;Data Science;France;;oui;1;")
    lines.append("EU-90003;X;Y;x@e.example;01/01/1970;2024-2025;CR;Data Science;Italie;;oui;70 %;")
    lines.append("EU-90003;X;Y;x@e.example;01/01/1970;2024-2025;CR;Sécurité;Italie;;oui;70 %;")
    lines.append(f"Total : {len(expected) + 4} lignes")
    return "\n".join(lines) + "\n", expected


def _figures(rows: list[dict]) -> dict[tuple[int, str], tuple]:
    """marts.international_faculty's measures, computed here from the rows the test wrote."""
    codes = dict(yaml.safe_load(YAML)["values"]["category"])
    groups: dict[tuple[int, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["year"], codes[row["category"]]), []).append(row)
    figures = {}
    for key, group in groups.items():
        people = {r["staff_id"] for r in group}
        foreign = {r["staff_id"] for r in group if r["nationality"] != "FR"}
        new = {r["staff_id"] for r in group if r["new_hire"]}
        abroad = {r["staff_id"] for r in group if r["previous"] not in (None, "FR")}
        figures[key] = (
            len(people), sum(r["fte"] for r in group), len(foreign),
            Fraction(len(foreign), len(people)), len(new), len(new & foreign), len(abroad),
        )  # fmt: skip
    return figures
