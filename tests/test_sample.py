"""The bundled sample exports against their contract, src/imtetl/sample/FORMATS.md.

The expected vocabularies, file names and quirks below are typed from FORMATS.md, not taken
from the generator's own tables, so that a drift between the two fails here. Most tests use a
small scale; the calibration test builds the full-scale sample once.
"""

from __future__ import annotations

import csv
import datetime as dt
import gettext
import hashlib
import io
import json
from collections import Counter
from pathlib import Path

import babel
import openpyxl
import polars as pl
import pycountry
import pytest

from imtetl.sample import SampleSummary, write_sample
from imtetl.sample.population import ENROLMENT_COLUMNS, FEES_COLUMNS, MOBILITY_COLUMNS

YEARS = range(2021, 2026)
SCHOOLS = ("IMTA", "TP", "TSP", "IMTBS", "MSE", "IMTNE", "ALBI", "ALES")
DATASETS = ("enrolment", "tuition", "mobility")
SMALL = 0.05

# ---------------------------------------------------------------------------------------
# Generated samples (shared by the tests of this module)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SampleSummary]:
    out = tmp_path_factory.mktemp("sample_small")
    return out, write_sample(out, scale=SMALL)


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SampleSummary]:
    out = tmp_path_factory.mktemp("sample_full")
    return out, write_sample(out, scale=1.0)


def _digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


# ---------------------------------------------------------------------------------------
# The files of FORMATS.md


def expected_files(out: Path) -> list[Path]:
    files = []
    for y in YEARS:
        y1, yy = y + 1, f"{(y + 1) % 100:02d}"
        files += [
            out / f"imta/inscriptions_{y}-{y1}.csv",
            out / f"imta/frais_{y}-{y1}.csv",
            out / f"imta/mobilite_{y}-{y1}.csv",
            out / f"tp/tp_export_{y}.xlsx",
            out / f"evry/evry_inscriptions_{y}.csv",
            out / f"evry/evry_frais_{y}.csv",
            out / f"evry/evry_mobilite_{y}.csv",
            out / f"mse/mse_inscriptions_{y}-{yy}.csv",
            out / f"mse/mse_frais_{y}-{yy}.csv",
            out / f"mse/mse_mobilite_{y}-{yy}.csv",
        ]
        files += [out / f"imtne/{r}/{y}/page-0001.json" for r in ("enrolments", "fees", "mobility")]
        for school in ("albi", "ales"):
            files += [
                out / f"{school}/EXPORT_{d}_{y}.tsv" for d in ("ENROLMENT", "FEES", "MOBILITY")
            ]
    return files


# A reader per layout, for the tests only: rows as dicts keyed by the canonical column names
# (every export lists its columns in the same order), values exactly as written.

_COLUMNS = {"enrolment": ENROLMENT_COLUMNS, "tuition": FEES_COLUMNS, "mobility": MOBILITY_COLUMNS}
_IMTNE_RESOURCE = {"enrolment": "enrolments", "tuition": "fees", "mobility": "mobility"}
_IMTNE_FIELDS = {
    "enrolment": {
        "student_id": ("student", "id"),
        "last_name": ("student", "last_name"),
        "first_name": ("student", "first_name"),
        "email": ("student", "email"),
        "birth_date": ("student", "birth_date"),
        "academic_year": ("academic_year",),
        "programme_code": ("programme", "code"),
        "programme_name": ("programme", "name"),
        "level": ("programme", "level"),
        "study_year": ("study_year",),
        "new_entrant": ("new_entrant",),
        "nationality": ("nationality",),
        "prior_degree_country": ("previous_degree_country",),
        "admission_route": ("admission_route",),
        "study_mode": ("study_mode",),
        "fee_category": ("fee_category",),
        "sex": ("sex",),
    },
    "tuition": {
        "academic_year": ("academic_year",),
        "programme_code": ("programme", "code"),
        "programme_name": ("programme", "name"),
        "level": ("programme", "level"),
        "language": ("programme", "language"),
        "fee_category": ("fee_category",),
        "amount": ("annual_fee",),
    },
    "mobility": {
        "student_id": ("student", "id"),
        "direction": ("direction",),
        "scheme": ("scheme",),
        "partner_name": ("partner", "name"),
        "partner_country": ("partner", "country"),
        "academic_year": ("academic_year",),
        "start_date": ("start_date",),
        "end_date": ("end_date",),
    },
}


def _dig(record: dict, path: tuple[str, ...]):
    for key in path:
        record = record[key]
    return record


def imtne_pages(out: Path, resource: str, year: int) -> list[dict]:
    """Follow the `next` links from page 1, as a client of the API would."""
    folder = out / "imtne" / resource / str(year)
    pages, page = [], 1
    while True:
        body = json.loads((folder / f"page-{page:04d}.json").read_text(encoding="utf-8"))
        pages.append(body)
        if body["next"] is None:
            return pages
        assert body["next"] == f"/api/v1/{resource}?academic_year={year}&page={page + 1}"
        page += 1


def read_rows(out: Path, school: str, dataset: str, year: int) -> tuple[list[str], list[dict]]:
    """(header, rows) of one school's dataset for one year."""
    columns = _COLUMNS[dataset]
    if school == "IMTNE":
        records = [
            r for p in imtne_pages(out, _IMTNE_RESOURCE[dataset], year) for r in p["results"]
        ]
        fields = _IMTNE_FIELDS[dataset]
        return list(fields), [{c: _dig(r, fields[c]) for c in columns} for r in records]
    if school == "TP":
        sheet = {"enrolment": "Enrolments", "tuition": "Fees", "mobility": "Mobility"}[dataset]
        book = openpyxl.load_workbook(out / f"tp/tp_export_{year}.xlsx", read_only=True)
        lines = [list(row) for row in book[sheet].iter_rows(values_only=True)]
        book.close()
        header, body = lines[1], lines[2:]
    else:
        path, separator, encoding = _text_file(out, school, dataset, year)
        text = path.read_bytes().decode(encoding)
        if separator == "\t":
            lines = [line.split("\t") for line in text.split("\n") if line]
        else:
            lines = list(csv.reader(io.StringIO(text, newline=""), delimiter=separator))
        header, body = lines[0], lines[1:]
        if school in ("TSP", "IMTBS"):
            ecole = {"TSP": "TSP", "IMTBS": "IMT-BS"}[school]
            assert header[0] == "ecole"
            header, body = header[1:], [row[1:] for row in body if row[0] == ecole]
    assert all(len(row) == len(columns) for row in body)
    return header, [dict(zip(columns, row, strict=True)) for row in body]


def _text_file(out: Path, school: str, dataset: str, year: int) -> tuple[Path, str, str]:
    y1, yy = year + 1, f"{(year + 1) % 100:02d}"
    french = {"enrolment": "inscriptions", "tuition": "frais", "mobility": "mobilite"}[dataset]
    if school == "IMTA":
        return out / f"imta/{french}_{year}-{y1}.csv", ";", "utf-8-sig"
    if school == "MSE":
        return out / f"mse/mse_{french}_{year}-{yy}.csv", ",", "cp1252"
    if school in ("TSP", "IMTBS"):
        return out / f"evry/evry_{french}_{year}.csv", ",", "utf-8"
    english = {"enrolment": "ENROLMENT", "tuition": "FEES", "mobility": "MOBILITY"}[dataset]
    return out / f"{school.lower()}/EXPORT_{english}_{year}.tsv", "\t", "utf-8"


# ---------------------------------------------------------------------------------------
# Vocabularies of FORMATS.md: written value -> canonical code, per school style

_STYLE = {
    "IMTA": "imta",
    "TP": "tp",
    "TSP": "evry",
    "IMTBS": "evry",
    "MSE": "mse",
    "IMTNE": "imtne",
    "ALBI": "tsv",
    "ALES": "tsv",
}
_CANON = {
    "level": "bachelor engineering msc mastere_specialise national_master phd exchange other",
    "admission_route": "cpge_exam admission_on_title post_bac international_application "
    "double_degree exchange other",
    "study_mode": "initial apprenticeship continuing_education",
    "fee_category": "eu non_eu",
    "direction": "incoming outgoing",
    "scheme": "erasmus time_double_degree bilateral_exchange internship_abroad other",
    "language": "fr en",
    "sex": "F M",
}
VOCAB: dict[str, dict[str, dict]] = {
    "imta": {
        "level": {
            "Ingénieur": "engineering",
            "Master international": "msc",
            "Mastère spécialisé": "mastere_specialise",
            "Master national": "national_master",
            "Doctorat": "phd",
            "Échange": "exchange",
        },
        "admission_route": {
            "Concours CPGE": "cpge_exam",
            "Admission sur titre": "admission_on_title",
            "Post-bac": "post_bac",
            "Candidature internationale": "international_application",
            "Double diplôme": "double_degree",
            "Échange": "exchange",
            "Autre": "other",
        },
        "study_mode": {
            "Initial": "initial",
            "Apprentissage": "apprenticeship",
            "Formation continue": "continuing_education",
        },
        "fee_category": {"UE": "eu", "Hors UE": "non_eu"},
        "new_entrant": {"Oui": True, "Non": False},
        "sex": {"F": "F", "M": "M"},
        "direction": {"Entrant": "incoming", "Sortant": "outgoing"},
        "scheme": {
            "Erasmus+": "erasmus",
            "Double diplôme T.I.M.E.": "time_double_degree",
            "Échange bilatéral": "bilateral_exchange",
            "Stage à l'étranger": "internship_abroad",
            "Autre": "other",
        },
        "language": {"Français": "fr", "Anglais": "en"},
    },
    "tp": {
        "level": {
            "Engineering": "engineering",
            "MSc": "msc",
            "Mastère Spécialisé": "mastere_specialise",
            "Master": "national_master",
            "PhD": "phd",
            "Exchange": "exchange",
        },
        "admission_route": {
            "CPGE exam": "cpge_exam",
            "Admission on title": "admission_on_title",
            "International application": "international_application",
            "Double degree": "double_degree",
            "Exchange": "exchange",
            "Other": "other",
        },
        "study_mode": {
            "Full-time": "initial",
            "Apprenticeship": "apprenticeship",
            "Continuing education": "continuing_education",
        },
        "fee_category": {"EU": "eu", "Non-EU": "non_eu"},
        "new_entrant": {"Y": True, "N": False},
        "sex": {"F": "F", "M": "M"},
        "direction": {"Incoming": "incoming", "Outgoing": "outgoing"},
        "scheme": {
            "Erasmus+": "erasmus",
            "T.I.M.E. double degree": "time_double_degree",
            "Bilateral exchange": "bilateral_exchange",
            "Internship abroad": "internship_abroad",
            "Other": "other",
        },
        "language": {"English": "en", "French": "fr"},
    },
    "evry": {
        "level": {
            "ingenieur": "engineering",
            "msc": "msc",
            "bachelor": "bachelor",
            "mastere_specialise": "mastere_specialise",
            "master": "national_master",
            "doctorat": "phd",
            "echange": "exchange",
            "pge": "other",
        },
        "admission_route": {
            "concours": "cpge_exam",
            "titre": "admission_on_title",
            "post_bac": "post_bac",
            "international": "international_application",
            "double_diplome": "double_degree",
            "echange": "exchange",
            "autre": "other",
        },
        "study_mode": {"FI": "initial", "FA": "apprenticeship", "FC": "continuing_education"},
        "fee_category": {"UE": "eu", "HORS_UE": "non_eu"},
        "new_entrant": {"1": True, "0": False},
        "sex": {"F": "F", "M": "M"},
        "direction": {"IN": "incoming", "OUT": "outgoing"},
        "scheme": {
            "ERASMUS": "erasmus",
            "TIME": "time_double_degree",
            "BILATERAL": "bilateral_exchange",
            "STAGE": "internship_abroad",
            "AUTRE": "other",
        },
        "language": {"fr": "fr", "en": "en"},
    },
    "mse": {
        "level": {
            "Ingénieur": "engineering",
            "MSc": "msc",
            "Mastère spécialisé": "mastere_specialise",
            "Master": "national_master",
            "Doctorat": "phd",
            "Échange": "exchange",
        },
        "admission_route": {
            "Concours commun": "cpge_exam",
            "Sur titre": "admission_on_title",
            "Post-bac": "post_bac",
            "International": "international_application",
            "Double diplôme": "double_degree",
            "Échange": "exchange",
            "Autre": "other",
        },
        "study_mode": {
            "FISE": "initial",
            "FISEA": "apprenticeship",
            "FC": "continuing_education",
        },
        "fee_category": {"Communautaire": "eu", "Extra-communautaire": "non_eu"},
        "new_entrant": {"O": True, "N": False},
        "sex": {"F": "F", "H": "M"},
        "direction": {"Entrant": "incoming", "Sortant": "outgoing"},
        "scheme": {
            "Erasmus+": "erasmus",
            "T.I.M.E.": "time_double_degree",
            "Accord bilatéral": "bilateral_exchange",
            "Stage": "internship_abroad",
            "Autre": "other",
        },
        "language": {"Français": "fr", "Anglais": "en"},
    },
    "imtne": {
        **{column: {v: v for v in values.split()} for column, values in _CANON.items()},
        "new_entrant": {True: True, False: False},
    },
    "tsv": {
        "level": {
            "ENG": "engineering",
            "MSC": "msc",
            "MS": "mastere_specialise",
            "MASTER": "national_master",
            "PHD": "phd",
            "EXCH": "exchange",
            "BACH": "bachelor",
        },
        "admission_route": {
            "CPGE": "cpge_exam",
            "TITLE": "admission_on_title",
            "POSTBAC": "post_bac",
            "INTL": "international_application",
            "DD": "double_degree",
            "EXCH": "exchange",
            "OTHER": "other",
        },
        "study_mode": {"FT": "initial", "APP": "apprenticeship", "CE": "continuing_education"},
        "fee_category": {"EU": "eu", "NONEU": "non_eu"},
        "new_entrant": {"1": True, "0": False},
        "sex": {"F": "F", "M": "M", "": None},
        "direction": {"IN": "incoming", "OUT": "outgoing"},
        "scheme": {
            "ERASMUS": "erasmus",
            "TIME": "time_double_degree",
            "BILAT": "bilateral_exchange",
            "INTERNSHIP": "internship_abroad",
            "OTHER": "other",
        },
        "language": {"FR": "fr", "EN": "en"},
    },
}
BAD_COUNTRY = {
    "imta": "Atlantide",
    "mse": "Atlantide",
    "evry": "Atlantide",
    "tp": "ATL",
    "tsv": "Atlantis",
    "imtne": "ZZ",
}
YEAR_TEXT = {
    "imta": lambda y: f"{y}-{y + 1}",
    "evry": lambda y: f"{y}-{y + 1}",
    "imtne": lambda y: f"{y}-{y + 1}",
    "tp": lambda y: f"{y}-{(y + 1) % 100:02d}",
    "mse": lambda y: f"{y}/{(y + 1) % 100:02d}",
    "tsv": str,
}


def canonical(school: str, column: str, value):
    return VOCAB[_STYLE[school]][column][value]


def amount(school: str, text) -> float:
    style = _STYLE[school]
    if style == "imtne":
        return float(text)
    if style == "tp":
        return float(text.replace("€", "").replace(",", ""))
    if style in ("imta", "mse"):
        text = text.replace("€", "").replace(" ", "").replace("\u00a0", "")
        return float(text.replace(",", "."))
    return float(text)


def parse_date(school: str, value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if _STYLE[school] in ("imta", "mse"):
        return dt.datetime.strptime(value, "%d/%m/%Y").date()
    return dt.date.fromisoformat(value)


def _country_names() -> set[str]:
    """Everything FORMATS.md accepts as a country."""
    french = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"])
    names: set[str] = set()
    for country in pycountry.countries:
        for attribute in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            value = getattr(country, attribute, None)
            if value:
                names.add(value)
                names.add(french.gettext(value))
        for locale in ("fr", "en"):
            names.add(babel.Locale(locale).territories.get(country.alpha_2, ""))
    return names - {""}


# ---------------------------------------------------------------------------------------
# Tests


def test_deterministic_bytes(small, tmp_path: Path) -> None:
    out, summary = small
    again = write_sample(tmp_path / "again", scale=SMALL)
    assert _digests(out) == _digests(tmp_path / "again")
    assert again == summary
    other = write_sample(tmp_path / "other", scale=SMALL, seed=7)
    assert _digests(tmp_path / "other") != _digests(out)
    assert len(other.files) == len(summary.files)


def test_every_file_of_formats_md_exists(small) -> None:
    out, summary = small
    for path in expected_files(out):
        assert path.is_file(), path
    on_disk = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert summary.files == on_disk


def test_rewrites_only_school_folders(tmp_path: Path) -> None:
    (tmp_path / "imta").mkdir(parents=True)
    (tmp_path / "imta" / "stale.csv").write_text("old")
    (tmp_path / "README.txt").write_text("keep me")
    write_sample(tmp_path, scale=0.01, years=range(2024, 2025))
    assert not (tmp_path / "imta" / "stale.csv").exists()
    assert (tmp_path / "README.txt").read_text() == "keep me"
    assert (tmp_path / "imta" / "inscriptions_2024-2025.csv").is_file()
    assert not (tmp_path / "imta" / "inscriptions_2023-2024.csv").exists()


def test_imta_quirks(small) -> None:
    out, _ = small
    raw = (out / "imta/inscriptions_2021-2022.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    headers = {y: read_rows(out, "IMTA", "enrolment", y)[0] for y in YEARS}
    assert "Nationalité" in headers[2021] and "Pays de nationalité" not in headers[2021]
    for y in range(2022, 2026):
        assert "Pays de nationalité" in headers[y] and "Nationalité" not in headers[y]
    assert "CODE FORMATION" in headers[2023]
    assert "Annee universitaire" in headers[2024]
    assert "Libellé  formation" in headers[2025]
    assert "Code formation" in headers[2022] and "Année universitaire" in headers[2022]
    _, rows = read_rows(out, "IMTA", "enrolment", 2024)
    assert {r["academic_year"] for r in rows} == {"2024-2025"}
    assert all(r["student_id"][0] == "A" and r["student_id"][3] == "-" for r in rows)
    assert all(dt.datetime.strptime(r["birth_date"], "%d/%m/%Y") for r in rows)
    fees = read_rows(out, "IMTA", "tuition", 2024)[1]
    assert any(r["amount"] == "3200,00" for r in fees)


def test_tp_workbook(small) -> None:
    out, _ = small
    book = openpyxl.load_workbook(out / "tp/tp_export_2024.xlsx")
    assert book.sheetnames == ["Enrolments", "Fees", "Mobility"]
    assert book.properties.created == dt.datetime(2026, 1, 1)
    sheet = book["Enrolments"]
    assert sheet["A1"].value == "Télécom Paris — Enrolments 2024-25"
    assert sheet["A2"].value == "Student ID" and sheet["Q2"].value == "Sex"
    assert isinstance(sheet["E3"].value, dt.datetime)  # Date of birth: a real Excel date
    assert isinstance(sheet["J3"].value, int)  # Year of study
    assert sheet["F3"].value == "2024-25"
    assert book["Fees"]["A1"].value == "Télécom Paris — Fees 2024-25"
    fees = [row[6] for row in book["Fees"].iter_rows(min_row=3, values_only=True)]
    assert all(isinstance(f, str) and "€" in f for f in fees)
    assert "€4,850.00" in fees
    assert isinstance(book["Mobility"]["G3"].value, dt.datetime)
    # fastexcel, what the readers use, finds the same header on row 2.
    frame = pl.read_excel(
        out / "tp/tp_export_2024.xlsx", sheet_name="Enrolments", read_options={"header_row": 1}
    )
    assert frame.columns[0] == "Student ID" and frame.schema["Date of birth"] == pl.Date


def test_evry_quirks(small) -> None:
    out, _ = small
    text = (out / "evry/evry_inscriptions_2023.csv").read_text(encoding="utf-8")
    assert not text.startswith("\ufeff")
    assert '"Management, Innovation\net Technologies"' in text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert {row[0] for row in rows[1:]} == {"TSP", "IMT-BS"}
    names = {row[8] for row in rows[1:]}
    assert "Management, Innovation\net Technologies" in names
    ids = {row[0]: row[1][:4] for row in rows[1:]}
    assert ids["TSP"].startswith("SP") and ids["IMT-BS"].startswith("BS")
    fees = (out / "evry/evry_frais_2025.csv").read_text(encoding="utf-8")
    assert ",4500.00" in fees
    # polars reads the embedded line break as part of the field, as the readers will.
    frame = pl.read_csv(out / "evry/evry_inscriptions_2023.csv", infer_schema=False)
    assert frame.height == len(rows) - 1


def test_mse_cp1252(small) -> None:
    out, _ = small
    raw = (out / "mse/mse_frais_2024-25.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("cp1252")
    assert "€" in text
    assert '"4\u00a0850,00 €"' in text or '"4 850,00 €"' in text
    old = (out / "mse/mse_frais_2021-22.csv").read_bytes().decode("cp1252")
    assert '"4 150,00 €"' in old
    header, rows = read_rows(out, "MSE", "enrolment", 2024)
    assert header[0] == "N° étudiant"
    assert {r["academic_year"] for r in rows} == {"2024/25"}
    assert {r["sex"] for r in rows} <= {"F", "H"}
    assert all(r["student_id"].startswith("MSE-") for r in rows)


def test_imtne_pages(small) -> None:
    out, _ = small
    for resource in ("enrolments", "fees", "mobility"):
        for year in YEARS:
            pages = imtne_pages(out, resource, year)
            assert pages[-1]["next"] is None
            assert [p["page"] for p in pages] == list(range(1, len(pages) + 1))
            assert all(len(p["results"]) == 500 for p in pages[:-1])
            count = sum(len(p["results"]) for p in pages)
            assert all(p["count"] == count for p in pages)
            folder = out / "imtne" / resource / str(year)
            assert len(list(folder.glob("page-*.json"))) == len(pages)
            for path in folder.glob("page-*.json"):
                text = path.read_text(encoding="utf-8")
                body = json.loads(text)
                assert text == json.dumps(body, ensure_ascii=False, sort_keys=True, indent=1)
    record = imtne_pages(out, "enrolments", 2024)[0]["results"][0]
    assert isinstance(record["study_year"], int) and isinstance(record["new_entrant"], bool)
    assert record["academic_year"] == "2024-2025" and len(record["nationality"]) == 2


def test_imtne_pagination_at_scale_one(full) -> None:
    out, _ = full
    pages = imtne_pages(out, "enrolments", 2023)
    assert len(pages) > 5
    assert pages[0]["next"] == "/api/v1/enrolments?academic_year=2023&page=2"


def test_vendor_tsv(small) -> None:
    out, _ = small
    for school in ("albi", "ales"):
        text = (out / f"{school}/EXPORT_ENROLMENT_2023.tsv").read_text(encoding="utf-8")
        lines = text.rstrip("\n").split("\n")
        assert all(line.count("\t") == 16 for line in lines)
        assert '"' not in text
    header, rows = read_rows(out, "ALBI", "enrolment", 2023)
    assert header[0] == "STUDENT_NO"
    assert {r["academic_year"] for r in rows} == {"2023"}
    assert all(r["student_id"].startswith("AB") for r in rows)
    assert all(
        r["student_id"].startswith("AL") for r in read_rows(out, "ALES", "enrolment", 2023)[1]
    )


@pytest.mark.parametrize("school", SCHOOLS)
def test_vocabularies_and_countries(small, school: str) -> None:
    """Every value is in FORMATS.md's list for its school; every country resolves."""
    out, _ = small
    style = _STYLE[school]
    countries = _country_names()
    bad_country = BAD_COUNTRY[style]
    assert bad_country not in countries
    for year in YEARS:
        for dataset in DATASETS:
            _, rows = read_rows(out, school, dataset, year)
            for row in rows:
                assert row["academic_year"] == YEAR_TEXT[style](year)
                for column, value in row.items():
                    if column in VOCAB[style]:
                        assert value in VOCAB[style][column], (school, column, value)
                    if column in ("nationality", "prior_degree_country", "partner_country"):
                        if style == "tsv" and column == "prior_degree_country" and value == "":
                            continue
                        assert value in countries or value == bad_country, (school, value)


def test_seeded_bad_rows(small) -> None:
    out, summary = small
    for school in SCHOOLS:
        style = _STYLE[school]
        assert summary.bad_rows[(school, "enrolment")] == 3 * len(YEARS)
        assert summary.bad_rows[(school, "tuition")] == len(YEARS)
        assert summary.bad_rows[(school, "mobility")] == 2 * len(YEARS)
        for dataset in DATASETS:
            total = sum(len(read_rows(out, school, dataset, y)[1]) for y in YEARS)
            assert summary.rows[(school, dataset)] == total
        for year in YEARS:
            _, enrolled = read_rows(out, school, "enrolment", year)
            assert sum(r["nationality"] == BAD_COUNTRY[style] for r in enrolled) == 1
            assert sum(r["programme_code"] in ("", None) for r in enrolled) == 1
            rows = [json.dumps(r, sort_keys=True, default=str) for r in enrolled]
            assert sorted(Counter(rows).values())[-2:] == [1, 2]  # exactly one duplicate
            codes = {r["programme_code"] for r in enrolled}

            _, fees = read_rows(out, school, "tuition", year)
            negative = [r for r in fees if amount(school, r["amount"]) < 0]
            assert [r["programme_code"] for r in negative] == [f"OLD-{school}"]
            assert f"OLD-{school}" not in codes

            _, stays = read_rows(out, school, "mobility", year)
            backwards = [
                r
                for r in stays
                if parse_date(school, r["end_date"]) < parse_date(school, r["start_date"])
            ]
            assert len(backwards) == 1
            assert sum(r["partner_country"] == BAD_COUNTRY[style] for r in stays) == 1


def test_students_progress_and_fees_cover_programmes(small) -> None:
    out, _ = small
    for school in SCHOOLS:
        previous: dict[str, dict] = {}
        for year in YEARS:
            _, rows = read_rows(out, school, "enrolment", year)
            current = {
                r["student_id"]: r for r in rows if r["nationality"] != BAD_COUNTRY[_STYLE[school]]
            }
            for sid, row in current.items():
                new = canonical(school, "new_entrant", row["new_entrant"])
                if sid in previous and row["programme_code"]:
                    assert int(row["study_year"]) == int(previous[sid]["study_year"]) + 1
                    assert new is False
            continuing = [sid for sid in current if sid in previous]
            if year > YEARS[0]:
                assert len(continuing) > len(current) / 3
            previous = current

            _, fees = read_rows(out, school, "tuition", year)
            grid = {
                (r["programme_code"], canonical(school, "fee_category", r["fee_category"]))
                for r in fees
            }
            for code in {r["programme_code"] for r in rows} - {"", None}:
                assert (code, "eu") in grid and (code, "non_eu") in grid, (school, code)


def test_regulated_fees(small) -> None:
    out, _ = small

    def grid(school: str, year: int) -> dict[tuple[str, str], float]:
        return {
            (r["programme_code"], canonical(school, "fee_category", r["fee_category"])): amount(
                school, r["amount"]
            )
            for r in read_rows(out, school, "tuition", year)[1]
        }

    assert grid("IMTA", 2024)[("IMTA-ING", "eu")] == 3200
    assert grid("IMTA", 2024)[("IMTA-ING", "non_eu")] == 4850
    assert grid("MSE", 2022)[("MSE-ICM", "eu")] == 2650
    assert grid("ALBI", 2024)[("ALBI-ING", "eu")] == 2650
    assert grid("IMTNE", 2023)[("IMTNE-ING", "eu")] == 2350
    for school in SCHOOLS:
        for year in YEARS:
            for r in read_rows(out, school, "tuition", year)[1]:
                level = canonical(school, "level", r["level"])
                category = canonical(school, "fee_category", r["fee_category"])
                fee = amount(school, r["amount"])
                if r["programme_code"] == f"OLD-{school}":
                    continue
                if level == "msc" and year >= 2025:
                    assert fee in ((4500,) if category == "eu" else (9000, 6500)), r
                if level == "national_master":
                    assert fee == (243 if category == "eu" else 3770)
                if level == "phd":
                    assert fee == 380
                if level == "exchange":
                    assert fee == 0


def test_excel_row_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from imtetl.sample import writers

    monkeypatch.setattr(writers, "EXCEL_MAX_ROWS", 10)
    frame = pl.DataFrame({"a": [str(i) for i in range(9)]})
    with pytest.raises(ValueError, match="Excel"):
        writers.write_workbook(tmp_path / "x.xlsx", [("S", "title", ["a"], frame)])
    assert not (tmp_path / "x.xlsx").exists()


def test_calibration_at_scale_one(full) -> None:
    """IMT Atlantique's 2022 intake as published; about 30% apprentices in engineering;
    populations near FORMATS.md's figures."""
    out, summary = full
    _, rows = read_rows(out, "IMTA", "enrolment", 2022)
    entrants = Counter()
    for r in rows:
        if canonical("IMTA", "new_entrant", r["new_entrant"]):
            level = canonical("IMTA", "level", r["level"])
            entrants[level] += 1
            if canonical("IMTA", "study_mode", r["study_mode"]) == "apprenticeship":
                entrants["apprentices"] += 1
    for key, real in (
        ("engineering", 463),
        ("apprentices", 109),
        ("msc", 137),
        ("national_master", 14),
        ("mastere_specialise", 48),
        ("phd", 50),
    ):
        assert real * 0.9 <= entrants[key] <= real * 1.1, (key, entrants[key])

    engineering = apprentices = 0
    targets = {
        "IMTA": 2000,
        "TP": 1800,
        "TSP": 1100,
        "IMTBS": 1400,
        "MSE": 2000,
        "IMTNE": 4000,
        "ALBI": 900,
        "ALES": 1300,
    }
    for school in SCHOOLS:
        per_year = summary.rows[(school, "enrolment")] / len(YEARS)
        assert 0.85 * targets[school] <= per_year <= 1.15 * targets[school], school
        for year in YEARS:
            for r in read_rows(out, school, "enrolment", year)[1]:
                if canonical(school, "level", r["level"]) == "engineering":
                    engineering += 1
                    mode = canonical(school, "study_mode", r["study_mode"])
                    apprentices += mode == "apprenticeship"
    assert 0.25 <= apprentices / engineering <= 0.35

    total = sum(summary.rows[(s, "enrolment")] for s in SCHOOLS)
    assert 65_000 <= total <= 85_000
    outgoing = sum(
        canonical(s, "direction", r["direction"]) == "outgoing"
        for s in SCHOOLS
        for y in YEARS
        for r in read_rows(out, s, "mobility", y)[1]
    )
    assert 0.10 <= outgoing / total <= 0.15
    # The vendor export leaves some sexes and previous-degree countries empty.
    albi = [r for y in YEARS for r in read_rows(out, "ALBI", "enrolment", y)[1]]
    assert any(r["prior_degree_country"] == "" for r in albi)


def test_every_possible_country_and_name_fits_its_export() -> None:
    """All countries the model can draw resolve in every style, and every name, country and
    programme that can reach Mines Saint-Étienne's export fits Windows-1252."""
    from imtetl.sample import catalog
    from imtetl.sample.countries import BAD_COUNTRY_BY_STYLE, country_map
    from imtetl.sample.names import NAMES

    codes = {"FR"}
    for _share, weights in catalog.NATIONALITY.values():
        codes |= set(weights)
    codes |= {u[1] for u in catalog.UNIVERSITIES} | {c[1] for c in catalog.COMPANIES}
    accepted = _country_names()
    for style in ("fr", "en", "alpha3", "alpha2"):
        mapping = country_map(style, sorted(codes))
        bad = mapping.pop("!BAD")
        assert bad == BAD_COUNTRY_BY_STYLE[style] and bad not in accepted
        assert set(mapping.values()) <= accepted, style
        assert all("," not in name for name in mapping.values())
    texts = [*NAMES.given, *NAMES.surnames, *country_map("fr", sorted(codes)).values()]
    texts += [u[0] for u in catalog.UNIVERSITIES] + [c[0] for c in catalog.COMPANIES]
    texts += [p.name for p in catalog.SCHOOL_BY_CODE["MSE"].programmes]
    for text in texts:
        text.encode("cp1252")
